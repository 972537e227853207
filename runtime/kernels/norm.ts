// Normalization layers, PyTorch semantics. Activations are viewed as (n, C, S): S = H*W for
// images, S = 1 for dense (n, F) activations (C = F).
//
// - batch norm (nn.BatchNorm1d / 2d): statistics per channel over n*S values. Training forward
//   uses the batch mean and the BIASED batch variance, saves mean and invstd = 1/sqrt(var+eps)
//   for backward, and updates the running buffers with momentum eta:
//     run_mean = (1-eta) run_mean + eta mean,  run_var = (1-eta) run_var + eta var * m/(m-1)
//   i.e. the running variance holds the UNBIASED estimate, as PyTorch does (m = n*S).
//   Eval forward uses the running buffers. Backward is the full-batch formula.
// - layer norm (nn.LayerNorm(D)): per sample over its D features, per-element affine (D).
// - group norm (nn.GroupNorm(G, C)): per sample over C/G channels x S, per-channel affine.
//   Instance norm (nn.InstanceNorm2d(C, affine=True)) is group norm with G = C
//   (`instanceNormConfig`); layer norm without affine is group norm with G = 1.
// - weight normalization (torch.nn.utils.weight_norm, dim=0): w = g * v / ||v|| per output row.
//
// Conventions: gamma/beta = -1 means no affine transform; running buffers = -1 means no
// tracking; dx = -1 skips the input gradient. All gradients (dx, dgamma, dbeta, dg, dv) are
// OVERWRITTEN with the gradient of the whole batch, never accumulated into. Statistics are
// accumulated in float64 locals: batch norm in one pass over each channel's planes (sums of
// x - x0 and its square, x0 the channel's first value; two interleaved accumulators), the
// others in two passes (mean, then squared deviations).
import { checkRange, convExportsOf } from "../wasm/conv-kernels";

export interface BatchNormConfig {
  /** channels (features for dense) */
  C: number;
  /** spatial size H*W per channel (1 for dense) */
  S: number;
  eps: number;
  /** running-average momentum eta (PyTorch default 0.1) */
  momentum: number;
}

export interface LayerNormConfig {
  /** normalized features per sample (F, or C*H*W) */
  D: number;
  eps: number;
}

export interface GroupNormConfig {
  C: number;
  /** spatial size H*W per channel */
  S: number;
  /** groups; C % G == 0 */
  G: number;
  eps: number;
}

/** Instance norm is group norm with one channel per group. */
export function instanceNormConfig(C: number, S: number, eps = 1e-5): GroupNormConfig {
  return { C, S, G: C, eps };
}

// ---------------------------------------------------------------------------------------------
// Batch norm

// x, y are (n, C, S); gamma, beta, mean, invstd, runMean, runVar are (C).
export function batchNormForwardTrain(
  H: Float32Array,
  c: BatchNormConfig,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  mean: number,
  invstd: number,
  runMean: number,
  runVar: number,
  n: number,
): void {
  const { C, S, eps, momentum: eta } = c;
  const m = n * S;
  const CS = C * S;
  for (let ch = 0; ch < C; ch++) {
    // one pass over the channel's planes: sums of d = x - x0 and d^2 (x0 = the channel's first
    // value, so that d is centred well enough for float64: no cancellation at float32 scale),
    // two interleaved accumulator pairs so that the adds do not wait on each other
    const x0 = n > 0 ? H[x + ch * S] : 0;
    let s0 = 0;
    let s1 = 0;
    let q0 = 0;
    let q1 = 0;
    for (let i = 0; i < n; i++) {
      const r = x + i * CS + ch * S;
      let j = 0;
      for (; j + 1 < S; j += 2) {
        const d0 = H[r + j] - x0;
        const d1 = H[r + j + 1] - x0;
        s0 += d0;
        s1 += d1;
        q0 += d0 * d0;
        q1 += d1 * d1;
      }
      if (j < S) {
        const d0 = H[r + j] - x0;
        s0 += d0;
        q0 += d0 * d0;
      }
    }
    const sd = s0 + s1;
    const mu = x0 + sd / m;
    // sum of squared deviations from the mean; >= 0 up to rounding
    const q = Math.max(0, q0 + q1 - (sd * sd) / m);
    const v = q / m;
    const is = 1 / Math.sqrt(v + eps);
    H[mean + ch] = mu;
    H[invstd + ch] = is;
    if (runMean >= 0) H[runMean + ch] = (1 - eta) * H[runMean + ch] + eta * mu;
    if (runVar >= 0) H[runVar + ch] = (1 - eta) * H[runVar + ch] + eta * (m > 1 ? q / (m - 1) : v);
    const scale = gamma >= 0 ? is * H[gamma + ch] : is;
    const shift = (beta >= 0 ? H[beta + ch] : 0) - mu * scale;
    for (let i = 0; i < n; i++) {
      const r = i * CS + ch * S;
      for (let j = 0; j < S; j++) H[y + r + j] = H[x + r + j] * scale + shift;
    }
  }
}

// x, y are (n, C, S); y = gamma (x - run_mean) / sqrt(run_var + eps) + beta.
export function batchNormForwardEval(
  H: Float32Array,
  c: BatchNormConfig,
  x: number,
  gamma: number,
  beta: number,
  runMean: number,
  runVar: number,
  y: number,
  n: number,
): void {
  const { C, S, eps } = c;
  const CS = C * S;
  for (let ch = 0; ch < C; ch++) {
    const is = 1 / Math.sqrt(H[runVar + ch] + eps);
    const scale = gamma >= 0 ? is * H[gamma + ch] : is;
    const shift = (beta >= 0 ? H[beta + ch] : 0) - H[runMean + ch] * scale;
    for (let i = 0; i < n; i++) {
      const r = i * CS + ch * S;
      for (let j = 0; j < S; j++) H[y + r + j] = H[x + r + j] * scale + shift;
    }
  }
}

// x, dy, dx are (n, C, S); mean, invstd saved by the training forward; dgamma, dbeta are (C).
// With xhat = (x - mean) invstd, m = n*S:
//   dbeta = sum dy, dgamma = sum dy xhat, dx = gamma invstd / m (m dy - dbeta - xhat dgamma).
export function batchNormBackward(
  H: Float32Array,
  c: BatchNormConfig,
  x: number,
  gamma: number,
  mean: number,
  invstd: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  n: number,
): void {
  const { C, S } = c;
  const k = convExportsOf(H);
  if (k && (x !== dx || dx < 0)) {
    // the same float64 operations in wasm (runtime/wasm/conv.wat bn_backward: the two
    // accumulators are the lanes of an f64x2)
    const len = n * C * S;
    checkRange(H, x, x + len, "batch norm input");
    checkRange(H, dy, dy + len, "batch norm output gradient");
    if (dx >= 0) checkRange(H, dx, dx + len, "batch norm input gradient");
    checkRange(H, mean, mean + C, "batch norm mean");
    checkRange(H, invstd, invstd + C, "batch norm invstd");
    if (gamma >= 0) checkRange(H, gamma, gamma + C, "batch norm weight");
    if (dgamma >= 0) checkRange(H, dgamma, dgamma + C, "batch norm weight gradient");
    if (dbeta >= 0) checkRange(H, dbeta, dbeta + C, "batch norm bias gradient");
    k.bn_backward(x, gamma, mean, invstd, dy, dx, dgamma, dbeta, n, C, S);
    return;
  }
  batchNormBackwardTs(H, c, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, n);
}

/** batchNormBackward in TypeScript: the reference of the wasm loop, and the ts backend's path. */
export function batchNormBackwardTs(
  H: Float32Array,
  c: BatchNormConfig,
  x: number,
  gamma: number,
  mean: number,
  invstd: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  n: number,
): void {
  const { C, S } = c;
  const m = n * S;
  const CS = C * S;
  for (let ch = 0; ch < C; ch++) {
    const mu = H[mean + ch];
    const is = H[invstd + ch];
    let sdy0 = 0;
    let sdy1 = 0;
    let sdyx0 = 0;
    let sdyx1 = 0;
    for (let i = 0; i < n; i++) {
      const r = i * CS + ch * S;
      let j = 0;
      for (; j + 1 < S; j += 2) {
        const d0 = H[dy + r + j];
        const d1 = H[dy + r + j + 1];
        sdy0 += d0;
        sdy1 += d1;
        sdyx0 += d0 * (H[x + r + j] - mu);
        sdyx1 += d1 * (H[x + r + j + 1] - mu);
      }
      if (j < S) {
        const d0 = H[dy + r + j];
        sdy0 += d0;
        sdyx0 += d0 * (H[x + r + j] - mu);
      }
    }
    const sdy = sdy0 + sdy1;
    let sdyx = sdyx0 + sdyx1;
    sdyx *= is;
    if (dgamma >= 0) H[dgamma + ch] = sdyx;
    if (dbeta >= 0) H[dbeta + ch] = sdy;
    if (dx < 0) continue;
    const k = (gamma >= 0 ? H[gamma + ch] : 1) * is;
    const a = sdy / m;
    const b = (sdyx * is) / m;
    for (let i = 0; i < n; i++) {
      const r = i * CS + ch * S;
      for (let j = 0; j < S; j++) H[dx + r + j] = k * (H[dy + r + j] - a - (H[x + r + j] - mu) * b);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Shared: statistics of contiguous blocks (one per sample for layer norm, one per (sample, group)
// for group norm).

// x is (blocks, len); writes mean[blocks], invstd[blocks].
function blockStats(H: Float32Array, x: number, len: number, blocks: number, eps: number, mean: number, invstd: number): void {
  for (let b = 0; b < blocks; b++) {
    const r = x + b * len;
    let s = 0;
    for (let j = 0; j < len; j++) s += H[r + j];
    const mu = s / len;
    let q = 0;
    for (let j = 0; j < len; j++) {
      const d = H[r + j] - mu;
      q += d * d;
    }
    H[mean + b] = mu;
    H[invstd + b] = 1 / Math.sqrt(q / len + eps);
  }
}

// ---------------------------------------------------------------------------------------------
// Layer norm

// x, y are (n, D); gamma, beta are (D) or -1; mean, invstd are (n).
export function layerNormForward(
  H: Float32Array,
  c: LayerNormConfig,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  mean: number,
  invstd: number,
  n: number,
): void {
  const { D } = c;
  blockStats(H, x, D, n, c.eps, mean, invstd);
  for (let i = 0; i < n; i++) {
    const mu = H[mean + i];
    const is = H[invstd + i];
    const r = i * D;
    if (gamma >= 0 || beta >= 0) {
      for (let j = 0; j < D; j++) {
        const xh = (H[x + r + j] - mu) * is;
        H[y + r + j] = (gamma >= 0 ? H[gamma + j] * xh : xh) + (beta >= 0 ? H[beta + j] : 0);
      }
    } else {
      for (let j = 0; j < D; j++) H[y + r + j] = (H[x + r + j] - mu) * is;
    }
  }
}

// x, dy, dx are (n, D); dgamma, dbeta are (D) or -1. With g = dy*gamma:
//   dx = invstd (g - mean(g) - xhat mean(g xhat)), dgamma = sum_i dy xhat, dbeta = sum_i dy.
export function layerNormBackward(
  H: Float32Array,
  c: LayerNormConfig,
  x: number,
  gamma: number,
  mean: number,
  invstd: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  n: number,
): void {
  const { D } = c;
  if (dgamma >= 0) H.fill(0, dgamma, dgamma + D);
  if (dbeta >= 0) H.fill(0, dbeta, dbeta + D);
  for (let i = 0; i < n; i++) {
    const mu = H[mean + i];
    const is = H[invstd + i];
    const r = i * D;
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < D; j++) {
      const d = H[dy + r + j];
      const xh = (H[x + r + j] - mu) * is;
      if (dgamma >= 0) H[dgamma + j] += d * xh;
      if (dbeta >= 0) H[dbeta + j] += d;
      const gd = gamma >= 0 ? d * H[gamma + j] : d;
      s1 += gd;
      s2 += gd * xh;
    }
    if (dx < 0) continue;
    s1 /= D;
    s2 /= D;
    for (let j = 0; j < D; j++) {
      const gd = gamma >= 0 ? H[dy + r + j] * H[gamma + j] : H[dy + r + j];
      const xh = (H[x + r + j] - mu) * is;
      H[dx + r + j] = is * (gd - s1 - xh * s2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Group norm (and instance norm with G = C)

// x, y are (n, C, S); gamma, beta are (C) or -1; mean, invstd are (n, G).
export function groupNormForward(
  H: Float32Array,
  c: GroupNormConfig,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  mean: number,
  invstd: number,
  n: number,
): void {
  const { C, S, G } = c;
  const Cg = C / G;
  blockStats(H, x, Cg * S, n * G, c.eps, mean, invstd);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < C; ch++) {
      const gi = i * G + Math.floor(ch / Cg);
      const is = H[invstd + gi];
      const scale = gamma >= 0 ? is * H[gamma + ch] : is;
      const shift = (beta >= 0 ? H[beta + ch] : 0) - H[mean + gi] * scale;
      const r = (i * C + ch) * S;
      for (let j = 0; j < S; j++) H[y + r + j] = H[x + r + j] * scale + shift;
    }
}

// x, dy, dx are (n, C, S); gamma, dgamma, dbeta are (C) or -1; mean, invstd are (n, G).
// Per (sample, group) block of m = C/G*S values, with g = dy*gamma[ch]:
//   dx = invstd (g - mean(g) - xhat mean(g xhat)).
export function groupNormBackward(
  H: Float32Array,
  c: GroupNormConfig,
  x: number,
  gamma: number,
  mean: number,
  invstd: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  n: number,
): void {
  const { C, S, G } = c;
  const Cg = C / G;
  const m = Cg * S;
  if (dgamma >= 0) H.fill(0, dgamma, dgamma + C);
  if (dbeta >= 0) H.fill(0, dbeta, dbeta + C);
  for (let i = 0; i < n; i++)
    for (let g = 0; g < G; g++) {
      const gi = i * G + g;
      const mu = H[mean + gi];
      const is = H[invstd + gi];
      let s1 = 0;
      let s2 = 0;
      for (let cc = 0; cc < Cg; cc++) {
        const ch = g * Cg + cc;
        const r = (i * C + ch) * S;
        const gm = gamma >= 0 ? H[gamma + ch] : 1;
        let sd = 0;
        let sdx = 0;
        for (let j = 0; j < S; j++) {
          const d = H[dy + r + j];
          sd += d;
          sdx += d * (H[x + r + j] - mu);
        }
        sdx *= is;
        if (dgamma >= 0) H[dgamma + ch] += sdx;
        if (dbeta >= 0) H[dbeta + ch] += sd;
        s1 += gm * sd;
        s2 += gm * sdx;
      }
      if (dx < 0) continue;
      s1 /= m;
      s2 /= m;
      for (let cc = 0; cc < Cg; cc++) {
        const ch = g * Cg + cc;
        const r = (i * C + ch) * S;
        const k = (gamma >= 0 ? H[gamma + ch] : 1) * is;
        for (let j = 0; j < S; j++) {
          const xh = (H[x + r + j] - mu) * is;
          H[dx + r + j] = k * H[dy + r + j] - is * (s1 + xh * s2);
        }
      }
    }
}

// ---------------------------------------------------------------------------------------------
// Weight normalization (dim 0): w[o,:] = g[o] v[o,:] / ||v[o,:]||

export interface WeightNormConfig {
  /** output rows: `out` for dense (out, in), K for conv (K, C/g, kh, kw) */
  out: number;
  /** elements per row: `in` for dense, C/g*kh*kw for conv */
  inn: number;
}

// g is (out), v and w are (out, inn), norm is (out): writes w and the saved row norms.
export function weightNormForward(H: Float32Array, c: WeightNormConfig, g: number, v: number, w: number, norm: number): void {
  const { out, inn } = c;
  for (let o = 0; o < out; o++) {
    const r = o * inn;
    let q = 0;
    for (let j = 0; j < inn; j++) q += H[v + r + j] * H[v + r + j];
    const nv = Math.sqrt(q);
    H[norm + o] = nv;
    const s = H[g + o] / nv;
    for (let j = 0; j < inn; j++) H[w + r + j] = s * H[v + r + j];
  }
}

// dw is (out, inn), the gradient with respect to the effective weight w; dg is (out), dv is
// (out, inn), both OVERWRITTEN (dg = -1 or dv = -1 skips it):
//   dg = (dw . v) / ||v||,  dv = (g / ||v||) (dw - (dg / ||v||) v).
export function weightNormBackward(H: Float32Array, c: WeightNormConfig, g: number, v: number, norm: number, dw: number, dg: number, dv: number): void {
  const { out, inn } = c;
  for (let o = 0; o < out; o++) {
    const r = o * inn;
    const nv = H[norm + o];
    let s = 0;
    for (let j = 0; j < inn; j++) s += H[dw + r + j] * H[v + r + j];
    const gg = s / nv;
    if (dg >= 0) H[dg + o] = gg;
    if (dv < 0) continue;
    const a = H[g + o] / nv;
    const b = gg / nv;
    for (let j = 0; j < inn; j++) H[dv + r + j] = a * (H[dw + r + j] - b * H[v + r + j]);
  }
}

// ---- the batch-norm node of a generated trainer, with no tail or a lone ReLU ------------------
// x, z, y are (n, C, S); g, b are (C) or -1 (no affine); mean, invstd (C) are written in
// training; rm, rv (C) are the running statistics (keep = 1 - momentum, eta = momentum).
// Per channel, training: the batch statistics in float64 (two passes: s = sum x, then
// q = sum (x - mu)^2), the running statistics (unbiased variance, as PyTorch); evaluation: the
// running statistics. Then ONE sweep: z = x*scale + shift (float64, rounded once), y = relu ?
// max(z, 0) : z (computed from the float64 value). This is the loop the compiler emitted inline
// (compiler/codegen/emit-model.ts), kept as the reference; on the wasm backend the same float64
// operations run in runtime/wasm/conv.wat bn_forward (test/wasm-conv-kernels.test.ts: same bytes).
export interface BatchNormNodeConfig {
  C: number;
  S: number;
  eps: number;
  momentum: number;
}

export function batchNormNodeForward(
  H: Float32Array,
  cfg: BatchNormNodeConfig,
  x: number,
  z: number,
  y: number,
  g: number,
  b: number,
  mean: number,
  invstd: number,
  rm: number,
  rv: number,
  relu: boolean,
  train: boolean,
  n: number,
): void {
  const { C, S, eps, momentum: eta } = cfg;
  const CS = C * S;
  const k = convExportsOf(H);
  if (k) {
    checkRange(H, x, x + n * CS, "batch norm input");
    checkRange(H, z, z + n * CS, "batch norm output");
    checkRange(H, y, y + n * CS, "batch norm output");
    checkRange(H, mean, mean + C, "batch norm mean");
    checkRange(H, invstd, invstd + C, "batch norm invstd");
    checkRange(H, rm, rm + C, "batch norm running mean");
    checkRange(H, rv, rv + C, "batch norm running variance");
    if (g >= 0) checkRange(H, g, g + C, "batch norm weight");
    if (b >= 0) checkRange(H, b, b + C, "batch norm bias");
    k.bn_forward(x, z, y, n, C, S, g, b, mean, invstd, rm, rv, eps, 1 - eta, eta, relu ? 1 : 0, train ? 1 : 0);
    return;
  }
  batchNormNodeForwardTs(H, cfg, x, z, y, g, b, mean, invstd, rm, rv, relu, train, n);
}

export function batchNormNodeForwardTs(
  H: Float32Array,
  cfg: BatchNormNodeConfig,
  x: number,
  z: number,
  y: number,
  g: number,
  b: number,
  mean: number,
  invstd: number,
  rm: number,
  rv: number,
  relu: boolean,
  train: boolean,
  n: number,
): void {
  const { C, S, eps, momentum: eta } = cfg;
  const CS = C * S;
  const keep = 1 - eta;
  for (let c = 0; c < C; c++) {
    let scale: number, shift: number;
    if (train) {
      const m = n * S;
      let s = 0;
      for (let r = 0; r < n; r++) {
        const o = x + r * CS + c * S;
        for (let k = 0; k < S; k++) s += H[o + k];
      }
      const mu = s / m;
      let q = 0;
      for (let r = 0; r < n; r++) {
        const o = x + r * CS + c * S;
        for (let k = 0; k < S; k++) {
          const d = H[o + k] - mu;
          q += d * d;
        }
      }
      const is = 1 / Math.sqrt(q / m + eps);
      H[mean + c] = mu;
      H[invstd + c] = is;
      H[rm + c] = keep * H[rm + c] + eta * mu;
      H[rv + c] = keep * H[rv + c] + eta * (m > 1 ? q / (m - 1) : q / m);
      scale = g >= 0 ? is * H[g + c] : is;
      shift = (b >= 0 ? H[b + c] : 0) - mu * scale;
    } else {
      const is = 1 / Math.sqrt(H[rv + c] + eps);
      scale = g >= 0 ? is * H[g + c] : is;
      shift = (b >= 0 ? H[b + c] : 0) - H[rm + c] * scale;
    }
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < S; k++) {
        const i = r * CS + c * S + k;
        let v = H[x + i] * scale + shift;
        H[z + i] = v;
        if (relu) v = Math.max(v, 0);
        H[y + i] = v;
      }
    }
  }
}
