// Naive oracles for the convolution kernels: direct loops straight from the definition, no
// im2col, no GEMM. Slow and obviously correct; the fast kernels in ./conv are tested against
// them (test/kernels-conv*.test.ts). Same conventions and argument order as the fast versions.
import type { ConvConfig } from "./conv";

// x is (n, C, H, W), w is (K, C/g, kh, kw), b is (K) or -1, y is (n, K, OH, OW).
// y[i,k,oh,ow] = b[k] + sum_{c in group(k), ki, kj} w[k,c,ki,kj] * x[i, c, oh*sh-ph+ki*dh, ow*sw-pw+kj*dw]
export function conv2dForwardNaive(H: Float32Array, c: ConvConfig, x: number, w: number, b: number, y: number, n: number): void {
  const { C, H: IH, W: IW, K, kh, kw, sh, sw, ph, pw, dh, dw, groups, OH, OW } = c;
  const Cg = C / groups;
  const Kg = K / groups;
  for (let i = 0; i < n; i++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b >= 0 ? H[b + k] : 0;
          for (let cc = 0; cc < Cg; cc++)
            for (let ki = 0; ki < kh; ki++)
              for (let kj = 0; kj < kw; kj++) {
                const ih = oh * sh - ph + ki * dh;
                const iw = ow * sw - pw + kj * dw;
                if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                const xv = H[x + ((i * C + g * Cg + cc) * IH + ih) * IW + iw];
                s += H[w + ((k * Cg + cc) * kh + ki) * kw + kj] * xv;
              }
          H[y + ((i * K + k) * OH + oh) * OW + ow] = s;
        }
    }
}

// x is (n, C, H, W), w is (K, C/g, kh, kw), dy is (n, K, OH, OW); dx, dw, db (or -1) are
// OVERWRITTEN with the batch gradient, as conv2dBackward does.
export function conv2dBackwardNaive(H: Float32Array, c: ConvConfig, x: number, w: number, dy: number, dx: number, dw: number, db: number, n: number): void {
  const { C, H: IH, W: IW, K, kh, kw, sh, sw, ph, pw, dh, dw: ddw, groups, OH, OW } = c;
  const Cg = C / groups;
  const Kg = K / groups;
  if (dx >= 0) H.fill(0, dx, dx + n * C * IH * IW);
  if (dw >= 0) H.fill(0, dw, dw + K * Cg * kh * kw);
  if (db >= 0) H.fill(0, db, db + K);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const d = H[dy + ((i * K + k) * OH + oh) * OW + ow];
          if (db >= 0) H[db + k] += d;
          for (let cc = 0; cc < Cg; cc++)
            for (let ki = 0; ki < kh; ki++)
              for (let kj = 0; kj < kw; kj++) {
                const ih = oh * sh - ph + ki * dh;
                const iw = ow * sw - pw + kj * ddw;
                if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                const xi = ((i * C + g * Cg + cc) * IH + ih) * IW + iw;
                const wi = ((k * Cg + cc) * kh + ki) * kw + kj;
                if (dw >= 0) H[dw + wi] += d * H[x + xi];
                if (dx >= 0) H[dx + xi] += d * H[w + wi];
              }
        }
    }
}
