// Input normalization fitted on the training split: standardize, PCA, PCA whitening, ZCA.
//
// Fitting sees ONLY training rows: the fit functions take a `TrainingRows` view, built from the
// data and the caller's training indices, that can read row i of the training set and nothing
// else (there is no way from it to the raw array or to other indices). The fit streams over the
// training rows in chunks of ~64K values, accumulating in Float64, so memory stays O(d^2) for
// the covariance and O(chunk) for the data. The result is a plain object of Float32Arrays (to be
// stored with the model) and is applied to a batch in H in place, without allocating.
//
// Conventions (all statistics are POPULATION statistics over the m training rows, i.e. divide
// by m, the same convention as batch norm's biased variance and numpy's default):
// - standardize: x' = (x - mu) / sigma, sigma = sqrt(mean((x - mu)^2)). No eps is added: a
//   feature (or channel) with sigma <= eps (default 1e-6) is constant on the training set and
//   gets divisor 1 (x' = x - mu), as scikit-learn's StandardScaler does; every other feature is
//   divided by its exact sigma, so the training features have mean 0 and variance exactly 1.
//   mode "feature": one (mu, sigma) per input value; mode "channel": one per image channel,
//   pooled over all pixels of that channel (the input is (C, H, W) per row).
// - pca(k): Sigma = (1/m) Xc^T Xc = V diag(lambda) V^T, lambda descending. x' = V_k^T (x - mu),
//   the coordinates on the top-k principal directions (the right singular vectors of Xc; the
//   lecture's "rotate with U^T" names the same matrix for data stored as columns).
// - whiten(k, eps): x' = diag(1/sqrt(lambda + eps)) V_k^T (x - mu)  (CS231n's convention,
//   default eps 1e-5). We scale by the COVARIANCE eigenvalues lambda, not by the singular
//   values s of Xc (s^2 = m * lambda, so they differ by sqrt(m)): with lambda the whitened
//   training features have covariance diag(lambda / (lambda + eps)) ~ I whatever the size of the
//   training set, and eps keeps one meaning (a variance in input units^2), whereas 1/(s + eps)
//   would give variance 1/m and make eps's effect depend on m.
// - zca(eps): x' = V diag(1/sqrt(lambda + eps)) V^T (x - mu): whitening rotated back to the
//   input axes (sign-free, the whitening closest to the identity). Output dim = input dim.
// Eigenvector signs: the largest-magnitude entry of each principal direction is positive.
// Zero-variance directions (e.g. always-black pixels) get 1/sqrt(eps) in whiten/zca; pick eps
// (or k) accordingly, e.g. eps 0.1 or k < d for raw pixels.

import { DnncError } from "./errors";
import type { GemmFn } from "./backend";
import { symEig } from "./linalg";

export type PreprocessKind = "standardize" | "pca" | "whiten" | "zca";

export type PreprocessSpec =
  | { kind: "standardize"; mode?: "feature" | "channel"; eps?: number }
  | { kind: "pca"; k?: number }
  | { kind: "whiten"; k?: number; eps?: number }
  | { kind: "zca"; eps?: number };

export interface ImageShape {
  C: number;
  H: number;
  W: number;
}

/** Where the data lives: bytes times a scale (plus shift), or float features; one row = one sample. */
export type RowSource =
  | { kind: "u8"; data: Uint8Array; rowLength: number; scale?: number; shift?: number; name?: string }
  | { kind: "f32"; data: Float32Array; rowLength: number; name?: string };

/** Read access to the training rows only: row i (0 <= i < count) is the i-th training index. */
export interface TrainingRows {
  readonly count: number;
  readonly rowLength: number;
  /** Copy training row i, as floats, into out[outOff, outOff + rowLength). */
  read(i: number, out: Float64Array, outOff: number): void;
}

export interface FittedPreprocess {
  kind: PreprocessKind;
  mode: "feature" | "channel";
  /** Number of values per input row, and per output row (outDim < inDim for pca/whiten with k < d). */
  inDim: number;
  outDim: number;
  /** Channels and pixels per channel (channel mode; 1 and inDim otherwise). */
  channels: number;
  plane: number;
  eps: number;
  /** Number of training rows the statistics came from. */
  rows: number;
  /**
   * standardize: mean, std (length inDim, or C in channel mode; std is the divisor used, 1 for
   * constant features). pca/whiten/zca: mean (inDim), matrix (outDim, inDim) row-major, the map
   * applied to x - mean, and eigenvalues (the covariance eigenvalues, descending; length outDim
   * for pca/whiten, inDim for zca).
   */
  tensors: Record<string, Float32Array>;
}

// ---------------------------------------------------------------------------------------------
// The training view.

/**
 * A view on the training rows of `source`: the indices are copied (later edits of `trainIdx` do
 * not leak into the fit) and checked. Fitting code receives only this view.
 */
export function trainingRows(source: RowSource, trainIdx: ArrayLike<number>): TrainingRows {
  const name = source.name ?? "data";
  const d = source.rowLength;
  if (!Number.isInteger(d) || d <= 0) throw new DnncError(`${name}: row length must be a positive integer, got ${d}`);
  const total = Math.floor(source.data.length / d);
  const idx = Int32Array.from(trainIdx);
  if (idx.length === 0) throw new DnncError(`${name}: cannot fit preprocessing on an empty training set`);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r !== trainIdx[i] || r < 0 || r >= total) throw new DnncError(`${name}: training index ${trainIdx[i]} (position ${i}) is outside 0..${total - 1}`);
  }
  const check = (i: number) => {
    if (!(i >= 0 && i < idx.length)) throw new RangeError(`training row ${i} outside 0..${idx.length - 1}`);
  };
  if (source.kind === "u8") {
    const { data } = source;
    const scale = source.scale ?? 1;
    const shift = source.shift ?? 0;
    return {
      count: idx.length,
      rowLength: d,
      read(i, out, outOff) {
        check(i);
        const base = idx[i] * d;
        for (let j = 0; j < d; j++) out[outOff + j] = data[base + j] * scale + shift;
      },
    };
  }
  const { data } = source;
  return {
    count: idx.length,
    rowLength: d,
    read(i, out, outOff) {
      check(i);
      const base = idx[i] * d;
      for (let j = 0; j < d; j++) out[outOff + j] = data[base + j];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fitting.

/** Fit on the rows the view exposes. `shape` is required for standardize mode "channel". */
export function fitPreprocess(spec: PreprocessSpec, rows: TrainingRows, shape?: ImageShape): FittedPreprocess {
  const d = rows.rowLength;
  const m = rows.count;
  const mean = meanOf(rows);
  if (spec.kind === "standardize") {
    const eps = spec.eps ?? 1e-6;
    const mode = spec.mode ?? "feature";
    let C = 1;
    let plane = d;
    if (mode === "channel") {
      if (!shape) throw new DnncError(`standardize: mode "channel" needs the image shape (C, H, W)`);
      if (shape.C * shape.H * shape.W !== d) throw new DnncError(`standardize: image shape ${shape.C}x${shape.H}x${shape.W} does not match row length ${d}`);
      C = shape.C;
      plane = shape.H * shape.W;
    }
    const groups = mode === "channel" ? C : d;
    const mu = new Float64Array(groups);
    if (mode === "channel") {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let j = 0; j < plane; j++) s += mean[c * plane + j];
        mu[c] = s / plane;
      }
    } else mu.set(mean);
    const ss = new Float64Array(groups);
    forChunks(rows, (buf, r) => {
      for (let i = 0; i < r; i++) {
        const o = i * d;
        if (mode === "channel") {
          for (let c = 0; c < C; c++) {
            const u = mu[c];
            let s = 0;
            for (let j = 0; j < plane; j++) {
              const t = buf[o + c * plane + j] - u;
              s += t * t;
            }
            ss[c] += s;
          }
        } else {
          for (let j = 0; j < d; j++) {
            const t = buf[o + j] - mu[j];
            ss[j] += t * t;
          }
        }
      }
    });
    const std = new Float32Array(groups);
    const per = mode === "channel" ? m * plane : m;
    for (let g = 0; g < groups; g++) {
      const s = Math.sqrt(ss[g] / per);
      std[g] = s <= eps ? 1 : s;
    }
    return {
      kind: "standardize",
      mode,
      inDim: d,
      outDim: d,
      channels: C,
      plane,
      eps,
      rows: m,
      tensors: { mean: Float32Array.from(mu), std },
    };
  }

  const cov = covarianceOf(rows, mean);
  const { values, vectors } = symEig(cov, d);
  for (let i = 0; i < d; i++) if (values[i] < 0) values[i] = 0; // round-off below zero
  const base = { mode: "feature" as const, inDim: d, channels: 1, plane: d, rows: m };
  if (spec.kind === "zca") {
    const eps = spec.eps ?? 1e-5;
    const matrix = new Float32Array(d * d);
    const s = new Float64Array(d);
    for (let k = 0; k < d; k++) s[k] = 1 / Math.sqrt(values[k] + eps);
    const acc = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      // row i of V diag(s) V^T = sum_k V[i][k] s_k V^T[k] = sum_k vectors[k*d+i] s_k vectors[k*d + :]
      acc.fill(0);
      for (let k = 0; k < d; k++) {
        const a = vectors[k * d + i] * s[k];
        const rk = k * d;
        for (let j = 0; j < d; j++) acc[j] += a * vectors[rk + j];
      }
      for (let j = 0; j < d; j++) matrix[i * d + j] = acc[j];
    }
    return {
      ...base,
      kind: "zca",
      outDim: d,
      eps,
      tensors: { mean: Float32Array.from(mean), matrix, eigenvalues: Float32Array.from(values) },
    };
  }
  const k = spec.k ?? d;
  if (!Number.isInteger(k) || k < 1 || k > d) throw new DnncError(`${spec.kind}: k must be an integer in 1..${d}, got ${k}`);
  const eps = spec.kind === "whiten" ? (spec.eps ?? 1e-5) : 0;
  const matrix = new Float32Array(k * d);
  for (let r = 0; r < k; r++) {
    const s = spec.kind === "whiten" ? 1 / Math.sqrt(values[r] + eps) : 1;
    for (let j = 0; j < d; j++) matrix[r * d + j] = vectors[r * d + j] * s;
  }
  return {
    ...base,
    kind: spec.kind,
    outDim: k,
    eps,
    tensors: { mean: Float32Array.from(mean), matrix, eigenvalues: Float32Array.from(values.subarray(0, k)) },
  };
}

/** Convenience: fit on `source` restricted to `trainIdx` (the view is built here). */
export function fitPreprocessOn(spec: PreprocessSpec, source: RowSource, trainIdx: ArrayLike<number>, shape?: ImageShape): FittedPreprocess {
  return fitPreprocess(spec, trainingRows(source, trainIdx), shape);
}

// Calls fn(buf, r) with consecutive chunks of r training rows, (r, d) row-major in buf.
function forChunks(rows: TrainingRows, fn: (buf: Float64Array, r: number) => void): void {
  const d = rows.rowLength;
  const R = Math.max(4, Math.min(rows.count, Math.floor(65536 / d)));
  const buf = new Float64Array(R * d);
  for (let start = 0; start < rows.count; start += R) {
    const r = Math.min(R, rows.count - start);
    for (let i = 0; i < r; i++) rows.read(start + i, buf, i * d);
    fn(buf, r);
  }
}

// Per-feature mean over the training rows; rejects non-finite values (they would poison every
// statistic silently).
function meanOf(rows: TrainingRows): Float64Array {
  const d = rows.rowLength;
  const sum = new Float64Array(d);
  let seen = 0;
  forChunks(rows, (buf, r) => {
    for (let i = 0; i < r; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const v = buf[o + j];
        if (!Number.isFinite(v)) throw new DnncError(`preprocess: training row ${seen + i} has a non-finite value (${v}) at feature ${j}`);
        sum[j] += v;
      }
    }
    seen += r;
  });
  for (let j = 0; j < d; j++) sum[j] /= rows.count;
  return sum;
}

// Population covariance (d, d) of the training rows, two-pass (centered with the exact mean).
// Each chunk is transposed to (dp, R) (dp = d rounded up to 4, zero rows after d) so that every
// entry is a contiguous dot product over the chunk's rows; 4x4 tiles on and above the diagonal
// (16 accumulators, 8 loads per 16 multiply-adds: ~1.4x the 1x4 version), then mirrored.
function covarianceOf(rows: TrainingRows, mean: Float64Array): Float64Array {
  const d = rows.rowLength;
  const dp = (d + 3) & ~3;
  const acc = new Float64Array(dp * dp);
  let XT = new Float64Array(0);
  forChunks(rows, (buf, r) => {
    if (XT.length !== dp * r) XT = new Float64Array(dp * r); // zero rows d..dp stay zero
    for (let i = 0; i < r; i++) for (let j = 0; j < d; j++) XT[j * r + i] = buf[i * d + j] - mean[j];
    for (let a = 0; a < dp; a += 4) {
      const a0 = a * r;
      const a1 = a0 + r;
      const a2 = a1 + r;
      const a3 = a2 + r;
      for (let b = a; b < dp; b += 4) {
        const b0 = b * r;
        const b1 = b0 + r;
        const b2 = b1 + r;
        const b3 = b2 + r;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0; // prettier-ignore
        for (let t = 0; t < r; t++) {
          const x0 = XT[a0 + t];
          const x1 = XT[a1 + t];
          const x2 = XT[a2 + t];
          const x3 = XT[a3 + t];
          const y0 = XT[b0 + t];
          const y1 = XT[b1 + t];
          const y2 = XT[b2 + t];
          const y3 = XT[b3 + t];
          s00 += x0 * y0;
          s01 += x0 * y1;
          s02 += x0 * y2;
          s03 += x0 * y3; // prettier-ignore
          s10 += x1 * y0;
          s11 += x1 * y1;
          s12 += x1 * y2;
          s13 += x1 * y3; // prettier-ignore
          s20 += x2 * y0;
          s21 += x2 * y1;
          s22 += x2 * y2;
          s23 += x2 * y3; // prettier-ignore
          s30 += x3 * y0;
          s31 += x3 * y1;
          s32 += x3 * y2;
          s33 += x3 * y3; // prettier-ignore
        }
        let o = a * dp + b;
        acc[o] += s00;
        acc[o + 1] += s01;
        acc[o + 2] += s02;
        acc[o + 3] += s03; // prettier-ignore
        o += dp;
        acc[o] += s10;
        acc[o + 1] += s11;
        acc[o + 2] += s12;
        acc[o + 3] += s13; // prettier-ignore
        o += dp;
        acc[o] += s20;
        acc[o + 1] += s21;
        acc[o + 2] += s22;
        acc[o + 3] += s23; // prettier-ignore
        o += dp;
        acc[o] += s30;
        acc[o + 1] += s31;
        acc[o + 2] += s32;
        acc[o + 3] += s33; // prettier-ignore
      }
    }
  });
  const cov = new Float64Array(d * d);
  const inv = 1 / rows.count;
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const v = acc[a * dp + b] * inv; // upper triangle (a <= b) is always inside a computed tile
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  return cov;
}

// ---------------------------------------------------------------------------------------------
// Application (per batch; no allocation).

/** Length of the Float32Array scratch that applyPreprocess needs (0 for standardize). */
export function preprocessScratchSize(p: FittedPreprocess): number {
  return p.kind === "standardize" ? 0 : 4 * p.inDim;
}

/**
 * Apply in place to a batch: x is (n, inDim) at H[off], y is (n, outDim) written at H[off]
 * (rows packed with stride outDim; outDim <= inDim so row i is written only over rows <= i,
 * which have already been read). `scratch` has at least preprocessScratchSize(p) floats and must
 * not alias the batch.
 */
export function applyPreprocess(p: FittedPreprocess, H: Float32Array, off: number, n: number, scratch: Float32Array): void {
  const d = p.inDim;
  if (p.kind === "standardize") {
    const mean = p.tensors.mean;
    const std = p.tensors.std;
    if (p.mode === "channel") {
      const C = p.channels;
      const plane = p.plane;
      for (let i = 0; i < n; i++)
        for (let c = 0; c < C; c++) {
          const o = off + i * d + c * plane;
          const u = mean[c];
          const inv = 1 / std[c];
          for (let j = 0; j < plane; j++) H[o + j] = (H[o + j] - u) * inv;
        }
    } else {
      for (let i = 0; i < n; i++) {
        const o = off + i * d;
        for (let j = 0; j < d; j++) H[o + j] = (H[o + j] - mean[j]) / std[j];
      }
    }
    return;
  }
  if (scratch.length < 4 * d) throw new Error(`applyPreprocess: scratch has ${scratch.length} floats, needs ${4 * d}`);
  const mean = p.tensors.mean;
  const M = p.tensors.matrix;
  const k = p.outDim;
  let i = 0;
  // Four rows at a time: each matrix row is loaded once for four samples.
  for (; i + 3 < n; i += 4) {
    for (let q = 0; q < 4; q++) {
      const o = off + (i + q) * d;
      for (let j = 0; j < d; j++) scratch[q * d + j] = H[o + j] - mean[j];
    }
    const out = off + i * k;
    for (let r = 0; r < k; r++) {
      const mr = r * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < d; j++) {
        const w = M[mr + j];
        s0 += w * scratch[j];
        s1 += w * scratch[d + j];
        s2 += w * scratch[2 * d + j];
        s3 += w * scratch[3 * d + j];
      }
      H[out + r] = s0;
      H[out + k + r] = s1;
      H[out + 2 * k + r] = s2;
      H[out + 3 * k + r] = s3;
    }
  }
  for (; i < n; i++) {
    const o = off + i * d;
    for (let j = 0; j < d; j++) scratch[j] = H[o + j] - mean[j];
    const out = off + i * k;
    for (let r = 0; r < k; r++) {
      const mr = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += M[mr + j] * scratch[j];
      H[out + r] = s;
    }
  }
}

/**
 * For the GEMM path (pca/whiten/zca): the (outDim, inDim) matrix M and the bias M·mean, to be
 * copied into H once (e.g. at load). Standardize has no matrix: use applyPreprocess.
 */
export function preprocessAffine(p: FittedPreprocess): { matrix: Float32Array; bias: Float32Array } {
  if (p.kind === "standardize") throw new Error("preprocessAffine: standardize has no matrix; use applyPreprocess");
  const M = p.tensors.matrix;
  const mean = p.tensors.mean;
  const d = p.inDim;
  const bias = new Float32Array(p.outDim);
  for (let r = 0; r < p.outDim; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += M[r * d + j] * mean[j];
    bias[r] = s;
  }
  return { matrix: M, bias };
}

/**
 * The same map as applyPreprocess for pca/whiten/zca, as one GEMM on the backend plus a bias
 * sweep: y = x M^T - M·mean, x (n, inDim) at xOff, y (n, outDim) at yOff (must not overlap x),
 * M (outDim, inDim) at matOff and M·mean (outDim) at biasOff, both placed by the caller from
 * preprocessAffine. Note that x M^T - M·mean loses a little float32 precision against M (x - mean)
 * when |mean| is large next to the spread of x (not the case for pixels in [0, 1]).
 */
export function applyPreprocessGemm(
  gemm: GemmFn,
  H: Float32Array,
  xOff: number,
  yOff: number,
  n: number,
  inDim: number,
  outDim: number,
  matOff: number,
  biasOff: number,
): void {
  // x is (n, inDim), M is (outDim, inDim), y is (n, outDim)
  gemm(0, 1, n, outDim, inDim, xOff, matOff, yOff, 0);
  for (let i = 0; i < n; i++) {
    const o = yOff + i * outDim;
    for (let r = 0; r < outDim; r++) H[o + r] -= H[biasOff + r];
  }
}

// ---------------------------------------------------------------------------------------------
// Storage with the model (safetensors entries + string metadata) and back. The entries have the
// shape of runtime/safetensors.ts's NamedTensor, so they go straight into encodeSafetensors.

/** The tensors to store, named `${prefix}${name}`, with their shapes. */
export function preprocessTensors(p: FittedPreprocess, prefix = "preprocess."): { name: string; shape: number[]; data: Float32Array }[] {
  return Object.entries(p.tensors).map(([name, data]) => ({
    name: prefix + name,
    shape: name === "matrix" ? [p.outDim, p.inDim] : [data.length],
    data,
  }));
}

/** The scalar settings, as safetensors `__metadata__` strings. */
export function preprocessMetadata(p: FittedPreprocess, prefix = "preprocess."): Record<string, string> {
  return {
    [prefix + "kind"]: p.kind,
    [prefix + "mode"]: p.mode,
    [prefix + "in_dim"]: String(p.inDim),
    [prefix + "out_dim"]: String(p.outDim),
    [prefix + "channels"]: String(p.channels),
    [prefix + "eps"]: String(p.eps),
    [prefix + "rows"]: String(p.rows),
  };
}

/** Rebuild a FittedPreprocess from what preprocessTensors/preprocessMetadata stored (null if none). */
export function preprocessFromStored(
  meta: Record<string, string>,
  tensors: readonly { name: string; shape: number[]; data: Float32Array }[],
  prefix = "preprocess.",
): FittedPreprocess | null {
  const kind = meta[prefix + "kind"] as PreprocessKind | undefined;
  if (kind === undefined) return null;
  if (!["standardize", "pca", "whiten", "zca"].includes(kind)) throw new DnncError(`model file: unknown preprocessing kind "${kind}"`);
  const num = (key: string) => {
    const v = Number(meta[prefix + key]);
    if (!Number.isFinite(v)) throw new DnncError(`model file: preprocessing setting "${prefix + key}" is missing or bad`);
    return v;
  };
  const inDim = num("in_dim");
  const outDim = num("out_dim");
  const channels = num("channels");
  const mode = meta[prefix + "mode"] === "channel" ? "channel" : "feature";
  const groups = kind === "standardize" ? (mode === "channel" ? channels : inDim) : inDim;
  const expected: Record<string, number> =
    kind === "standardize" ? { mean: groups, std: groups } : { mean: inDim, matrix: outDim * inDim, eigenvalues: kind === "zca" ? inDim : outDim };
  const t: Record<string, Float32Array> = {};
  for (const [nm, len] of Object.entries(expected)) {
    const v = tensors.find((x) => x.name === prefix + nm);
    if (!v) throw new DnncError(`model file: preprocessing tensor "${prefix + nm}" is missing`);
    if (v.data.length !== len) throw new DnncError(`model file: preprocessing tensor "${prefix + nm}" has ${v.data.length} values, expected ${len}`);
    t[nm] = v.data;
  }
  return {
    kind,
    mode,
    inDim,
    outDim,
    channels,
    plane: inDim / channels,
    eps: num("eps"),
    rows: num("rows"),
    tensors: t,
  };
}
