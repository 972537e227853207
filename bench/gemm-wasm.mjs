// GFLOP/s of the GEMM backends: TypeScript gemmBlocked vs the wasm SIMD128 module on 1 and 2
// threads, on the shapes of a 784->256 dense layer (batch 128 and 16) in the three layouts a
// training step uses, and 1024^3. Best of several timed windows after a warm-up (the baseline
// wasm tier is slow until tier-up; the machine may be shared). Not a test:
//   npx tsx bench/gemm-wasm.mjs [--sweep] [--short] [--only text] [--chunks n]
//   --sweep: 1 vs 2 threads on growing sizes (to set PARALLEL_MIN_MACS in runtime/wasm/wasm-backend.ts)
//   --chunks n: chunks per thread of a split GEMM (default 2)
//   --only text: only the shapes whose label contains text (e.g. --only 1024)
//   --short: best of 300 windows of ~1 ms instead of 7 of ~60 ms (on a busy machine, the best
//            short window is when both cores happened to be free)
// The 2-thread figures need a second idle core: when another process holds it, the main thread
// runs every chunk itself and the x2 column shows the x1 figure.
import { gemmBlocked } from "../runtime/kernels/gemm.ts";
import { createWasmBackend } from "../runtime/wasm/wasm-backend.ts";

const FLOATS = 3 << 20; // three 1M-float operands: A at 0, B at 1M, C at 2M
const [A, B, C] = [0, 1 << 20, 2 << 20];
const shapes = [
  // [label, tA, tB, M, N, K]
  ["NT fwd   128x256x784", 0, 1, 128, 256, 784],
  ["NN dx    128x784x256", 0, 0, 128, 784, 256],
  ["TN dW    256x784x128", 1, 0, 256, 784, 128],
  ["NT fwd    16x256x784", 0, 1, 16, 256, 784],
  ["NN dx     16x784x256", 0, 0, 16, 784, 256],
  ["TN dW     256x784x16", 1, 0, 256, 784, 16],
  ["NN      1024x1024x1024", 0, 0, 1024, 1024, 1024],
];

function fill(H) {
  let s = 12345;
  for (let i = 0; i < H.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    H[i] = s / 2 ** 32 - 0.5;
  }
}

/** Best GFLOP/s over `windows` windows of ~`ms` ms each, after a warm-up of the same length. */
const SHORT = process.argv.includes("--short");
function gflops(f, M, N, K, ms = SHORT ? 1 : 60, windows = SHORT ? 300 : 7) {
  const flop = 2 * M * N * K;
  let reps = 1;
  for (let t = 0; t < ms; reps *= 2) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    t = performance.now() - t0;
  }
  let best = Infinity;
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return flop / best / 1e6;
}

const ts = new Float32Array(FLOATS);
const w1 = await createWasmBackend(FLOATS, 1);
const ci = process.argv.indexOf("--chunks");
const chunksPerThread = ci > 0 ? Number(process.argv[ci + 1]) : undefined;
const w2 = await createWasmBackend(FLOATS, 2, { chunksPerThread });
const w2all = await createWasmBackend(FLOATS, 2, { minParallelMacs: 0, chunksPerThread });
const r1 = await createWasmBackend(FLOATS, 1, { relaxed: true });
const r2 = await createWasmBackend(FLOATS, 2, { relaxed: true, chunksPerThread });
for (const H of [ts, w1.H, w2.H, w2all.H, r1.H, r2.H]) fill(H);

if (process.argv.includes("--sweep")) {
  console.log("M x N x K (NT)         MACs      1 thread  2 threads (forced)  GFLOP/s");
  for (const [M, N, K] of [
    [16, 10, 256],
    [16, 64, 256],
    [16, 128, 256],
    [24, 128, 256],
    [16, 256, 256],
    [32, 128, 256],
    [16, 256, 784],
    [64, 256, 256],
    [128, 256, 256],
    [128, 256, 784],
  ]) {
    const g1 = gflops(() => w1.gemm(0, 1, M, N, K, A, B, C, 0), M, N, K);
    const g2 = gflops(() => w2all.gemm(0, 1, M, N, K, A, B, C, 0), M, N, K);
    console.log(`${`${M}x${N}x${K}`.padEnd(20)} ${String(M * N * K).padStart(9)}  ${g1.toFixed(1).padStart(8)}  ${g2.toFixed(1).padStart(8)}`);
  }
} else {
  console.log(`shape                    ts-blocked  wasm x1  wasm x2  (relaxed SIMD: x1, x2)  GFLOP/s`);
  const oi = process.argv.indexOf("--only");
  for (const [label, tA, tB, M, N, K] of shapes) {
    if (oi > 0 && !label.includes(process.argv[oi + 1])) continue;
    const big = M * N * K > 1e8; // 1024^3: one call is a window; fewer windows
    const gt = gflops(() => gemmBlocked(ts, tA, tB, M, N, K, A, B, C, 0), M, N, K, big ? 300 : 60, big ? 2 : 5);
    const w = big ? [1, SHORT ? 15 : 5] : [];
    const g1 = gflops(() => w1.gemm(tA, tB, M, N, K, A, B, C, 0), M, N, K, ...w);
    const g2 = gflops(() => w2.gemm(tA, tB, M, N, K, A, B, C, 0), M, N, K, ...w);
    const gr1 = r1.relaxed ? gflops(() => r1.gemm(tA, tB, M, N, K, A, B, C, 0), M, N, K, ...w) : NaN;
    const gr2 = r2.relaxed ? gflops(() => r2.gemm(tA, tB, M, N, K, A, B, C, 0), M, N, K, ...w) : NaN;
    const f = (g, w = 8) => g.toFixed(1).padStart(w);
    console.log(`${label.padEnd(24)} ${f(gt, 10)} ${f(g1)} ${f(g2)}  ${f(gr1, 11)} ${f(gr2)}`);
  }
}
const share = (be) => (be.stats.chunks ? ((1 - be.stats.chunksOnMain / be.stats.chunks) * 100).toFixed(0) + "%" : "-");
console.log(`chunks of split GEMMs run by the worker: x2 ${share(w2)}, relaxed x2 ${share(r2)}` + (w2all.stats.chunks ? `, forced split ${share(w2all)}` : ""));
for (const be of [w1, w2, w2all, r1, r2]) be.close();
