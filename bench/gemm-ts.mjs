// GFLOP/s of the plain-TypeScript GEMMs on the shapes of a 784->256 dense layer at batch 128,
// in each layout a training step uses. Not a test: run `npx tsx bench/gemm-ts.mjs [--naive]`.
// Timed by the process's CPU time (process.cpuUsage), best batch of several, so that other
// processes sharing the cores distort the figures less than wall-clock timing would.
import { gemmNaive, gemmBlocked } from "../runtime/kernels/gemm.ts";
import { Rng } from "../runtime/rng.ts";

const out = 256,
  inp = 784;
// [name, tA, tB, M, N, K] at batch 128 and 16
const cases = [128, 16].flatMap((n) => [
  ["NT forward       ", 0, 1, n, out, inp],
  ["NN input grad    ", 0, 0, n, inp, out],
  ["TN weight grad   ", 1, 0, out, inp, n],
  ["TT (completeness)", 1, 1, n, out, inp],
]);
const withNaive = process.argv.includes("--naive");
const H = new Float32Array(3 * 1024 * 1024);
const rng = new Rng(1, 2);
for (let i = 0; i < H.length; i++) H[i] = rng.uniform() - 0.5;
const A = 0,
  B = 1024 * 1024,
  C = 2 * 1024 * 1024;

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function bench(f, tA, tB, M, N, K, seconds) {
  const flops = 2 * M * N * K;
  for (let w = 0; w < 5; w++) f(H, tA, tB, M, N, K, A, B, C, 0); // warm up (tier-up)
  const reps = Math.max(1, Math.round(2e8 / flops)); // ~50 ms of work per batch
  let best = Infinity;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = cpuMs();
    for (let r = 0; r < reps; r++) f(H, tA, tB, M, N, K, A, B, C, 0);
    best = Math.min(best, (cpuMs() - s) / reps);
  }
  return flops / (best * 1e6);
}

for (const [name, tA, tB, M, N, K] of cases) {
  const gb = bench(gemmBlocked, tA, tB, M, N, K, 2);
  const line = `${name} M=${M} N=${N} K=${K}  blocked ${gb.toFixed(2)} GFLOP/s`;
  if (withNaive) {
    const gn = bench(gemmNaive, tA, tB, M, N, K, 2);
    console.log(`${line}  naive ${gn.toFixed(2)} GFLOP/s  (x${(gb / gn).toFixed(1)})`);
  } else console.log(line);
}
