// The optimizer step (and clip_grad_norm) in WebAssembly SIMD when the backend is the wasm one.
//
// runtime/optim.ts stays the reference: `wasmOptimizerStep` runs the same element rules, in the
// same order, in float64 with the same float32 roundings (runtime/wasm/optim-gen.mjs generates
// the module), so it writes the same bytes as `optimizerStep` (test/wasm-optim.test.ts). It reads
// and writes H in place: H must be the wasm backend's heap (a view of its memory at byte 0).
//
// Use: `const step = makeOptimizerStep(be)` once, then `step(H, layout, opt, lr, t)` wherever
// `optimizerStep(H, layout, opt, lr, t)` was called; on the ts backend it IS optimizerStep.
import type { Backend } from "./backend";
import { optimizerStep, stateSlots, type OptimLayout, type OptimizerConfig } from "./optim";
import { clipGradNorm } from "./regularize";
import type { OptimKernels } from "./wasm/instance";

export type OptimizerStepFn = (H: Float32Array, layout: OptimLayout, opt: OptimizerConfig, lr: number, t: number) => void;
export type ClipGradNormFn = (H: Float32Array, layout: OptimLayout, maxNorm: number, normType?: number) => number;

/** The wasm optimizer exports of `be` when it is the wasm backend (wasm-backend.ts adds `optim`). */
export function wasmOptimExports(be: Backend): OptimKernels | undefined {
  const w = be as Backend & { optim?: OptimKernels; memory?: WebAssembly.Memory };
  if (!w.optim || !w.memory || w.H.buffer !== w.memory.buffer || w.H.byteOffset !== 0) return undefined;
  return w.optim;
}

/** optimizerStep, in wasm SIMD when `be` is the wasm backend (same bytes either way). */
export function makeOptimizerStep(be: Backend): OptimizerStepFn {
  const k = wasmOptimExports(be);
  if (!k) return optimizerStep;
  const heap = be.H;
  return (H, layout, opt, lr, t) => {
    if (H !== heap && (H.buffer !== heap.buffer || H.byteOffset !== 0)) optimizerStep(H, layout, opt, lr, t);
    else wasmOptimizerStep(k, H, layout, opt, lr, t);
  };
}

/** clipGradNorm (regularize.ts), its sums of squares in wasm when `be` is the wasm backend. */
export function makeClipGradNorm(be: Backend): ClipGradNormFn {
  const k = wasmOptimExports(be);
  if (!k) return clipGradNorm;
  const heap = be.H;
  return (H, layout, maxNorm, normType = 2) => {
    if (normType !== 2 || (H !== heap && (H.buffer !== heap.buffer || H.byteOffset !== 0))) return clipGradNorm(H, layout, maxNorm, normType);
    return wasmClipGradNorm(k, H, layout, maxNorm);
  };
}

const ok = (x: number): boolean => Number.isInteger(x) && x >= 0;

// The f64 scalars of a kernel call, in the order of its `scalars` (runtime/wasm/optim-gen.mjs), into
// its argument block: no double crosses the JS-wasm boundary (each would be a HeapNumber per call).
function put4(A: Float64Array, a: number, b: number, c: number, d: number): void {
  A[0] = a;
  A[1] = b;
  A[2] = c;
  A[3] = d;
}
function put5(A: Float64Array, a: number, b: number, c: number, d: number, e: number): void {
  put4(A, a, b, c, d);
  A[4] = e;
}
function put7(A: Float64Array, a: number, b: number, c: number, d: number, e: number, f: number, g: number): void {
  put5(A, a, b, c, d, e);
  A[5] = f;
  A[6] = g;
}
function put8(A: Float64Array, a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number): void {
  put7(A, a, b, c, d, e, f, g);
  A[7] = h;
}

/** Throws unless every segment's params, grads and `slots` state slots lie inside H. (Runs every step: no closure, no iterator.) */
function checkBounds(H: Float32Array, L: OptimLayout, slots: number): void {
  for (let i = 0; i < L.segments.length; i++) {
    const s = L.segments[i];
    const end = s.offset + s.size;
    const lastState = L.S + Math.max(slots - 1, 0) * L.N + end;
    if (
      !ok(s.offset) ||
      !ok(s.size) ||
      !ok(L.P) ||
      !ok(L.G) ||
      !ok(L.S) ||
      !ok(L.N) ||
      L.P + end > H.length ||
      L.G + end > H.length ||
      (slots > 0 && lastState > H.length)
    ) {
      throw new RangeError(`wasm optimizer: segment ${s.name ?? s.offset} (size ${s.size}) reaches outside H[${H.length}]`);
    }
  }
}

/**
 * optimizerStep (runtime/optim.ts) on the wasm module `k` whose memory H views (from byte 0).
 * Same arguments, same semantics, same bytes; one module call per segment; no allocation.
 */
export function wasmOptimizerStep(k: OptimKernels, H: Float32Array, L: OptimLayout, opt: OptimizerConfig, lr0: number, t: number): void {
  if (!(t >= 1)) throw new RangeError(`optimizerStep: t must be >= 1 (1-based step count), got ${t}`);
  checkBounds(H, L, stateSlots(opt));
  const N = L.N;
  const segs = L.segments;
  // Adam's bias corrections, once per step (the same values as per segment). This function runs
  // once per step, too rarely at a recurrent model's step rate for V8 to optimize it: every float
  // temporary here is a heap number, so the common cases compute none (x·1 = x and 1 − x·0 = 1 for a
  // finite x, exactly)
  const adam = opt.kind === "adam" || opt.kind === "adamw";
  const bias1 = adam ? 1 - Math.pow(opt.beta1 ?? 0.9, t) : 1;
  const bc2 = adam ? Math.sqrt(1 - Math.pow(opt.beta2 ?? 0.999, t)) : 1;
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s];
    const lr = seg.lrScale === 1 ? lr0 : lr0 * seg.lrScale;
    const wd = seg.weightDecay,
      l1 = seg.l1,
      keep = seg.decoupledDecay === 0 && Number.isFinite(lr) ? 1 : 1 - lr * seg.decoupledDecay;
    const p = L.P + seg.offset,
      g = L.G + seg.offset,
      s0 = L.S + seg.offset,
      n = seg.size;
    switch (opt.kind) {
      case "sgd": {
        const mu = opt.momentum ?? 0;
        if (mu === 0) {
          put4(k.args, wd, l1, keep, lr);
          k.sgd(p, g, n, k.argsByte);
          break;
        }
        if (t === 1) H.fill(0, s0, s0 + n);
        const cMu = t === 1 ? 0 : mu,
          cG = t === 1 ? 1 : 1 - (opt.dampening ?? 0);
        const nesterov = opt.nesterov === true;
        if (l1 === 0 && keep === 1) {
          put5(k.args, wd, lr, cMu, cG, mu);
          if (nesterov) k.sgd_nesterov(p, g, s0, n, k.argsByte);
          else k.sgd_momentum(p, g, s0, n, k.argsByte);
        } else {
          put7(k.args, wd, l1, keep, lr, cMu, cG, mu);
          if (nesterov) k.sgd_nesterov_general(p, g, s0, n, k.argsByte);
          else k.sgd_momentum_general(p, g, s0, n, k.argsByte);
        }
        break;
      }
      case "adagrad": {
        const clr = lr / (1 + (t - 1) * (opt.lrDecay ?? 0));
        if (t === 1) H.fill(opt.initialAccumulatorValue ?? 0, s0, s0 + n);
        put5(k.args, wd, l1, keep, clr, opt.eps ?? 1e-10);
        k.adagrad(p, g, s0, n, k.argsByte);
        break;
      }
      case "rmsprop": {
        const alpha = opt.alpha ?? 0.99,
          eps = opt.eps ?? 1e-8,
          mu = opt.momentum ?? 0,
          centered = opt.centered === true;
        const b0 = s0 + N,
          ga0 = s0 + (mu > 0 ? 2 : 1) * N;
        if (t === 1) {
          H.fill(0, s0, s0 + n);
          if (mu > 0) H.fill(0, b0, b0 + n);
          if (centered) H.fill(0, ga0, ga0 + n);
        }
        const a1 = 1 - alpha;
        put8(k.args, wd, l1, keep, lr, alpha, a1, eps, mu);
        if (centered) {
          if (mu > 0) k.rmsprop_centered_momentum(p, g, s0, b0, ga0, n, k.argsByte);
          else k.rmsprop_centered(p, g, s0, ga0, n, k.argsByte);
        } else if (mu > 0) k.rmsprop_momentum(p, g, s0, b0, n, k.argsByte);
        else k.rmsprop(p, g, s0, n, k.argsByte);
        break;
      }
      case "adam":
      case "adamw": {
        const b1 = opt.beta1 ?? 0.9,
          b2 = opt.beta2 ?? 0.999,
          eps = opt.eps ?? 1e-8;
        const step = lr / bias1;
        const v0 = s0 + N,
          vmax0 = s0 + 2 * N;
        if (t === 1) {
          H.fill(0, s0, s0 + n);
          H.fill(0, v0, v0 + n);
          if (opt.amsgrad) H.fill(0, vmax0, vmax0 + n);
        }
        const A = k.args;
        put5(A, wd, l1, keep, b1, 1 - b1);
        A[5] = b2;
        A[6] = 1 - b2;
        A[7] = step;
        A[8] = bc2;
        A[9] = eps;
        if (opt.amsgrad) k.adam_amsgrad(p, g, s0, v0, vmax0, n, k.argsByte);
        else k.adam(p, g, s0, v0, n, k.argsByte);
        break;
      }
    }
  }
}

/**
 * clipGradNorm with normType 2 on the wasm module: the global L2 norm of the gradients (sums of
 * squares in float64, in 4 partial sums, so it may differ from the TypeScript's sequential sum in
 * the last bits of a double), then g *= maxNorm / (total + 1e-6) if that is < 1. Returns the total.
 */
export function wasmClipGradNorm(k: OptimKernels, H: Float32Array, L: OptimLayout, maxNorm: number): number {
  checkBounds(H, L, 0);
  const segs = L.segments;
  let total = 0;
  for (let s = 0; s < segs.length; s++) {
    k.sumsq(L.G + segs[s].offset, segs[s].size, k.argsByte);
    total += k.args[0];
  }
  total = Math.sqrt(total);
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    k.args[0] = coef;
    for (let s = 0; s < segs.length; s++) k.scale(L.G + segs[s].offset, segs[s].size, k.argsByte);
  }
  return total;
}
