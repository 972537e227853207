// Pass 3 — fuseElementwise: IR → IR. Every elementwise op (activations, dropout) that directly
// follows a producer (dense, conv2d, a norm, an add, a pool) whose output has no other consumer
// moves into that producer's `tail`, so that code generation emits one sweep for the producer's
// epilogue (bias + activation + dropout after the GEMM; normalize + affine + activation + dropout
// for a norm) and one sweep for its backward. An elementwise op with nothing to fuse into (at
// the start of the model, after flatten, after another consumer) becomes an `identity` producer
// with a tail. The fused node's `kernel` names what it holds, e.g. `fused_dense_relu`. Next: planMemory.
import type { IR, IRNode, TailNode } from "./ir";
import { isElementwise, nodeOp } from "./ops";

export function fuseElementwise(ir: IR): IR {
  const consumers = new Map<string, number>();
  for (const n of ir.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const out: IRNode[] = [];
  const rename = new Map<string, string>();
  for (const n0 of ir.nodes) {
    const n: IRNode = { ...n0, inputs: n0.inputs.map((i) => rename.get(i) ?? i), tail: [...n0.tail] };
    if (isElementwise(n)) {
      const t = { op: n.op, id: n.id, attrs: n.attrs } as TailNode;
      const prev = out[out.length - 1];
      const canFuse =
        prev !== undefined && prev.output === n.inputs[0] && !isElementwise(prev) && !nodeOp(prev).view && (consumers.get(n0.inputs[0]) ?? 0) === 1;
      if (canFuse) {
        prev.tail.push(t);
        rename.set(n.output, prev.output);
        continue;
      }
      out.push({ ...n, op: "identity", attrs: {}, tail: [t] });
      continue;
    }
    out.push(n);
  }
  for (const n of out) n.kernel = n.tail.length > 0 ? `fused_${n.op}_${n.tail.map((t) => t.op).join("_")}` : n.op;
  return { ...ir, nodes: out };
}
