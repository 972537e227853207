// Optimizer step over the parameter arena (docs/architecture.md, "Parameter arena").
//
// Parameters live at H[P, P+N), their gradients at H[G, G+N) in the same order, optimizer state
// slot k at H[S + k*N, S + (k+1)*N). A parameter tensor is a `Segment`: its offset (relative to
// P, and the same offset is used inside G and inside every state slot) and its per-tensor
// settings (decay, L1, learning-rate scale, max-norm). `optimizerStep` is one sweep over the
// segments, element by element, with no allocation; the update rules are PyTorch 1.13's
// (`torch/optim/*.py`, `_single_tensor_*`), checked against it in test/optim.test.ts.
//
// Order of operations for one element, with lr' = lr * segment.lrScale:
//   g' = g + weightDecay * p + l1 * sign(p)      (coupled L2 and L1, on the pre-step p; sign(0)=0)
//   p  = p * (1 - lr' * decoupledDecay)          (decoupled decay, AdamW-style)
//   p  = p - lr' * update(g', state)             (the optimizer's own rule)
// The gradient slot H[G..] is left untouched (as PyTorch leaves p.grad).

/** One parameter tensor in the arena. `offset` is relative to P (and to G, and to each state slot). */
export interface Segment {
  /** Optional, for diagnostics only. */
  name?: string;
  offset: number;
  size: number;
  /** For max-norm: rows = output units (dim 0 of the PyTorch layout), cols = size / rows. */
  rows: number;
  cols: number;
  /**
   * Coupled L2 (PyTorch's `weight_decay`): g += weightDecay * p before the optimizer's rule.
   * Equal to adding the penalty (weightDecay / 2) * ||p||^2 to the loss. With Adam/RMSprop/Adagrad
   * it is rescaled by the adaptive denominator like any gradient (this is Adam(weight_decay=),
   * NOT AdamW).
   */
  weightDecay: number;
  /**
   * Decoupled weight decay (Loshchilov & Hutter, AdamW): p *= 1 - lr * lrScale * decoupledDecay,
   * applied before the optimizer's rule and independent of the gradient. Usable with EVERY
   * optimizer (SGD, Adagrad, RMSprop, Adam), not only "adamw". PyTorch's AdamW(weight_decay=w)
   * is `{kind:"adamw"}` with decoupledDecay = w (and weightDecay = 0).
   */
  decoupledDecay: number;
  /** L1: g += l1 * sign(p), sign(0) = 0 (subgradient of l1 * ||p||_1). */
  l1: number;
  /** Multiplies the scheduled learning rate for this tensor (PyTorch param-group lr). 1 = none. */
  lrScale: number;
  /** Max-norm constraint c on each row (see regularize.ts `applyMaxNorm`); 0 = none. */
  maxNorm: number;
}

/** The arena: params at [P, P+N), grads at [G, G+N), state slot k at [S + k*N, S + (k+1)*N). */
export interface OptimLayout {
  P: number;
  G: number;
  S: number;
  N: number;
  segments: Segment[];
}

/** torch.optim.SGD. momentum 0 = plain SGD. On step 1 the momentum buffer is set to g' (as PyTorch). */
export interface SgdConfig {
  kind: "sgd";
  momentum?: number; // default 0
  dampening?: number; // default 0
  nesterov?: boolean; // default false (needs momentum > 0 and dampening 0, as PyTorch requires)
}
/** torch.optim.Adagrad: sum += g'^2; p -= clr * g' / (sqrt(sum) + eps), clr = lr / (1 + (t-1) lrDecay). */
export interface AdagradConfig {
  kind: "adagrad";
  lrDecay?: number; // default 0
  initialAccumulatorValue?: number; // default 0
  eps?: number; // default 1e-10
}
/** torch.optim.RMSprop (alpha is the decay of the squared-gradient average, eps is added outside the sqrt). */
export interface RmspropConfig {
  kind: "rmsprop";
  alpha?: number; // default 0.99
  eps?: number; // default 1e-8
  momentum?: number; // default 0
  centered?: boolean; // default false
}
/**
 * torch.optim.Adam / AdamW. The two kinds run the same rule here; what makes AdamW is the
 * segment's `decoupledDecay` (the compiler maps `adamw(weight_decay=w)` to it). Bias-corrected,
 * eps added outside the sqrt, after the bias correction (PyTorch's placement).
 */
export interface AdamConfig {
  kind: "adam" | "adamw";
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8
  amsgrad?: boolean; // default false
}
export type OptimizerConfig = SgdConfig | AdagradConfig | RmspropConfig | AdamConfig;

/** How many N-float state slots the optimizer needs (the arena reserves stateSlots * N floats at S). */
export function stateSlots(opt: OptimizerConfig): number {
  switch (opt.kind) {
    case "sgd":
      return (opt.momentum ?? 0) !== 0 ? 1 : 0;
    case "adagrad":
      return 1;
    case "rmsprop":
      return 1 + ((opt.momentum ?? 0) > 0 ? 1 : 0) + (opt.centered ? 1 : 0);
    case "adam":
    case "adamw":
      return 2 + (opt.amsgrad ? 1 : 0);
  }
}

/**
 * One optimizer step over every segment. `lr` is the scheduled learning rate for this step,
 * `t` the 1-based step count (t = 1 on the first step). On t = 1 the state slots are overwritten
 * with PyTorch's initial state (whatever they held, NaN included), so the arena needs no separate
 * initialisation; to resume from a checkpoint restore the state slots and pass the next t.
 * No allocation.
 */
export function optimizerStep(H: Float32Array, layout: OptimLayout, opt: OptimizerConfig, lr: number, t: number): void {
  if (!(t >= 1)) throw new RangeError(`optimizerStep: t must be >= 1 (1-based step count), got ${t}`);
  const segs = layout.segments;
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s];
    switch (opt.kind) {
      case "sgd":
        sgdSegment(H, layout, seg, opt, lr, t);
        break;
      case "adagrad":
        adagradSegment(H, layout, seg, opt, lr, t);
        break;
      case "rmsprop":
        rmspropSegment(H, layout, seg, opt, lr, t);
        break;
      case "adam":
      case "adamw":
        adamSegment(H, layout, seg, opt, lr, t);
        break;
    }
  }
}

// Each *Segment function: p, g and every state slot are (size,) vectors at P+off, G+off, S+k*N+off.
// On t = 1 the segment's state slots are first overwritten with PyTorch's initial state (zeros, or
// Adagrad's initial accumulator), so the loops below never branch on the step number. Values that
// PyTorch keeps in float32 tensors (buffers, averages) are rounded with Math.fround before reuse.

/** sign(p) with sign(0) = 0, as torch.sign. */
function sign(p: number): number {
  return p > 0 ? 1 : p < 0 ? -1 : 0;
}

function sgdSegment(H: Float32Array, L: OptimLayout, seg: Segment, o: SgdConfig, lr0: number, t: number): void {
  const lr = lr0 * seg.lrScale;
  const wd = seg.weightDecay,
    l1 = seg.l1,
    keep = 1 - lr * seg.decoupledDecay;
  const mu = o.momentum ?? 0,
    nesterov = o.nesterov === true;
  const p0 = L.P + seg.offset,
    g0 = L.G + seg.offset,
    b0 = L.S + seg.offset,
    n = seg.size;
  if (mu === 0) {
    for (let i = 0; i < n; i++) {
      const p = H[p0 + i];
      const g = H[g0 + i] + wd * p + l1 * sign(p);
      H[p0 + i] = p * keep - lr * g;
    }
    return;
  }
  // buf = cMu * buf + cG * g': step 1 sets buf = g' (PyTorch clones the first gradient, no dampening)
  if (t === 1) H.fill(0, b0, b0 + n);
  const cMu = t === 1 ? 0 : mu,
    cG = t === 1 ? 1 : 1 - (o.dampening ?? 0);
  if (l1 === 0 && keep === 1) {
    // the common case, specialized: no L1, no decoupled decay (the loop is the optimizer's hot path)
    if (nesterov) {
      for (let i = 0; i < n; i++) {
        const p = H[p0 + i];
        const g = H[g0 + i] + wd * p;
        H[b0 + i] = cMu * H[b0 + i] + cG * g;
        H[p0 + i] = p - lr * (g + mu * H[b0 + i]); // re-read: the float32-rounded buffer, as PyTorch
      }
    } else {
      for (let i = 0; i < n; i++) {
        const p = H[p0 + i];
        H[b0 + i] = cMu * H[b0 + i] + cG * (H[g0 + i] + wd * p);
        H[p0 + i] = p - lr * H[b0 + i];
      }
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const p = H[p0 + i];
    const g = H[g0 + i] + wd * p + l1 * sign(p);
    const buf = Math.fround(cMu * H[b0 + i] + cG * g);
    H[b0 + i] = buf;
    H[p0 + i] = p * keep - lr * (nesterov ? g + mu * buf : buf);
  }
}

function adagradSegment(H: Float32Array, L: OptimLayout, seg: Segment, o: AdagradConfig, lr0: number, t: number): void {
  const lr = lr0 * seg.lrScale;
  const clr = lr / (1 + (t - 1) * (o.lrDecay ?? 0));
  const wd = seg.weightDecay,
    l1 = seg.l1,
    keep = 1 - lr * seg.decoupledDecay;
  const eps = o.eps ?? 1e-10;
  const p0 = L.P + seg.offset,
    g0 = L.G + seg.offset,
    s0 = L.S + seg.offset,
    n = seg.size;
  if (t === 1) H.fill(o.initialAccumulatorValue ?? 0, s0, s0 + n);
  for (let i = 0; i < n; i++) {
    const p = H[p0 + i];
    const g = H[g0 + i] + wd * p + l1 * sign(p);
    const sum = Math.fround(H[s0 + i] + g * g);
    H[s0 + i] = sum;
    H[p0 + i] = p * keep - (clr * g) / (Math.sqrt(sum) + eps);
  }
}

function rmspropSegment(H: Float32Array, L: OptimLayout, seg: Segment, o: RmspropConfig, lr0: number, t: number): void {
  const lr = lr0 * seg.lrScale;
  const wd = seg.weightDecay,
    l1 = seg.l1,
    keep = 1 - lr * seg.decoupledDecay;
  const alpha = o.alpha ?? 0.99,
    eps = o.eps ?? 1e-8,
    mu = o.momentum ?? 0,
    centered = o.centered === true;
  const N = L.N,
    n = seg.size;
  const p0 = L.P + seg.offset,
    g0 = L.G + seg.offset;
  const sq0 = L.S + seg.offset; // slot 0: square_avg
  const buf0 = sq0 + N; // slot 1 if momentum > 0: momentum_buffer
  const ga0 = sq0 + (mu > 0 ? 2 : 1) * N; // next slot if centered: grad_avg
  if (t === 1) {
    H.fill(0, sq0, sq0 + n);
    if (mu > 0) H.fill(0, buf0, buf0 + n);
    if (centered) H.fill(0, ga0, ga0 + n);
  }
  for (let i = 0; i < n; i++) {
    const p = H[p0 + i];
    const g = H[g0 + i] + wd * p + l1 * sign(p);
    const sq = Math.fround(alpha * H[sq0 + i] + (1 - alpha) * g * g);
    H[sq0 + i] = sq;
    let v = sq;
    if (centered) {
      const ga = Math.fround(alpha * H[ga0 + i] + (1 - alpha) * g);
      H[ga0 + i] = ga;
      v = Math.fround(sq - ga * ga);
    }
    const avg = Math.sqrt(v) + eps;
    if (mu > 0) {
      const buf = Math.fround(mu * H[buf0 + i] + g / avg);
      H[buf0 + i] = buf;
      H[p0 + i] = p * keep - lr * buf;
    } else {
      H[p0 + i] = p * keep - (lr * g) / avg;
    }
  }
}

function adamSegment(H: Float32Array, L: OptimLayout, seg: Segment, o: AdamConfig, lr0: number, t: number): void {
  const lr = lr0 * seg.lrScale;
  const wd = seg.weightDecay,
    l1 = seg.l1,
    keep = 1 - lr * seg.decoupledDecay;
  const b1 = o.beta1 ?? 0.9,
    b2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8;
  const stepSize = lr / (1 - Math.pow(b1, t));
  const bc2sqrt = Math.sqrt(1 - Math.pow(b2, t));
  const N = L.N,
    n = seg.size;
  const p0 = L.P + seg.offset,
    g0 = L.G + seg.offset;
  const m0 = L.S + seg.offset,
    v0 = m0 + N,
    vmax0 = m0 + 2 * N; // exp_avg, exp_avg_sq, max_exp_avg_sq
  if (t === 1) {
    H.fill(0, m0, m0 + n);
    H.fill(0, v0, v0 + n);
    if (o.amsgrad) H.fill(0, vmax0, vmax0 + n);
  }
  if (o.amsgrad) {
    for (let i = 0; i < n; i++) {
      const p = H[p0 + i];
      const g = H[g0 + i] + wd * p + l1 * sign(p);
      const m = Math.fround(b1 * H[m0 + i] + (1 - b1) * g);
      const v = Math.fround(b2 * H[v0 + i] + (1 - b2) * g * g);
      const vmax = Math.max(H[vmax0 + i], v);
      H[m0 + i] = m;
      H[v0 + i] = v;
      H[vmax0 + i] = vmax;
      H[p0 + i] = p * keep - (stepSize * m) / (Math.sqrt(vmax) / bc2sqrt + eps);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = H[p0 + i];
      const g = H[g0 + i] + wd * p + l1 * sign(p);
      const m = Math.fround(b1 * H[m0 + i] + (1 - b1) * g);
      const v = Math.fround(b2 * H[v0 + i] + (1 - b2) * g * g);
      H[m0 + i] = m;
      H[v0 + i] = v;
      H[p0 + i] = p * keep - (stepSize * m) / (Math.sqrt(v) / bc2sqrt + eps);
    }
  }
}

/**
 * What is wrong with an optimizer configuration, as messages naming the field (empty when valid).
 * The same constraints PyTorch 1.13 enforces in its constructors (e.g. Nesterov needs momentum > 0
 * and dampening 0), so that a spec PyTorch would reject is rejected here too.
 */
export function optimizerConfigErrors(opt: OptimizerConfig): string[] {
  const errs: string[] = [];
  const nonNeg = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) errs.push(`${opt.kind}: ${name} must be >= 0, got ${v}`);
  };
  const unit = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v >= 0 && v < 1)) errs.push(`${opt.kind}: ${name} must be in [0, 1), got ${v}`);
  };
  switch (opt.kind) {
    case "sgd":
      nonNeg("momentum", opt.momentum);
      nonNeg("dampening", opt.dampening);
      if (opt.nesterov && (!((opt.momentum ?? 0) > 0) || (opt.dampening ?? 0) !== 0)) errs.push("sgd: nesterov needs momentum > 0 and dampening 0");
      break;
    case "adagrad":
      nonNeg("lrDecay", opt.lrDecay);
      nonNeg("initialAccumulatorValue", opt.initialAccumulatorValue);
      nonNeg("eps", opt.eps);
      break;
    case "rmsprop":
      nonNeg("alpha", opt.alpha);
      nonNeg("eps", opt.eps);
      nonNeg("momentum", opt.momentum);
      break;
    case "adam":
    case "adamw":
      unit("beta1", opt.beta1);
      unit("beta2", opt.beta2);
      nonNeg("eps", opt.eps);
      break;
    default:
      errs.push(`unknown optimizer kind ${JSON.stringify((opt as { kind: unknown }).kind)}`);
  }
  return errs;
}

/**
 * What is wrong with an arena layout for this optimizer (empty when valid): segments inside
 * [0, N) without overlap, rows * cols = size, non-negative settings, and the grads and state
 * regions not overlapping the parameters.
 */
export function layoutErrors(layout: OptimLayout, opt: OptimizerConfig): string[] {
  const errs: string[] = [];
  const { P, G, S, N } = layout;
  const slots = stateSlots(opt);
  const overlap = (a: number, an: number, b: number, bn: number) => an > 0 && bn > 0 && a < b + bn && b < a + an;
  if (overlap(P, N, G, N)) errs.push("params [P, P+N) and grads [G, G+N) overlap");
  if (overlap(P, N, S, slots * N) || overlap(G, N, S, slots * N)) errs.push(`optimizer state [S, S+${slots}N) overlaps params or grads`);
  const byOffset = [...layout.segments].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const s of byOffset) {
    const name = s.name ?? `segment at ${s.offset}`;
    if (s.offset < end) errs.push(`${name} overlaps the previous segment`);
    if (s.offset < 0 || s.offset + s.size > N) errs.push(`${name} lies outside [0, N=${N})`);
    if (s.rows * s.cols !== s.size) errs.push(`${name}: rows*cols = ${s.rows * s.cols} but size = ${s.size}`);
    for (const k of ["weightDecay", "decoupledDecay", "l1", "lrScale", "maxNorm"] as const)
      if (!(s[k] >= 0 && Number.isFinite(s[k]))) errs.push(`${name}: ${k} must be >= 0, got ${s[k]}`);
    end = Math.max(end, s.offset + s.size);
  }
  return errs;
}
