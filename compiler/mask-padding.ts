// Pass — maskPadding: IR → IR. When the data are padded sequences (ir.data.lengths), every producer
// whose output is a sequence [T, F] gets the tail op `seqmask` last (compiler/ops/sequence.ts: zero
// past each sample's length, forward and backward), unless its op zeroes padded positions itself
// (NodeOp.masksPadding: the recurrent layers). Without padding the IR is returned as it is. Runs
// after fuseElementwise (the mask joins the fused epilogue); next: checkPenalty, scheduleKernels.
import type { IR, IRNode } from "./ir";
import { asProducer, isView, nodeOp } from "./ops";

export function maskPadding(ir: IR): IR {
  if (!ir.data.lengths) return ir;
  const nodes = ir.nodes.map((n): IRNode => {
    if (n.outShape.length !== 2 || isView(n) || nodeOp(asProducer(n)).masksPadding) return n;
    const tail = [...n.tail, { op: "seqmask" as const, id: `${n.id}_mask`, attrs: {} }];
    return { ...n, tail, kernel: `fused_${n.op}_${tail.map((t) => t.op).join("_")}` };
  });
  return { ...ir, nodes };
}
