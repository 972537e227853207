// Kernels that the stock @tensorflow/tfjs-backend-wasm 4.22 lacks for training the benchmark's
// CNNs (M2, M4), registered for the 'wasm' backend in plain JavaScript on top of the backend's
// heap, so that the tfjs-wasm peer can train them at all. The bench labels the system
// "tfjs-wasm (+JS Conv2DBackpropFilter)" when this is used.
//
// Missing in 4.22 (found by the error model.fit throws): Conv2DBackpropFilter, the weight gradient
// of conv2d. Everything else M2/M4 need (Conv2D, Conv2DBackpropInput, MaxPool, MaxPoolGrad,
// FusedBatchNorm, ...) is in the stock backend.
//
// The loop is a straightforward direct convolution, no im2col, no SIMD, no blocking: for each
// filter element, one dot product over the batch and the output pixels, four output channels at a
// time (each x value loaded once per four multiply-adds, sums in registers). Measured on the M2
// shapes (loaded 2-core machine): 1.5-1.8 GFLOP/s, against 0.6 for the rank-1-update order and
// 1.4-1.8 for the stock backend's own Conv2DBackpropInput in WebAssembly.

/** The kernels this module adds (names as tfjs-core spells them). */
export const ADDED_KERNELS = ["Conv2DBackpropFilter"];

/**
 * dW = conv2d weight gradient.
 *   x is (B, inH, inW, inC) [channelsLast] or (B, inC, inH, inW) [channelsFirst]
 *   dy is (B, outH, outW, outC) or (B, outC, outH, outW)
 *   dW is (fh, fw, inC, outC) (tfjs's filter layout, both data formats)
 * dW[wR, wC, d1, d2] = sum over b, yR, yC of x[b, yR*sH + wR - top, yC*sW + wC - left, d1] * dy[b, yR, yC, d2]
 * (terms whose x index falls in the padding are zero). Sums in float64, stored as float32.
 * @param {any} tf the @tensorflow/tfjs-core module
 */
export function conv2DBackpropFilterWasm(tf) {
  const { backend_util } = tf;
  return function conv2DBackpropFilter({ inputs, backend, attrs }) {
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
    const info = backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
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
            let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
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
 */
export function registerMissingWasmKernels(tf) {
  const added = [];
  if (!tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    tf.registerKernel({ kernelName: "Conv2DBackpropFilter", backendName: "wasm", kernelFunc: conv2DBackpropFilterWasm(tf) });
    added.push("Conv2DBackpropFilter");
  }
  return added;
}
