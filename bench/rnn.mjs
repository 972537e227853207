// Speed of the recurrent kernels (runtime/kernels/rnn.ts): forward + backward of one layer of
// the issue-18 character model (batch 32, context T = 64, embedding 64 -> LSTM or GRU 256) on
// the TypeScript blocked GEMM and on the wasm backend, and the time outside the GEMMs (gate
// sweeps, copies: the same passes with a GEMM that does nothing); also the wasm backend with the
// TypeScript sweeps, for what the wasm ones gain. Not a test:
//   npx tsx bench/rnn.mjs [--ms 200] [--windows 5] [--cell lstm|gru|both] [--n 32] [--T 64]
//                         [--F 64] [--U 256] [--no-ts] [--threads 1] [--wall]
// Each figure is the best of several windows of process CPU time (--wall: the clock, needed with
// --threads 2) after a warm-up. GFLOP/s counts the GEMMs' multiply-adds x2 (forward: input
// projection 2*n*T*F*G*U + recurrence 2*n*T*U*G*U; backward twice the forward, plus the bias
// sums); "ms per step" is one training step of the layer (forward + backward over the window).
import { createBackend } from "../runtime/backend-create.ts";
import { gruBackward, gruForward, gruSaveSize, gruScratchSize, lstmBackward, lstmForward, lstmSaveSize, lstmScratchSize } from "../runtime/kernels/rnn.ts";

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const MS = Number(arg("--ms", 200));
const WINDOWS = Number(arg("--windows", 5));
const n = Number(arg("--n", 32));
const T = Number(arg("--T", 64));
const F = Number(arg("--F", 64));
const U = Number(arg("--U", 256));
const THREADS = Number(arg("--threads", 1));
const CELLS = arg("--cell", "both") === "both" ? ["lstm", "gru"] : [arg("--cell")];
const WALL = process.argv.includes("--wall") || THREADS > 1;
const now = () => {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function bestMs(f) {
  let reps = 1;
  for (let t = 0; t < MS; reps *= 2) {
    const t0 = now();
    for (let i = 0; i < reps; i++) f();
    t = now() - t0;
  }
  reps = Math.max(1, reps >> 1);
  let best = Infinity;
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = now();
    for (let i = 0; i < reps; i++) f();
    best = Math.min(best, (now() - t0) / reps);
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

// kind "wasm-ts-sweeps": the wasm backend with its rnn module unregistered (the TypeScript
// float64 sweeps on the wasm GEMM), to measure what the wasm sweeps gain
async function run(kind, cell) {
  const G = (cell === "lstm" ? 4 : 3) * U;
  const cfg = { T, F, hidden: U, dirs: 1, reverse: false };
  const saveSize = cell === "lstm" ? lstmSaveSize(cfg, n) : gruSaveSize(cfg, n);
  const scratchSize = cell === "lstm" ? lstmScratchSize(cfg, n) : gruScratchSize(cfg, n);
  const sizes = {
    x: n * T * F,
    wih: G * F,
    whh: G * U,
    bih: G,
    bhh: G,
    gwih: G * F,
    gwhh: G * U,
    gbih: G,
    gbhh: G,
    y: n * T * U,
    dy: n * T * U,
    dx: n * T * F,
    hT: n * U,
    cT: n * U,
  };
  sizes.save = saveSize;
  sizes.scratch = scratchSize;
  let top = 64;
  const off = {};
  for (const [k, v] of Object.entries(sizes)) {
    off[k] = top;
    top += (v + 15) & ~15;
  }
  const be = await createBackend(top + 64, { backend: kind === "ts" ? "ts" : "wasm", threads: THREADS });
  const H = be.H;
  if (kind === "wasm-ts-sweeps") globalThis[Symbol.for("dnnc.wasm.rnn-kernels")].delete(H);
  fillRandom(H, off.x, sizes.x, 1);
  fillRandom(H, off.wih, sizes.wih, 2, 2 / Math.sqrt(U));
  fillRandom(H, off.whh, sizes.whh, 3, 2 / Math.sqrt(U));
  fillRandom(H, off.bih, G, 4, 0.1);
  fillRandom(H, off.bhh, G, 5, 0.1);
  fillRandom(H, off.dy, sizes.dy, 6);
  // the time outside the GEMMs (gate sweeps, copies): the same passes with a GEMM that does
  // nothing (the buffers keep the values of the real passes before), CPU time as the rest
  let gemmCalls = 0;
  const noGemm = () => {
    gemmCalls++;
  };
  const w = { wih: off.wih, whh: off.whh, bih: off.bih, bhh: off.bhh };
  const g = { wih: off.gwih, whh: off.gwhh, bih: off.gbih, bhh: off.gbhh };
  const fwd = (gemm) =>
    cell === "lstm"
      ? lstmForward(H, gemm, cfg, w, off.x, -1, -1, -1, off.y, off.hT, off.cT, off.save, off.scratch, n)
      : gruForward(H, gemm, cfg, w, off.x, -1, -1, off.y, off.hT, off.save, off.scratch, n);
  const bwd = (gemm) =>
    cell === "lstm"
      ? lstmBackward(H, gemm, cfg, w, g, off.x, -1, off.save, off.dy, -1, -1, off.dx, -1, -1, off.scratch, n, 0, 0)
      : gruBackward(H, gemm, cfg, w, g, off.x, -1, off.save, off.dy, -1, off.dx, -1, off.scratch, n, 0, 0);
  const fwdMs = bestMs(() => fwd(be.gemm));
  const stepMs = bestMs(() => {
    fwd(be.gemm);
    bwd(be.gemm);
  });
  fwd(be.gemm);
  bwd(be.gemm);
  const fwdRest = bestMs(() => fwd(noGemm));
  const bwdRest = bestMs(() => bwd(noGemm));
  gemmCalls = 0;
  bwd(noGemm);
  const calls = gemmCalls;
  be.close();
  const fwdFlop = 2 * n * T * F * G + 2 * n * T * U * G;
  const stepFlop = 3 * fwdFlop + 2 * 2 * n * T * G;
  return {
    kind: kind === "wasm-ts-sweeps" ? `${be.name} (TypeScript sweeps)` : be.name,
    fwdMs,
    stepMs,
    fwdGflops: fwdFlop / fwdMs / 1e6,
    stepGflops: stepFlop / stepMs / 1e6,
    fwdRest,
    bwdRest,
    calls,
  };
}

console.log(`recurrent layer: batch ${n}, T ${T}, F ${F} -> hidden ${U}; ${WALL ? "wall" : "CPU"} time, best of ${WINDOWS} windows of ~${MS} ms`);
const kinds = [...(process.argv.includes("--no-ts") ? [] : ["ts"]), "wasm-ts-sweeps", "wasm"];
for (const cell of CELLS)
  for (const kind of kinds) {
    const r = await run(kind, cell);
    console.log(
      `${cell.padEnd(4)} ${r.kind.padEnd(34)} forward ${r.fwdMs.toFixed(2).padStart(8)} ms (${r.fwdGflops.toFixed(1).padStart(5)} GFLOP/s)   ` +
        `forward+backward ${r.stepMs.toFixed(2).padStart(8)} ms per step (${r.stepGflops.toFixed(1).padStart(5)} GFLOP/s)   ` +
        `outside the GEMMs: forward ${r.fwdRest.toFixed(1)} ms, backward ${r.bwdRest.toFixed(1)} ms (${r.calls} GEMMs in a backward)`,
    );
  }
