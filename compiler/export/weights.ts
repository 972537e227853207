// Inference weights from trained tensors, in float64: weight normalization materialized
// (w = g v / ||v|| per output row, as runtime/kernels/norm.ts weightNormForward) and batch norm
// in eval mode folded into the preceding dense/conv (w' = w s, b' = (b - mean) s + beta with
// s = gamma / sqrt(running_var + eps) per output unit/channel), rounded to float32 once at the end.
import type { Conv2dNode } from "../ops/conv";
import type { DenseNode } from "../ops/dense";
import type { BnNode, IterNormNode } from "../ops/norm";

export type TensorLookup = (name: string) => Float32Array;

/** Eval-mode batch norm as a per-channel affine map y = x * scale + shift (float64). */
export interface Affine {
  scale: Float64Array;
  shift: Float64Array;
}

// bn node: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta
export function bnAffine(bn: BnNode, get: TensorLookup): Affine {
  const C = bn.outShape[0];
  const eps = bn.attrs.eps;
  const mean = get(`${bn.id}.running_mean`);
  const variance = get(`${bn.id}.running_var`);
  const gamma = bn.attrs.affine ? get(`${bn.id}.weight`) : undefined;
  const beta = bn.attrs.affine ? get(`${bn.id}.bias`) : undefined;
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/** Rows of the weight: dense (out, in), conv (K, C/g*kh*kw). */
function rows(n: DenseNode | Conv2dNode): number {
  return n.op === "dense" ? n.attrs.units : n.attrs.K;
}

/**
 * The effective weight and bias of a dense/conv node (bias undefined when the layer has none and
 * nothing is folded into it), optionally with a batch norm folded in.
 */
export function linearWeights(n: DenseNode | Conv2dNode, get: TensorLookup, fold?: Affine): { weight: Float32Array; bias?: Float32Array } {
  const out = rows(n);
  let w: Float64Array;
  if (n.attrs.weight_norm) {
    const g = get(`${n.id}.weight_g`);
    const v = get(`${n.id}.weight_v`);
    const inn = v.length / out;
    w = new Float64Array(v.length);
    for (let o = 0; o < out; o++) {
      let q = 0;
      for (let j = 0; j < inn; j++) q += v[o * inn + j] * v[o * inn + j];
      const s = g[o] / Math.sqrt(q);
      // the trainer rounds w to float32 before using it; so do we (then fold in float64)
      for (let j = 0; j < inn; j++) w[o * inn + j] = Math.fround(s * v[o * inn + j]);
    }
  } else w = Float64Array.from(get(`${n.id}.weight`));
  const b = n.attrs.bias ? Float64Array.from(get(`${n.id}.bias`)) : fold ? new Float64Array(out) : undefined;
  if (fold) {
    const inn = w.length / out;
    for (let o = 0; o < out; o++) {
      const s = fold.scale[o];
      for (let j = 0; j < inn; j++) w[o * inn + j] *= s;
      b![o] = b![o] * s + fold.shift[o];
    }
  }
  return { weight: Float32Array.from(w), bias: b ? Float32Array.from(b) : undefined };
}

/**
 * Eval-mode IterNorm (runtime/kernels/iternorm.ts) applied after centering: y = A (x - running_mean)
 * + beta with A the block-diagonal (C, C) matrix gamma_c * W_run[group](c, j) (zero across groups).
 * Exported as Sub + a 1x1 Conv (images) or a Gemm (features).
 */
export function iterNormLinear(n: IterNormNode, get: TensorLookup): { weight: Float32Array; bias: Float32Array } {
  const C = n.outShape[0];
  const G = n.attrs.groups;
  const g = C / G;
  const wm = get(`${n.id}.running_wm`);
  const gamma = n.attrs.affine ? get(`${n.id}.weight`) : undefined;
  const beta = n.attrs.affine ? get(`${n.id}.bias`) : undefined;
  const weight = new Float32Array(C * C);
  for (let grp = 0; grp < G; grp++)
    for (let a = 0; a < g; a++) {
      const row = grp * g + a;
      const s = gamma ? gamma[row] : 1;
      for (let b = 0; b < g; b++) weight[row * C + grp * g + b] = s * wm[grp * g * g + a * g + b];
    }
  return { weight, bias: beta ? Float32Array.from(beta) : new Float32Array(C) };
}
