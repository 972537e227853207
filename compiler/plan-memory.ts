// Pass 4 — planMemory: IR → IR with `layout`. Places every tensor in the one heap: the parameter
// arena (params P, grads G, optimizer state slots S), running statistics, the batch (x, labels),
// per node its raw output Z (pre-tail), its final output Y (when it has a tail), dropout masks, the
// gradient buffer dY (reused in place for dZ), and per-op scratch (conv im2col columns, pool
// argmax, norm statistics). Everything is sized for the compiled batch B; nothing is allocated
// later. flatten is a view: its output aliases its input. Next: code generation.
//
// The arena, the statistics, x, labels, lengths and the state a node carries from step to step
// (BufferDecl.persistent) have fixed places at the bottom. Every other buffer is
// live only during part of a training step, and buffers that are never live at the same moment
// share memory (liveness below, then first-fit placement, largest first). One step is a sequence
// of moments: the batch is fed, node 0..N-1 run forward, the loss writes dL/d(out), node N-1..0
// run backward, the penalty (if any) runs last. What the generated code (codegen/emit-model.ts)
// touches at each moment:
//   forward of node i: its inputs, Z/Y, its masks and scratch (col, idx, norm statistics, ...);
//   backward of node i: Z (the tail's derivative), dY in place, the inputs it differentiates by
//     (dense, conv2d and the norms read their input X), its saved masks and statistics, col,
//     the gradients of its inputs (written first by the consumer that comes LAST in forward
//     order, accumulated through scratch:grad by the others: residual skips), scratch:grad;
//   the loss: the last output and labels; it writes the last output's gradient.
// A buffer is live from its first to its last moment, except pure scratch (col, scratch:wn,
// scratch:grad), whose content never survives a moment: it is live only at the moments that use
// it. With a penalty (emit-penalty), every non-gradient buffer stays live to the end of the step,
// since the penalty re-reads forward values after backward. Moments are whole: everything a kernel
// call reads and writes is live at once, so no kernel ever runs in place by accident.
// `planMemory(ir, { reuse: false })` gives every buffer its own memory (the reference layout).
import { targetFloats, type IR, type IRLayout, type IRNode } from "./ir";
import { asProducer, isView, nodeOp, TAILS } from "./ops";
import { align16, prod } from "./shape";

export function stateSlots(kind: string, o: { momentum: number; centered: boolean; amsgrad: boolean }): number {
  switch (kind) {
    case "sgd":
      return o.momentum > 0 ? 1 : 0;
    case "adam":
    case "adamw":
      return o.amsgrad ? 3 : 2;
    case "adagrad":
      return 1;
    case "rmsprop":
      return 1 + (o.momentum > 0 ? 1 : 0) + (o.centered ? 1 : 0);
    default:
      return 0;
  }
}

/** A buffer to place: its size and the closed intervals of moments at which it is live (empty: never touched). */
export interface PlannedBuffer {
  name: string;
  size: number;
  live: [number, number][];
}

/** The moments of one training step for an IR of N nodes (see the header). */
export function stepMoments(nodes: number) {
  return {
    feed: 0,
    forward: (i: number) => 1 + i,
    loss: nodes + 1,
    backward: (i: number) => nodes + 2 + (nodes - 1 - i),
    end: 2 * nodes + 2,
  };
}

/**
 * Every non-fixed buffer of the step with its liveness, derived from the IR the way the generated
 * code uses it. `aliases` maps a flatten output (and its gradient) to the buffer it is a view of.
 */
export function bufferLiveness(ir: IR): { buffers: PlannedBuffer[]; aliases: Map<string, string> } {
  const B = ir.batch;
  const N = ir.nodes.length;
  const t = stepMoments(N);
  const uses = new Map<string, number[]>();
  const sizes = new Map<string, number>();
  const order: string[] = [];
  const transient = new Set<string>();
  const def = (name: string, size: number, isScratch = false) => {
    if (!sizes.has(name)) order.push(name);
    sizes.set(name, Math.max(sizes.get(name) ?? 0, size));
    if (!uses.has(name)) uses.set(name, []);
    if (isScratch) transient.add(name);
  };
  const use = (name: string, moment: number) => uses.get(name)!.push(moment);

  // flatten outputs are views of their (resolved) input
  const base = new Map<string, string>();
  const baseOf = (s: string) => base.get(s) ?? s;
  const aliases = new Map<string, string>();
  const sizeOf = new Map<string, number>();
  // the buffer holding a node's output: Y when it has a tail, else Z itself
  const bufOf = new Map<string, string>();
  for (let i = 0; i < N; i++) {
    const n = ir.nodes[i];
    if (isView(n)) {
      const b = baseOf(n.inputs[0]);
      base.set(n.output, b);
      aliases.set(n.output, b);
      aliases.set(`grad:${n.output}`, `grad:${b}`);
      continue;
    }
    sizeOf.set(n.output, B * prod(n.outShape));
    bufOf.set(n.output, n.tail.length > 0 ? n.output : `z:${n.id}`);
  }
  // which tensors carry a gradient (scheduleKernels: downstream of a parameter)
  const needsGrad = new Set(ir.nodes.filter((n) => n.sched!.grad).map((n) => n.output));
  const hasBackward = (n: IRNode) => needsGrad.has(n.output) && !isView(n);
  const gradOf = (s: string) => needsGrad.has(s) && baseOf(s) !== "x";
  // a node's own buffers that live from its forward to its backward (masks, saved statistics, scratch)
  const state = new Map<string, string[]>();

  // declare every buffer in the order the old layout used (stable names and order)
  def("grad:x", B * ir.input.size);
  for (const n of ir.nodes) {
    if (isView(n)) continue;
    const size = B * prod(n.outShape);
    def(`z:${n.id}`, size);
    if (n.tail.length > 0) def(n.output, size);
    def(`grad:${n.output}`, size);
    const own: string[] = [];
    for (const tl of n.tail) {
      const mask = TAILS[tl.op].mask?.(n, B);
      if (mask !== undefined) {
        def(`mask:${tl.id}`, mask);
        own.push(`mask:${tl.id}`);
      }
    }
    for (const b of nodeOp(asProducer(n)).buffers?.(asProducer(n), B) ?? []) {
      if (b.persistent) continue; // placed with the fixed buffers (planMemory)
      def(`${b.kind}:${n.id}`, b.size, b.scratch);
      own.push(`${b.kind}:${n.id}`);
    }
    state.set(n.id, own);
  }
  def("scratch:grad", 0, true);
  def("scratch:loss", B * Math.max(1, ir.output.size));

  // the activation a node reads: its input's base buffer (x is fixed and not planned)
  const act = (s: string) => {
    const b = baseOf(s);
    return b === "x" ? undefined : bufOf.get(b)!;
  };
  // forward (a pool that applies its input's ReLU reads the producer's z; the ReLU's output is
  // never written)
  for (let i = 0; i < N; i++) {
    const n = ir.nodes[i];
    if (isView(n)) continue;
    const f = t.forward(i);
    const r = n.sched!.poolRelu;
    const fusedFrom = r?.forward ? r.of : undefined;
    for (const inp of n.inputs) {
      const b = fusedFrom ? `z:${fusedFrom}` : act(inp);
      if (b) use(b, f);
    }
    use(`z:${n.id}`, f);
    if (n.tail.length > 0 && !n.sched!.reluByPool?.forward) use(n.output, f);
    for (const name of state.get(n.id)!) use(name, f);
  }
  // the loss reads the output and writes its gradient (always, also when nothing needs it)
  const last = baseOf(ir.nodes[N - 1].output);
  if (last !== "x") {
    use(bufOf.get(last)!, t.loss);
    use(`grad:${last}`, t.loss);
  }
  // backward, in reverse
  const writes = new Map<string, number>(); // gradient writes into each tensor (2+: accumulated via scratch:grad)
  for (const n of ir.nodes) if (hasBackward(n)) for (const inp of n.inputs) if (gradOf(inp)) writes.set(baseOf(inp), (writes.get(baseOf(inp)) ?? 0) + 1);
  for (let i = N - 1; i >= 0; i--) {
    const n = ir.nodes[i];
    if (!hasBackward(n)) continue;
    const op = nodeOp(asProducer(n));
    const bk = t.backward(i);
    use(`grad:${n.output}`, bk);
    if (n.sched!.poolRelu) use(bufOf.get(n.output)!, bk); // the ReLU mask of its input's gradient
    if (n.tail.length > 0) use(`z:${n.id}`, bk);
    for (const name of state.get(n.id)!) use(name, bk);
    const readsX = op.readsInputInBackward;
    for (const inp of n.inputs) {
      const b = act(inp);
      if (b && readsX) use(b, bk);
      if (gradOf(inp)) {
        const gb = `grad:${baseOf(inp)}`;
        use(gb, bk);
        if ((writes.get(baseOf(inp)) ?? 0) >= 2) {
          def("scratch:grad", sizeOf.get(baseOf(inp)) ?? 0, true);
          use("scratch:grad", bk);
        }
      } else if (op.alwaysWritesDx) {
        // the norm kernels always write dx: into scratch:grad when nothing needs it
        def("scratch:grad", B * prod(n.inShape), true);
        use("scratch:grad", bk);
      }
    }
  }
  // the penalty re-reads forward buffers (activations, masks, idx, col, ...) after backward
  const penalty = ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined;
  const buffers: PlannedBuffer[] = [];
  for (const name of order) {
    const m = uses.get(name)!;
    if (penalty && !name.startsWith("grad:") && name !== "scratch:grad" && m.length > 0) m.push(t.end);
    let live: [number, number][];
    if (m.length === 0) live = [];
    else if (transient.has(name) && !(penalty && name.startsWith("col:"))) live = [...new Set(m)].sort((x, y) => x - y).map((v) => [v, v]);
    else live = [[Math.min(...m), Math.max(...m)]];
    buffers.push({ name, size: sizes.get(name)!, live });
  }
  return { buffers, aliases };
}

/** Two liveness sets share a moment. */
export function liveTogether(a: [number, number][], b: [number, number][]): boolean {
  for (const [a0, a1] of a) for (const [b0, b1] of b) if (a0 <= b1 && b0 <= a1) return true;
  return false;
}

/**
 * Place buffers at or above `base` so that no two that are live together overlap: first fit, in
 * the given order. Returns the offsets and the top (end of the highest buffer, aligned).
 */
function placeInOrder(buffers: PlannedBuffer[], base: number): { at: Map<string, number>; top: number } {
  const at = new Map<string, number>();
  const placed: PlannedBuffer[] = [];
  let top = base;
  for (const b of buffers) {
    const busy = placed
      .filter((p) => liveTogether(p.live, b.live))
      .map((p) => [at.get(p.name)!, at.get(p.name)! + align16(p.size)] as const)
      .sort((x, y) => x[0] - y[0]);
    let o = base;
    for (const [s, e] of busy) {
      if (o + align16(b.size) <= s) break;
      o = Math.max(o, e);
    }
    at.set(b.name, o);
    placed.push(b);
    top = Math.max(top, o + align16(b.size));
  }
  return { at, top };
}

/** The best of two orders (largest first; first use first), deterministic. */
export function placeBuffers(buffers: PlannedBuffer[], base: number, reuse = true): { at: Map<string, number>; top: number } {
  if (!reuse) {
    const at = new Map<string, number>();
    let top = base;
    for (const b of buffers) {
      at.set(b.name, top);
      top += align16(b.size);
    }
    return { at, top };
  }
  const first = (b: PlannedBuffer) => (b.live.length ? b.live[0][0] : -1);
  const idx = new Map(buffers.map((b, i) => [b.name, i]));
  const bySize = [...buffers].sort((x, y) => align16(y.size) - align16(x.size) || first(x) - first(y) || idx.get(x.name)! - idx.get(y.name)!);
  const byStart = [...buffers].sort((x, y) => first(x) - first(y) || align16(y.size) - align16(x.size) || idx.get(x.name)! - idx.get(y.name)!);
  const a = placeInOrder(bySize, base);
  const b = placeInOrder(byStart, base);
  return b.top < a.top ? b : a;
}

export interface PlanOptions {
  /** Share memory between buffers that are never live together (default true). */
  reuse?: boolean;
}

export function planMemory(ir: IR, opts: PlanOptions = {}): IR {
  const offsets: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  let top = 0;
  const B = ir.batch;
  const put = (name: string, size: number) => {
    offsets[name] = top;
    sizes[name] = size;
    top = align16(top + size);
  };
  // parameter arena: params contiguous, then grads in the same order, then state slots
  const P = top;
  let N = 0;
  for (const p of ir.params) {
    offsets[p.name] = P + N;
    sizes[p.name] = p.size;
    N += p.size;
  }
  const Npad = align16(N);
  const G = P + Npad;
  for (const p of ir.params) {
    offsets[`grad:${p.name}`] = G + (offsets[p.name] - P);
    sizes[`grad:${p.name}`] = p.size;
  }
  const o = ir.train.optimizer;
  const slots = stateSlots(o.kind, o);
  const S = G + Npad;
  top = S + slots * Npad;
  for (const s of ir.stats) put(s.name, s.size);
  put("x", B * ir.input.size);
  put("labels", B * targetFloats(ir));
  if (ir.data.lengths) put("lengths", B); // each sample's valid length (padded sequences)
  // state carried from step to step (a recurrent layer's, with tbptt): a place of its own
  for (const n of ir.nodes)
    if (!isView(n)) for (const b of nodeOp(asProducer(n)).buffers?.(asProducer(n), B) ?? []) if (b.persistent) put(`${b.kind}:${n.id}`, b.size);
  // everything else: placed by liveness
  const { buffers, aliases } = bufferLiveness(ir);
  const placed = placeBuffers(buffers, top, opts.reuse ?? true);
  for (const b of buffers) {
    offsets[b.name] = placed.at.get(b.name)!;
    sizes[b.name] = b.size;
  }
  // a node without a tail writes its output straight into Z
  for (const n of ir.nodes) {
    if (isView(n) || n.tail.length > 0) continue;
    offsets[n.output] = offsets[`z:${n.id}`];
    sizes[n.output] = sizes[`z:${n.id}`];
  }
  for (const n of ir.nodes) {
    if (!isView(n)) continue;
    const size = B * prod(n.outShape);
    offsets[n.output] = offsets[aliases.get(n.output)!];
    sizes[n.output] = size;
    offsets[`grad:${n.output}`] = offsets[aliases.get(`grad:${n.output}`)!];
    sizes[`grad:${n.output}`] = size;
  }
  const layout: IRLayout = { heapFloats: placed.top, P, G, S, N: Npad, slots, offsets, sizes };
  return { ...ir, layout };
}
