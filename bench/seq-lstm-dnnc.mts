// dnnc's side of the S1 benchmark (character LSTM, bench/seq-models.mjs) while the language has no
// `lstm` layer yet: a harness that runs, on dnnc's runtime, the training step a compiled trainer of
// that spec will run, kernel by kernel, in one heap with nothing allocated per step:
//   embeddingForward -> rnnStackForward (one LSTM layer, return_sequences) -> dense at every
//   position (one GEMM over the n*T rows + bias) -> softmaxCrossEntropy over the n*T rows, then
//   the backward in reverse (dense: two GEMMs and a column sum; rnnStackBackward with the input
//   gradient; embeddingBackward) and Adam (makeOptimizerStep: the wasm sweep on the wasm backend).
// Batches are windows of the training span (bench/seq-prep.mts wrote its ids), shuffled by a
// seeded permutation. Initialization as PyTorch's defaults (N(0,1) embedding, U(+-1/sqrt(U)) LSTM,
// U(+-1/sqrt(fan_in)) dense). Labelled in the results as "dnnc (kernel harness)".
//
//   node --import tsx bench/seq-lstm-dnnc.mts --data DIR [--threads T] [--steps N] [--window S]
//        [--backend wasm|ts] [--no-fma] [--profile]
// Prints bench/run.mjs's JSON lines ({"event":"start"|"window"|"done"}); --profile instead times
// each phase of the step (process CPU time, best of several windows) and prints a table.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createBackend } from "../runtime/backend-create";
import { embeddingBackward, embeddingForward, type EmbeddingConfig } from "../runtime/kernels/embedding";
import { softmaxCrossEntropy } from "../runtime/kernels/losses";
import { rnnStackBackward, rnnStackForward, rnnStackPlan, type RnnStackConfig, type RnnWeights } from "../runtime/kernels/rnn";
import { makeOptimizerStep } from "../runtime/optim-fast";
import type { OptimLayout, OptimizerConfig } from "../runtime/optim";
import { SEQ_MODELS } from "./seq-models.mjs";

const { values: a } = parseArgs({
  options: {
    data: { type: "string" },
    threads: { type: "string", default: "1" },
    steps: { type: "string", default: "200" },
    window: { type: "string", default: "1" },
    backend: { type: "string", default: "wasm" },
    "no-fma": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
  },
});
const emit = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
if (!a.data) {
  process.stderr.write("usage: node --import tsx bench/seq-lstm-dnnc.mts --data DIR (from bench/seq-prep.mts)\n");
  process.exit(2);
}

const m = SEQ_MODELS.s1;
const meta = JSON.parse(readFileSync(join(a.data, "meta.json"), "utf8")).s1;
const raw = readFileSync(join(a.data, "s1-ids.bin"));
const series =
  meta.idBytes === 1
    ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
    : new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const V: number = meta.vocab;
const T: number = m.context;
const E: number = m.embed;
const U: number = m.hidden;
const n: number = m.batch;
const GU = 4 * U;
const M = n * T;
const nWin: number = meta.windows;

// ---- the heap ------------------------------------------------------------------------------------
const align = (v: number) => (v + 15) & ~15;
let top = 64;
const take = (k: number) => {
  const o = top;
  top += align(k);
  return o;
};
// parameters, gradients and Adam's two state slots: one arena, segments at the same offsets
const segs = [
  { name: "embedding.weight", size: V * E, rows: V },
  { name: "lstm.weight_ih_l0", size: GU * E, rows: GU },
  { name: "lstm.weight_hh_l0", size: GU * U, rows: GU },
  { name: "lstm.bias_ih_l0", size: GU, rows: GU },
  { name: "lstm.bias_hh_l0", size: GU, rows: GU },
  { name: "out.weight", size: V * U, rows: V },
  { name: "out.bias", size: V, rows: V },
];
let N = 0;
const segOff: number[] = [];
for (const s of segs) {
  segOff.push(N);
  N += align(s.size);
}
const P = take(N);
const G = take(N);
const S = take(2 * N);
const layout: OptimLayout = {
  P,
  G,
  S,
  N,
  segments: segs.map((s, i) => ({
    name: s.name,
    offset: segOff[i],
    size: s.size,
    rows: s.rows,
    cols: s.size / s.rows,
    weightDecay: 0,
    decoupledDecay: 0,
    l1: 0,
    lrScale: 1,
    maxNorm: 0,
  })),
};
const [pEmb, pWih, pWhh, pBih, pBhh, pWo, pBo] = segOff.map((o) => P + o);
const [gEmb, gWih, gWhh, gBih, gBhh, gWo, gBo] = segOff.map((o) => G + o);
const xIds = take(M);
const labels = take(M);
const emb = take(M * E);
const seq = take(M * U);
const logits = take(M * V);
const dlogits = take(M * V);
const dseq = take(M * U);
const demb = take(M * E);
const stack: RnnStackConfig = { cell: "lstm", layers: 1, dirs: 1, T, F: E, hidden: U };
const plan = rnnStackPlan(stack, n, top);
top += plan.size;
const heapFloats = top + 64;

const threads = Number(a.threads);
const be = await createBackend(heapFloats, { backend: a.backend as "wasm" | "ts", threads, relaxed: !a["no-fma"] });
const H = be.H;
const gemm = be.gemm;
const w: RnnWeights[] = [{ wih: pWih, whh: pWhh, bih: pBih, bhh: pBhh }];
const g: RnnWeights[] = [{ wih: gWih, whh: gWhh, bih: gBih, bhh: gBhh }];
const embCfg: EmbeddingConfig = { T, vocab: V, dim: E, pad: -1, what: "embedding" };
const opt: OptimizerConfig = { kind: "adam" };
const optimStep = makeOptimizerStep(be);

// ---- initialization (PyTorch's defaults), a seeded generator -------------------------------------
let rs = Number(a.seed) >>> 0 || 1;
const rand = () => {
  rs = (Math.imul(rs, 1664525) + 1013904223) >>> 0;
  return (rs + 0.5) / 2 ** 32;
};
const uniform = (o: number, k: number, b: number) => {
  for (let i = 0; i < k; i++) H[o + i] = (2 * rand() - 1) * b;
};
for (let i = 0; i < V * E; i++) H[pEmb + i] = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
for (const [o, k] of [
  [pWih, GU * E],
  [pWhh, GU * U],
  [pBih, GU],
  [pBhh, GU],
])
  uniform(o, k, 1 / Math.sqrt(U));
uniform(pWo, V * U, 1 / Math.sqrt(U));
uniform(pBo, V, 1 / Math.sqrt(U));

// ---- one training step -----------------------------------------------------------------------------
const perm = new Int32Array(nWin);
for (let i = 0; i < nWin; i++) perm[i] = i;
for (let i = nWin - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  const t = perm[i];
  perm[i] = perm[j];
  perm[j] = t;
}
let cursor = 0;
function gather(): void {
  if (cursor + n > nWin) cursor = 0;
  for (let s = 0; s < n; s++) {
    const st = perm[cursor + s] * T;
    for (let t = 0; t < T; t++) {
      H[xIds + s * T + t] = series[st + t];
      H[labels + s * T + t] = series[st + t + 1];
    }
  }
  cursor += n;
}
function forward(): number {
  embeddingForward(H, embCfg, xIds, pEmb, emb, n);
  rnnStackForward(H, gemm, stack, plan, w, emb, -1, -1, -1, seq, -1, -1, n);
  gemm(0, 1, M, V, U, seq, pWo, logits, 0);
  for (let r = 0; r < M; r++) {
    const o = logits + r * V;
    for (let j = 0; j < V; j++) H[o + j] += H[pBo + j];
  }
  return softmaxCrossEntropy(H, logits, labels, dlogits, M, V);
}
function backwardDense(): void {
  gemm(1, 0, V, U, M, dlogits, seq, gWo, 0);
  H.fill(0, gBo, gBo + V);
  for (let r = 0; r < M; r++) {
    const o = dlogits + r * V;
    for (let j = 0; j < V; j++) H[gBo + j] += H[o + j];
  }
  gemm(0, 0, M, U, V, dlogits, pWo, dseq, 0);
}
function backwardRest(): void {
  rnnStackBackward(H, gemm, stack, plan, w, g, emb, -1, dseq, -1, -1, demb, -1, -1, n, 0);
  embeddingBackward(H, embCfg, xIds, demb, gEmb, n);
}
let t = 0;
function step(): number {
  gather();
  const loss = forward();
  backwardDense();
  backwardRest();
  optimStep(H, layout, opt, m.optimizer.lr, ++t);
  return loss;
}

if (a.profile) {
  // each phase alone, process CPU time, best of 5 windows of ~300 ms after a warm-up
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const best = (f: () => void) => {
    let reps = 1;
    for (let el = 0; el < 300; reps *= 2) {
      const t0 = cpu();
      for (let i = 0; i < reps; i++) f();
      el = cpu() - t0;
    }
    reps = Math.max(1, reps >> 2);
    let b = Infinity;
    for (let k = 0; k < 5; k++) {
      const t0 = cpu();
      for (let i = 0; i < reps; i++) f();
      b = Math.min(b, (cpu() - t0) / reps);
    }
    return b;
  };
  for (let i = 0; i < 5; i++) step();
  const rows: [string, number][] = [
    ["whole step", best(step)],
    ["embedding forward", best(() => embeddingForward(H, embCfg, xIds, pEmb, emb, n))],
    ["LSTM forward", best(() => rnnStackForward(H, gemm, stack, plan, w, emb, -1, -1, -1, seq, -1, -1, n))],
    ["dense forward GEMM (n*T, V, U)", best(() => gemm(0, 1, M, V, U, seq, pWo, logits, 0))],
    ["softmax CE over n*T rows", best(() => softmaxCrossEntropy(H, logits, labels, dlogits, M, V))],
    ["dense backward (2 GEMMs + bias sum)", best(backwardDense)],
    ["LSTM backward", best(() => rnnStackBackward(H, gemm, stack, plan, w, g, emb, -1, dseq, -1, -1, demb, -1, -1, n, 0))],
    ["embedding backward", best(() => embeddingBackward(H, embCfg, xIds, demb, gEmb, n))],
    ["Adam", best(() => optimStep(H, layout, opt, m.optimizer.lr, ++t))],
  ];
  console.log(`S1 step phases (batch ${n}, T ${T}, ${E} -> LSTM ${U} -> ${V}), ${be.name}, CPU ms, best of 5 windows`);
  for (const [k, v] of rows) console.log(`${k.padEnd(40)} ${v.toFixed(2).padStart(8)} ms`);
  be.close();
  process.exit(0);
}

emit({ event: "info", system: "dnnc", label: "dnnc (kernel harness)", vocab: V, heap_floats: heapFloats });
emit({ event: "start", backend: be.name, threads: be.threads });
const windowMs = Number(a.window) * 1000;
let winStart = performance.now();
let winSamples = 0;
let loss = NaN;
const steps = Number(a.steps);
for (let i = 0; i < steps; i++) {
  loss = step();
  winSamples += n;
  const now = performance.now();
  if (now - winStart >= windowMs) {
    emit({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000, loss });
    winStart = now;
    winSamples = 0;
  }
}
if (winSamples > 0) emit({ event: "window", samples: winSamples, seconds: (performance.now() - winStart) / 1000, partial: true });
emit({ event: "done", train_loss: loss, trained_samples: steps * n, max_rss_kb: process.resourceUsage().maxRSS });
be.close();
