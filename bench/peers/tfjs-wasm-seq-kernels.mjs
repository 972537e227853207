// The kernel the stock @tensorflow/tfjs-backend-wasm 4.22 lacks for training an embedding layer:
// UnsortedSegmentSum (the gradient of Gather, which layers.embedding's lookup is). Found by the
// error trainOnBatch throws ("Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'").
// Registered for 'wasm' as an expert patching tfjs would write it: one pass that adds each row of
// x into its segment's row of the output (O(rows * width), the work of the scatter itself).
// The sequence peer (peers/tfjs-seq.mjs) labels its rows "+UnsortedSegmentSum".

/**
 * UnsortedSegmentSum on the wasm backend: out[s, ...] = sum of x[i, ...] over i with ids[i] = s
 * (ids outside [0, numSegments) are dropped, as tfjs's CPU kernel does).
 * @param {any} tf the @tensorflow/tfjs-core module
 */
export function unsortedSegmentSumWasm(tf) {
  return function unsortedSegmentSum({ inputs, backend, attrs }) {
    const { x, segmentIds } = inputs;
    const S = attrs.numSegments;
    const rank = segmentIds.shape.length;
    const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(rank);
    const width = inner.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput([S, ...inner], "float32");
    // views after makeOutput: allocating may grow (and so replace) the WebAssembly memory
    const X = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    const O = backend.typedArrayFromHeap(out);
    O.fill(0);
    for (let i = 0; i < rows; i++) {
      const s = ids[i];
      if (!(s >= 0 && s < S)) continue;
      const o = s * width;
      const r = i * width;
      for (let j = 0; j < width; j++) O[o + j] += X[r + j];
    }
    return out;
  };
}

/**
 * Registers the missing sequence kernels for the 'wasm' backend (kernels already registered are
 * left alone); returns the names it registered.
 * @param {any} tf the @tensorflow/tfjs-core module
 */
export function registerSequenceWasmKernels(tf) {
  const added = [];
  if (!tf.getKernel("UnsortedSegmentSum", "wasm")) {
    tf.registerKernel({ kernelName: "UnsortedSegmentSum", backendName: "wasm", kernelFunc: unsortedSegmentSumWasm(tf) });
    added.push("UnsortedSegmentSum");
  }
  return added;
}
