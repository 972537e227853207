// The Conv2DBackpropFilter kernel the bench adds to tfjs-backend-wasm (bench/peers/tfjs-wasm-kernels.mjs)
// against tfjs-backend-cpu's own kernel, on shapes of the bench models and odd ones (stride 2,
// valid padding, channelsFirst, rectangular filters), and through tf.grad of a conv layer.
import { beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { ADDED_KERNELS, registerMissingWasmKernels } from "../bench/peers/tfjs-wasm-kernels.mjs";

type Case = {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: "same" | "valid";
  dataFormat: "NHWC" | "NCHW";
};

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

async function runOn(backend: string, c: Case, seed: number): Promise<{ dw: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const cl = c.dataFormat === "NHWC";
  const probe = tf.zeros(c.x);
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, false, cl ? "channelsLast" : "channelsFirst");
  probe.dispose();
  const dyShape = cl ? [info.batchSize, info.outHeight, info.outWidth, info.outChannels] : [info.batchSize, info.outChannels, info.outHeight, info.outWidth];
  const x = tf.tensor(values(c.x.reduce((a, b) => a * b, 1), seed), c.x, "float32");
  const dy = tf.tensor(values(dyShape.reduce((a, b) => a * b, 1), seed + 1), dyShape, "float32");
  const out = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: c.dataFormat,
    filterShape: c.filter,
  }) as tf.Tensor;
  const dw = out.dataSync() as Float32Array;
  const shape = out.shape;
  tf.dispose([x, dy, out]);
  return { dw: Float32Array.from(dw), shape };
}

function expectClose(a: Float32Array, b: Float32Array) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  expect(worst).toBeLessThan(1e-5);
}

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
  expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeUndefined(); // the stock backend lacks it
  expect(registerMissingWasmKernels(tf)).toEqual(ADDED_KERNELS);
  expect(registerMissingWasmKernels(tf)).toEqual([]); // idempotent
  expect(await tf.setBackend("wasm")).toBe(true);
});

describe("tfjs-wasm Conv2DBackpropFilter (JS) equals tfjs-cpu's", () => {
  const cases: Case[] = [
    { x: [4, 28, 28, 1], filter: [3, 3, 1, 16], strides: [1, 1], pad: "same", dataFormat: "NHWC" }, // M2 conv1
    { x: [3, 14, 14, 16], filter: [3, 3, 16, 32], strides: [1, 1], pad: "same", dataFormat: "NHWC" }, // M2 conv2
    { x: [2, 9, 7, 3], filter: [3, 2, 3, 5], strides: [2, 1], pad: "same", dataFormat: "NHWC" },
    { x: [2, 8, 8, 4], filter: [3, 3, 4, 6], strides: [2, 2], pad: "valid", dataFormat: "NHWC" },
    { x: [2, 3, 7, 6], filter: [3, 3, 3, 4], strides: [1, 1], pad: "same", dataFormat: "NCHW" },
  ];
  for (const [i, c] of cases.entries()) {
    it(`x ${c.x.join("x")} ${c.dataFormat}, filter ${c.filter.join("x")}, stride ${c.strides.join(",")}, ${c.pad}`, async () => {
      const cpu = await runOn("cpu", c, 100 + i);
      const w = await runOn("wasm", c, 100 + i);
      expect(w.shape).toEqual(cpu.shape);
      expectClose(w.dw, cpu.dw);
    });
  }

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
    expectClose(await grad("wasm"), await grad("cpu"));
  });
});
