// GFLOP/s of the plain-TypeScript GEMMs on the shapes of a 784->256 dense layer at batch 128,
// in each layout a training step uses. Not a test: run `npx tsx bench/gemm-ts.mjs [--naive]`.
import { gemmNaive, gemmBlocked } from "../runtime/kernels/gemm.ts";
import { Rng } from "../runtime/rng.ts";

const n = 128, out = 256, inp = 784;
// [name, tA, tB, M, N, K]
const cases = [
  ["NT forward      ", 0, 1, n, out, inp],
  ["NN input grad   ", 0, 0, n, inp, out],
  ["TN weight grad  ", 1, 0, out, inp, n],
  ["TT (completeness)", 1, 1, n, out, inp],
];
const withNaive = process.argv.includes("--naive");
const H = new Float32Array(3 * 1024 * 1024);
const rng = new Rng(1, 2);
for (let i = 0; i < H.length; i++) H[i] = rng.uniform() - 0.5;
const A = 0, B = 1024 * 1024, C = 2 * 1024 * 1024;

function bench(f, tA, tB, M, N, K, minMs) {
  const flops = 2 * M * N * K;
  for (let w = 0; w < 5; w++) f(H, tA, tB, M, N, K, A, B, C, 0); // warm up (tier-up)
  let best = Infinity;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    const s = performance.now();
    f(H, tA, tB, M, N, K, A, B, C, 0);
    best = Math.min(best, performance.now() - s);
  }
  return flops / (best * 1e6);
}

for (const [name, tA, tB, M, N, K] of cases) {
  const gb = bench(gemmBlocked, tA, tB, M, N, K, 1500);
  const line = `${name} M=${M} N=${N} K=${K}  blocked ${gb.toFixed(2)} GFLOP/s`;
  if (withNaive) {
    const gn = bench(gemmNaive, tA, tB, M, N, K, 1500);
    console.log(`${line}  naive ${gn.toFixed(2)} GFLOP/s  (x${(gb / gn).toFixed(1)})`);
  } else console.log(line);
}
