// 1-D pooling over time on channels-last sequences, PyTorch semantics (nn.MaxPool1d /
// nn.AvgPool1d, ceil_mode=False): x (n, T, C) -> y (n, OT, C), window t' covering input positions
// [t'·s − p, t'·s − p + k).
// - max pooling pads with −inf, keeps the FIRST maximum of each window (NaN wins: the first NaN),
//   and saves its input position t (a float; -1 for a window with no valid position) in idx;
// - average pooling divides by k, padding counting as zeros (count_include_pad=True).
// With padded sequences (len >= 0; runtime/kernels/sequence.ts) the positions t >= L_b of a sample
// are treated as padding too (−inf for the maximum, zeros for the average), so that the valid
// outputs (t' < L'_b) equal PyTorch's on the sequence cut at L_b; the others are zeroed after the
// layer (compiler/ops/sequence.ts seqmask). Backward kernels OVERWRITE dx.
import { validLength } from "./sequence";

export interface Pool1dConfig {
  T: number;
  C: number;
  k: number;
  s: number;
  p: number;
  OT: number;
  /** the time maps from the model's input to this layer's input (runtime/kernels/sequence.ts) */
  maps: readonly number[];
}

/** The output length of a 1-D pool (PyTorch's floor formula). */
export const pool1dLength = (T: number, k: number, s: number, p: number): number => Math.floor((T + 2 * p - k) / s) + 1;

// x is (n, T, C), y and idx are (n, OT, C). Channels inner: each window row is contiguous.
export function maxPool1dForward(H: Float32Array, c: Pool1dConfig, x: number, y: number, idx: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let o = 0; o < OT; o++) {
      const yr = y + (b * OT + o) * C;
      const ir = idx + (b * OT + o) * C;
      const t0 = Math.max(o * s - p, 0);
      const t1 = Math.min(o * s - p + k, L);
      if (t0 >= t1) {
        H.fill(0, yr, yr + C);
        H.fill(-1, ir, ir + C);
        continue;
      }
      H.copyWithin(yr, x + (b * T + t0) * C, x + (b * T + t0 + 1) * C);
      H.fill(t0, ir, ir + C);
      for (let t = t0 + 1; t < t1; t++) {
        const xr = x + (b * T + t) * C;
        for (let ch = 0; ch < C; ch++) {
          const v = H[xr + ch];
          const m = H[yr + ch];
          if (v > m || (v !== v && m === m)) {
            H[yr + ch] = v;
            H[ir + ch] = t;
          }
        }
      }
    }
  }
}

// dy and idx are (n, OT, C), dx is (n, T, C): each window's gradient added at its argmax.
export function maxPool1dBackward(H: Float32Array, c: Pool1dConfig, dy: number, idx: number, dx: number, n: number): void {
  const { T, C, OT } = c;
  H.fill(0, dx, dx + n * T * C);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < OT; o++) {
      const r = (b * OT + o) * C;
      for (let ch = 0; ch < C; ch++) {
        const t = H[idx + r + ch];
        if (t >= 0) H[dx + (b * T + t) * C + ch] += H[dy + r + ch];
      }
    }
}

// x is (n, T, C), y is (n, OT, C): the sum of each window's valid positions, over k.
export function avgPool1dForward(H: Float32Array, c: Pool1dConfig, x: number, y: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let o = 0; o < OT; o++) {
      const yr = y + (b * OT + o) * C;
      const t0 = Math.max(o * s - p, 0);
      const t1 = Math.min(o * s - p + k, L);
      for (let ch = 0; ch < C; ch++) {
        let sum = 0;
        for (let t = t0; t < t1; t++) sum += H[x + (b * T + t) * C + ch];
        H[yr + ch] = sum / k;
      }
    }
  }
}

// dy is (n, OT, C), dx is (n, T, C): each window's gradient / k spread over its valid positions.
export function avgPool1dBackward(H: Float32Array, c: Pool1dConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  H.fill(0, dx, dx + n * T * C);
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let o = 0; o < OT; o++) {
      const dr = dy + (b * OT + o) * C;
      const t0 = Math.max(o * s - p, 0);
      const t1 = Math.min(o * s - p + k, L);
      for (let t = t0; t < t1; t++) {
        const xr = dx + (b * T + t) * C;
        for (let ch = 0; ch < C; ch++) H[xr + ch] += H[dr + ch] / k;
      }
    }
  }
}

// ---- the references: each output (or input) element by its definition -------------------------

export function maxPool1dForwardNaive(H: Float32Array, c: Pool1dConfig, x: number, y: number, idx: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let o = 0; o < OT; o++)
      for (let ch = 0; ch < C; ch++) {
        let m = -Infinity;
        let mi = -1;
        for (let j = 0; j < k; j++) {
          const t = o * s - p + j;
          if (t < 0 || t >= L) continue;
          const v = H[x + (b * T + t) * C + ch];
          if (mi < 0 || v > m || (v !== v && m === m)) {
            m = v;
            mi = t;
          }
        }
        H[y + (b * OT + o) * C + ch] = mi < 0 ? 0 : m;
        H[idx + (b * OT + o) * C + ch] = mi;
      }
  }
}

export function avgPool1dForwardNaive(H: Float32Array, c: Pool1dConfig, x: number, y: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let o = 0; o < OT; o++)
      for (let ch = 0; ch < C; ch++) {
        let sum = 0;
        for (let j = 0; j < k; j++) {
          const t = o * s - p + j;
          if (t >= 0 && t < L) sum += H[x + (b * T + t) * C + ch];
        }
        H[y + (b * OT + o) * C + ch] = sum / k;
      }
  }
}

// dx[t] = Σ over the windows covering t (t valid) of dy / k
export function avgPool1dBackwardNaive(H: Float32Array, c: Pool1dConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, C, k, s, p, OT } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let t = 0; t < T; t++)
      for (let ch = 0; ch < C; ch++) {
        let g = 0;
        if (t < L) for (let o = 0; o < OT; o++) if (t >= o * s - p && t < o * s - p + k) g += H[dy + (b * OT + o) * C + ch] / k;
        H[dx + (b * T + t) * C + ch] = g;
      }
  }
}
