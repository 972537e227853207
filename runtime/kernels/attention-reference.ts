// The naive oracle of the attention kernels (./attention): each sample and head on its own, from
// nn.MultiheadAttention's definition, in float64, with plain loops (no GEMM, no saved areas, the
// whole T x T matrix of scores with −∞ at masked keys, softmax by its definition) and the
// backward by the chain rule written out. Same conventions as the fast kernel: padded samples
// attend over their first L positions, their padded rows of the head outputs are zero (y there is
// out_proj's bias), L = 0 gives zero head outputs; the same dropout mask (attentionKeep).
// Slow and obviously correct; test/kernels-attention.test.ts checks the fast kernel against it.
import type { AttentionShape } from "./attention";
import { attentionDropKey, attentionKeep } from "./attention";

export interface AttentionWeights {
  win: ArrayLike<number>;
  bin?: ArrayLike<number>;
  wout: ArrayLike<number>;
  bout?: ArrayLike<number>;
}

export interface AttentionResult {
  y: Float64Array;
  /** with dy: the gradients */
  dx?: Float64Array;
  gwin?: Float64Array;
  gbin?: Float64Array;
  gwout?: Float64Array;
  gbout?: Float64Array;
}

/**
 * y for x (n, T, F); with dy (n, T, F), the gradients too. lengths: each sample's valid length (null:
 * all T). drop: training dropout with this seed, stream and step (undefined: none).
 */
export function attentionReference(
  s: AttentionShape,
  w: AttentionWeights,
  x: ArrayLike<number>,
  n: number,
  lengths: ArrayLike<number> | null,
  drop?: { seed: number; stream: number; step: number },
  dy?: ArrayLike<number>,
): AttentionResult {
  const { T, F, heads, causal, p } = s;
  const dh = F / heads;
  const scale = 1 / Math.sqrt(dh);
  const F3 = 3 * F;
  const key = drop && p > 0 ? attentionDropKey(drop.seed, drop.stream, drop.step) : 0;
  const mult = (b: number, h: number, i: number, j: number) =>
    drop && p > 0 ? (attentionKeep(key, drop.stream, p, T, heads, b, h, i, j) ? Math.fround(1 / (1 - p)) : 0) : 1;
  const y = new Float64Array(n * T * F);
  const res: AttentionResult = { y };
  const g = dy
    ? {
        dx: new Float64Array(n * T * F),
        gwin: new Float64Array(F3 * F),
        gbin: new Float64Array(F3),
        gwout: new Float64Array(F * F),
        gbout: new Float64Array(F),
      }
    : undefined;
  for (let b = 0; b < n; b++) {
    const L = lengths ? Math.min(T, lengths[b]) : T;
    // qkv[t][r] = Σ_f x[t][f] W_in[r][f] + b_in[r]
    const qkv = new Float64Array(T * F3);
    for (let t = 0; t < T; t++)
      for (let r = 0; r < F3; r++) {
        let v = w.bin ? w.bin[r] : 0;
        for (let f = 0; f < F; f++) v += x[(b * T + t) * F + f] * w.win[r * F + f];
        qkv[t * F3 + r] = v;
      }
    const q = (t: number, h: number, d: number) => qkv[t * F3 + h * dh + d];
    const k = (t: number, h: number, d: number) => qkv[t * F3 + F + h * dh + d];
    const v = (t: number, h: number, d: number) => qkv[t * F3 + 2 * F + h * dh + d];
    const att = new Float64Array(T * F);
    const P: Float64Array[] = [];
    for (let h = 0; h < heads; h++) {
      const Ph = new Float64Array(T * T);
      P.push(Ph);
      for (let i = 0; i < L; i++) {
        const sc = new Float64Array(T).fill(-Infinity);
        for (let j = 0; j < L; j++) {
          if (causal && j > i) continue;
          let d = 0;
          for (let e = 0; e < dh; e++) d += q(i, h, e) * k(j, h, e);
          sc[j] = d * scale;
        }
        let m = -Infinity;
        for (let j = 0; j < T; j++) m = Math.max(m, sc[j]);
        let sum = 0;
        for (let j = 0; j < T; j++) sum += Math.exp(sc[j] - m);
        for (let j = 0; j < T; j++) Ph[i * T + j] = Math.exp(sc[j] - m) / sum;
        for (let e = 0; e < dh; e++) {
          let o = 0;
          for (let j = 0; j < T; j++) o += Ph[i * T + j] * mult(b, h, i, j) * v(j, h, e);
          att[i * F + h * dh + e] = o;
        }
      }
    }
    for (let t = 0; t < T; t++)
      for (let o = 0; o < F; o++) {
        let s2 = w.bout ? w.bout[o] : 0;
        for (let f = 0; f < F; f++) s2 += att[t * F + f] * w.wout[o * F + f];
        y[(b * T + t) * F + o] = s2;
      }
    if (!g || !dy) continue;
    // backward
    const datt = new Float64Array(T * F);
    for (let t = 0; t < T; t++)
      for (let o = 0; o < F; o++) {
        const d = dy[(b * T + t) * F + o];
        g.gbout[o] += d;
        for (let f = 0; f < F; f++) {
          g.gwout[o * F + f] += d * att[t * F + f];
          datt[t * F + f] += d * w.wout[o * F + f];
        }
      }
    const dqkv = new Float64Array(T * F3);
    for (let h = 0; h < heads; h++) {
      const Ph = P[h];
      for (let i = 0; i < L; i++) {
        // dP_ij = Σ_e datt[i, e] · mult · v[j, e]; dv[j, e] += P_ij · mult · datt[i, e]
        const dP = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          const mm = mult(b, h, i, j);
          for (let e = 0; e < dh; e++) {
            dP[j] += datt[i * F + h * dh + e] * mm * v(j, h, e);
            dqkv[j * F3 + 2 * F + h * dh + e] += Ph[i * T + j] * mm * datt[i * F + h * dh + e];
          }
        }
        let dot = 0;
        for (let j = 0; j < T; j++) dot += Ph[i * T + j] * dP[j];
        for (let j = 0; j < T; j++) {
          const dS = Ph[i * T + j] * (dP[j] - dot) * scale;
          if (dS === 0) continue;
          for (let e = 0; e < dh; e++) {
            dqkv[i * F3 + h * dh + e] += dS * k(j, h, e);
            dqkv[j * F3 + F + h * dh + e] += dS * q(i, h, e);
          }
        }
      }
    }
    for (let t = 0; t < T; t++)
      for (let r = 0; r < F3; r++) {
        const d = dqkv[t * F3 + r];
        g.gbin[r] += d;
        for (let f = 0; f < F; f++) {
          g.gwin[r * F + f] += d * x[(b * T + t) * F + f];
          g.dx[(b * T + t) * F + f] += d * w.win[r * F + f];
        }
      }
  }
  return g ? { ...res, ...g } : res;
}
