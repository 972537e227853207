// The kernel that the stock @tensorflow/tfjs-backend-wasm 4.22 lacks for training the benchmark's
// CNNs (M2, M4): Conv2DBackpropFilter, the weight gradient of conv2d (found by the error model.fit
// throws; everything else M2/M4 need, Conv2D, Conv2DBackpropInput, MaxPool, MaxPoolGrad,
// FusedBatchNorm, ..., is in the stock backend). Registered for the 'wasm' backend so that the
// tfjs-wasm peer can train them, and built as an expert patching tfjs would build it: out of the
// backend's own XNNPACK matrix multiply, so that the peer is not handicapped by a slow add-on.
// The bench labels the system "tfjs-wasm (+Conv2DBackpropFilter from its own kernels)"
// ("tfjs-wasm (+JS Conv2DBackpropFilter)" with the plain loop, `--filter-grad js` in peers/tfjs.mjs).
//
// Two routes, one kernel:
// - matmul (default): im2col on a zero-padded grid, then ONE call of the backend's BatchMatMul
//   kernel (XNNPACK fully-connected: its fast path is taken only for batch 1 without transposes,
//   so the operands are laid out for that). The padded grid makes im2col a set of contiguous
//   copies: x is written once, channel-major, into a grid of B images of Hg x Wg cells with the
//   padding as zero cells, and dy is written pixel-major into the same grid (zeros off its OH x OW
//   corner); then filter element (wR, wC) is the grid shifted by wR*Wg + wC, so row (wR, wC, c) of
//   the column matrix is one memmove of x's channel c, and
//     dW[(wR, wC, c), k] = sum over grid cells p of xg[c][p + wR*Wg + wC] * dyg[p][k]
//   is exactly tfjs's filter layout (fh, fw, inC, outC): no transpose afterwards. The cost is a
//   contraction over the grid's cells instead of B*OH*OW (+7% at 28x28, +15% at 14x14, +31% at
//   7x7 for 3x3 "same"; s^2 times more for stride s, where dy is placed on every s-th cell).
// - loop: the plain-JavaScript direct convolution this file started with, kept as the reference
//   and as the fallback for configurations the matmul route does not cover: a grid of more than
//   128 MiB (none in the bench), or windows that would wrap onto data (a guard: with tfjs's output
//   sizes they always land on zero cells, for any stride and padding).
// Measured on one core of the shared 2-core machine (CPU time, fresh x and dy every call as in
// training; the backend caches XNNPACK's packed weights by tensor id, so reusing dy would hide the
// packing): M2 conv1 (64x28x28x1 -> 16) 3.7 ms, conv2 (64x14x14x16 -> 32) 7.1 ms (16 GFLOP/s),
// against 7.9 and 74 ms for the loop (1.6-1.8 GFLOP/s). Also measured and not kept: the
// convolution identity (Transpose x to [C, H, W, B], dy to [OH, OW, B, K] as the filter, the
// backend's Conv2D, Transpose back): 8.4 / 7.9 ms on M2 (XNNPACK repacks a 28x28 "filter"), ties
// on M4's 14x14 and 7x7 layers; im2col in the usual per-element JS loop + matMul: 4.4 / 10.3 ms;
// the [N, R] im2col with matMul(transposeA): 16 / 69 ms (off XNNPACK's path); BatchMatMul with a
// batch of contraction chunks: 2.6 GFLOP/s (off the path too).

/** The kernels this module adds (names as tfjs-core spells them). */
export const ADDED_KERNELS = ["Conv2DBackpropFilter"];

/** Grids of more floats than this (x's grid, the column matrix and dy's grid together) take the loop. */
const MAX_GRID_FLOATS = 1 << 25; // 128 MiB of heap

/** The conv geometry of a Conv2DBackpropFilter call (tfjs's Conv2DInfo). */
function convInfo(tf, xShape, attrs) {
  const { backend_util } = tf;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  return backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, backend_util.convertConv2DDataFormat(dataFormat));
}

/**
 * The grid of the matmul route for a conv geometry, or null when the route does not cover it.
 * x value (b, r, c) sits at cell b*Hg*Wg + (r + top)*Wg + (c + left); dy value (b, yR, yC) at
 * cell b*Hg*Wg + yR*sH*Wg + yC*sW. A window cell past the right edge of a row lands on the next
 * row's first `left` cells, past the last row on the next image's first `top` rows: zero cells, as
 * long as the farthest reach, (OH-1)*sH + FH-1 rows and (OW-1)*sW + FW-1 columns, stays below
 * Hg + top and Wg + left.
 * @param {any} info tfjs's Conv2DInfo
 */
export function matmulGrid(info) {
  const { batchSize: B, inHeight: inH, inWidth: inW, inChannels: C, outHeight: OH, outWidth: OW, outChannels: K } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sH, strideWidth: sW } = info;
  const { top, bottom, left, right } = info.padInfo;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const Hg = Math.max(inH + Math.max(top, bottom), (OH - 1) * sH + 1);
  const Wg = Math.max(inW + Math.max(left, right), (OW - 1) * sW + 1);
  if ((OH - 1) * sH + FH - 1 >= Hg + top || (OW - 1) * sW + FW - 1 >= Wg + left) return null;
  const cells = B * Hg * Wg;
  const tail = (FH - 1) * Wg + FW - 1; // zero cells after the last image, reached by the last windows
  const R = FH * FW * C;
  if (C * (cells + tail) + R * cells + cells * K > MAX_GRID_FLOATS) return null;
  return { Hg, Wg, cells, tail, R };
}

/**
 * Which route the kernel takes for this call: "matmul" or "loop".
 * @param {any} tf the @tensorflow/tfjs-core module
 * @param {number[]} xShape
 * @param {any} attrs the kernel's attributes (strides, pad, dataFormat, dimRoundingMode, filterShape)
 */
export function conv2DBackpropFilterRoute(tf, xShape, attrs) {
  return matmulGrid(convInfo(tf, xShape, attrs)) ? "matmul" : "loop";
}

/**
 * dW = conv2d weight gradient, through the backend's own BatchMatMul (see the file's head).
 *   x is (B, inH, inW, inC) [channelsLast] or (B, inC, inH, inW) [channelsFirst]
 *   dy is (B, outH, outW, outC) or (B, outC, outH, outW)
 *   dW is (fh, fw, inC, outC) (tfjs's filter layout, both data formats)
 * Sums in float32 (XNNPACK's). Configurations the grid does not cover go to the loop.
 * @param {any} tf the @tensorflow/tfjs-core module
 */
export function conv2DBackpropFilterMatMul(tf) {
  const loop = conv2DBackpropFilterLoop(tf);
  const batchMatMul = tf.getKernel("BatchMatMul", "wasm").kernelFunc;
  return function conv2DBackpropFilter(args) {
    const { inputs, backend, attrs } = args;
    const { x, dy } = inputs;
    const info = convInfo(tf, x.shape, attrs);
    const grid = matmulGrid(info);
    if (!grid) return loop(args);
    const { batchSize: B, inHeight: inH, inWidth: inW, inChannels: C, outHeight: OH, outWidth: OW, outChannels: K } = info;
    const { filterHeight: FH, filterWidth: FW, strideHeight: sH, strideWidth: sW } = info;
    const { top, left } = info.padInfo;
    const { Hg, Wg, cells, tail, R } = grid;
    const last = info.dataFormat === "channelsLast";
    const nx = cells + tail;
    const xg = backend.makeOutput([C, nx], "float32"); // x on the grid, one row of cells per channel
    const cols = backend.makeOutput([1, R, cells], "float32"); // row (wR, wC, c): xg[c] shifted
    const dyg = backend.makeOutput([1, cells, K], "float32"); // dy on the grid, pixel-major
    // one view of the whole heap, taken after the allocations (growing the memory replaces it)
    const H = backend.wasm.HEAPF32;
    const at = (t) => backend.dataIdMap.get(t.dataId).memoryOffset >> 2;
    const X = at(x),
      DY = at(dy),
      XG = at(xg),
      CO = at(cols),
      DG = at(dyg);
    // element strides of x and dy: batch, row, column, channel
    const [xB, xR, xC, xCh] = last ? [inH * inW * C, inW * C, C, 1] : [C * inH * inW, inW, 1, inH * inW];
    const img = Hg * Wg;
    H.fill(0, XG, XG + C * nx);
    for (let c = 0; c < C; c++) {
      for (let b = 0; b < B; b++) {
        for (let r = 0; r < inH; r++) {
          let o = XG + c * nx + b * img + (r + top) * Wg + left;
          let i = X + b * xB + r * xR + c * xCh;
          for (let col = 0; col < inW; col++, i += xC) H[o++] = H[i];
        }
      }
    }
    for (let wR = 0; wR < FH; wR++) {
      for (let wC = 0; wC < FW; wC++) {
        for (let c = 0; c < C; c++) {
          const src = XG + c * nx + wR * Wg + wC;
          H.copyWithin(CO + ((wR * FW + wC) * C + c) * cells, src, src + cells);
        }
      }
    }
    backend.disposeData(xg.dataId);
    H.fill(0, DG, DG + cells * K);
    if (last && sW === 1) {
      for (let b = 0; b < B; b++) {
        for (let yR = 0; yR < OH; yR++) {
          const s = DY + (b * OH + yR) * OW * K; // a row of dy: OW pixels of K channels, contiguous
          H.copyWithin(DG + (b * img + yR * sH * Wg) * K, s, s + OW * K);
        }
      }
    } else {
      const [yB, yRs, yCs, yCh] = last ? [OH * OW * K, OW * K, K, 1] : [K * OH * OW, OW, 1, OH * OW];
      for (let b = 0; b < B; b++) {
        for (let yR = 0; yR < OH; yR++) {
          for (let k = 0; k < K; k++) {
            let i = DY + b * yB + yR * yRs + k * yCh;
            let o = DG + (b * img + yR * sH * Wg) * K + k;
            for (let yC = 0; yC < OW; yC++, i += yCs, o += sW * K) H[o] = H[i];
          }
        }
      }
    }
    const out = batchMatMul({ inputs: { a: cols, b: dyg }, backend, attrs: { transposeA: false, transposeB: false } });
    backend.disposeData(cols.dataId);
    backend.disposeData(dyg.dataId); // also drops XNNPACK's operator (and packed copy) keyed by dyg
    out.shape = [FH, FW, C, K]; // [1, (fh, fw, inC), outC] is already tfjs's filter layout
    return out;
  };
}

/**
 * dW = conv2d weight gradient, plain JavaScript loops on the backend's heap (the reference, and
 * the fallback of the matmul route). Shapes as in conv2DBackpropFilterMatMul.
 * dW[wR, wC, d1, d2] = sum over b, yR, yC of x[b, yR*sH + wR - top, yC*sW + wC - left, d1] * dy[b, yR, yC, d2]
 * (terms whose x index falls in the padding are zero). Sums in float64, stored as float32.
 * A straightforward direct convolution, no im2col, no SIMD, no blocking: for each filter element,
 * one dot product over the batch and the output pixels, four output channels at a time (each x
 * value loaded once per four multiply-adds, sums in registers); 1.5-1.8 GFLOP/s on M2's shapes,
 * against 0.6 for the rank-1-update order.
 * @param {any} tf the @tensorflow/tfjs-core module
 */
export function conv2DBackpropFilterLoop(tf) {
  return function conv2DBackpropFilter({ inputs, backend, attrs }) {
    const { x, dy } = inputs;
    const info = convInfo(tf, x.shape, attrs);
    const { batchSize: B, inHeight: inH, inWidth: inW, inChannels: C, outHeight: OH, outWidth: OW, outChannels: K } = info;
    const { filterHeight: FH, filterWidth: FW, strideHeight: sH, strideWidth: sW } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const last = info.dataFormat === "channelsLast";
    // element strides of x and dy: batch, row, column, channel
    const xs = last ? [inH * inW * C, inW * C, C, 1] : [C * inH * inW, inW, 1, inH * inW];
    const ys = last ? [OH * OW * K, OW * K, K, 1] : [K * OH * OW, OW, 1, OH * OW];
    const out = backend.makeOutput(info.filterShape, "float32");
    // views after makeOutput: allocating may grow (and so replace) the WebAssembly memory
    const X = backend.typedArrayFromHeap(x);
    const DY = backend.typedArrayFromHeap(dy);
    const DW = backend.typedArrayFromHeap(out);
    // one dot product over (b, yR, yC) per filter element, four output channels at a time so
    // that each x value is loaded once per four multiply-adds; sums in float64 registers
    const [xB, xRs, xCs, xCh] = xs;
    const [yB, yRs, yCs, yCh] = ys;
    for (let wR = 0; wR < FH; wR++) {
      const r0 = Math.max(0, Math.ceil((top - wR) / sH));
      const r1 = Math.min(OH, Math.floor((inH - 1 + top - wR) / sH) + 1);
      for (let wC = 0; wC < FW; wC++) {
        const c0 = Math.max(0, Math.ceil((left - wC) / sW));
        const c1 = Math.min(OW, Math.floor((inW - 1 + left - wC) / sW) + 1);
        for (let d1 = 0; d1 < C; d1++) {
          const w0 = ((wR * FW + wC) * C + d1) * K;
          for (let d2 = 0; d2 < K; d2 += 4) {
            const m = Math.min(4, K - d2);
            let a0 = 0,
              a1 = 0,
              a2 = 0,
              a3 = 0;
            for (let b = 0; b < B; b++) {
              for (let yR = r0; yR < r1; yR++) {
                let xi = b * xB + (yR * sH + wR - top) * xRs + (c0 * sW + wC - left) * xCs + d1 * xCh;
                let yi = b * yB + yR * yRs + c0 * yCs + d2 * yCh;
                const xStep = sW * xCs;
                if (m === 4) {
                  for (let yC = c0; yC < c1; yC++, xi += xStep, yi += yCs) {
                    const xv = X[xi];
                    a0 += xv * DY[yi];
                    a1 += xv * DY[yi + yCh];
                    a2 += xv * DY[yi + 2 * yCh];
                    a3 += xv * DY[yi + 3 * yCh];
                  }
                } else {
                  for (let yC = c0; yC < c1; yC++, xi += xStep, yi += yCs) {
                    const xv = X[xi];
                    a0 += xv * DY[yi];
                    if (m > 1) a1 += xv * DY[yi + yCh];
                    if (m > 2) a2 += xv * DY[yi + 2 * yCh];
                  }
                }
              }
            }
            DW[w0 + d2] = a0;
            if (m > 1) DW[w0 + d2 + 1] = a1;
            if (m > 2) DW[w0 + d2 + 2] = a2;
            if (m > 3) DW[w0 + d2 + 3] = a3;
          }
        }
      }
    }
    return out;
  };
}

/**
 * Registers the missing kernels for the 'wasm' backend (once; kernels already registered, e.g. by
 * a newer tfjs-backend-wasm, are left alone). Returns the names it registered.
 * @param {any} tf the @tensorflow/tfjs-core module
 * @param {{ filterGrad?: "matmul" | "js" }} [opts] "js": the plain loop for every call (the
 *   handicapped peer the bench used before; for before/after comparisons)
 */
export function registerMissingWasmKernels(tf, opts = {}) {
  const added = [];
  if (!tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    const make = opts.filterGrad === "js" ? conv2DBackpropFilterLoop : conv2DBackpropFilterMatMul;
    // built lazily: BatchMatMul's kernel is registered by the backend module, which may load later
    let kernel = null;
    const kernelFunc = (args) => (kernel ??= make(tf))(args);
    tf.registerKernel({ kernelName: "Conv2DBackpropFilter", backendName: "wasm", kernelFunc });
    added.push("Conv2DBackpropFilter");
  }
  return added;
}
