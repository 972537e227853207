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
// When the caller reserved more, it says so in `cfg.colFloats` (`convScratchSizeFast(cfg)` is
// what every fast path wants); the kernels never touch col beyond max(colFloats, that minimum).
// Nothing is allocated.
//
// Speed (bench/conv.mjs, M2 at batch 64): the GEMMs run one sample at a time, which the wasm
// GEMM handles as fast as one batched GEMM (measured: [32,196,144] per sample and [32,12544,144]
// for the batch both ~35 GFLOP/s), so the work went into what surrounds them:
// - im2col copies each kernel tap's shifted input plane with one copyWithin (stride 1, OW = W),
//   then zeroes the cells that read padding;
// - the input gradient of a stride-1 conv is a correlation of dy with the rotated weights
//   (im2col of dy + one GEMM per sample straight into dx), not a GEMM into columns and a
//   scalar col2im scatter; other strides keep GEMM + col2im;
// - the bias gradient is a GEMM of dy against a column of ones (the wasm module's dot path).
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
  /**
   * Floats the caller reserved at `col` (optional; default and minimum `convScratchSize`).
   * More room lets the stride-1 input gradient run in fewer, larger GEMMs
   * (`convScratchSizeFast`).
   */
  colFloats?: number;
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

const align16 = (v: number): number => (v + 15) & ~15;

/** True when the input gradient is computed as a correlation of dy with the rotated weights. */
function dgradByCorrelation(c: ConvConfig): boolean {
  return c.sh === 1 && c.sw === 1 && !convIsPointwise(c);
}

/**
 * Floats of `col` with which every fast path runs at full size (pass it as cfg.colFloats): the
 * per-sample columns, and for a stride-1 conv the rotated weights (rounded up to 16) plus one
 * sample's dy columns for one group, (K/g*kh*kw, H*W). With less (at least convScratchSize),
 * the stride-1 input gradient is cut into GEMMs over fewer output channels, or falls back to
 * GEMM + col2im.
 */
export function convScratchSizeFast(c: ConvConfig): number {
  const base = convScratchSize(c);
  if (!dgradByCorrelation(c)) return base;
  return Math.max(base, align16(convWeightSize(c)) + (c.K / c.groups) * c.kh * c.kw * c.H * c.W);
}

/** Floats the kernels may use at `col`. */
function colRoom(c: ConvConfig): number {
  return Math.max(c.colFloats ?? 0, convScratchSize(c));
}

// Range of output columns ow whose input column ow*sw + joff lies in [0, W) (also used for rows).
function colLo(joff: number, sw: number, OW: number): number {
  return joff >= 0 ? 0 : Math.min(OW, Math.floor((-joff + sw - 1) / sw));
}
function colHi(joff: number, sw: number, W: number, OW: number, lo: number): number {
  return Math.max(lo, Math.min(OW, Math.floor((W - 1 - joff) / sw) + 1));
}

// xs is one sample's channels c0..c0+Cg, (Cg, H, W); col is (Cg*kh*kw, OH*OW), zeros where the
// window reads padding.
export function im2col(H: Float32Array, c: ConvConfig, xs: number, Cg: number, col: number): void {
  im2colRaw(H, xs, Cg, c.H, c.W, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.OH, c.OW, col);
}

// im2col on plain numbers (no configuration object, so that a derived configuration, as the
// correlation form of the input gradient uses, needs no allocation). Padding may be negative.
// Row (ci, ki, kj) of col is the input plane ci shifted by (ki*dh - ph, kj*dw - pw) and strided:
// with stride 1 and OW = W (padding 'same'), the valid rows of it are one contiguous run of the
// plane, copied at once (copyWithin is a memmove), after which the cells that wrapped around a
// row edge are zeroed.
function im2colRaw(
  H: Float32Array,
  xs: number,
  Cg: number,
  IH: number,
  IW: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  ph: number,
  pw: number,
  dh: number,
  dw: number,
  OH: number,
  OW: number,
  col: number,
): void {
  const OHW = OH * OW;
  const plane = sh === 1 && sw === 1 && OW === IW;
  let r = col;
  for (let ci = 0; ci < Cg; ci++) {
    const xc = xs + ci * IH * IW;
    for (let ki = 0; ki < kh; ki++) {
      const ioff = ki * dh - ph;
      const oh0 = colLo(ioff, sh, OH);
      const oh1 = colHi(ioff, sh, IH, OH, oh0);
      for (let kj = 0; kj < kw; kj++, r += OHW) {
        const joff = kj * dw - pw;
        const lo = colLo(joff, sw, OW);
        const hi = colHi(joff, sw, IW, OW, lo);
        if (oh0 >= oh1 || lo >= hi) {
          H.fill(0, r, r + OHW);
          continue;
        }
        if (oh0 > 0) H.fill(0, r, r + oh0 * OW);
        if (oh1 < OH) H.fill(0, r + oh1 * OW, r + OHW);
        if (plane) {
          const s0 = xc + (oh0 + ioff) * IW + joff + lo;
          H.copyWithin(r + oh0 * OW + lo, s0, s0 + (oh1 - oh0 - 1) * OW + hi - lo);
          if (lo > 0 || hi < OW)
            for (let oh = oh0; oh < oh1; oh++) {
              const d = r + oh * OW;
              for (let ow = 0; ow < lo; ow++) H[d + ow] = 0;
              for (let ow = hi; ow < OW; ow++) H[d + ow] = 0;
            }
          continue;
        }
        for (let oh = oh0; oh < oh1; oh++) {
          const d = r + oh * OW;
          const row = xc + (oh * sh + ioff) * IW + joff;
          let ow = 0;
          for (; ow < lo; ow++) H[d + ow] = 0;
          if (sw === 1) {
            if (hi - lo >= 32) H.copyWithin(d + lo, row + lo, row + hi);
            else for (ow = lo; ow < hi; ow++) H[d + ow] = H[row + ow];
          } else for (ow = lo; ow < hi; ow++) H[d + ow] = H[row + ow * sw];
          for (ow = hi; ow < OW; ow++) H[d + ow] = 0;
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
//   db = sum over samples of dy_i (K, OHW) . 1 (OHW)
//   dW_g += dy_g (K/g, OHW) . col_g^T (OHW, C/g*kh*kw)      (beta 0 on the first sample)
//   stride 1: dx_g = Wrot_g^T (C/g, K/g*kh*kw) . dycol_g (K/g*kh*kw, H*W), where
//     Wrot_g[(k,a,b), c] = w[k, c, kh-1-a, kw-1-b] and dycol is im2col of dy with padding
//     (dh*(kh-1) - ph, dw*(kw-1) - pw) and output size H x W (a correlation of dy with the
//     rotated kernel); cut into GEMMs over chunks of k accumulating into dx when col is small;
//   otherwise: dcol_g = W_g^T (C/g*kh*kw, K/g) . dy_g (K/g, OHW), then col2im into dx
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
  const { C, K, groups, OH, OW, kh, kw } = c;
  const IH = c.H;
  const IW = c.W;
  const HW = IH * IW;
  const OHW = OH * OW;
  const Cg = C / groups;
  const Kg = K / groups;
  const KK = kh * kw;
  const CKK = Cg * KK;
  const direct = convIsPointwise(c);
  const room = colRoom(c);
  if (db >= 0) convBiasGrad(H, gemm, K, OHW, dy, db, col, room, n);
  if (dw >= 0 && n === 0) H.fill(0, dw, dw + K * CKK);
  // stride 1: the input gradient as a correlation of dy with the rotated weights
  const wsz = align16(K * CKK);
  const Kc = Math.min(Kg, Math.floor((room - wsz) / (KK * HW)));
  const byCorrelation = dx >= 0 && n > 0 && dgradByCorrelation(c) && Kc >= 1;
  if (byCorrelation) {
    for (let g = 0; g < groups; g++)
      for (let k = 0; k < Kg; k++)
        for (let cc = 0; cc < Cg; cc++) {
          const src = w + ((g * Kg + k) * Cg + cc) * KK + KK - 1;
          const dst = col + g * Kg * CKK + k * CKK + cc;
          for (let t = 0; t < KK; t++) H[dst + t * Cg] = H[src - t];
        }
    const work = col + wsz;
    const qh = c.dh * (kh - 1) - c.ph;
    const qw = c.dw * (kw - 1) - c.pw;
    for (let i = 0; i < n; i++)
      for (let g = 0; g < groups; g++) {
        const dxg = dx + (i * C + g * Cg) * HW;
        for (let k0 = 0; k0 < Kg; k0 += Kc) {
          const kc = Math.min(Kc, Kg - k0);
          im2colRaw(H, dy + (i * K + g * Kg + k0) * OHW, kc, OH, OW, kh, kw, 1, 1, qh, qw, c.dh, c.dw, IH, IW, work);
          gemm(1, 0, Cg, HW, kc * KK, col + g * Kg * CKK + k0 * CKK, work, dxg, k0 > 0 ? 1 : 0);
        }
      }
  }
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
      if (dx >= 0 && !byCorrelation) {
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

// db (K) = sum over the n samples of dy_i (K, S): with room for a column of ones at col, one
// GEMM per sample (K dot products of length S); otherwise a plain loop.
function convBiasGrad(
  H: Float32Array,
  gemm: GemmFn,
  K: number,
  S: number,
  dy: number,
  db: number,
  col: number,
  room: number,
  n: number,
): void {
  if (n > 0 && room >= S) {
    H.fill(1, col, col + S);
    for (let i = 0; i < n; i++) gemm(0, 1, K, 1, S, dy + i * K * S, col, db, i > 0 ? 1 : 0);
    return;
  }
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = dy + (i * K + k) * S;
      for (let j = 0; j < S; j++) s += H[r + j];
    }
    H[db + k] = s;
  }
}
