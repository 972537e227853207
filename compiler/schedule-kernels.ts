// Pass — scheduleKernels: IR → IR with `sched` on every node. Writes down the decisions that
// planMemory, the emitters and the resource check would otherwise each derive again: which
// tensors carry a gradient, each conv's algorithm (Winograd F(2,3) or im2col), its block and the
// floats of its scratch, and where a 2x2 max pool applies its producer's ReLU (in its backward,
// and in its forward when the producer's kernel can skip writing the ReLU's output). Each op
// decides for its own nodes (NodeOp.schedule, compiler/ops/); this pass gives them the whole-IR
// facts they ask about and links a pool's decision back to its producer. `dnnc compile --emit ir`
// prints the result. Runs after fuseElementwise; next: planMemory.
import type { IR, IRNode, NodeSchedule } from "./ir";
import { asProducer, nodeOp } from "./ops";
import type { ScheduleCtx } from "./ops/op";

/** The tensors that carry a gradient: every node output downstream of a trained parameter (a frozen prefix has none: no backward). */
export function gradTensors(ir: IR): Set<string> {
  const needsGrad = new Set<string>();
  const frozen = new Set(ir.params.filter((p) => p.frozen).map((p) => p.name));
  for (const n of ir.nodes) if (n.params.some((p) => !frozen.has(p)) || n.inputs.some((i) => needsGrad.has(i))) needsGrad.add(n.output);
  return needsGrad;
}

export function scheduleKernels(ir: IR): IR {
  const grad = gradTensors(ir);
  const nodes: IRNode[] = ir.nodes.map((n) => ({ ...n }));
  const producer = new Map(nodes.map((n) => [n.output, n]));
  // a view's output is its input's buffer (x is the batch: no gradient buffer of its own)
  const base = new Map<string, string>();
  const baseOf = (t: string) => base.get(t) ?? t;
  const readers = new Map<string, number>();
  const writes = new Map<string, number>();
  for (const n of nodes) {
    const op = nodeOp(asProducer(n));
    if (op.view) base.set(n.output, baseOf(n.inputs[0]));
    for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
    if (grad.has(n.output) && !op.view) for (const i of n.inputs) if (grad.has(i)) writes.set(i, (writes.get(i) ?? 0) + 1);
  }
  const ctx = (n: IRNode): ScheduleCtx => ({
    ir,
    grad: (t) => grad.has(t),
    dx: grad.has(n.inputs[0]) && baseOf(n.inputs[0]) !== "x",
    producer: (t) => producer.get(t),
    readers: (t) => readers.get(t) ?? 0,
    gradWrites: (t) => writes.get(t) ?? 0,
    penalty: ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined,
    reluOutputOptional: (p) => nodeOp(asProducer(p)).reluOutputOptional === true,
    defersBias: (p) => nodeOp(asProducer(p)).defersBiasToPool?.(asProducer(p)) === true,
  });
  for (const n of nodes) {
    const p = asProducer(n);
    const sched: NodeSchedule = { grad: grad.has(n.output), ...nodeOp(p).schedule?.(p, ctx(n)) };
    n.sched = sched;
  }
  // the producer whose ReLU a pool applies learns it too
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    const r = n.sched!.poolRelu;
    if (r) byId.get(r.of)!.sched!.reluByPool = { pool: n.id, forward: r.forward };
  }
  return { ...ir, nodes };
}
