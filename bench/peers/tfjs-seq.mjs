#!/usr/bin/env node
// Sequence benchmark peer: TensorFlow.js (tfjs-core + tfjs-layers 4.22) on the WASM backend (or CPU).
//
//   node bench/peers/tfjs-seq.mjs --model s1|s2 --data DIR [--backend wasm|cpu] [--steps N] [--window S]
//
// S1: layers.embedding -> layers.lstm({returnSequences: true}) -> layers.dense (applied at every
// position) ; S2: embedding -> conv1d -> reLU -> globalMaxPooling1d -> dense; both compiled with
// tf.train.adam and softmax cross-entropy on logits (tf.losses.softmaxCrossEntropy), trained with
// model.trainOnBatch on the shuffled batches of the data bench/seq-prep.mts wrote (one-hot targets
// made per batch: S1's whole one-hot target set would take 1.2 GB). Keras's default initializers.
// The stock WASM backend lacks two kernels these models need to train: the embedding's gradient
// (UnsortedSegmentSum: added as a JS scatter-add, peers/tfjs-wasm-seq-kernels.mjs) and, for S2, the
// conv weight gradient (Conv2DBackpropFilter; tfjs's conv1d is a conv2d: added from the backend's
// own XNNPACK matrix multiply as for M2, peers/tfjs-wasm-kernels.mjs); the row's label says so.
// JSON lines as bench/run.mjs reads them: info, window, done (train_loss, max_rss_kb), error.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { SEQ_MODELS } from "../seq-models.mjs";
import { registerMissingWasmKernels } from "./tfjs-wasm-kernels.mjs";
import { registerSequenceWasmKernels } from "./tfjs-wasm-seq-kernels.mjs";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    model: { type: "string", default: "s1" },
    data: { type: "string" },
    steps: { type: "string", default: "100" },
    window: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
  },
});
const emit = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const m = SEQ_MODELS[args.model];
if (!m || !args.data) {
  emit({ event: "error", message: `usage: --model ${Object.keys(SEQ_MODELS).join("|")} --data DIR` });
  process.exit(2);
}
const log = console.log;
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");
console.warn = console.log;

const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-cpu");
const tfl = await import("@tensorflow/tfjs-layers");
if (args.backend === "wasm") {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
}
const addedJs = args.backend === "wasm" ? registerSequenceWasmKernels(tf) : [];
const addedMatMul = args.backend === "wasm" && m.kind === "textcnn" ? registerMissingWasmKernels(tf, { filterGrad: "matmul" }) : [];
const added = [...addedJs, ...addedMatMul];
if (!(await tf.setBackend(args.backend))) {
  emit({ event: "error", message: `tfjs backend ${args.backend} did not initialize` });
  process.exit(1);
}
await tf.ready();
const patches = [...addedJs.map((k) => `JS ${k}`), ...(addedMatMul.length ? [`${addedMatMul.join(", ")} from its own kernels`] : [])];
const label = `tfjs-${args.backend}${patches.length ? ` (+${patches.join(", +")})` : ""}`;

const meta = JSON.parse(readFileSync(join(args.data, "meta.json"), "utf8"));
const readIds = (file, bytes) => {
  const b = readFileSync(join(args.data, file));
  return bytes === 1 ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

let nSamples, outUnits, fillBatch;
const B = m.batch;
const L = m.context;
const xb = new Float32Array(B * L);
if (m.kind === "charlm") {
  const s = meta.s1;
  const series = readIds("s1-ids.bin", s.idBytes);
  nSamples = s.windows;
  outUnits = s.vocab;
  var yb = new Int32Array(B * L);
  fillBatch = (idx) => {
    for (let i = 0; i < B; i++) {
      const st = idx[i] * L;
      for (let t = 0; t < L; t++) {
        xb[i * L + t] = series[st + t];
        yb[i * L + t] = series[st + t + 1];
      }
    }
  };
} else {
  const s = meta.s2;
  const xs = readIds("s2-x.bin", s.idBytes);
  const ys = readIds("s2-y.bin", 1);
  nSamples = s.n;
  outUnits = s.classes;
  var yb = new Int32Array(B);
  fillBatch = (idx) => {
    for (let i = 0; i < B; i++) {
      for (let t = 0; t < L; t++) xb[i * L + t] = xs[idx[i] * L + t];
      yb[i] = ys[idx[i]];
    }
  };
}
const vocab = m.kind === "charlm" ? meta.s1.vocab : meta.s2.vocab;

const inp = tfl.input({ shape: [L] });
let h = tfl.layers.embedding({ inputDim: vocab, outputDim: m.embed }).apply(inp);
if (m.kind === "charlm") {
  // tfjs-wasm 4.22 cannot run the LSTM's default orthogonal recurrent initializer (its QR throws
  // "rMat.flatten is not a function"; on the CPU backend it runs for minutes on a 1024 x 256 matrix):
  // glorotUniform instead, which changes nothing in the cost of a step
  h = tfl.layers.lstm({ units: m.hidden, returnSequences: true, recurrentInitializer: "glorotUniform" }).apply(h);
} else {
  h = tfl.layers.conv1d({ filters: m.filters, kernelSize: m.kernel }).apply(h);
  h = tfl.layers.reLU().apply(h);
  h = tfl.layers.globalMaxPooling1d().apply(h);
}
const out = tfl.layers.dense({ units: outUnits }).apply(h);
const net = tfl.model({ inputs: inp, outputs: out });
net.compile({ optimizer: tf.train.adam(m.optimizer.lr), loss: (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred) });
const params = net.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
emit({
  event: "info",
  system: `tfjs-${args.backend}`,
  label,
  added_kernels: added,
  backend: tf.getBackend(),
  threads: 1,
  model: m.name,
  params,
  tfjs: tf.version_core,
});

// a seeded shuffle of the samples
let rs = Number(args.seed) >>> 0 || 1;
const rand = () => ((rs = (Math.imul(rs, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
const perm = new Int32Array(nSamples).map((_, i) => i);
for (let i = nSamples - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [perm[i], perm[j]] = [perm[j], perm[i]];
}

const steps = Number(args.steps);
const windowMs = Number(args.window) * 1000;
let winStart = performance.now();
let winSamples = 0;
let loss = null;
try {
  for (let step = 0; step < steps; step++) {
    const at = (step * B) % (nSamples - B + 1);
    fillBatch(perm.subarray(at, at + B));
    const x = tf.tensor2d(xb, [B, L]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor(yb, m.kind === "charlm" ? [B, L] : [B], "int32"), outUnits));
    loss = await net.trainOnBatch(x, y);
    x.dispose();
    y.dispose();
    winSamples += B;
    const now = performance.now();
    if (now - winStart >= windowMs) {
      emit({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000, loss });
      winStart = now;
      winSamples = 0;
    }
  }
} catch (e) {
  const message = String(e?.message ?? e).split("\n")[0];
  emit({ event: "error", cannot_train: /kernel|not (yet )?(implemented|registered)|gradient/i.test(message), message });
  process.exit(3);
}
if (winSamples > 0) emit({ event: "window", samples: winSamples, seconds: (performance.now() - winStart) / 1000, partial: true });
emit({ event: "done", train_loss: loss, trained_samples: steps * B, max_rss_kb: process.resourceUsage().maxRSS });
console.log = log;
