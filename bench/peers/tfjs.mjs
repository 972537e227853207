#!/usr/bin/env node
// Benchmark peer: TensorFlow.js (tfjs-core + tfjs-layers) on the CPU or the WASM backend.
//
//   node bench/peers/tfjs.mjs --backend cpu|wasm --model m1 [--samples N] [--test N] [--window S]
//                             [--filter-grad matmul|js]
//
// Trains the model of bench/models.mjs with model.fit (one epoch over the first N training
// samples, shuffled, SGD with momentum, softmax cross-entropy on logits) and prints JSON lines:
//   {"event":"info", ...}                      system, backend, threads, model
//   {"event":"window","samples":N,"seconds":S} one per >= S seconds of training (first = warm-up)
//   {"event":"done","test_acc":A,"test_loss":L,"max_rss_kb":K,"trained_samples":N,"full_epoch":bool}
//   {"event":"error","cannot_train":true,"message":...} when the backend lacks a kernel
// On the WASM backend, models with convolutions get the Conv2DBackpropFilter kernel the stock
// backend lacks (peers/tfjs-wasm-kernels.mjs): by default built from the backend's own XNNPACK
// matMul, and the info line's `label` is "tfjs-wasm (+Conv2DBackpropFilter from its own kernels)";
// `--filter-grad js` takes the plain-JavaScript loop instead (the slower peer the bench had before,
// for comparisons), labelled "tfjs-wasm (+JS Conv2DBackpropFilter)".
// Layout is NHWC (tfjs's native one); flatten order differs from PyTorch's, which changes nothing
// in cost. Initializers are tfjs's defaults.
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { MODELS } from "../models.mjs";
import { loadFashionMnist } from "../idx.mjs";
import { buildTfjsModel, trainableParams } from "./tfjs-model.mjs";
import { registerMissingWasmKernels } from "./tfjs-wasm-kernels.mjs";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "cpu" },
    model: { type: "string", default: "m1" },
    samples: { type: "string", default: "60000" },
    test: { type: "string", default: "10000" },
    window: { type: "string", default: "1" },
    "filter-grad": { type: "string", default: "matmul" },
  },
});
const emit = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const model = MODELS[args.model];
if (!model) {
  emit({ event: "error", message: `unknown model ${args.model}` });
  process.exit(2);
}

// Silence tfjs's console advice ("install tfjs-node") so stdout stays JSON lines.
const log = console.log;
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");
console.warn = console.log;

const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-cpu");
const tfl = await import("@tensorflow/tfjs-layers");
if (args.backend === "wasm") {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  // Local .wasm files; Node gets the single-threaded (SIMD) build: tfjs disables threads on Node.
  wasm.setWasmPaths(join(dist, "/"));
}
// The stock WASM backend cannot train convolutions (no Conv2DBackpropFilter): add it
// (bench/peers/tfjs-wasm-kernels.mjs) for the models that have one; the label says so.
const filterGrad = args["filter-grad"];
if (filterGrad !== "matmul" && filterGrad !== "js") {
  emit({ event: "error", message: `--filter-grad must be matmul or js, not ${filterGrad}` });
  process.exit(2);
}
const hasConv = JSON.stringify(model.layers).includes('"conv"');
const added = args.backend === "wasm" && hasConv ? registerMissingWasmKernels(tf, { filterGrad }) : [];
if (!(await tf.setBackend(args.backend))) {
  emit({ event: "error", message: `tfjs backend ${args.backend} did not initialize` });
  process.exit(1);
}
await tf.ready();
const simd = args.backend === "wasm" ? await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") : false;
const threads = 1;
const label = `tfjs-${args.backend}${!added.length ? "" : filterGrad === "js" ? ` (+JS ${added.join(", ")})` : ` (+${added.join(", ")} from its own kernels)`}`;
emit({
  event: "info",
  system: `tfjs-${args.backend}`,
  label,
  added_kernels: added,
  filter_grad: added.length ? filterGrad : null,
  backend: tf.getBackend(),
  simd,
  threads,
  model: model.name,
  tfjs: tf.version_core,
});

const data = loadFashionMnist();
const nTrain = Math.min(Number(args.samples), data.train.n);
const nTest = Math.min(Number(args.test), data.test.n);
const px = data.rows * data.cols;

function tensors(split, n) {
  const x = new Float32Array(n * px);
  for (let i = 0; i < n * px; i++) x[i] = split.images[i] / 255;
  const y = tf.oneHot(tf.tensor1d(Int32Array.from(split.labels.subarray(0, n)), "int32"), 10);
  return { x: tf.tensor4d(x, [n, data.rows, data.cols, 1]), y: tf.cast(y, "float32") };
}

const net = buildTfjsModel(tfl, model);
const loss = (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred);
net.compile({ optimizer: tf.train.momentum(model.optimizer.lr, model.optimizer.momentum), loss });
emit({ event: "info", params: trainableParams(net) });

const train = tensors(data.train, nTrain);
const windowSec = Number(args.window);
let winStart = performance.now();
let winSamples = 0;
let trained = 0;
try {
  await net.fit(train.x, train.y, {
    batchSize: model.batch,
    epochs: 1,
    shuffle: true,
    verbose: 0,
    yieldEvery: "never",
    callbacks: {
      onBatchEnd: async (_batch, logs) => {
        const n = Math.min(model.batch, nTrain - trained);
        trained += n;
        winSamples += n;
        const now = performance.now();
        if ((now - winStart) / 1000 >= windowSec) {
          emit({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000, loss: logs?.loss });
          winStart = now;
          winSamples = 0;
        }
      },
    },
  });
} catch (e) {
  const message = String(e?.message ?? e).split("\n")[0];
  emit({ event: "error", cannot_train: /kernel|not (yet )?(implemented|registered)|gradient/i.test(message), message });
  process.exit(3);
}
if (winSamples > 0) {
  const now = performance.now();
  emit({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000, partial: true });
}
train.x.dispose();
train.y.dispose();

// Test accuracy and loss (eval mode: predict runs dropout as identity, bn on running stats).
let correct = 0;
let lossSum = 0;
if (nTest > 0) {
  const test = tensors(data.test, nTest);
  for (let s = 0; s < nTest; s += 500) {
    const e = Math.min(s + 500, nTest);
    tf.tidy(() => {
      const logits = net.predict(tf.slice(test.x, [s], [e - s]));
      const y = tf.slice(test.y, [s], [e - s]);
      correct += tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), "int32")).dataSync()[0];
      lossSum += tf.losses.softmaxCrossEntropy(y, logits).dataSync()[0] * (e - s);
    });
  }
}
emit({
  event: "done",
  test_acc: nTest > 0 ? correct / nTest : null,
  test_loss: nTest > 0 ? lossSum / nTest : null,
  test_samples: nTest,
  trained_samples: trained,
  full_epoch: trained >= data.train.n,
  max_rss_kb: process.resourceUsage().maxRSS,
});
console.log = log;
