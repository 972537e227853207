// Resource check: IR → diagnostics. Estimates what the generated trainer will hold in its one heap
// (parameters, gradients, optimizer state, running statistics, the batch, every activation and its
// gradient, per-op scratch), the parameter count and, when the caller knows it, the dataset size,
// and rejects specs that would not fit the limits, with a diagnostic stating the estimate and the
// limit at the layer that costs the most. The estimate is computed from the IR's shapes in float
// arithmetic (no bitwise alignment, so sizes past 2^31 floats or even Infinity are reported, not
// wrapped), mirroring plan-memory.ts; it therefore works on IR straight out of `lower`, before
// `planMemory`, which is where the pipeline should call it. `memoryReport` prints the breakdown
// (exact from `ir.layout` when present). Why 2 GiB by default: docs/reliability.md.
import type { Span } from "../grammar/ast";
import { diag, type Diagnostic } from "../grammar/diagnostics";
import { nodeSpan } from "./spans";
import { targetFloats, type IR, type IRNode } from "./ir";
import { isElementwise, isView, nodeOp, TAILS } from "./ops";
import { stateSlots } from "./plan-memory";
import { prod } from "./shape";
import type { Spec } from "./spec";

export interface ResourceLimits {
  /** Bytes of the trainer's heap H (Float32Array or WebAssembly memory). */
  maxHeapBytes: number;
  /** Trainable parameters (elements). */
  maxParams: number;
  /** Bytes of the training data held in memory (checked only when `datasetBytes` is given). */
  maxDatasetBytes?: number;
}

/**
 * Defaults. 2 GiB of heap: WebAssembly memory (wasm32) caps at 4 GiB, Node 20's ArrayBuffer at
 * 2^32 bytes, the WASM backend needs room beside H for its packing buffers, and element offsets
 * then stay far inside int32 range (generated code and kernels index with `| 0`).
 * 2^27 parameters: params, grads and Adam's two moments alone are then exactly 2 GiB.
 */
export const DEFAULT_LIMITS: ResourceLimits = { maxHeapBytes: 2 * 1024 ** 3, maxParams: 2 ** 27 };

export interface ResourceOptions {
  /** The checked spec, for full layer spans (else spans cover the layer's first character). */
  spec?: Spec;
  /** Bytes of the training data, when the caller knows it (e.g. from the files' sizes). */
  datasetBytes?: number;
  /**
   * The check before planMemory (IR without a layout): the estimate counts every buffer at its own
   * place, an upper bound of the planned heap (the plan shares memory between buffers never live at
   * once), so the heap limit is left to the check after planning, unless the estimate is past what
   * planMemory can place (PLAN_MAX_FLOATS, or not finite).
   */
  beforePlan?: boolean;
}

/** planMemory places offsets as 32-bit integers: IR whose estimate reaches this is rejected before it. */
export const PLAN_MAX_FLOATS = 2 ** 31;

/** Heap use in floats by category (per compiled batch B). */
export interface MemoryEstimate {
  params: number;
  grads: number;
  optimizerState: number;
  slots: number;
  stats: number;
  /** Forward tensors: the batch (inputs, labels), every layer's outputs, dropout masks. */
  activations: number;
  /** Gradients of the batch input and of every layer output. */
  activationGrads: number;
  /** im2col columns, pooling indices, norm statistics, weight-norm buffers, accumulation scratch. */
  scratch: number;
  total: number;
  /** Per node id: parameters and heap floats it is responsible for (to name the largest layer). */
  perNode: { node: IRNode; params: number; floats: number }[];
}

const align = (x: number) => Math.ceil(x / 16) * 16; // planMemory aligns every buffer to 16 floats

/**
 * The estimate from shapes alone: every buffer at its own place (plan-memory.ts's placement as it
 * was before buffers never live at once shared memory): an upper bound of the planned heap.
 */
export function estimateMemory(ir: IR): MemoryEstimate {
  const B = ir.batch;
  const N = ir.params.reduce((a, p) => a + p.size, 0);
  const Npad = align(N);
  const o = ir.train.optimizer;
  const slots = stateSlots(o.kind, o);
  const stats = ir.stats.reduce((a, s) => a + align(s.size), 0);
  let activations = align(B * ir.input.size) + align(B * targetFloats(ir));
  let activationGrads = align(B * ir.input.size);
  let scratch = 0;
  let maxAct = B * ir.input.size;
  const paramSize = new Map(ir.params.map((p) => [p.name, p.size]));
  const perNode: MemoryEstimate["perNode"] = [];
  for (const n of ir.nodes) {
    const size = B * prod(n.outShape);
    maxAct = Math.max(maxAct, size);
    const params = n.params.reduce((a, p) => a + (paramSize.get(p) ?? 0), 0);
    if (isView(n)) {
      perNode.push({ node: n, params, floats: 0 });
      continue;
    }
    // an elementwise op not yet fused (IR before fuseElementwise) costs what its fused form will
    const tail: { op: keyof typeof TAILS }[] = n.tail.length > 0 ? n.tail : isElementwise(n) ? [{ op: n.op }] : [];
    let act = align(size) * (tail.length > 0 ? 2 : 1);
    for (const t of tail) {
      const mask = TAILS[t.op].mask?.(n, B);
      if (mask !== undefined) act += align(mask);
    }
    const grad = align(size);
    // the op's own buffers, as planMemory places them (a conv's col as when its dx is computed, before scheduleKernels)
    let scr = 0;
    if (!isElementwise(n)) for (const b of nodeOp(n).buffers?.(n as never, B) ?? []) scr += align(b.size);
    activations += act;
    activationGrads += grad;
    scratch += scr;
    const prev = perNode[perNode.length - 1];
    // an unfused elementwise op is charged to the layer it will fuse into
    if (n.tail.length === 0 && tail.length > 0 && prev && prev.node.output === n.inputs[0] && !isView(prev.node)) prev.floats += act + grad;
    else perNode.push({ node: n, params, floats: act + grad + scr + 2 * params });
  }
  scratch += align(maxAct) + align(B * Math.max(1, ir.output.size));
  const total = 2 * Npad + slots * Npad + stats + activations + activationGrads + scratch;
  return { params: N, grads: N, optimizerState: slots * Npad, slots, stats, activations, activationGrads, scratch, total, perNode };
}

/** "1.50 GiB (402,653,184 floats)"-style sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "an unbounded amount";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let u = 0;
  let x = bytes;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  if (x >= 1024) return `${bytes.toExponential(2)} B`;
  return u === 0 ? `${x} B` : `${x.toFixed(2)} ${units[u]}`;
}

function formatCount(x: number): string {
  if (!Number.isFinite(x)) return "infinitely many";
  return x < 1e15 ? Math.round(x).toLocaleString("en-US") : x.toExponential(2);
}

function error(code: "E0601" | "E0602" | "E0603", span: Span, args: Record<string, string>, hint?: string): Diagnostic {
  return diag(code, span, args, hint);
}

/** Reject specs whose trainer would not fit the limits. Works on IR with or without a layout. */
export function checkResources(ir: IR, limits: ResourceLimits = DEFAULT_LIMITS, opts: ResourceOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const est = estimateMemory(ir);
  const L = ir.layout;
  // planMemory's own total is exact when it is sane; the estimate (an upper bound) covers IR before it
  const planned = L && Number.isSafeInteger(L.heapFloats) && L.heapFloats > 0;
  const floats = planned ? L.heapFloats : est.total;
  const bytes = floats * 4;
  const byFloats = [...est.perNode].sort((a, b) => b.floats - a.floats)[0];
  const byParams = [...est.perNode].sort((a, b) => b.params - a.params)[0];
  const deferred = !planned && opts.beforePlan === true && est.total < PLAN_MAX_FLOATS;
  if (!(bytes <= limits.maxHeapBytes) && !deferred) {
    const n = byFloats?.node;
    out.push(
      error(
        "E0601",
        n ? nodeSpan(ir, n, opts.spec) : nodeSpan(ir, ir.nodes[0], opts.spec),
        { estimate: formatBytes(bytes), limit: formatBytes(limits.maxHeapBytes) },
        n
          ? `the largest layer is \`${n.op}\` (${n.id}), ${formatBytes(byFloats.floats * 4)} at batch ${ir.batch}; use a smaller batch, fewer units or filters, or a pooling/stride earlier`
          : undefined,
      ),
    );
  }
  if (!(est.params <= limits.maxParams)) {
    const n = byParams?.node;
    out.push(
      error(
        "E0602",
        n ? nodeSpan(ir, n, opts.spec) : nodeSpan(ir, ir.nodes[0], opts.spec),
        { estimate: formatCount(est.params), limit: formatCount(limits.maxParams) },
        n ? `\`${n.op}\` (${n.id}) has ${formatCount(byParams.params)} of them` : undefined,
      ),
    );
  }
  if (limits.maxDatasetBytes !== undefined && opts.datasetBytes !== undefined && !(opts.datasetBytes <= limits.maxDatasetBytes)) {
    const s = opts.spec?.data.source.span ?? nodeSpan(ir, ir.nodes[0], opts.spec);
    out.push(error("E0603", s, { estimate: formatBytes(opts.datasetBytes), limit: formatBytes(limits.maxDatasetBytes) }, "use a subset of the data"));
  }
  return out;
}

/** A few lines: params, grads, optimizer state, activations, scratch, total (exact from the layout when planned). */
export function memoryReport(ir: IR): string {
  const est = estimateMemory(ir);
  const L = ir.layout;
  let parts = {
    params: est.params,
    grads: est.grads,
    state: est.optimizerState,
    stats: est.stats,
    act: est.activations,
    actGrad: est.activationGrads,
    scratch: est.scratch,
    total: est.total,
  };
  let shared = 0;
  if (L && Number.isSafeInteger(L.heapFloats) && L.heapFloats > 0) {
    // classify every placed buffer by name, at its own size (flatten outputs are views of their
    // input and not counted); buffers never live at once share memory: that is the "shared" line
    const paramNames = new Set(ir.params.map((p) => p.name));
    const statNames = new Set(ir.stats.map((s) => s.name));
    const views = new Set(ir.nodes.filter(isView).flatMap((n) => [n.output, `grad:${n.output}`]));
    let act = 0;
    let actGrad = 0;
    let scratch = 0;
    let stats = 0;
    for (const name of Object.keys(L.offsets)) {
      const size = L.sizes[name] ?? 0;
      if (paramNames.has(name) || (name.startsWith("grad:") && paramNames.has(name.slice(5)))) continue;
      if (views.has(name)) continue;
      if (statNames.has(name)) stats += align(size);
      else if (name.startsWith("grad:")) actGrad += align(size);
      else if (name === "x" || name === "labels" || name.startsWith("z:") || name.startsWith("mask:") || !name.includes(":")) act += align(size);
      else scratch += align(size);
    }
    parts = { params: est.params, grads: est.grads, state: L.slots * L.N, stats, act, actGrad, scratch, total: L.heapFloats };
    shared = Math.max(0, (2 + L.slots) * L.N + stats + act + actGrad + scratch - L.heapFloats);
  }
  const row = (label: string, floats: number, extra = "") =>
    `  ${label.padEnd(22)} ${formatCount(floats).padStart(14)} floats  ${((floats < 0 ? "-" : "") + formatBytes(Math.abs(floats) * 4)).padStart(11)}${extra}`;
  const lines = [
    `memory of ${ir.name} at batch ${ir.batch}${L ? "" : " (estimated before memory planning)"}:`,
    row("parameters", parts.params),
    row("gradients", parts.grads),
    row(`optimizer state (${est.slots})`, parts.state),
    ...(parts.stats > 0 ? [row("running statistics", parts.stats)] : []),
    row("activations", parts.act, "  (incl. the batch)"),
    row("activation gradients", parts.actGrad),
    row("scratch", parts.scratch),
    ...(shared > 0 ? [row("shared", -shared, "  (buffers never live at once)")] : []),
    row("total heap", parts.total),
  ];
  return lines.join("\n") + "\n";
}
