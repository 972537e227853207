// ms per optimizer step on M1's parameter arena (784-256(BN)-256-10: 269,834 parameters in 8
// tensors): runtime/optim.ts's optimizerStep (TypeScript) against the wasm sweep of
// runtime/optim-fast.ts, both on the wasm backend's heap, for SGD+momentum (M1's optimizer),
// Nesterov with L1 and decoupled decay (the general loop), Adam, AdamW+amsgrad, RMSprop and
// Adagrad; and clip_grad_norm; and the dense epilogues of runtime/wasm-kernels.ts on M1's
// 128 x 256 activations. Best and median of timed windows after a warm-up (the machine may
// be shared: the best window is the figure least disturbed by other processes). Not a test:
//   npx tsx bench/optim.mjs [--windows n]
import { optimizerStep, stateSlots } from "../runtime/optim.ts";
import { makeClipGradNorm, makeOptimizerStep } from "../runtime/optim-fast.ts";
import { clipGradNorm } from "../runtime/regularize.ts";
import { createWasmBackend } from "../runtime/wasm/wasm-backend.ts";
import { biasAddReluRef, biasGradRef, reluBackwardRef, makeDenseEpilogues } from "../runtime/wasm-kernels.ts";

const WINDOWS = Number(process.argv[process.argv.indexOf("--windows") + 1]) || 15;
const STEPS = 20; // steps per window

// M1's tensors in arena order, [rows, cols]
const SHAPES = [
  [256, 784],
  [256, 1],
  [256, 1],
  [256, 1],
  [256, 256],
  [256, 1],
  [10, 256],
  [10, 1],
];
const segments = [];
let N = 0;
for (const [rows, cols] of SHAPES) {
  segments.push({ offset: N, size: rows * cols, rows, cols, weightDecay: 0, decoupledDecay: 0, l1: 0, lrScale: 1, maxNorm: 0 });
  N += rows * cols;
}
const layout = { P: 0, G: N, S: 2 * N, N, segments };
const be = await createWasmBackend(5 * N, 1);
const H = be.H;
const fast = makeOptimizerStep(be);
const fastClip = makeClipGradNorm(be);

function fill() {
  let s = 12345;
  for (let i = 0; i < 5 * N; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    H[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
}

/** [best, median] ms per call of f(t) over WINDOWS windows of STEPS calls, after a warm-up. */
function time(f) {
  fill();
  let t = 1;
  for (let i = 0; i < 2 * STEPS; i++) f(t++);
  const ms = [];
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) f(t++);
    ms.push((performance.now() - t0) / STEPS);
  }
  ms.sort((a, b) => a - b);
  return [ms[0], ms[ms.length >> 1]];
}

const CASES = [
  ["sgd momentum 0.9 (M1)", { kind: "sgd", momentum: 0.9 }, {}],
  ["sgd nesterov + l1 + decoupled", { kind: "sgd", momentum: 0.9, nesterov: true }, { l1: 1e-5, decoupledDecay: 1e-4 }],
  ["sgd plain + weight decay", { kind: "sgd" }, { weightDecay: 5e-4 }],
  ["adam", { kind: "adam" }, {}],
  ["adamw amsgrad", { kind: "adamw", amsgrad: true }, { decoupledDecay: 0.01 }],
  ["rmsprop centered momentum", { kind: "rmsprop", momentum: 0.9, centered: true }, {}],
  ["adagrad", { kind: "adagrad" }, {}],
];
const f3 = (x) => x.toFixed(3).padStart(7);
console.log(`M1 arena: ${N} parameters, ${segments.length} tensors; ms per step, best / median of ${WINDOWS} windows`);
console.log(`${"optimizer".padEnd(32)}   TypeScript        wasm          speed-up`);
for (const [label, opt, regs] of CASES) {
  if (2 * N + stateSlots(opt) * N > 5 * N) throw new Error("arena too small");
  for (const s of segments) Object.assign(s, { weightDecay: 0, decoupledDecay: 0, l1: 0 }, regs);
  const lr = 0.01;
  const ts = time((t) => optimizerStep(H, layout, opt, lr, t));
  const wa = time((t) => fast(H, layout, opt, lr, t));
  console.log(`${label.padEnd(32)} ${f3(ts[0])} /${f3(ts[1])}  ${f3(wa[0])} /${f3(wa[1])}   x${(ts[0] / wa[0]).toFixed(1)}`);
}
{
  const ts = time(() => clipGradNorm(H, layout, 1e9));
  const wa = time(() => fastClip(H, layout, 1e9));
  console.log(`${"clip_grad_norm (no clipping)".padEnd(32)} ${f3(ts[0])} /${f3(ts[1])}  ${f3(wa[0])} /${f3(wa[1])}   x${(ts[0] / wa[0]).toFixed(1)}`);
}
{
  // dense epilogues at M1's hidden layer: y, z, dy (128, 256) at 0, 32K, 64K; b, db (256) at 96K
  const E = makeDenseEpilogues(be);
  const [y, z, dy, b] = [0, 1 << 15, 2 << 15, 3 << 15];
  const rows = [
    ["bias add + relu 128x256", () => biasAddReluRef(H, y, b, z, 128, 256), () => E.biasAddRelu(y, b, z, 128, 256)],
    ["bias grad 128x256", () => biasGradRef(H, dy, b, 128, 256), () => E.biasGrad(dy, b, 128, 256)],
    ["relu backward 128x256", () => reluBackwardRef(H, y, dy, 128 * 256), () => E.reluBackward(y, dy, 128 * 256)],
  ];
  console.log("dense epilogues, microseconds per call");
  for (const [label, ref, fast] of rows) {
    const ts = time(ref).map((x) => x * 1000);
    const wa = time(fast).map((x) => x * 1000);
    console.log(`${label.padEnd(32)} ${f3(ts[0])} /${f3(ts[1])}  ${f3(wa[0])} /${f3(wa[1])}   x${(ts[0] / wa[0]).toFixed(1)}`);
  }
}
be.close();
