// 2-D convolution (PyTorch's nn.Conv2d semantics: cross-correlation, NCHW, weights
// (K, C/groups, kh, kw), optional bias (K)), computed per sample and per group as
// im2col + one GEMM. The naive direct version is `conv2dForwardNaive` / `conv2dBackwardNaive`
// in ./reference; every test compares the two.
//
// Padding: `ph`/`pw` are the TOP/LEFT padding. The bottom/right padding is implied by OH/OW,
// which is how PyTorch's asymmetric padding='same' (even effective kernel, stride 1: the extra
// row/column goes at the bottom/right) is represented without another field.
//
// Scratch: kernels that need a column buffer take `col`, an offset of at least
// `convScratchSize(cfg)` floats (0 for 1x1/stride 1/no padding convs, which use x directly).
// Nothing is allocated.
import type { GemmFn } from "../backend";

export interface ConvConfig {
  /** input channels, height, width */
  C: number;
  H: number;
  W: number;
  /** output channels */
  K: number;
  kh: number;
  kw: number;
  /** stride */
  sh: number;
  sw: number;
  /** top / left padding (bottom / right implied by OH / OW) */
  ph: number;
  pw: number;
  /** dilation */
  dh: number;
  dw: number;
  groups: number;
  OH: number;
  OW: number;
}

export type Pair = number | readonly [number, number];
/** Padding: symmetric per axis, explicit [[top,bottom],[left,right]], "valid" (0) or "same". */
export type ConvPadding = Pair | "valid" | "same" | { top: number; bottom: number; left: number; right: number };

export interface ConvOptions {
  C: number;
  H: number;
  W: number;
  K: number;
  kernel: Pair;
  stride?: Pair;
  padding?: ConvPadding;
  dilation?: Pair;
  groups?: number;
}

const pair = (p: Pair): [number, number] => (typeof p === "number" ? [p, p] : [p[0], p[1]]);

/**
 * Resolves a convolution's configuration and its output size
 * OH = floor((H + top + bottom - dh*(kh-1) - 1) / sh) + 1.
 * "same" follows PyTorch (stride 1 only): total padding d*(k-1) per axis, floor half on the
 * top/left, the rest on the bottom/right. Throws on an impossible configuration.
 */
export function convConfig(o: ConvOptions): ConvConfig {
  const [kh, kw] = pair(o.kernel);
  const [sh, sw] = pair(o.stride ?? 1);
  const [dh, dw] = pair(o.dilation ?? 1);
  const groups = o.groups ?? 1;
  let top: number, bottom: number, left: number, right: number;
  const p = o.padding ?? 0;
  if (p === "valid") {
    top = bottom = left = right = 0;
  } else if (p === "same") {
    if (sh !== 1 || sw !== 1) throw new Error(`conv2d: padding 'same' needs stride 1 (got ${sh}x${sw})`);
    const th = dh * (kh - 1);
    const tw = dw * (kw - 1);
    top = th >> 1;
    bottom = th - top;
    left = tw >> 1;
    right = tw - left;
  } else if (typeof p === "object" && !Array.isArray(p) && "top" in p) {
    ({ top, bottom, left, right } = p);
  } else {
    const [a, b] = pair(p as Pair);
    top = bottom = a;
    left = right = b;
  }
  const { C, H, W, K } = o;
  if (C % groups !== 0 || K % groups !== 0)
    throw new Error(`conv2d: channels ${C} -> ${K} not divisible by groups ${groups}`);
  const OH = Math.floor((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + left + right - dw * (kw - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1)
    throw new Error(`conv2d: input ${H}x${W} too small for kernel ${kh}x${kw} (dilation ${dh}x${dw})`);
  return { C, H, W, K, kh, kw, sh, sw, ph: top, pw: left, dh, dw, groups, OH, OW };
}

/** True when x itself is the column matrix (1x1 kernel, stride 1, no padding). */
export function convIsPointwise(c: ConvConfig): boolean {
  return (
    c.kh === 1 && c.kw === 1 && c.sh === 1 && c.sw === 1 && c.ph === 0 && c.pw === 0 && c.OH === c.H && c.OW === c.W
  );
}

/** Floats of the `col` scratch buffer: one group of one sample, (C/g*kh*kw, OH*OW). */
export function convScratchSize(c: ConvConfig): number {
  return convIsPointwise(c) ? 0 : (c.C / c.groups) * c.kh * c.kw * c.OH * c.OW;
}

/** Weight elements: K * C/groups * kh * kw. */
export function convWeightSize(c: ConvConfig): number {
  return c.K * (c.C / c.groups) * c.kh * c.kw;
}

// Range of output columns ow whose input column ow*sw + joff lies in [0, W).
function colLo(joff: number, sw: number, OW: number): number {
  return joff >= 0 ? 0 : Math.min(OW, Math.floor((-joff + sw - 1) / sw));
}
function colHi(joff: number, sw: number, W: number, OW: number, lo: number): number {
  return Math.max(lo, Math.min(OW, Math.floor((W - 1 - joff) / sw) + 1));
}

// xs is one sample's channels c0..c0+Cg, (Cg, H, W); col is (Cg*kh*kw, OH*OW), zeros where the
// window reads padding.
export function im2col(H: Float32Array, c: ConvConfig, xs: number, Cg: number, col: number): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = c;
  let r = col;
  for (let ci = 0; ci < Cg; ci++) {
    const xc = xs + ci * IH * IW;
    for (let ki = 0; ki < kh; ki++) {
      const ioff = ki * dh - ph;
      for (let kj = 0; kj < kw; kj++) {
        const joff = kj * dw - pw;
        const lo = colLo(joff, sw, OW);
        const hi = colHi(joff, sw, IW, OW, lo);
        for (let oh = 0; oh < OH; oh++, r += OW) {
          const ih = oh * sh + ioff;
          if (ih < 0 || ih >= IH) {
            H.fill(0, r, r + OW);
            continue;
          }
          const row = xc + ih * IW + joff;
          let ow = 0;
          for (; ow < lo; ow++) H[r + ow] = 0;
          if (sw === 1) for (; ow < hi; ow++) H[r + ow] = H[row + ow];
          else for (; ow < hi; ow++) H[r + ow] = H[row + ow * sw];
          for (; ow < OW; ow++) H[r + ow] = 0;
        }
      }
    }
  }
}

// Adjoint of im2col: adds col (Cg*kh*kw, OH*OW) into dxs (Cg, H, W). dxs is not cleared.
export function col2im(H: Float32Array, c: ConvConfig, col: number, Cg: number, dxs: number): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = c;
  let r = col;
  for (let ci = 0; ci < Cg; ci++) {
    const xc = dxs + ci * IH * IW;
    for (let ki = 0; ki < kh; ki++) {
      const ioff = ki * dh - ph;
      for (let kj = 0; kj < kw; kj++) {
        const joff = kj * dw - pw;
        const lo = colLo(joff, sw, OW);
        const hi = colHi(joff, sw, IW, OW, lo);
        for (let oh = 0; oh < OH; oh++, r += OW) {
          const ih = oh * sh + ioff;
          if (ih < 0 || ih >= IH) continue;
          const row = xc + ih * IW + joff;
          if (sw === 1) for (let ow = lo; ow < hi; ow++) H[row + ow] += H[r + ow];
          else for (let ow = lo; ow < hi; ow++) H[row + ow * sw] += H[r + ow];
        }
      }
    }
  }
}

// x is (n, C, H, W), w is (K, C/g, kh, kw), b is (K) or -1, y is (n, K, OH, OW).
// Per sample and group: y_g (K/g, OH*OW) = W_g (K/g, C/g*kh*kw) . col_g (C/g*kh*kw, OH*OW),
// with y pre-filled by the bias so the GEMM accumulates onto it.
export function conv2dForward(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  x: number,
  w: number,
  b: number,
  y: number,
  col: number,
  n: number,
): void {
  const { C, K, groups, OH, OW } = c;
  const HW = c.H * c.W;
  const OHW = OH * OW;
  const Cg = C / groups;
  const Kg = K / groups;
  const CKK = Cg * c.kh * c.kw;
  const direct = convIsPointwise(c);
  for (let i = 0; i < n; i++) {
    const xs = x + i * C * HW;
    const ys = y + i * K * OHW;
    if (b >= 0) for (let k = 0; k < K; k++) H.fill(H[b + k], ys + k * OHW, ys + (k + 1) * OHW);
    for (let g = 0; g < groups; g++) {
      let src = xs + g * Cg * HW;
      if (!direct) {
        im2col(H, c, src, Cg, col);
        src = col;
      }
      gemm(0, 0, Kg, OHW, CKK, w + g * Kg * CKK, src, ys + g * Kg * OHW, b >= 0 ? 1 : 0);
    }
  }
}

// x is (n, C, H, W), w is (K, C/g, kh, kw), dy is (n, K, OH, OW);
// dx is (n, C, H, W) or -1 (skip), dw is (K, C/g, kh, kw) or -1, db is (K) or -1.
// dx, dw and db are OVERWRITTEN with the gradient of the whole batch (not accumulated into).
//   dW_g += dy_g (K/g, OHW) . col_g^T (OHW, C/g*kh*kw)      (beta 0 on the first sample)
//   dcol_g = W_g^T (C/g*kh*kw, K/g) . dy_g (K/g, OHW), then col2im into dx
export function conv2dBackward(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  x: number,
  w: number,
  dy: number,
  dx: number,
  dw: number,
  db: number,
  col: number,
  n: number,
): void {
  const { C, K, groups, OH, OW } = c;
  const HW = c.H * c.W;
  const OHW = OH * OW;
  const Cg = C / groups;
  const Kg = K / groups;
  const CKK = Cg * c.kh * c.kw;
  const direct = convIsPointwise(c);
  if (db >= 0) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const r = dy + (i * K + k) * OHW;
        for (let j = 0; j < OHW; j++) s += H[r + j];
      }
      H[db + k] = s;
    }
  }
  if (dw >= 0 && n === 0) H.fill(0, dw, dw + K * CKK);
  for (let i = 0; i < n; i++) {
    const xs = x + i * C * HW;
    const dys = dy + i * K * OHW;
    const dxs = dx + i * C * HW;
    for (let g = 0; g < groups; g++) {
      const dyg = dys + g * Kg * OHW;
      const wg = w + g * Kg * CKK;
      if (dw >= 0) {
        let src = xs + g * Cg * HW;
        if (!direct) {
          im2col(H, c, src, Cg, col);
          src = col;
        }
        gemm(0, 1, Kg, CKK, OHW, dyg, src, dw + g * Kg * CKK, i > 0 ? 1 : 0);
      }
      if (dx >= 0) {
        const dxg = dxs + g * Cg * HW;
        if (direct) {
          gemm(1, 0, Cg, OHW, Kg, wg, dyg, dxg, 0);
        } else {
          gemm(1, 0, CKK, OHW, Kg, wg, dyg, col, 0);
          H.fill(0, dxg, dxg + Cg * HW);
          col2im(H, c, col, Cg, dxg);
        }
      }
    }
  }
}
