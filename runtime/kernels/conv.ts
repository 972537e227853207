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
// When the caller reserved more, it says so in `cfg.colFloats`; the kernels never touch col
// beyond max(colFloats, convScratchSize(cfg)). Nothing is allocated.
//   convScratchSizeFast(cfg)        every fast path, one sample per GEMM
//   convScratchSizeBatched(cfg, nb) the same with nb samples per GEMM (im2col of nb samples side
//                                   by side, columns (C/g*kh*kw, nb*OH*OW), output staged and
//                                   scattered back to NCHW)
// The kernels pick the largest chunk of samples the room allows, so any size >= the minimum
// works, and the same inputs and room give the same bytes.
//
// Speed (bench/conv.mjs, M2 at batch 64, wasm GEMM on 1 thread): the GEMMs are as fast one
// sample at a time as batched (measured: [32,196,144] per sample and [32,12544,144] for the
// batch both ~35 GFLOP/s), so most of the gain is around them:
// - im2col copies each kernel tap's shifted input plane with one copyWithin (stride 1, OW = W),
//   then zeroes the cells that read padding;
// - the input gradient of a stride-1 conv is a correlation of dy with the rotated weights
//   (the forward kernel run on dy, straight into dx), not a GEMM into columns and a scalar
//   col2im scatter; other strides keep GEMM + col2im;
// - the bias gradient is a GEMM of dy against a column of ones (the wasm module's dot path).
// Batching (room for nb >= 2) makes GEMMs large enough for the wasm backend to split over its
// threads (runtime/wasm/wasm-backend.ts splits from 1M multiply-adds). On a wasm backend with 2+
// threads, the per-sample path (groups 1) is itself split (runtime/wasm/conv.wat conv_chunk):
// samples for the forward and the stride-1 input gradient, input channels for the weight
// gradient, each thread with its own im2col area; every element is summed as on one thread.
// On the wasm backend the im2col copies run in wasm (same bytes as im2colTs).
import type { GemmFn } from "../backend";
import { checkRange, convExportsOf, convParallelOf, type ConvParallel } from "../wasm/conv-kernels";
import { winogradApplies, winogradBackward, winogradForward, winogradPlan, type WinogradPlan } from "./winograd";

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
  /**
   * Samples per block of the Winograd F(2,3) path (runtime/kernels/winograd.ts), set by the
   * compiler when winogradPays(cfg): the forward and both gradients run by Winograd when the
   * room at col holds winogradScratchSize (otherwise, and when absent, im2col + GEMM).
   */
  wino?: number;
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
  if (C % groups !== 0 || K % groups !== 0) throw new Error(`conv2d: channels ${C} -> ${K} not divisible by groups ${groups}`);
  const OH = Math.floor((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + left + right - dw * (kw - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`conv2d: input ${H}x${W} too small for kernel ${kh}x${kw} (dilation ${dh}x${dw})`);
  return { C, H, W, K, kh, kw, sh, sw, ph: top, pw: left, dh, dw, groups, OH, OW };
}

/** True when x itself is the column matrix (1x1 kernel, stride 1, no padding). */
export function convIsPointwise(c: ConvConfig): boolean {
  return c.kh === 1 && c.kw === 1 && c.sh === 1 && c.sw === 1 && c.ph === 0 && c.pw === 0 && c.OH === c.H && c.OW === c.W;
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
 * Floats of `col` with which every fast path runs at full size with one sample per GEMM (pass
 * it as cfg.colFloats): the per-sample columns, and for a stride-1 conv the rotated weights
 * (rounded up to 16) plus one sample's dy columns for one group, (K/g*kh*kw, H*W). With less
 * (at least convScratchSize), the stride-1 input gradient is cut into GEMMs over fewer output
 * channels, or falls back to GEMM + col2im.
 */
export function convScratchSizeFast(c: ConvConfig): number {
  return convScratchSizeBatched(c, 1);
}

/**
 * Floats of `col` with which every path runs nb samples per GEMM (pass it as cfg.colFloats):
 * forward and weight gradient nb*OH*OW*(C/g*kh*kw + K/g) (columns and the staged output or dy);
 * stride-1 input gradient: rotated weights + nb*H*W*(K/g*kh*kw + C/g). For nb = 1, the per-sample
 * fast size.
 */
export function convScratchSizeBatched(c: ConvConfig, nb: number): number {
  const base = convScratchSize(c);
  const KK = c.kh * c.kw;
  const Cg = c.C / c.groups;
  const Kg = c.K / c.groups;
  const OHW = c.OH * c.OW;
  const HW = c.H * c.W;
  const corr = dgradByCorrelation(c) ? align16(convWeightSize(c)) : 0;
  if (nb <= 1) return corr > 0 ? Math.max(base, corr + Kg * KK * HW) : base;
  if (convIsPointwise(c)) return base;
  const fwd = nb * OHW * (Cg * KK + Kg);
  return Math.max(base, fwd, corr > 0 ? corr + nb * HW * (Kg * KK + Cg) : 0);
}

/** Floats the kernels may use at `col`. */
function colRoom(c: ConvConfig): number {
  return Math.max(c.colFloats ?? 0, convScratchSize(c));
}

/** Samples per GEMM: the largest nb <= n with convScratchSizeBatched(c, nb) <= room (>= 1). */
function batchSamples(c: ConvConfig, room: number, n: number): number {
  if (convIsPointwise(c)) return 1;
  const Cg = c.C / c.groups;
  const Kg = c.K / c.groups;
  const KK = c.kh * c.kw;
  let nb = Math.floor(room / (c.OH * c.OW * (Cg * KK + Kg)));
  if (dgradByCorrelation(c)) nb = Math.min(nb, Math.floor((room - align16(convWeightSize(c))) / (c.H * c.W * (Kg * KK + Cg))));
  return Math.max(1, Math.min(n, nb));
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
  im2colRaw(H, xs, Cg, c.H, c.W, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.OH, c.OW, col, c.OH * c.OW);
}

// im2col on plain numbers, rows ld floats apart (ld = nb*OH*OW puts nb samples side by side).
// Padding may be negative (the correlation form of the input gradient).
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
  ld: number,
): void {
  const OHW = OH * OW;
  const k = convExportsOf(H);
  if (k) {
    // the same copies in wasm (runtime/wasm/conv.wat): same bytes, no shared-memory slowdown
    checkRange(H, xs, xs + Cg * IH * IW, "im2col input");
    checkRange(H, col, col + (Cg * kh * kw - 1) * ld + OHW, "im2col columns");
    k.im2col(xs, Cg, IH, IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, col, ld);
    return;
  }
  im2colTs(H, xs, Cg, IH, IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, col, ld);
}

/** im2colRaw in TypeScript: the reference of the wasm im2col, and the ts backend's loop. */
export function im2colTs(
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
  ld: number,
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
      for (let kj = 0; kj < kw; kj++, r += ld) {
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

// Adjoint of im2col: adds col (Cg*kh*kw, OH*OW) into dxs (Cg, H, W). dxs is not cleared; col's
// cells that im2col would fill with padding zeros may be zeroed (col is scratch).
export function col2im(H: Float32Array, c: ConvConfig, col: number, Cg: number, dxs: number): void {
  col2imLd(H, c, col, c.OH * c.OW, Cg, dxs);
}

// col2im with col rows ld floats apart. With stride 1 and OW = W, each row of col is added to
// the shifted plane in one contiguous loop, after zeroing the cells that wrap around a row edge
// (those read padding: adding +0 leaves dx as it was).
function col2imLd(H: Float32Array, c: ConvConfig, col: number, ld: number, Cg: number, dxs: number): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = c;
  const plane = sh === 1 && sw === 1 && OW === IW;
  let rr = col;
  for (let ci = 0; ci < Cg; ci++) {
    const xc = dxs + ci * IH * IW;
    for (let ki = 0; ki < kh; ki++) {
      const ioff = ki * dh - ph;
      const oh0 = colLo(ioff, sh, OH);
      const oh1 = colHi(ioff, sh, IH, OH, oh0);
      for (let kj = 0; kj < kw; kj++, rr += ld) {
        const joff = kj * dw - pw;
        const lo = colLo(joff, sw, OW);
        const hi = colHi(joff, sw, IW, OW, lo);
        if (oh0 >= oh1 || lo >= hi) continue;
        if (plane) {
          if (lo > 0 || hi < OW)
            for (let oh = oh0; oh < oh1; oh++) {
              const r = rr + oh * OW;
              for (let ow = 0; ow < lo; ow++) H[r + ow] = 0;
              for (let ow = hi; ow < OW; ow++) H[r + ow] = 0;
            }
          const s0 = rr + oh0 * OW + lo;
          const d0 = xc + (oh0 + ioff) * IW + joff + lo;
          const len = (oh1 - oh0 - 1) * OW + hi - lo;
          for (let p = 0; p < len; p++) H[d0 + p] += H[s0 + p];
          continue;
        }
        for (let oh = oh0; oh < oh1; oh++) {
          const r = rr + oh * OW;
          const row = xc + (oh * sh + ioff) * IW + joff;
          if (sw === 1) for (let ow = lo; ow < hi; ow++) H[row + ow] += H[r + ow];
          else for (let ow = lo; ow < hi; ow++) H[row + ow * sw] += H[r + ow];
        }
      }
    }
  }
}

// x is (n, C, H, W), w is (K, C/g, kh, kw), b is (K) or -1, y is (n, K, OH, OW).
// Per sample (or chunk of nb samples side by side) and group:
//   y_g (K/g, nb*OH*OW) = W_g (K/g, C/g*kh*kw) . col_g (C/g*kh*kw, nb*OH*OW)
// with the output pre-filled by the bias so the GEMM accumulates onto it. With deferBias (a max
// pool after it adds the bias, compiler/plan-memory.ts poolReluForward), when that gives the same
// bytes (biasIsLastAdd), y is written without the bias and b is returned for the caller to add
// (no pre-fill, no re-read of the output by the GEMM); otherwise -1 (the bias is in y).
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
  ry = -1,
  deferBias = false,
): number {
  const room = colRoom(c);
  const wp = c.wino ? winoPlanOf(c, room) : undefined;
  if (wp) {
    winogradForward(H, gemm, c, wp, x, w, b, y, col, n, ry);
    return -1;
  }
  const defer = deferBias && b >= 0 && ry < 0 && convExportsOf(H) !== undefined && biasIsLastAdd(c, room);
  convCore(H, gemm, c, 0, room, batchSamples(c, room, n), x, w, defer ? -1 : b, y, col, n, ry);
  return defer ? b : -1;
}

/**
 * Whether the bias add is the last operation on each output of the im2col path of c with `room`
 * floats on the wasm backend (the caller checks that it is): its GEMMs sum each output in one pass
 * (one slice of the wasm GEMM's k blocks, 256, and no chunks of input channels) and add it to the
 * pre-filled bias once. Leaving the GEMM's sum alone and adding the bias after it (b + sum, one
 * rounding) then gives the same bytes. (The TypeScript GEMM accumulates into the output, onto the
 * bias: there the bias stays in the conv.)
 */
function biasIsLastAdd(c: ConvConfig, room: number): boolean {
  const CKK = (c.C / c.groups) * c.kh * c.kw;
  return c.groups === 1 && CKK <= 256 && (convIsPointwise(c) || room >= CKK * c.OH * c.OW);
}

// The Winograd plan of c with `room` floats at col, or undefined (im2col + GEMM).
function winoPlanOf(c: ConvConfig, room: number): WinogradPlan | undefined {
  return winogradApplies(c) ? winogradPlan(c, room) : undefined;
}

// ry[0..len) = max(y[0..len), 0) (runtime/wasm-kernels.ts reluRef; conv.wat's relu on the wasm
// backend: the same bytes)
function reluInto(H: Float32Array, y: number, ry: number, len: number): void {
  const k = convExportsOf(H);
  if (k) {
    checkRange(H, y, y + len, "conv output");
    checkRange(H, ry, ry + len, "conv ReLU output");
    k.relu(y, ry, len);
    return;
  }
  for (let i = 0; i < len; i++) H[ry + i] = Math.max(H[y + i], 0);
}

// The forward convolution with `room` floats at col; with ry >= 0, also ry = max(y, 0) (a ReLU
// tail), applied to each sample's (or chunk's) output right after its GEMM, while it is in cache.
// Group g's weights are at w + g*Kg*CKK, stored (Kg, CKK) when tA = 0 (the layer's weights) or (CKK, Kg) when tA = 1 (the rotated
// weights of the input gradient). Chunks of nb >= 2 samples (at most nbMax) when the room holds
// their columns and the staged output; otherwise one sample at a time, and (tA = 1 only) when
// even one sample's columns do not fit, input channels in chunks whose GEMMs accumulate.
function convCore(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  tA: 0 | 1,
  room: number,
  nbMax: number,
  x: number,
  w: number,
  b: number,
  y: number,
  col: number,
  n: number,
  ry: number,
): void {
  const { C, K, groups, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw } = c;
  const IH = c.H;
  const IW = c.W;
  const HW = IH * IW;
  const OHW = OH * OW;
  const Cg = C / groups;
  const Kg = K / groups;
  const KK = kh * kw;
  const CKK = Cg * KK;
  const direct = convIsPointwise(c);
  const nb = direct ? 1 : Math.min(nbMax, Math.floor(room / (OHW * (CKK + Kg))));
  if (nb >= 2) {
    for (let i0 = 0; i0 < n; i0 += nb) {
      const m = Math.min(nb, n - i0);
      const N = m * OHW;
      const stage = col + CKK * N;
      for (let g = 0; g < groups; g++) {
        for (let j = 0; j < m; j++) im2colRaw(H, x + ((i0 + j) * C + g * Cg) * HW, Cg, IH, IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, col + j * OHW, N);
        if (b >= 0) for (let k = 0; k < Kg; k++) H.fill(H[b + g * Kg + k], stage + k * N, stage + (k + 1) * N);
        gemm(tA, 0, Kg, N, CKK, w + g * Kg * CKK, col, stage, b >= 0 ? 1 : 0);
        for (let j = 0; j < m; j++) {
          const yj = y + ((i0 + j) * K + g * Kg) * OHW;
          for (let k = 0; k < Kg; k++) {
            const s0 = stage + k * N + j * OHW;
            H.copyWithin(yj + k * OHW, s0, s0 + OHW);
          }
        }
      }
      if (ry >= 0) reluInto(H, y + i0 * K * OHW, ry + i0 * K * OHW, m * K * OHW);
    }
    return;
  }
  const Cc = direct ? Cg : Math.min(Cg, Math.floor(room / (KK * OHW)));
  if (!direct && groups === 1 && Cc === Cg) {
    const par = convParallelOf(H);
    if (par && splitPays(par, n * K * OHW * CKK, CKK * OHW)) {
      // samples split between the threads: each sample's im2col + GEMM is the loop below
      // (the same bytes), on the thread that claims it, with that thread's column area
      // (one thread: the same loop in wasm, one chunk, no JavaScript call per sample)
      checkRange(H, x, x + n * C * HW, "conv input");
      checkRange(H, y, y + n * K * OHW, "conv output");
      checkRange(H, w, w + K * CKK, "conv weights");
      checkRange(H, col, col + CKK * OHW, "conv columns");
      if (b >= 0) checkRange(H, b, b + K, "conv bias");
      if (ry >= 0) checkRange(H, ry, ry + n * K * OHW, "conv ReLU output");
      const size = par.threads > 1 ? Math.ceil(n / (2 * par.threads)) : n;
      setConvArgs(par.args, 1, n, x, w, b, y, 0, c, tA, size, ry);
      par.run(Math.ceil(n / size), col);
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const xs = x + i * C * HW;
    const ys = y + i * K * OHW;
    if (b >= 0) for (let k = 0; k < K; k++) H.fill(H[b + k], ys + k * OHW, ys + (k + 1) * OHW);
    for (let g = 0; g < groups; g++) {
      const yg = ys + g * Kg * OHW;
      const wg = w + g * Kg * CKK;
      if (direct) {
        gemm(tA, 0, Kg, OHW, Cg, wg, xs + g * Cg * HW, yg, b >= 0 ? 1 : 0);
        continue;
      }
      for (let c0 = 0; c0 < Cg; c0 += Cc) {
        const cc = Math.min(Cc, Cg - c0);
        im2colRaw(H, xs + (g * Cg + c0) * HW, cc, IH, IW, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, col, OHW);
        gemm(tA, 0, Kg, OHW, cc * KK, wg + c0 * KK * Kg, col, yg, c0 > 0 || b >= 0 ? 1 : 0);
      }
    }
    if (ry >= 0) reluInto(H, ys, ry + i * K * OHW, K * OHW);
  }
}

// The configuration of the input gradient as a forward convolution of dy, filled in place by
// conv2dBackward (so that nothing is allocated per call; kernels do not run concurrently).
const dgradCfg: ConvConfig = { C: 0, H: 0, W: 0, K: 0, kh: 0, kw: 0, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, groups: 1, OH: 0, OW: 0 };

// x is (n, C, H, W), w is (K, C/g, kh, kw), dy is (n, K, OH, OW);
// dx is (n, C, H, W) or -1 (skip), dw is (K, C/g, kh, kw) or -1, db is (K) or -1.
// dx, dw and db are OVERWRITTEN with the gradient of the whole batch (not accumulated into).
//   db = sum over samples of dy_i (K, OHW) . 1 (OHW)
//   dW_g += dy_g (K/g, nb*OHW) . col_g^T (nb*OHW, C/g*kh*kw)   (beta 0 on the first chunk;
//     for nb >= 2, dy_g of the chunk is first staged side by side)
//   stride 1: dx = the forward convolution of dy (K channels, OH x OW) with the rotated weights
//     Wrot_g[(k,a,b), c] = w[k, c, kh-1-a, kw-1-b] (stored (K/g*kh*kw, C/g) per group at col),
//     padding (dh*(kh-1) - ph, dw*(kw-1) - pw), dilation (dh, dw), output H x W;
//   otherwise: dcol_g = W_g^T (C/g*kh*kw, K/g) . dy_g (K/g, nb*OHW), then col2im into dx
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
  const wp = c.wino ? winoPlanOf(c, room) : undefined;
  if (wp) return winogradBackward(H, gemm, c, wp, x, w, dy, dx, dw, col, n);
  if (dw >= 0 && n === 0) H.fill(0, dw, dw + K * CKK);
  const wsz = align16(K * CKK);
  const byCorrelation = dx >= 0 && n > 0 && dgradByCorrelation(c) && room - wsz >= KK * HW;
  if (byCorrelation) {
    for (let g = 0; g < groups; g++)
      for (let k = 0; k < Kg; k++)
        for (let cc = 0; cc < Cg; cc++) {
          const src = w + ((g * Kg + k) * Cg + cc) * KK + KK - 1;
          const dst = col + g * Kg * CKK + k * KK * Cg + cc;
          for (let t = 0; t < KK; t++) H[dst + t * Cg] = H[src - t];
        }
    const t = dgradCfg;
    t.C = K;
    t.H = OH;
    t.W = OW;
    t.K = C;
    t.kh = kh;
    t.kw = kw;
    t.ph = c.dh * (kh - 1) - c.ph;
    t.pw = c.dw * (kw - 1) - c.pw;
    t.dh = c.dh;
    t.dw = c.dw;
    t.groups = groups;
    t.OH = IH;
    t.OW = IW;
    convCore(H, gemm, t, 1, room - wsz, n, dy, col, -1, dx, col + wsz, n, -1);
  }
  const doDx = dx >= 0 && !byCorrelation;
  if (dw < 0 && !doDx) return;
  const nb = batchSamples(c, room, n);
  if (nb >= 2) {
    for (let i0 = 0; i0 < n; i0 += nb) {
      const m = Math.min(nb, n - i0);
      const N = m * OHW;
      const dyT = col + CKK * N;
      for (let g = 0; g < groups; g++) {
        for (let j = 0; j < m; j++)
          for (let k = 0; k < Kg; k++) {
            const s0 = dy + ((i0 + j) * K + g * Kg + k) * OHW;
            H.copyWithin(dyT + k * N + j * OHW, s0, s0 + OHW);
          }
        if (dw >= 0) {
          for (let j = 0; j < m; j++)
            im2colRaw(H, x + ((i0 + j) * C + g * Cg) * HW, Cg, IH, IW, kh, kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, OH, OW, col + j * OHW, N);
          gemm(0, 1, Kg, CKK, N, dyT, col, dw + g * Kg * CKK, i0 > 0 ? 1 : 0);
        }
        if (doDx) {
          gemm(1, 0, CKK, N, Kg, w + g * Kg * CKK, dyT, col, 0);
          for (let j = 0; j < m; j++) {
            const dxg = dx + ((i0 + j) * C + g * Cg) * HW;
            H.fill(0, dxg, dxg + Cg * HW);
            col2imLd(H, c, col + j * OHW, N, Cg, dxg);
          }
        }
      }
    }
    return;
  }
  let dwDone = false;
  if (dw >= 0 && !direct && groups === 1 && n > 0 && C >= 2) {
    const par = convParallelOf(H);
    if (par && splitPays(par, n * K * OHW * CKK, CKK * OHW)) {
      // dW split by input channels: each thread im2cols its channels' rows and computes those
      // columns of dW over all samples in order (the same sums as the loop below)
      checkRange(H, x, x + n * C * HW, "conv input");
      checkRange(H, dy, dy + n * K * OHW, "conv output gradient");
      checkRange(H, dw, dw + K * CKK, "conv weight gradient");
      checkRange(H, col, col + CKK * OHW, "conv columns");
      const size = Math.ceil(C / par.threads);
      setConvArgs(par.args, 2, n, x, w, -1, dw, dy, c, 0, size);
      par.run(Math.ceil(C / size), col);
      dwDone = true;
      if (!doDx) return;
    }
  }
  for (let i = 0; i < n; i++) {
    const xs = x + i * C * HW;
    const dys = dy + i * K * OHW;
    const dxs = dx + i * C * HW;
    for (let g = 0; g < groups; g++) {
      const dyg = dys + g * Kg * OHW;
      const wg = w + g * Kg * CKK;
      if (dw >= 0 && !dwDone) {
        let src = xs + g * Cg * HW;
        if (!direct) {
          im2col(H, c, src, Cg, col);
          src = col;
        }
        gemm(0, 1, Kg, CKK, OHW, dyg, src, dw + g * Kg * CKK, i > 0 ? 1 : 0);
      }
      if (doDx) {
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

/**
 * Whether splitting a convolution of `macs` multiply-adds between the threads pays, and the
 * threads' column areas hold `colFloats`. Measured (bench/conv.mjs --threads 2): the hand-off
 * costs ~10 us, a split conv layer of M2 runs ~1.6-1.9x faster.
 */
function splitPays(par: ConvParallel, macs: number, colFloats: number): boolean {
  if (par.threads === 1) return true; // the loop in wasm on the calling thread: no hand-off to pay
  return macs >= CONV_SPLIT_MIN_MACS && colFloats <= par.colFloats;
}
/** Below this many multiply-adds a convolution stays on the calling thread. */
export const CONV_SPLIT_MIN_MACS = 1 << 20;

// The 24 parameters of conv.wat's conv_chunk (runtime/wasm/conv.wat lists them).
function setConvArgs(
  a: Int32Array,
  kind: number,
  n: number,
  x: number,
  w: number,
  b: number,
  y: number,
  dy: number,
  c: ConvConfig,
  tA: number,
  size: number,
  ry = -1,
): void {
  a[23] = ry;
  a[0] = kind;
  a[1] = n;
  a[2] = x;
  a[3] = w;
  a[4] = b;
  a[5] = y;
  a[6] = dy;
  a[7] = c.C;
  a[8] = c.H;
  a[9] = c.W;
  a[10] = c.K;
  a[11] = c.kh;
  a[12] = c.kw;
  a[13] = c.sh;
  a[14] = c.sw;
  a[15] = c.ph;
  a[16] = c.pw;
  a[17] = c.dh;
  a[18] = c.dw;
  a[19] = c.OH;
  a[20] = c.OW;
  a[21] = tA;
  a[22] = size;
}

// db (K) = sum over the n samples of dy_i (K, S): with room for a column of ones at col, one
// GEMM per sample (K dot products of length S); otherwise a plain loop.
function convBiasGrad(H: Float32Array, gemm: GemmFn, K: number, S: number, dy: number, db: number, col: number, room: number, n: number): void {
  const k = convExportsOf(H);
  if (k && n > 0 && S % 4 === 0 && S <= 2048) {
    // the wasm loop: the same sums as the GEMM's dot products with ones below (gemm.wat's dot
    // path, taken for these S), half the work (no ones, no duplicated edge column)
    checkRange(H, dy, dy + n * K * S, "conv output gradient");
    checkRange(H, db, db + K, "conv bias gradient");
    k.bias_grad(dy, n, K, S, db);
    return;
  }
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
