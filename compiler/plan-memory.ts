// Pass 4 — planMemory: IR → IR with `layout`. Places every tensor in the one heap: the parameter
// arena (params P, grads G, optimizer state slots S), running statistics, the batch (x, labels),
// per node its raw output Z (pre-tail), its final output Y (when it has a tail), dropout masks, the
// gradient buffer dY (reused in place for dZ), and per-op scratch (conv im2col columns, pool
// argmax, norm statistics). Everything is sized for the compiled batch B; nothing is allocated
// later. flatten is a view: its output aliases its input. Next: code generation.
//
// The arena, the statistics, x and labels have fixed places at the bottom. Every other buffer is
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
import type { IR, IRLayout, IRNode } from "./ir";
import type { ConvConfig } from "../runtime/kernels/conv";
import { winogradPlanBlock, winogradScratchSize } from "../runtime/kernels/winograd";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const align16 = (x: number) => (x + 15) & ~15; // 64-byte alignment for SIMD kernels

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

/** Ops whose backward reads their input activation X (weight gradients, norm statistics). */
const READS_X_IN_BACKWARD = new Set(["dense", "conv2d", "bn", "layernorm", "groupnorm", "instancenorm", "iternorm"]);
const NORMS = new Set(["bn", "layernorm", "groupnorm", "instancenorm"]);

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

/** The tensors that carry a gradient: every node output downstream of a parameter. */
export function gradTensors(ir: IR): Set<string> {
  const needsGrad = new Set<string>();
  for (const n of ir.nodes) if (n.params.length > 0 || n.inputs.some((i) => needsGrad.has(i))) needsGrad.add(n.output);
  return needsGrad;
}

/** The runtime's ConvConfig of a conv node (without colFloats and wino). */
export function convNodeConfig(n: IRNode): ConvConfig {
  const a = n.attrs as Record<string, number>;
  const [C, H, W] = n.inShape;
  return { C, H, W, K: a.K, kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, ph: a.ph, pw: a.pw, dh: a.dh, dw: a.dw, groups: a.groups, OH: n.outShape[1], OW: n.outShape[2] };
}

/**
 * Floats of a conv's `col` scratch: one sample's im2col columns (C/g*kh*kw, OH*OW); when its input
 * gradient is computed (as the stride-1 correlation of dy with the rotated weights), also room for
 * the rotated weights and one sample's dy columns, as runtime/kernels/conv.ts convScratchSizeFast
 * (passed to the kernel as cfg.colFloats), so that the input gradient runs as one GEMM per sample,
 * split between threads, instead of GEMMs over chunks of channels on the calling thread. A conv
 * that runs by Winograd (winogradPlanBlock > 0, cfg.wino) gets room for its blocks too.
 */
export function convColFloats(n: IRNode, needDx: boolean): number {
  const a = n.attrs as Record<string, number>;
  const [C, H, W] = n.inShape;
  const KK = a.kh * a.kw;
  const base = (C / a.groups) * KK * n.outShape[1] * n.outShape[2];
  const cfg = convNodeConfig(n);
  const nb = winogradPlanBlock(cfg);
  const wino = nb > 0 ? winogradScratchSize(cfg, nb) : 0;
  const pointwise = KK === 1 && a.sh === 1 && a.sw === 1 && a.ph === 0 && a.pw === 0 && n.outShape[1] === H && n.outShape[2] === W;
  if (!needDx || pointwise || a.sh !== 1 || a.sw !== 1) return Math.max(base, wino);
  const rotated = Math.ceil((a.K * (C / a.groups) * KK) / 16) * 16;
  return Math.max(base, wino, rotated + (a.K / a.groups) * KK * H * W);
}

/**
 * The max pools whose backward applies their input's ReLU too (runtime/kernels/pool.ts
 * maxPool2dBackward with the pool's output as yp), as pool id -> producer id: a 2x2, stride-2,
 * unpadded max pool whose input is the output of a node whose tail is one ReLU, when the pool's
 * backward is the only gradient written into that output. The producer's backward then skips its
 * ReLU backward (the same bytes), and the pool's output stays live until the pool's backward.
 */
export function poolReluFusions(ir: IR): Map<string, string> {
  const needsGrad = gradTensors(ir);
  const writes = new Map<string, number>();
  for (const n of ir.nodes)
    if (needsGrad.has(n.output) && n.op !== "flatten")
      for (const inp of n.inputs) if (needsGrad.has(inp)) writes.set(inp, (writes.get(inp) ?? 0) + 1);
  const producer = new Map(ir.nodes.map((n) => [n.output, n]));
  const out = new Map<string, string>();
  for (const n of ir.nodes) {
    const a = n.attrs as Record<string, number>;
    if (n.op !== "maxpool2d" || !needsGrad.has(n.output)) continue;
    if (!(a.kh === 2 && a.kw === 2 && a.sh === 2 && a.sw === 2 && a.ph === 0 && a.pw === 0)) continue;
    const p = producer.get(n.inputs[0]);
    if (!p || p.op === "flatten" || p.tail.length !== 1 || p.tail[0].op !== "relu") continue;
    if (!needsGrad.has(p.output) || writes.get(p.output) !== 1) continue;
    out.set(n.id, p.id);
  }
  return out;
}

/**
 * The pools of poolReluFusions that apply the ReLU in their forward too (pool id -> producer id):
 * the producer is a conv2d or add (whose kernels write the ReLU's output only when asked), the pool
 * is the only reader of its output, and no penalty re-reads forward buffers. The pool then reads
 * the producer's pre-activation z with max(v, 0) (maxPool2dForward's relu: the same bytes), and the
 * ReLU's output is never written (no sweep; its buffer is never live, so it takes no memory of its own).
 */
export function poolReluForward(ir: IR): Map<string, string> {
  const out = new Map<string, string>();
  if (ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined) return out;
  const readers = new Map<string, number>();
  for (const n of ir.nodes) for (const inp of n.inputs) readers.set(inp, (readers.get(inp) ?? 0) + 1);
  const byId = new Map(ir.nodes.map((n) => [n.id, n]));
  for (const [pool, prod] of poolReluFusions(ir)) {
    const p = byId.get(prod)!;
    if ((p.op === "conv2d" || p.op === "add") && readers.get(p.output) === 1) out.set(pool, prod);
  }
  return out;
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
    if (n.op === "flatten") {
      const b = baseOf(n.inputs[0]);
      base.set(n.output, b);
      aliases.set(n.output, b);
      aliases.set(`grad:${n.output}`, `grad:${b}`);
      continue;
    }
    sizeOf.set(n.output, B * prod(n.outShape));
    bufOf.set(n.output, n.tail.length > 0 ? n.output : `z:${n.id}`);
  }
  // which tensors carry a gradient (codegen's needsGrad: downstream of a parameter)
  const needsGrad = gradTensors(ir);
  const hasBackward = (n: IRNode) => needsGrad.has(n.output) && n.op !== "flatten";
  const gradOf = (s: string) => needsGrad.has(s) && baseOf(s) !== "x";

  // declare every buffer in the order the old layout used (stable names and order)
  def("grad:x", B * ir.input.size);
  for (const n of ir.nodes) {
    if (n.op === "flatten") continue;
    const size = B * prod(n.outShape);
    def(`z:${n.id}`, size);
    if (n.tail.length > 0) def(n.output, size);
    def(`grad:${n.output}`, size);
    for (const tl of n.tail) {
      if (tl.op === "dropout") def(`mask:${tl.id}`, size);
      if (tl.op === "spatial_dropout") def(`mask:${tl.id}`, B * n.outShape[0]);
    }
    const C = n.inShape[0];
    const a = n.attrs as Record<string, number>;
    switch (n.op) {
      case "conv2d": {
        def(`col:${n.id}`, convColFloats(n, gradOf(n.inputs[0])), true);
        if (n.attrs.weight_norm) {
          const wsize = prod([a.K, n.inShape[0] / a.groups, a.kh, a.kw]);
          def(`w:${n.id}`, wsize);
          def(`wnorm:${n.id}`, a.K);
          def(`scratch:wn:${n.id}`, wsize, true);
        }
        break;
      }
      case "dense":
        if (n.attrs.weight_norm) {
          def(`w:${n.id}`, a.units * n.inShape[0]);
          def(`wnorm:${n.id}`, a.units);
          def(`scratch:wn:${n.id}`, a.units * n.inShape[0], true);
        }
        break;
      case "maxpool2d":
        def(`idx:${n.id}`, size);
        break;
      case "bn":
        def(`mean:${n.id}`, C);
        def(`invstd:${n.id}`, C);
        break;
      case "iternorm": {
        const G = a.groups,
          T = a.iters,
          g = C / G;
        // see runtime/kernels/iternorm.ts: iterNormSaveSize / iterNormTmpSize
        def(`save:${n.id}`, C + G + G * g * g * (T + 2));
        def(`tmp:${n.id}`, 8 * g * g);
        break;
      }
      case "layernorm":
        def(`mean:${n.id}`, B);
        def(`invstd:${n.id}`, B);
        break;
      case "groupnorm":
      case "instancenorm":
        def(`mean:${n.id}`, B * a.groups);
        def(`invstd:${n.id}`, B * a.groups);
        break;
    }
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
  const reluInPool = poolReluForward(ir);
  const reluSkipped = new Set(reluInPool.values());
  for (let i = 0; i < N; i++) {
    const n = ir.nodes[i];
    if (n.op === "flatten") continue;
    const f = t.forward(i);
    const fusedFrom = reluInPool.get(n.id);
    for (const inp of n.inputs) {
      const b = fusedFrom ? `z:${fusedFrom}` : act(inp);
      if (b) use(b, f);
    }
    use(`z:${n.id}`, f);
    if (n.tail.length > 0 && !reluSkipped.has(n.id)) use(n.output, f);
    for (const name of nodeState(n)) use(name, f);
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
  const fused = poolReluFusions(ir);
  for (let i = N - 1; i >= 0; i--) {
    const n = ir.nodes[i];
    if (!hasBackward(n)) continue;
    const bk = t.backward(i);
    use(`grad:${n.output}`, bk);
    if (fused.has(n.id)) use(bufOf.get(n.output)!, bk); // the ReLU mask of its input's gradient
    if (n.tail.length > 0) use(`z:${n.id}`, bk);
    for (const name of nodeState(n)) use(name, bk);
    const readsX = READS_X_IN_BACKWARD.has(n.op) || !KNOWN_OPS.has(n.op);
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
      } else if (NORMS.has(n.op)) {
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

  /** A node's own buffers that live from its forward to its backward (masks, saved statistics, scratch). */
  function nodeState(n: IRNode): string[] {
    const out: string[] = [];
    for (const tl of n.tail) if (tl.op === "dropout" || tl.op === "spatial_dropout") out.push(`mask:${tl.id}`);
    for (const k of ["col", "w", "wnorm", "scratch:wn", "idx", "mean", "invstd", "save", "tmp"]) if (sizes.has(`${k}:${n.id}`)) out.push(`${k}:${n.id}`);
    return out;
  }
}

const KNOWN_OPS = new Set([
  "identity",
  "dense",
  "conv2d",
  "maxpool2d",
  "avgpool2d",
  "global_avgpool",
  "bn",
  "layernorm",
  "groupnorm",
  "instancenorm",
  "iternorm",
  "add",
]);

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
  put("labels", B * (ir.loss.kind === "softmax_cross_entropy" ? 1 : ir.output.size));
  // everything else: placed by liveness
  const { buffers, aliases } = bufferLiveness(ir);
  const placed = placeBuffers(buffers, top, opts.reuse ?? true);
  for (const b of buffers) {
    offsets[b.name] = placed.at.get(b.name)!;
    sizes[b.name] = b.size;
  }
  // a node without a tail writes its output straight into Z
  for (const n of ir.nodes) {
    if (n.op === "flatten" || n.tail.length > 0) continue;
    offsets[n.output] = offsets[`z:${n.id}`];
    sizes[n.output] = sizes[`z:${n.id}`];
  }
  for (const n of ir.nodes) {
    if (n.op !== "flatten") continue;
    const size = B * prod(n.outShape);
    offsets[n.output] = offsets[aliases.get(n.output)!];
    sizes[n.output] = size;
    offsets[`grad:${n.output}`] = offsets[aliases.get(`grad:${n.output}`)!];
    sizes[`grad:${n.output}`] = size;
  }
  const layout: IRLayout = { heapFloats: placed.top, P, G, S, N: Npad, slots, offsets, sizes };
  return { ...ir, layout };
}
