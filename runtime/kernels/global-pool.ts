// Global pooling over time, and global max pooling over images:
// - over time: x (n, T, F) -> y (n, F), the mean or the maximum over each sample's valid positions
//   (all T without padding; t < L_b with padding, runtime/kernels/sequence.ts validLength): a
//   padded position changes nothing. An empty sample (L_b = 0) gives zeros and no gradient.
// - over images: x (n, C, H, W) -> y (n, C), the maximum over each plane.
// Max pooling keeps the FIRST maximum of each row (as torch.max(dim)), NaN wins (as PyTorch), and
// saves its position (t, or h·W + w, as a float; -1 for an empty sample) in idx for backward.
// Sums run in double precision and are rounded once. Backward kernels OVERWRITE dx.
import { validLength, type SeqConfig } from "./sequence";

// x is (n, T, F), y is (n, F): y[b, f] = Σ_{t < L_b} x[b, t, f] / L_b.
export function timeAvgPoolForward(H: Float32Array, c: SeqConfig, x: number, y: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    const xb = x + b * T * F;
    for (let f = 0; f < F; f++) {
      let s = 0;
      for (let t = 0; t < L; t++) s += H[xb + t * F + f];
      H[y + b * F + f] = L > 0 ? s / L : 0;
    }
  }
}

// dy is (n, F), dx is (n, T, F): dx[b, t, f] = dy[b, f] / L_b for t < L_b, else 0.
export function timeAvgPoolBackward(H: Float32Array, c: SeqConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    const xb = dx + b * T * F;
    for (let f = 0; f < F; f++) {
      const g = L > 0 ? H[dy + b * F + f] / L : 0;
      for (let t = 0; t < L; t++) H[xb + t * F + f] = g;
    }
    H.fill(0, xb + L * F, xb + T * F);
  }
}

// x is (n, T, F), y and idx are (n, F): the maximum over t < L_b and its t.
export function timeMaxPoolForward(H: Float32Array, c: SeqConfig, x: number, y: number, idx: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    const xb = x + b * T * F;
    const yb = y + b * F;
    const ib = idx + b * F;
    if (L === 0) {
      H.fill(0, yb, yb + F);
      H.fill(-1, ib, ib + F);
      continue;
    }
    H.copyWithin(yb, xb, xb + F);
    H.fill(0, ib, ib + F);
    // time outer, features inner: contiguous rows
    for (let t = 1; t < L; t++) {
      const r = xb + t * F;
      for (let f = 0; f < F; f++) {
        const v = H[r + f];
        const m = H[yb + f];
        if (v > m || (v !== v && m === m)) {
          H[yb + f] = v;
          H[ib + f] = t;
        }
      }
    }
  }
}

// dy and idx are (n, F), dx is (n, T, F): dy at each feature's argmax, zeros elsewhere.
export function timeMaxPoolBackward(H: Float32Array, c: SeqConfig, dy: number, idx: number, dx: number, n: number): void {
  const { T, F } = c;
  H.fill(0, dx, dx + n * T * F);
  for (let b = 0; b < n; b++)
    for (let f = 0; f < F; f++) {
      const t = H[idx + b * F + f];
      if (t >= 0) H[dx + (b * T + t) * F + f] = H[dy + b * F + f];
    }
}

// x is (n, C, H, W), y and idx are (n, C): the maximum of each plane and its h·W + w.
export function globalMaxPoolForward(H: Float32Array, c: { C: number; H: number; W: number }, x: number, y: number, idx: number, n: number): void {
  const S = c.H * c.W;
  for (let p = 0, planes = n * c.C; p < planes; p++) {
    const b = x + p * S;
    let m = H[b];
    let mi = 0;
    for (let j = 1; j < S; j++) {
      const v = H[b + j];
      if (v > m || (v !== v && m === m)) {
        m = v;
        mi = j;
      }
    }
    H[y + p] = m;
    H[idx + p] = mi;
  }
}

// dy and idx are (n, C), dx is (n, C, H, W): dy at each plane's argmax, zeros elsewhere.
export function globalMaxPoolBackward(H: Float32Array, c: { C: number; H: number; W: number }, dy: number, idx: number, dx: number, n: number): void {
  const S = c.H * c.W;
  const planes = n * c.C;
  H.fill(0, dx, dx + planes * S);
  for (let p = 0; p < planes; p++) H[dx + p * S + H[idx + p]] = H[dy + p];
}

// ---- the references: each output element by its definition, features outer ----------------------

export function timeAvgPoolForwardNaive(H: Float32Array, c: SeqConfig, x: number, y: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let f = 0; f < F; f++) {
      let s = 0;
      let m = 0;
      for (let t = 0; t < T; t++)
        if (t < L) {
          s += H[x + (b * T + t) * F + f];
          m++;
        }
      H[y + b * F + f] = m > 0 ? s / m : 0;
    }
  }
}

export function timeAvgPoolBackwardNaive(H: Float32Array, c: SeqConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) H[dx + (b * T + t) * F + f] = t < L ? H[dy + b * F + f] / L : 0;
  }
}

export function timeMaxPoolForwardNaive(H: Float32Array, c: SeqConfig, x: number, y: number, idx: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    for (let f = 0; f < F; f++) {
      let m = -Infinity;
      let mi = -1;
      for (let t = 0; t < L; t++) {
        const v = H[x + (b * T + t) * F + f];
        if (mi < 0 || v > m || (v !== v && m === m)) {
          m = v;
          mi = t;
        }
      }
      H[y + b * F + f] = mi < 0 ? 0 : m;
      H[idx + b * F + f] = mi;
    }
  }
}
