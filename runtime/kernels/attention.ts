// Multi-head self-attention over a sequence, as nn.MultiheadAttention(F, heads, batch_first=True)
// called as mha(x, x, x, key_padding_mask, attn_mask): the layer `attention(heads)` of
// compiler/ops/attention.ts. With dh = F / heads and scale = 1/√dh:
//   [q k v] = x W_inᵀ + b_in          W_in (3F, F) packed q, k, v rows (in_proj_weight, in_proj_bias)
//   per head h: S = scale · q_h k_hᵀ, masked (causal: key j > query i; padded keys j ≥ L),
//               P = softmax over the keys, dropped in training (P ⊙ mask / (1 − p)), o_h = P v_h
//   y = [o_1 … o_heads] W_outᵀ + b_out W_out (F, F)       (out_proj.weight, out_proj.bias)
// Padded data: a sample of valid length L attends over its first L positions only, so its padded
// positions change nothing; its padded rows of o are zero (the layer's seqmask tail then zeroes
// its padded outputs, which out_proj's bias would fill). L = 0: the sample's o is all zero (PyTorch
// gives NaN there).
//
// This is the fast kernel: the projections are GEMMs over the n·T rows, and each (sample, head)'s
// scores are one GEMM into a single L x L scratch (never more than one head's scores at a time).
// Forward keeps q, k, v (head-major, so each head's block is a dense [T, dh] matrix a GEMM takes),
// the concatenated head outputs (out_proj's input) and each score row's maximum and inverse sum;
// backward recomputes each head's P from them (the same floats as forward), so nothing of
// size T x T survives a step. The dropout mask is regenerated from the counter-based RNG (key
// hash3(seed, stream, step), counter ((b·heads + h)·T + i)·T + j), not stored.
// The reference, plain loops over every formula above: ./attention-reference.ts.
//
// Heap areas (AttentionConfig; sizes from attentionPlan for the batch B):
//   save (kept from forward to backward): qkv (B, 3, heads, T, dh), att (B, T, F), lse (B, heads, T, 2)
//   tmp (scratch): raw (B, T, 3F) the projection's output or its gradient, datt (B, T, F),
//                  S, P2, dP (T, T) each, oh (T, dh), dq, dk, dv (T, dh) each
// Nothing is allocated per call.
import type { GemmFn } from "../backend";
import { hash3, uniformAt } from "../rng";
import { validLength } from "./sequence";

export interface AttentionShape {
  /** positions and features (embed_dim) */
  T: number;
  F: number;
  heads: number;
  causal: boolean;
  /** dropout on the attention weights (training only) */
  p: number;
  bias: boolean;
}

export interface AttentionConfig extends AttentionShape {
  /** the time maps from the model's input to this layer's input (./sequence) */
  maps: number[];
  /** dropout stream */
  stream: number;
  /** parameters and their gradients (bin, bout: -1 without bias) */
  win: number;
  bin: number;
  wout: number;
  bout: number;
  gwin: number;
  gbin: number;
  gwout: number;
  gbout: number;
  /** save areas (lse: each score row's maximum and inverse sum, (B, heads, T, 2)) */
  qkv: number;
  att: number;
  lse: number;
  /** tmp areas */
  raw: number;
  datt: number;
  s: number;
  p2: number;
  dp: number;
  oh: number;
  dq: number;
  dk: number;
  dv: number;
}

/** The layout of the layer's areas for a batch of B from the bases of its save and tmp areas; with bases 0, the sizes. */
export function attentionPlan(
  s: AttentionShape,
  B: number,
  bases: { save: number; tmp: number },
): Pick<AttentionConfig, "qkv" | "att" | "lse" | "raw" | "datt" | "s" | "p2" | "dp" | "oh" | "dq" | "dk" | "dv"> & { saveFloats: number; tmpFloats: number } {
  const { T, F, heads } = s;
  const dh = F / heads;
  const al = (v: number) => (v + 15) & ~15;
  let top = bases.save;
  const save = (k: number) => {
    const o = top;
    top += al(k);
    return o;
  };
  const qkv = save(B * 3 * T * F);
  const att = save(B * T * F);
  const lse = save(B * heads * T * 2);
  const saveFloats = top - bases.save;
  top = bases.tmp;
  const raw = save(B * T * 3 * F);
  const datt = save(B * T * F);
  const sa = save(T * T);
  const p2 = s.p > 0 ? save(T * T) : -1;
  const dp = save(T * T);
  const oh = save(T * dh);
  const dq = save(T * dh);
  const dk = save(T * dh);
  const dv = save(T * dh);
  return { qkv, att, lse, raw, datt, s: sa, p2, dp, oh, dq, dk, dv, saveFloats, tmpFloats: top - bases.tmp };
}

/** The dropout key of a step (one per layer and step), and the keep test of weight (b, h, i, j): the kernel's and the reference's mask. */
export const attentionDropKey = (seed: number, stream: number, step: number): number => hash3(seed, stream, step);
export function attentionKeep(key: number, stream: number, p: number, T: number, heads: number, b: number, h: number, i: number, j: number): boolean {
  return uniformAt(key, stream, ((((b * heads + h) * T + i) * T + j) >>> 0) >>> 0) >= p;
}

/** Add the bias (cols) to each of the rows at `at`. */
function addBias(H: Float32Array, at: number, bias: number, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = at + r * cols;
    for (let j = 0; j < cols; j++) H[o + j] += H[bias + j];
  }
}

/** g = the column sums of the rows at `at` (overwritten). */
function colSums(H: Float32Array, at: number, g: number, rows: number, cols: number): void {
  H.fill(0, g, g + cols);
  for (let r = 0; r < rows; r++) {
    const o = at + r * cols;
    for (let j = 0; j < cols; j++) H[g + j] += H[o + j];
  }
}

/**
 * Row i of a head's scores (at row, L of them, raw q·k) → the attention weights P (in place); its
 * statistics, the row's maximum m and the inverse of its sum of exp(s − m), both float32, go to
 * stat and stat + 1. One exp per weight: P = fround(exp(s·scale − m)) · inv. Keys past `lim`
 * (causal) get weight 0.
 */
function softmaxRow(H: Float32Array, row: number, L: number, lim: number, scale: number, stat: number): void {
  let mx = -Infinity;
  for (let j = 0; j < lim; j++) if (H[row + j] > mx) mx = H[row + j];
  const m = Math.fround(mx * scale);
  let sum = 0;
  for (let j = 0; j < lim; j++) {
    const e = Math.exp(H[row + j] * scale - m);
    H[row + j] = e;
    sum += e;
  }
  const inv = Math.fround(1 / sum);
  for (let j = 0; j < lim; j++) H[row + j] *= inv;
  H.fill(0, row + lim, row + L);
  H[stat] = m;
  H[stat + 1] = inv;
}

/** P from the saved scores and the row's statistics: the same floats softmaxRow wrote. */
function expRow(H: Float32Array, row: number, L: number, lim: number, scale: number, stat: number): void {
  const m = H[stat];
  const inv = H[stat + 1];
  for (let j = 0; j < lim; j++) H[row + j] = Math.fround(Math.exp(H[row + j] * scale - m)) * inv;
  H.fill(0, row + lim, row + L);
}

/** Each head's dense [L, dh] block of q (s=0), k (1) or v (2) for sample b. */
const block = (c: AttentionConfig, b: number, s: number, h: number) => c.qkv + ((b * 3 + s) * c.heads + h) * c.T * (c.F / c.heads);

/** x (n, T, F) → y (n, T, F) (the node's pre-tail output). */
export function attentionForward(
  H: Float32Array,
  gemm: GemmFn,
  c: AttentionConfig,
  x: number,
  y: number,
  n: number,
  len: number,
  train: boolean,
  seed: number,
  step: number,
): void {
  const { T, F, heads } = c;
  const dh = F / heads;
  const scale = 1 / Math.sqrt(dh);
  const rows = n * T;
  const F3 = 3 * F;
  gemm(0, 1, rows, F3, F, x, c.win, c.raw, 0);
  if (c.bin >= 0) addBias(H, c.raw, c.bin, rows, F3);
  // raw (n, T, 3F) → qkv (n, 3, heads, T, dh)
  for (let b = 0; b < n; b++)
    for (let t = 0; t < T; t++) {
      const src = c.raw + (b * T + t) * F3;
      for (let s = 0; s < 3; s++)
        for (let h = 0; h < heads; h++) {
          const from = src + s * F + h * dh;
          H.copyWithin(block(c, b, s, h) + t * dh, from, from + dh);
        }
    }
  const drop = train && c.p > 0;
  const key = drop ? attentionDropKey(seed, c.stream, step) : 0;
  const keep = Math.fround(1 / (1 - c.p));
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    H.fill(0, c.att + (b * T + L) * F, c.att + (b + 1) * T * F);
    if (L === 0) continue;
    for (let h = 0; h < heads; h++) {
      gemm(0, 1, L, L, dh, block(c, b, 0, h), block(c, b, 1, h), c.s, 0);
      const st = c.lse + (b * heads + h) * T * 2;
      for (let i = 0; i < L; i++) {
        const row = c.s + i * L;
        softmaxRow(H, row, L, c.causal ? i + 1 : L, scale, st + 2 * i);
        if (drop) for (let j = 0; j < L; j++) H[row + j] = attentionKeep(key, c.stream, c.p, T, heads, b, h, i, j) ? H[row + j] * keep : 0;
      }
      gemm(0, 0, L, dh, L, c.s, block(c, b, 2, h), c.oh, 0);
      for (let i = 0; i < L; i++) H.copyWithin(c.att + (b * T + i) * F + h * dh, c.oh + i * dh, c.oh + (i + 1) * dh);
    }
  }
  gemm(0, 1, rows, F, F, c.att, c.wout, y, 0);
  if (c.bout >= 0) addBias(H, y, c.bout, rows, F);
}

/**
 * dy (n, T, F) → the parameters' gradients (overwritten) and dx (n, T, F) (overwritten; -1: not
 * wanted). Reads what forward kept (training mode, same seed and step).
 */
export function attentionBackward(
  H: Float32Array,
  gemm: GemmFn,
  c: AttentionConfig,
  x: number,
  dy: number,
  dx: number,
  n: number,
  len: number,
  seed: number,
  step: number,
): void {
  const { T, F, heads } = c;
  const dh = F / heads;
  const scale = 1 / Math.sqrt(dh);
  const rows = n * T;
  const F3 = 3 * F;
  // out_proj
  gemm(1, 0, F, F, rows, dy, c.att, c.gwout, 0);
  if (c.bout >= 0) colSums(H, dy, c.gbout, rows, F);
  gemm(0, 0, rows, F, F, dy, c.wout, c.datt, 0);
  // the heads: gradients of q, k, v into raw (n, T, 3F), zero at padded positions
  H.fill(0, c.raw, c.raw + rows * F3);
  const drop = c.p > 0;
  const key = drop ? attentionDropKey(seed, c.stream, step) : 0;
  const keep = Math.fround(1 / (1 - c.p));
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    if (L === 0) continue;
    for (let h = 0; h < heads; h++) {
      const q = block(c, b, 0, h);
      const k = block(c, b, 1, h);
      const v = block(c, b, 2, h);
      gemm(0, 1, L, L, dh, q, k, c.s, 0);
      const st = c.lse + (b * heads + h) * T * 2;
      for (let i = 0; i < L; i++) {
        const row = c.s + i * L;
        expRow(H, row, L, c.causal ? i + 1 : L, scale, st + 2 * i);
        if (drop) {
          const r2 = c.p2 + i * L;
          for (let j = 0; j < L; j++) H[r2 + j] = attentionKeep(key, c.stream, c.p, T, heads, b, h, i, j) ? H[row + j] * keep : 0;
        }
      }
      for (let i = 0; i < L; i++) H.copyWithin(c.oh + i * dh, c.datt + (b * T + i) * F + h * dh, c.datt + (b * T + i) * F + (h + 1) * dh);
      // dv = P'ᵀ do (P' the dropped weights), dP' = do vᵀ
      gemm(1, 0, L, dh, L, drop ? c.p2 : c.s, c.oh, c.dv, 0);
      gemm(0, 1, L, L, dh, c.oh, v, c.dp, 0);
      // dS = P ⊙ (dP − Σ_j P dP) · scale, with dP = dP' ⊙ mask
      for (let i = 0; i < L; i++) {
        const pr = c.s + i * L;
        const dr = c.dp + i * L;
        if (drop) {
          const r2 = c.p2 + i * L;
          for (let j = 0; j < L; j++) H[dr + j] = H[r2 + j] !== 0 ? H[dr + j] * keep : 0;
        }
        let d = 0;
        for (let j = 0; j < L; j++) d += H[pr + j] * H[dr + j];
        for (let j = 0; j < L; j++) H[dr + j] = H[pr + j] * (H[dr + j] - d) * scale;
      }
      gemm(0, 0, L, dh, L, c.dp, k, c.dq, 0);
      gemm(1, 0, L, dh, L, c.dp, q, c.dk, 0);
      for (let i = 0; i < L; i++) {
        const o = c.raw + (b * T + i) * F3 + h * dh;
        H.copyWithin(o, c.dq + i * dh, c.dq + (i + 1) * dh);
        H.copyWithin(o + F, c.dk + i * dh, c.dk + (i + 1) * dh);
        H.copyWithin(o + 2 * F, c.dv + i * dh, c.dv + (i + 1) * dh);
      }
    }
  }
  // in_proj
  if (c.bin >= 0) colSums(H, c.raw, c.gbin, rows, F3);
  gemm(1, 0, F3, F, rows, c.raw, x, c.gwin, 0);
  if (dx >= 0) gemm(0, 0, rows, F, F3, c.raw, c.win, dx, 0);
}
