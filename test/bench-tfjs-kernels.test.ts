// The Conv2DBackpropFilter kernel the bench adds to tfjs-backend-wasm (bench/peers/tfjs-wasm-kernels.mjs),
// both routes (the backend's own BatchMatMul on a padded-grid im2col, and the plain-JS loop it
// falls back to), against tfjs-backend-cpu's own kernel: on every conv layer of the bench models
// (M2, M4, full and last partial batch), odd sizes, stride 2, valid and explicit padding,
// channelsFirst, rectangular filters; through tf.grad of a conv layer; and without leaking memory.
import { beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import {
  ADDED_KERNELS,
  conv2DBackpropFilterLoop,
  conv2DBackpropFilterMatMul,
  conv2DBackpropFilterRoute,
  registerMissingWasmKernels,
} from "../bench/peers/tfjs-wasm-kernels.mjs";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
type Case = {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dataFormat: "NHWC" | "NCHW";
};
type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type WasmBackend = { readSync(id: object): Float32Array; disposeData(id: object): boolean; wasm: { HEAPU8: Uint8Array } };

// deterministic values in [-1, 1) with some exact zeros (as after a ReLU)
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 32;
    a[i] = v < 0.2 ? 0 : v * 2 - 1;
  }
  return a;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const attrsOf = (c: Case) => ({ strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, filterShape: c.filter });

function geometry(c: Case) {
  const cl = c.dataFormat === "NHWC";
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, false, cl ? "channelsLast" : "channelsFirst");
  const dy = cl ? [info.batchSize, info.outHeight, info.outWidth, info.outChannels] : [info.batchSize, info.outChannels, info.outHeight, info.outWidth];
  return { info, dy };
}

/** The case's dW on a backend: "cpu" (tfjs-cpu's kernel, the oracle) or one route on wasm. */
async function runOn(where: "cpu" | "matmul" | "loop", c: Case, seed: number): Promise<{ dw: Float32Array; shape: number[] }> {
  await tf.setBackend(where === "cpu" ? "cpu" : "wasm");
  const { dy: dyShape } = geometry(c);
  const x = tf.tensor(values(size(c.x), seed), c.x, "float32");
  const dy = tf.tensor(values(size(dyShape), seed + 1), dyShape, "float32");
  if (where === "cpu") {
    const out = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrsOf(c)) as tf.Tensor;
    const dw = Float32Array.from(out.dataSync() as Float32Array);
    const shape = out.shape;
    tf.dispose([x, dy, out]);
    return { dw, shape };
  }
  const backend = tf.backend() as unknown as WasmBackend;
  const kernel = where === "matmul" ? conv2DBackpropFilterMatMul(tf) : conv2DBackpropFilterLoop(tf);
  const out = kernel({ inputs: { x, dy }, backend, attrs: attrsOf(c) }) as TensorInfo;
  const dw = Float32Array.from(backend.readSync(out.dataId));
  backend.disposeData(out.dataId);
  tf.dispose([x, dy]);
  return { dw, shape: out.shape };
}

/**
 * The definition, in float64: dW[wR, wC, c, k] = sum over b, yR, yC of
 * x[b, yR*sH + wR - top, yC*sW + wC - left, c] * dy[b, yR, yC, k] (terms in the padding are zero),
 * and for each element the sum of |x * dy| over its terms: the scale of a float32 sum's rounding
 * error, so that the tolerance suits long sums (M2's first layer sums 50,176 terms) and still
 * catches a misplaced term (of the order of one term, against sums of thousands).
 * tfjs-cpu's kernel is checked against it where it is fast enough (it takes 13 s for M2's conv2).
 */
function reference(c: Case, seed: number): { dw: Float64Array; scale: Float64Array } {
  const { info } = geometry(c);
  const { batchSize: B, inHeight: inH, inWidth: inW, inChannels: C, outHeight: OH, outWidth: OW, outChannels: K } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sH, strideWidth: sW } = info;
  const { top, left } = info.padInfo;
  const cl = c.dataFormat === "NHWC";
  const X = values(size(c.x), seed);
  const DY = values(B * OH * OW * K, seed + 1);
  // element strides of x and dy: batch, row, column, channel
  const [xB, xR, xC, xCh] = cl ? [inH * inW * C, inW * C, C, 1] : [C * inH * inW, inW, 1, inH * inW];
  const [yB, yR_, yC_, yCh] = cl ? [OH * OW * K, OW * K, K, 1] : [K * OH * OW, OW, 1, OH * OW];
  const s = new Float64Array(FH * FW * C * K);
  const dw = new Float64Array(FH * FW * C * K);
  for (let wR = 0; wR < FH; wR++)
    for (let wC = 0; wC < FW; wC++)
      for (let ch = 0; ch < C; ch++)
        for (let k = 0; k < K; k++) {
          let acc = 0;
          let sum = 0;
          for (let b = 0; b < B; b++)
            for (let yR = 0; yR < OH; yR++) {
              const r = yR * sH + wR - top;
              if (r < 0 || r >= inH) continue;
              for (let yC = 0; yC < OW; yC++) {
                const col = yC * sW + wC - left;
                if (col < 0 || col >= inW) continue;
                const t = X[b * xB + r * xR + col * xC + ch * xCh] * DY[b * yB + yR * yR_ + yC * yC_ + k * yCh];
                sum += t;
                acc += Math.abs(t);
              }
            }
          s[((wR * FW + wC) * C + ch) * K + k] = acc;
          dw[((wR * FW + wC) * C + ch) * K + k] = sum;
        }
  return { dw, scale: s };
}

/** Worst |a - b| / (scale + 1e-3) (the 1e-3 keeps all-padding elements, scale 0, meaningful). */
function worstError(a: Float32Array, b: Float32Array | Float64Array, scale: Float64Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (scale[i] + 1e-3));
  return worst;
}

// float32 sums of up to ~50k terms against float64 ones: measured worst 1.4e-6 of the absolute
// scale for the matmul route (XNNPACK sums in float32), 4e-8 for the loop and tfjs-cpu; a window
// shifted by one cell, a swapped channel or a lost padding row is 1e-3 or more
const TOL = 1e-5;

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
  expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeUndefined(); // the stock backend lacks it
  expect(registerMissingWasmKernels(tf)).toEqual(ADDED_KERNELS);
  expect(registerMissingWasmKernels(tf)).toEqual([]); // idempotent
  expect(await tf.setBackend("wasm")).toBe(true);
});

const bench: [string, Case][] = [
  ["M2 conv1", { x: [64, 28, 28, 1], filter: [3, 3, 1, 16], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M2 conv2", { x: [64, 14, 14, 16], filter: [3, 3, 16, 32], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M4 res16", { x: [64, 14, 14, 16], filter: [3, 3, 16, 16], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M4 res32", { x: [64, 7, 7, 32], filter: [3, 3, 32, 32], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M2 conv1, last batch of an epoch (60000 % 64)", { x: [32, 28, 28, 1], filter: [3, 3, 1, 16], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M2 conv2 at batch 3 (also against tfjs-cpu)", { x: [3, 14, 14, 16], filter: [3, 3, 16, 32], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["M4 res32 at batch 5 (also against tfjs-cpu)", { x: [5, 7, 7, 32], filter: [3, 3, 32, 32], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
];
const odd: [string, Case][] = [
  ["odd, stride 2,1, rectangular filter", { x: [2, 9, 7, 3], filter: [3, 2, 3, 5], strides: [2, 1], pad: "same", dataFormat: "NHWC" }],
  ["stride 2, valid (rows left over)", { x: [2, 8, 8, 4], filter: [3, 3, 4, 6], strides: [2, 2], pad: "valid", dataFormat: "NHWC" }],
  ["stride 3, same, odd", { x: [3, 11, 10, 2], filter: [3, 3, 2, 3], strides: [3, 3], pad: "same", dataFormat: "NHWC" }],
  ["1x1 filter", { x: [3, 5, 6, 7], filter: [1, 1, 7, 5], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["5x5 same, even sizes", { x: [2, 6, 8, 3], filter: [5, 5, 3, 4], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  ["4x4 same (uneven padding)", { x: [2, 7, 6, 2], filter: [4, 4, 2, 3], strides: [1, 1], pad: "same", dataFormat: "NHWC" }],
  [
    "explicit padding",
    {
      x: [2, 6, 5, 3],
      filter: [3, 3, 3, 4],
      strides: [1, 1],
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0],
      ],
      dataFormat: "NHWC",
    },
  ],
  ["NCHW", { x: [2, 3, 7, 6], filter: [3, 3, 3, 4], strides: [1, 1], pad: "same", dataFormat: "NCHW" }],
  ["NCHW, stride 2, valid", { x: [3, 4, 9, 8], filter: [3, 2, 4, 5], strides: [2, 2], pad: "valid", dataFormat: "NCHW" }],
  ["NCHW, M2 conv2 at batch 8", { x: [8, 16, 14, 14], filter: [3, 3, 16, 32], strides: [1, 1], pad: "same", dataFormat: "NCHW" }],
];

describe("tfjs-wasm Conv2DBackpropFilter equals the definition and tfjs-cpu's kernel, both routes", () => {
  for (const [i, [name, c]] of [...bench, ...odd].entries()) {
    it(`${name}: x ${c.x.join("x")} ${c.dataFormat}, filter ${c.filter.join("x")}, stride ${c.strides.join(",")}, ${JSON.stringify(c.pad)}`, async () => {
      const seed = 100 + i;
      const ref = reference(c, seed);
      const { info } = geometry(c);
      const macs = info.batchSize * info.outHeight * info.outWidth * size(c.filter);
      if (macs <= 4e6) {
        const cpu = await runOn("cpu", c, seed);
        expect(cpu.shape).toEqual(c.filter);
        expect(worstError(cpu.dw, ref.dw, ref.scale), "tfjs-cpu").toBeLessThan(TOL);
      }
      expect(conv2DBackpropFilterRoute(tf, c.x, attrsOf(c))).toBe("matmul");
      for (const route of ["matmul", "loop"] as const) {
        const w = await runOn(route, c, seed);
        expect(w.shape).toEqual(c.filter);
        expect(worstError(w.dw, ref.dw, ref.scale), route).toBeLessThan(TOL);
      }
    });
  }

  it("a grid too large for the heap takes the loop", () => {
    const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 64, 64] };
    expect(conv2DBackpropFilterRoute(tf, [64, 28, 28, 64], attrs)).toBe("loop");
    expect(conv2DBackpropFilterRoute(tf, [64, 28, 28, 8], { ...attrs, filterShape: [3, 3, 8, 64] })).toBe("matmul");
  });

  it("the filter gradient of conv2d through tf.grad matches (the path model.fit takes)", async () => {
    const grad = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(values(2 * 10 * 10 * 3, 7), [2, 10, 10, 3]);
      const w = tf.tensor4d(values(3 * 3 * 3 * 8, 8), [3, 3, 3, 8]);
      const t = tf.tensor4d(values(2 * 10 * 10 * 8, 9), [2, 10, 10, 8]);
      const g = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, "same"), t)))(w);
      const out = Float32Array.from(g.dataSync() as Float32Array);
      tf.dispose([x, w, t, g]);
      return out;
    };
    const c: Case = { x: [2, 10, 10, 3], filter: [3, 3, 3, 8], strides: [1, 1], pad: "same", dataFormat: "NHWC" };
    const cpu = await grad("cpu");
    const w = await grad("wasm");
    expect(worstError(w, cpu, new Float64Array(cpu.length).fill(1))).toBeLessThan(TOL);
    expect(c.filter.reduce((a, b) => a * b)).toBe(cpu.length);
  });

  it("frees what it allocates: no tensor, no heap growth over many calls with fresh x and dy", async () => {
    await tf.setBackend("wasm");
    const backend = tf.backend() as unknown as WasmBackend;
    const c = bench[0][1]; // M2 conv1: dy's packed copy in XNNPACK is 3.2 MB a call if it leaked
    const { dy: dyShape } = geometry(c);
    const xv = values(size(c.x), 1),
      dyv = values(size(dyShape), 2);
    const step = () => {
      const x = tf.tensor(xv, c.x, "float32");
      const dy = tf.tensor(dyv, dyShape, "float32");
      const out = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrsOf(c)) as tf.Tensor;
      out.dataSync();
      tf.dispose([x, dy, out]);
    };
    for (let i = 0; i < 5; i++) step();
    const before = tf.memory();
    const heap = backend.wasm.HEAPU8.length;
    for (let i = 0; i < 40; i++) step();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect(backend.wasm.HEAPU8.length).toBe(heap);
  });
});
