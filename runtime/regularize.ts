// Gradient clipping, max-norm constraints and the reported value of the L1/L2 penalties, over the
// parameter arena described in optim.ts (`OptimLayout`: params at P, grads at G, per-tensor
// `Segment`s). No allocation; PyTorch 1.13 semantics, checked in test/optim.test.ts.
//
// Where these run in a training step: backward -> clipGradValue / clipGradNorm (on the raw
// gradients, before the coupled decay and L1 terms that optimizerStep adds) -> optimizerStep ->
// applyMaxNorm (projection onto the constraint set after the step).

import type { OptimLayout } from "./optim";

/**
 * torch.nn.utils.clip_grad_norm_: the GLOBAL norm over all gradients of all segments (not per
 * tensor), total = (sum |g|^normType)^(1/normType) (normType = Infinity: max |g|); every gradient is
 * multiplied by min(1, maxNorm / (total + 1e-6)). Returns the total norm before clipping.
 */
export function clipGradNorm(H: Float32Array, layout: OptimLayout, maxNorm: number, normType = 2): number {
  const segs = layout.segments;
  let total = 0;
  if (normType === Infinity) {
    for (let s = 0; s < segs.length; s++) {
      const g0 = layout.G + segs[s].offset,
        n = segs[s].size;
      for (let i = 0; i < n; i++) {
        const a = Math.abs(H[g0 + i]);
        if (a > total || a !== a) total = a;
      }
    }
  } else {
    // Per-tensor norms combined as PyTorch does (norm of the stacked norms): the same total.
    for (let s = 0; s < segs.length; s++) {
      const g0 = layout.G + segs[s].offset,
        n = segs[s].size;
      let acc = 0;
      if (normType === 2) for (let i = 0; i < n; i++) acc += H[g0 + i] * H[g0 + i];
      else if (normType === 1) for (let i = 0; i < n; i++) acc += Math.abs(H[g0 + i]);
      else for (let i = 0; i < n; i++) acc += Math.pow(Math.abs(H[g0 + i]), normType);
      total += acc;
    }
    total = normType === 1 ? total : normType === 2 ? Math.sqrt(total) : Math.pow(total, 1 / normType);
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (let s = 0; s < segs.length; s++) {
      const g0 = layout.G + segs[s].offset,
        n = segs[s].size;
      for (let i = 0; i < n; i++) H[g0 + i] *= coef;
    }
  }
  return total;
}

/** torch.nn.utils.clip_grad_value_: clamp every gradient to [-v, v]. */
export function clipGradValue(H: Float32Array, layout: OptimLayout, v: number): void {
  const segs = layout.segments;
  for (let s = 0; s < segs.length; s++) {
    const g0 = layout.G + segs[s].offset,
      n = segs[s].size;
    for (let i = 0; i < n; i++) {
      const g = H[g0 + i];
      if (g > v) H[g0 + i] = v;
      else if (g < -v) H[g0 + i] = -v;
    }
  }
}

/**
 * Max-norm constraint, after the optimizer step: every segment with maxNorm c > 0 is viewed as
 * (rows, cols) (rows = output units, the PyTorch layout's dim 0: Dense [out, in], conv
 * [K, C/g, kh, kw]) and each row whose L2 norm exceeds c is scaled by c / (norm + 1e-7), exactly
 * torch.renorm(w, p=2, dim=0, maxnorm=c) (and Keras' max_norm on the same units). Rows with
 * norm <= c are left untouched.
 */
export function applyMaxNorm(H: Float32Array, layout: OptimLayout): void {
  const segs = layout.segments;
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s];
    const c = seg.maxNorm;
    if (!(c > 0)) continue;
    const rows = seg.rows,
      cols = seg.cols;
    for (let r = 0; r < rows; r++) {
      // row r is H[p0 .. p0 + cols)
      const p0 = layout.P + seg.offset + r * cols;
      let ss = 0;
      for (let j = 0; j < cols; j++) ss += H[p0 + j] * H[p0 + j];
      const norm = Math.sqrt(ss);
      if (norm > c) {
        const k = c / (norm + 1e-7);
        for (let j = 0; j < cols; j++) H[p0 + j] *= k;
      }
    }
  }
}

/**
 * The explicit penalty terms, for reporting them in the loss: sum over segments of
 * (weightDecay / 2) * ||p||^2 + l1 * ||p||_1. The factor 1/2 is what makes the coupled decay
 * `g += weightDecay * p` the gradient of this penalty. Decoupled decay is not the gradient of any
 * penalty and is not included.
 */
export function penaltyValue(H: Float32Array, layout: OptimLayout): number {
  const segs = layout.segments;
  let total = 0;
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s];
    if (seg.weightDecay === 0 && seg.l1 === 0) continue;
    const p0 = layout.P + seg.offset,
      n = seg.size;
    let sq = 0,
      abs = 0;
    for (let i = 0; i < n; i++) {
      const p = H[p0 + i];
      sq += p * p;
      abs += Math.abs(p);
    }
    total += 0.5 * seg.weightDecay * sq + seg.l1 * abs;
  }
  return total;
}
