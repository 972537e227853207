// Speed of the convolutional path (benchmark model M2, batch 64): the layers' forward and
// backward kernels (conv1, pool1, conv2, pool2) with the wasm backend's GEMM and the TypeScript
// blocked one, and a whole M2 training step through the compiler (forward, loss, backward,
// optimizer on random data). Not a test:
//   npx tsx bench/conv.mjs [--ms 40] [--windows 15] [--no-ts] [--no-step] [--threads 2 --wall]
// Each figure is the best of several windows of process CPU time after a warm-up (the machine
// may be shared: wall time would mostly measure the other processes; with one thread, CPU time
// is the work done). --wall times by the clock instead (needed with --threads 2).
// Conv rows and the step are timed for each scratch size in ROOMS: the per-sample `col`
// (convScratchSize), convScratchSizeFast, and convScratchSizeBatched for 4, 16 and 64 samples per
// GEMM, passed as cfg.colFloats, and Winograd F(2,3) for conv2 (cfg.wino = 4, what the compiler
// chooses today); for the step, the first row is the trainer as compiled (Winograd conv2), the
// others move the col regions to regions of that size at the end of the heap and add colFloats
// to the conv configurations.
import { createBackend } from "../runtime/backend-create.ts";
import { convConfig, convScratchSize, convWeightSize, conv2dForward, conv2dBackward } from "../runtime/kernels/conv.ts";
import * as convMod from "../runtime/kernels/conv.ts";
import { winogradPays, winogradScratchSize } from "../runtime/kernels/winograd.ts";
import { poolConfig, maxPool2dForward, maxPool2dBackward } from "../runtime/kernels/pool.ts";
import { readFileSync } from "node:fs";

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MS = arg("--ms", 40);
const WINDOWS = arg("--windows", 15);
const B = 64;
// scratch variants: [label, floats of col for a conv configuration (undefined: the minimum)]
const ROOMS = [
  ["per-sample col (convScratchSize, as compiled today)", () => undefined],
  ["colFloats = convScratchSizeFast", (c) => convMod.convScratchSizeFast(c)],
  ["colFloats = convScratchSizeBatched(cfg, 4)", (c) => convMod.convScratchSizeBatched(c, 4)],
  ["colFloats = convScratchSizeBatched(cfg, 16)", (c) => convMod.convScratchSizeBatched(c, 16)],
  ["colFloats = convScratchSizeBatched(cfg, 64)", (c) => convMod.convScratchSizeBatched(c, 64)],
  // the third element: cfg.wino for the convs where Winograd pays (conv2; conv1 has 1 channel)
  ["Winograd F(2,3), 4 samples per block (cfg.wino = 4)", (c) => Math.max(convMod.convScratchSizeFast(c), winogradScratchSize(c, 4)), 4],
];
// the configuration a ROOMS row gives a conv: its colFloats, and wino where Winograd pays
const withRoom = (c, room, wino) => ({ ...c, colFloats: room(c), ...(wino && winogradPays(c) ? { wino } : {}) });
const THREADS = arg("--threads", 1);
// --rooms 0,1: only these rows of ROOMS (default all)
const roomsArg = process.argv.indexOf("--rooms");
if (roomsArg > 0) {
  const keep = new Set(process.argv[roomsArg + 1].split(",").map(Number));
  for (let i = ROOMS.length - 1; i >= 0; i--) if (!keep.has(i)) ROOMS.splice(i, 1);
}

// CPU time of this process in ms (user + system): on a shared machine, wall time mostly
// measures the other processes; with one thread, CPU time is the work done.
// --wall: wall time instead (for --threads 2, where CPU time counts both threads).
const WALL = process.argv.includes("--wall");
const cpuMs = () => {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Best CPU milliseconds per call over WINDOWS windows of ~MS ms, after a warm-up window. */
function bestMs(f) {
  let reps = 1;
  for (let t = 0; t < MS; reps *= 2) {
    const t0 = cpuMs();
    for (let i = 0; i < reps; i++) f();
    t = cpuMs() - t0;
  }
  reps = Math.max(1, reps >> 1);
  let best = Infinity;
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = cpuMs();
    for (let i = 0; i < reps; i++) f();
    best = Math.min(best, (cpuMs() - t0) / reps);
  }
  return best;
}

function fillRandom(H, o, len, seed, scale = 1) {
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    H[o + i] = (s / 2 ** 32 - 0.5) * scale;
  }
}

const fmt = (ms) =>
  `${ms.toFixed(3).padStart(8)} ms  ${Math.round((B / ms) * 1000)
    .toLocaleString("en-US")
    .padStart(9)} samples/s`;

// ---- layers ---------------------------------------------------------------------------------
const conv1 = convConfig({ C: 1, H: 28, W: 28, K: 16, kernel: 3, padding: "same" });
const pool1 = poolConfig({ C: 16, H: 28, W: 28, kernel: 2 });
const conv2 = convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" });
const pool2 = poolConfig({ C: 32, H: 14, W: 14, kernel: 2 });

async function layers(kind) {
  const sizes = {
    x0: B * 784,
    w1: convWeightSize(conv1),
    b1: 16,
    y1: B * 16 * 784,
    dy1: B * 16 * 784,
    dw1: convWeightSize(conv1),
    db1: 16,
    p1: B * 16 * 196,
    i1: B * 16 * 196,
    dp1: B * 16 * 196,
    w2: convWeightSize(conv2),
    b2: 32,
    y2: B * 32 * 196,
    dy2: B * 32 * 196,
    dx2: B * 16 * 196,
    dw2: convWeightSize(conv2),
    db2: 32,
    p2: B * 32 * 49,
    i2: B * 32 * 49,
    dp2: B * 32 * 49,
    col1: Math.max(...ROOMS.map(([, f]) => f(conv1) ?? convScratchSize(conv1))),
    col2: Math.max(...ROOMS.map(([, f]) => f(conv2) ?? convScratchSize(conv2))),
  };
  const off = {};
  let top = 0;
  for (const [k, s] of Object.entries(sizes)) {
    off[k] = top;
    top = (top + s + 15) & ~15;
  }
  const be = await createBackend(top, { backend: kind, threads: kind === "wasm" ? THREADS : 1 });
  const { H, gemm } = be;
  let seed = 1;
  for (const [k, s] of Object.entries(sizes)) fillRandom(H, off[k], s, seed++, k.startsWith("w") ? 0.3 : 1);
  const o = off;
  const rows = [];
  for (const [label, room, wino] of ROOMS) {
    const big = room(conv1) !== undefined;
    const c1 = withRoom(conv1, room, wino);
    const c2 = withRoom(conv2, room, wino);
    const t = {
      "conv1 fwd": bestMs(() => conv2dForward(H, gemm, c1, o.x0, o.w1, o.b1, o.y1, o.col1, B)),
      "conv1 bwd (dw, db)": bestMs(() => conv2dBackward(H, gemm, c1, o.x0, o.w1, o.dy1, -1, o.dw1, o.db1, o.col1, B)),
      "conv2 fwd": bestMs(() => conv2dForward(H, gemm, c2, o.p1, o.w2, o.b2, o.y2, o.col2, B)),
      "conv2 bwd (dx, dw, db)": bestMs(() => conv2dBackward(H, gemm, c2, o.p1, o.w2, o.dy2, o.dx2, o.dw2, o.db2, o.col2, B)),
    };
    if (!big) {
      t["pool1 fwd"] = bestMs(() => maxPool2dForward(H, pool1, o.y1, o.p1, o.i1, B));
      t["pool1 bwd"] = bestMs(() => maxPool2dBackward(H, pool1, o.dp1, o.i1, o.dy1, B));
      t["pool2 fwd"] = bestMs(() => maxPool2dForward(H, pool2, o.y2, o.p2, o.i2, B));
      t["pool2 bwd"] = bestMs(() => maxPool2dBackward(H, pool2, o.dp2, o.i2, o.dy2, B));
    }
    rows.push([label, t]);
  }
  console.log(`\n${be.name}: M2 layers at batch ${B} (ms per batch, samples/s)`);
  for (const [label, t] of rows) {
    console.log(`  ${label}:`);
    let sum = 0;
    for (const [k, ms] of Object.entries(t)) {
      sum += ms;
      console.log(`    ${k.padEnd(24)}${fmt(ms)}`);
    }
    console.log(`    ${"sum".padEnd(24)}${fmt(sum)}`);
  }
  be.close();
}

// ---- whole M2 step ----------------------------------------------------------------------------
async function step(kind, label, room) {
  const { compileToIr } = await import("../compiler/pipeline.ts");
  const { generateTrainer } = await import("../compiler/codegen/emit-trainer.ts");
  const { bundleTrainer } = await import("../compiler/codegen/bundle.ts");
  const { lossForward } = await import("../runtime/loss.ts");
  const { optimizerStep } = await import("../runtime/optim.ts");
  const { optimLayout, optimizerConfig } = await import("../runtime/train-loop.ts");
  const { convCfg } = await import("../compiler/codegen/emit-model.ts");
  const src = readFileSync(new URL("./specs/m2.dnn", import.meta.url), "utf8");
  const r = compileToIr(src, "m2.dnn");
  if (!r.ir) throw new Error("m2.dnn did not compile");
  let ir = r.ir;
  const extra = {};
  if (room(conv1) !== undefined) {
    // what the compiler emits once it reserves a larger scratch: bigger col regions (appended
    // at the end of the heap here) and colFloats in each conv configuration
    const L = ir.layout;
    const offsets = { ...L.offsets };
    const sizes = { ...L.sizes };
    let top = (L.heapFloats + 15) & ~15;
    for (const n of ir.nodes) {
      if (n.op !== "conv2d") continue;
      const s = room(convCfg(n));
      offsets[`col:${n.id}`] = top;
      sizes[`col:${n.id}`] = s;
      extra[n.id] = s;
      top = (top + s + 15) & ~15;
    }
    ir = { ...ir, layout: { ...L, heapFloats: top, offsets, sizes } };
  }
  let ts = (await generateTrainer(ir, { dataPath: "." })).text;
  for (const [id, s] of Object.entries(extra)) {
    const re = new RegExp(`(const CFG_${id} = \\{)`);
    if (!re.test(ts)) throw new Error(`no CFG_${id} in the generated trainer`);
    ts = ts.replace(re, `$1 colFloats: ${s},`);
  }
  const js = await bundleTrainer(ts, "m2.trainer.ts");
  const url = `data:text/javascript;base64,${Buffer.from(js).toString("base64")}`;
  const { program: p } = await import(url);
  const be = await createBackend(p.meta.heapFloats, { backend: kind, threads: kind === "wasm" ? THREADS : 1 });
  const model = p.create(be, 1);
  model.init();
  const { H } = be;
  fillRandom(H, p.layout.x, B * p.meta.inputSize, 7);
  for (let i = 0; i < B; i++) H[p.layout.labels + i] = i % 10;
  const layout = optimLayout(p);
  const opt = optimizerConfig(p);
  let t = 0;
  let loss = 0;
  const ms = bestMs(() => {
    model.forward(B, true, t);
    loss = lossForward(H, p, B, true).loss;
    model.backward(B, t);
    optimizerStep(H, layout, opt, 0.01, ++t);
  });
  console.log(`  ${be.name}, ${label.padEnd(52)}${fmt(ms)}   (loss ${loss.toFixed(4)})`);
  be.close();
}

// --loops: the loops around the conv GEMMs at M2's shapes, TypeScript vs wasm (conv.wat) on the
// same wasm heap (plain memory, or shared with --threads 2), alternated, best CPU ms per batch
async function loops() {
  const { im2colTs } = await import("../runtime/kernels/conv.ts");
  const { maxPool2x2Forward, maxPool2dBackwardTs } = await import("../runtime/kernels/pool.ts");
  const { reluRef } = await import("../runtime/wasm-kernels.ts");
  const { convExportsOf } = await import("../runtime/wasm/conv-kernels.ts");
  const be = await createBackend(8_000_000, { backend: "wasm", threads: THREADS });
  const { H } = be;
  const k = convExportsOf(H);
  fillRandom(H, 0, 8_000_000, 3);
  const X = 0,
    Y = 2_000_000,
    I = 3_000_000,
    C = 4_000_000;
  const im = (f) => () => {
    for (let s = 0; s < B; s++) f(H, s * 3136, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 14, 14, C, 196);
  };
  const pairs = {
    "im2col conv2 (64 samples)": [im((H, ...a) => im2colTs(H, ...a)), im((H, ...a) => k.im2col(...a))],
    "relu (64x16x28x28)": [() => reluRef(H, X, Y, B * 12544), () => k.relu(X, Y, B * 12544)],
    "maxpool1 fwd": [() => maxPool2x2Forward(H, 28, 28, 14, 14, X, Y, I, B * 16), () => k.maxpool2x2(X, Y, I, B * 16, 28, 28, 14, 14, 0, -1, 1, 0)],
    "maxpool1 bwd": [() => maxPool2dBackwardTs(H, 784, 196, B * 16, Y, I, C), () => k.maxpool_backward(Y, I, C, B * 16, 784, 196)],
  };
  k.maxpool2x2(X, Y, I, B * 16, 28, 28, 14, 14, 0, -1, 1, 0);
  console.log(`\n${be.name}: loops around the conv GEMMs, TypeScript vs wasm (ms per batch of ${B})`);
  for (const [name, [ts, wa]] of Object.entries(pairs)) {
    let bt = Infinity,
      bw = Infinity;
    for (let r = 0; r < 3; r++) {
      bt = Math.min(bt, bestMs(ts));
      bw = Math.min(bw, bestMs(wa));
    }
    console.log(`  ${name.padEnd(28)} ts ${bt.toFixed(3)}  wasm ${bw.toFixed(3)}  (${(bt / bw).toFixed(2)}x)`);
  }
  be.close();
}
if (process.argv.includes("--loops")) {
  await loops();
  process.exit(0);
}

if (!process.argv.includes("--no-layers")) await layers("wasm");
if (!process.argv.includes("--no-ts")) await layers("ts");
if (!process.argv.includes("--no-step")) {
  console.log(`\nWhole M2 training step at batch ${B}:`);
  for (const kind of ["wasm", ...(process.argv.includes("--no-ts") ? [] : ["ts"])]) for (const [label, room] of ROOMS) await step(kind, label, room);
}
