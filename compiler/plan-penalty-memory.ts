// Pass — planPenaltyMemory: IR with layout → IR with the penalty's buffers added. When the spec has
// a smoothness penalty (input_grad_penalty, jacobian_penalty), codegen/emit-penalty.ts needs, per
// tensor, its gradient, tangent and gradient tangent, per fused node its dz and tangent, and
// scratch; they go after everything planMemory placed (nothing moves). Without a penalty the IR
// is returned as it is. Next: checkHeap.
import type { IR } from "./ir";
import { checkPenaltySupport, hasPenalty } from "./check-targets";
import { asProducer, isView, nodeOp } from "./ops";
import { isUnsupported } from "./ops/op";
import { prod } from "./shape";

/**
 * Adds the penalty's buffers after everything planMemory placed (nothing moves): per tensor t
 * (x and every node output) its gradient pen:d:t, tangent pen:t:t and gradient tangent pen:td:t;
 * per node with a fused tail pen:dz and pen:tz; scratch. flatten outputs alias their input.
 */
export function planPenaltyMemory(ir: IR): IR {
  if (!hasPenalty(ir)) return ir;
  checkPenaltySupport(ir);
  const L = ir.layout!;
  const offsets = { ...L.offsets };
  const sizes = { ...L.sizes };
  let top = (L.heapFloats + 15) & ~15;
  const B = ir.batch;
  const put = (name: string, size: number) => {
    offsets[name] = top;
    sizes[name] = size;
    top = (top + size + 15) & ~15;
  };
  const alias = (name: string, of: string, size: number) => {
    offsets[name] = offsets[of];
    sizes[name] = size;
  };
  put("pen:d:x", B * ir.input.size);
  put("pen:t:x", B * ir.input.size);
  const base = new Map<string, string>([["x", "x"]]);
  let maxAct = B * ir.input.size;
  let maxW = 0;
  for (const n of ir.nodes) {
    const size = B * prod(n.outShape);
    maxAct = Math.max(maxAct, size);
    if (isView(n)) {
      const b = base.get(n.inputs[0]) ?? n.inputs[0];
      base.set(n.output, b);
      for (const k of ["d", "t", "td"]) if (offsets[`pen:${k}:${b}`] !== undefined) alias(`pen:${k}:${n.output}`, `pen:${k}:${b}`, size);
      continue;
    }
    base.set(n.output, n.output);
    put(`pen:d:${n.output}`, size);
    put(`pen:t:${n.output}`, size);
    put(`pen:td:${n.output}`, size);
    if (n.tail.length > 0) {
      put(`pen:dz:${n.id}`, size);
      put(`pen:tz:${n.id}`, size);
    }
    // conv2d's weight-gradient tangents (pen:dw): two weight-sized areas, each with room for the bias
    const p = nodeOp(asProducer(n)).penalty;
    const w = isUnsupported(p) ? undefined : p.dwFloats?.(asProducer(n) as never);
    if (w !== undefined) maxW = Math.max(maxW, w);
  }
  put("pen:scratch", maxAct);
  if (maxW > 0) put("pen:dw", 2 * maxW);
  if (ir.train.inputGradPenalty && ir.loss.kind === "softmax_cross_entropy") put("pen:p", B * ir.output.size);
  return { ...ir, layout: { ...L, heapFloats: top, offsets, sizes } };
}
