// 2-D pooling, NCHW, PyTorch semantics (ceil_mode=False):
// - max pooling pads with -inf, stores the argmax of each window as a float flat index
//   ih*W + iw into its input plane (as PyTorch's `indices`), ties go to the FIRST maximum in
//   row-major window order, NaN propagates (a NaN wins, as in PyTorch);
// - average pooling with count_include_pad (PyTorch's default: divide by kh*kw even where the
//   window covers padding) or without it;
// - global average pooling (n, C, H, W) -> (n, C).
// Backward kernels OVERWRITE dx. Windows are small, so these are direct loops (no reference
// duplicate: the PyTorch cases in test/reference/conv_norm are their oracle).

import { checkRange, convExportsOf, convParallelOf } from "../wasm/conv-kernels";

export interface PoolConfig {
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  OH: number;
  OW: number;
  /** average pooling only: count padded cells in the divisor (PyTorch default true) */
  countIncludePad: boolean;
}

type Pair = number | readonly [number, number];
const pair = (p: Pair): [number, number] => (typeof p === "number" ? [p, p] : [p[0], p[1]]);

/** Pool configuration; stride defaults to the kernel; padding is at most half the kernel. */
export function poolConfig(o: { C: number; H: number; W: number; kernel: Pair; stride?: Pair; padding?: Pair; countIncludePad?: boolean }): PoolConfig {
  const [kh, kw] = pair(o.kernel);
  const [sh, sw] = pair(o.stride ?? o.kernel);
  const [ph, pw] = pair(o.padding ?? 0);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`pool2d: padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`);
  const OH = Math.floor((o.H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((o.W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`pool2d: input ${o.H}x${o.W} too small for kernel ${kh}x${kw}`);
  return { C: o.C, H: o.H, W: o.W, kh, kw, sh, sw, ph, pw, OH, OW, countIncludePad: o.countIncludePad ?? true };
}

// x is (n, C, H, W), y is (n, C, OH, OW), idx is (n, C, OH, OW): argmax ih*W+iw as a float.
// relu (2x2 windows, stride 2, no padding only): pool max(x, 0) instead of x (each value as
// E.relu computes it, then the same comparisons: the same bytes as a ReLU sweep followed by the
// pool, without writing the ReLU's output; compiler/plan-memory.ts poolReluForward). bias >= 0
// (the same windows): each value read as bias[channel] + x first (the bias a conv left to it,
// conv2dForward's deferBias: the same single rounding as the conv's).
export function maxPool2dForward(H: Float32Array, c: PoolConfig, x: number, y: number, idx: number, n: number, relu = false, bias = -1): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, OH, OW } = c;
  const is2x2 = kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0;
  if ((relu || bias >= 0) && !is2x2) throw new Error("maxPool2dForward: relu and bias need a 2x2 window, stride 2, no padding");
  if (is2x2) {
    const k = convExportsOf(H);
    if (k) {
      // the same comparisons in wasm (runtime/wasm/conv.wat): same bytes
      const planes = n * c.C;
      checkRange(H, x, x + planes * IH * IW, "max pool input");
      checkRange(H, y, y + planes * OH * OW, "max pool output");
      checkRange(H, idx, idx + planes * OH * OW, "max pool indices");
      if (bias >= 0) checkRange(H, bias, bias + c.C, "max pool bias");
      if (!poolSplit(H, 3, planes, x, y, idx, IH, IW, OH, OW, relu ? 1 : 0, bias, c.C))
        k.maxpool2x2(x, y, idx, planes, IH, IW, OH, OW, relu ? 1 : 0, bias, c.C, 0);
      return;
    }
    maxPool2x2Forward(H, IH, IW, OH, OW, x, y, idx, n * c.C, relu, bias, c.C);
    return;
  }
  const HW = IH * IW;
  const OHW = OH * OW;
  const planes = n * c.C;
  for (let p = 0; p < planes; p++) {
    const xp = x + p * HW;
    const yp = y + p * OHW;
    const ip = idx + p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(oh * sh - ph, 0);
      const h1 = Math.min(oh * sh - ph + kh, IH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(ow * sw - pw, 0);
        const w1 = Math.min(ow * sw - pw + kw, IW);
        let m = -Infinity;
        let mi = h0 * IW + w0;
        for (let ih = h0; ih < h1; ih++)
          for (let iw = w0; iw < w1; iw++) {
            const v = H[xp + ih * IW + iw];
            if (v > m || v !== v) {
              m = v;
              mi = ih * IW + iw;
            }
          }
        H[yp + oh * OW + ow] = m;
        H[ip + oh * OW + ow] = mi;
      }
    }
  }
}

// The common 2x2 window, stride 2, no padding. On random data the general loop's comparisons
// are unpredictable branches (~17 ns a window); here the winner of each row and then of the two
// rows is picked by arithmetic on comparison results (+(b > a)), which V8 compiles without
// branches (bench/conv.mjs: pool1 3.4 -> 1.6 ms at batch 64). Ties go to the top row, then the
// left column: the first maximum in row-major order, as in the general loop. A window with a
// NaN takes the general rule (the last NaN wins). relu: every value read as max(v, 0) (E.relu);
// bias >= 0: first as bias[(c0 + p) % C] + v for plane p.
export function maxPool2x2Forward(
  H: Float32Array,
  IH: number,
  IW: number,
  OH: number,
  OW: number,
  x: number,
  y: number,
  idx: number,
  planes: number,
  relu = false,
  bias = -1,
  C = 1,
  c0 = 0,
): void {
  // max(v, -Infinity) is v (-0 and NaN included)
  const floor = relu ? 0 : -Infinity;
  const mod = relu || bias >= 0;
  const HW = IH * IW;
  const OHW = OH * OW;
  const f = Math.fround;
  for (let p = 0; p < planes; p++) {
    const xp = x + p * HW;
    // each cell's value: (bias +) x, then max(., floor)
    const hasb = bias >= 0;
    const bv = hasb ? H[bias + ((c0 + p) % C)] : 0;
    let o = p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const i0 = 2 * oh * IW;
      const r0 = xp + i0;
      const r1 = r0 + IW;
      for (let ow = 0, j = 0; ow < OW; ow++, j += 2, o++) {
        const a = mod ? Math.max(hasb ? f(bv + H[r0 + j]) : H[r0 + j], floor) : H[r0 + j];
        const b = mod ? Math.max(hasb ? f(bv + H[r0 + j + 1]) : H[r0 + j + 1], floor) : H[r0 + j + 1];
        const c = mod ? Math.max(hasb ? f(bv + H[r1 + j]) : H[r1 + j], floor) : H[r1 + j];
        const d = mod ? Math.max(hasb ? f(bv + H[r1 + j + 1]) : H[r1 + j + 1], floor) : H[r1 + j + 1];
        let mi: number;
        if (a !== a || b !== b || c !== c || d !== d) {
          mi = d !== d ? i0 + IW + j + 1 : c !== c ? i0 + IW + j : b !== b ? i0 + j + 1 : i0 + j;
        } else {
          const t = +(b > a);
          const u = +(d > c);
          const s = +((u ? d : c) > (t ? b : a));
          mi = i0 + j + t + s * (IW + u - t);
        }
        // (as read: a NaN keeps its bits when neither relu nor bias changes the values)
        H[y + o] = mod ? Math.max(hasb ? f(bv + H[xp + mi]) : H[xp + mi], floor) : H[xp + mi];
        H[idx + o] = mi;
      }
    }
  }
}

/** Below this many input floats a 2x2 max pool stays on the calling thread. */
export const POOL_SPLIT_MIN_FLOATS = 1 << 16;

/**
 * The 2x2 max pool forward (kind 3: a = x, b = y, c = idx, yp = relu 0 or 1, bias, C) or
 * backward (kind 4: a = dy, b = idx, c = dx, yp = the pool's output for the ReLU mask or -1)
 * split by planes between the wasm backend's threads (conv.wat conv_chunk): after a
 * convolution split by samples, half of its output is in the other core's cache, and the pool on
 * one thread waited on it. Each plane is pooled on its own: the same bytes. False (nothing done)
 * when there is one thread or the pool is small.
 */
function poolSplit(
  H: Float32Array,
  kind: 3 | 4,
  planes: number,
  a: number,
  b: number,
  c: number,
  IH: number,
  IW: number,
  OH: number,
  OW: number,
  yp = -1,
  bias = -1,
  C = 1,
): boolean {
  const par = convParallelOf(H);
  if (!par || par.threads < 2 || planes * IH * IW < POOL_SPLIT_MIN_FLOATS) return false;
  const size = Math.ceil(planes / (2 * par.threads));
  const g = par.args;
  g[0] = kind;
  g[1] = planes;
  g[2] = a;
  g[3] = b;
  g[4] = c;
  g[5] = yp;
  g[6] = bias;
  g[7] = C;
  g[8] = IH;
  g[9] = IW;
  g[19] = OH;
  g[20] = OW;
  g[22] = size;
  par.run(Math.ceil(planes / size), 0);
  return true;
}

// dy is (n, C, OH, OW), idx from the forward, dx is (n, C, H, W) (overwritten; overlapping
// windows that pick the same cell add up). With yp >= 0 (the pool's output y, its input being a
// ReLU's output), dx is also multiplied by the ReLU's derivative, which at a window's argmax cell
// is (y > 0 ? 1 : 0) and elsewhere multiplies a 0: the same bytes as this backward followed by the
// ReLU backward dx *= (z > 0 ? 1 : 0) over dx (compiler/plan-memory.ts poolReluFusions).
export function maxPool2dBackward(H: Float32Array, c: PoolConfig, dy: number, idx: number, dx: number, n: number, yp = -1): void {
  const HW = c.H * c.W;
  const OHW = c.OH * c.OW;
  const planes = n * c.C;
  const k = convExportsOf(H);
  const is2x2 = c.kh === 2 && c.kw === 2 && c.sh === 2 && c.sw === 2 && c.ph === 0 && c.pw === 0;
  if (k) {
    // the same adds in the same order in wasm (runtime/wasm/conv.wat); the indices come from
    // the forward, so they lie inside each plane
    checkRange(H, dy, dy + planes * OHW, "max pool gradient");
    checkRange(H, idx, idx + planes * OHW, "max pool indices");
    checkRange(H, dx, dx + planes * HW, "max pool input gradient");
    if (yp >= 0) checkRange(H, yp, yp + planes * OHW, "max pool output");
    if (is2x2) {
      if (!poolSplit(H, 4, planes, dy, idx, dx, c.H, c.W, c.OH, c.OW, yp)) k.maxpool2x2_backward(dy, idx, dx, planes, c.H, c.W, c.OH, c.OW, yp);
      return;
    }
    k.maxpool_backward(dy, idx, dx, planes, HW, OHW);
  } else maxPool2dBackwardTs(H, HW, OHW, planes, dy, idx, dx);
  if (yp >= 0) maskByPooled(H, HW, OHW, planes, idx, dx, yp);
}

// dx[argmax] *= (y > 0 ? 1 : 0) for every window (a cell picked by two windows is multiplied by
// the same factor twice: the same value, as the factor is 0 or 1).
function maskByPooled(H: Float32Array, HW: number, OHW: number, planes: number, idx: number, dx: number, yp: number): void {
  for (let p = 0; p < planes; p++)
    for (let j = 0; j < OHW; j++) {
      const cell = dx + p * HW + H[idx + p * OHW + j];
      H[cell] = H[cell] * (H[yp + p * OHW + j] > 0 ? 1 : 0);
    }
}

/** maxPool2dBackward in TypeScript over `planes` planes (the reference of the wasm loop). */
export function maxPool2dBackwardTs(H: Float32Array, HW: number, OHW: number, planes: number, dy: number, idx: number, dx: number): void {
  H.fill(0, dx, dx + planes * HW);
  for (let p = 0; p < planes; p++) {
    const dxp = dx + p * HW;
    const o = p * OHW;
    for (let j = 0; j < OHW; j++) H[dxp + H[idx + o + j]] += H[dy + o + j];
  }
}

// Divisor of the window at (oh, ow), as PyTorch's avg_pool2d computes it.
function avgDivisor(c: PoolConfig, oh: number, ow: number): number {
  let h0 = oh * c.sh - c.ph;
  let w0 = ow * c.sw - c.pw;
  let h1 = Math.min(h0 + c.kh, c.H + c.ph);
  let w1 = Math.min(w0 + c.kw, c.W + c.pw);
  if (c.countIncludePad) return (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, c.H);
  w1 = Math.min(w1, c.W);
  return (h1 - h0) * (w1 - w0);
}

// x is (n, C, H, W), y is (n, C, OH, OW).
export function avgPool2dForward(H: Float32Array, c: PoolConfig, x: number, y: number, n: number): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, OH, OW } = c;
  const HW = IH * IW;
  const OHW = OH * OW;
  const planes = n * c.C;
  for (let p = 0; p < planes; p++) {
    const xp = x + p * HW;
    const yp = y + p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(oh * sh - ph, 0);
      const h1 = Math.min(oh * sh - ph + kh, IH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(ow * sw - pw, 0);
        const w1 = Math.min(ow * sw - pw + kw, IW);
        let s = 0;
        for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) s += H[xp + ih * IW + iw];
        H[yp + oh * OW + ow] = s / avgDivisor(c, oh, ow);
      }
    }
  }
}

// dy is (n, C, OH, OW), dx is (n, C, H, W) (overwritten).
export function avgPool2dBackward(H: Float32Array, c: PoolConfig, dy: number, dx: number, n: number): void {
  const { H: IH, W: IW, kh, kw, sh, sw, ph, pw, OH, OW } = c;
  const HW = IH * IW;
  const OHW = OH * OW;
  const planes = n * c.C;
  H.fill(0, dx, dx + planes * HW);
  for (let p = 0; p < planes; p++) {
    const dxp = dx + p * HW;
    const dyp = dy + p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(oh * sh - ph, 0);
      const h1 = Math.min(oh * sh - ph + kh, IH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(ow * sw - pw, 0);
        const w1 = Math.min(ow * sw - pw + kw, IW);
        const d = H[dyp + oh * OW + ow] / avgDivisor(c, oh, ow);
        for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) H[dxp + ih * IW + iw] += d;
      }
    }
  }
}

// x is (n, C, H, W), y is (n, C): the mean of each plane.
export function globalAvgPoolForward(H: Float32Array, c: { C: number; H: number; W: number }, x: number, y: number, n: number): void {
  const S = c.H * c.W;
  const planes = n * c.C;
  for (let p = 0; p < planes; p++) {
    let s = 0;
    const b = x + p * S;
    for (let j = 0; j < S; j++) s += H[b + j];
    H[y + p] = s / S;
  }
}

// dy is (n, C), dx is (n, C, H, W) (overwritten): dy / (H*W) spread over each plane.
export function globalAvgPoolBackward(H: Float32Array, c: { C: number; H: number; W: number }, dy: number, dx: number, n: number): void {
  const S = c.H * c.W;
  const planes = n * c.C;
  for (let p = 0; p < planes; p++) H.fill(H[dy + p] / S, dx + p * S, dx + (p + 1) * S);
}
