// gemmBlocked against the gemmNaive oracle on random shapes and layouts, including edge sizes
// (1, primes, sizes past the MC/KC/NC blocks) and both beta values.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gemmBlocked, gemmNaive, makeGemm, KC, MC } from "../runtime/kernels/gemm";
import { Rng } from "../runtime/rng";

function fillRandom(H: Float32Array, off: number, len: number, rng: Rng): void {
  for (let i = 0; i < len; i++) H[off + i] = rng.range(-1, 1);
}

// Runs both implementations on the same inputs (A at 3, B after A, C after B, a guard zone
// around C) and returns the largest error relative to sum_k |a||b| (the scale of the rounding).
function compare(tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, beta: 0 | 1, seed: number) {
  const a = 3,
    b = a + M * K + 5,
    c = b + K * N + 7,
    guard = 11;
  const len = c + M * N + guard;
  const H1 = new Float32Array(len);
  const rng = new Rng(seed, 7);
  fillRandom(H1, 0, len, rng);
  const H2 = H1.slice();
  gemmNaive(H1, tA, tB, M, N, K, a, b, c, beta);
  gemmBlocked(H2, tA, tB, M, N, K, a, b, c, beta);
  let worst = 0;
  for (let i = 0; i < len; i++) {
    if (i >= c && i < c + M * N) {
      worst = Math.max(worst, Math.abs(H1[i] - H2[i]) / (K + 1));
    } else if (H1[i] !== H2[i]) return { worst: Infinity, at: i }; // inputs and guard untouched
  }
  return { worst, at: -1 };
}

const layouts: [0 | 1, 0 | 1][] = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];

describe("gemmBlocked equals gemmNaive", () => {
  it("on random shapes, layouts and beta (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(...layouts),
        fc.constantFrom<0 | 1>(0, 1),
        fc.integer({ min: 0, max: 1e6 }),
        (M, N, K, [tA, tB], beta, seed) => {
          const r = compare(tA, tB, M, N, K, beta, seed);
          expect(r.at).toBe(-1);
          expect(r.worst).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it.each([
    [1, 1, 1],
    [1, 7, 13],
    [13, 1, 7],
    [7, 13, 1],
    [5, 3, 2],
    [17, 19, 23],
    [MC + 3, 5, KC + 1], // past one A block and one depth block
    [3, 1031, 2], // past NC
    [MC * 2 + 1, 9, 2 * KC + 3],
  ])("edge shape M=%i N=%i K=%i in every layout", (M, N, K) => {
    for (const [tA, tB] of layouts) {
      for (const beta of [0, 1] as const) {
        const r = compare(tA, tB, M, N, K, beta, M * 1000 + N + K);
        expect(r.at).toBe(-1);
        expect(r.worst).toBeLessThan(1e-6);
      }
    }
  });

  it("beta=0 ignores NaN in C; beta=1 accumulates", () => {
    const H = new Float32Array(2 * 3 + 3 * 2 + 4);
    H.set([1, 2, 3, 4, 5, 6], 0); // A (2,3)
    H.set([1, 0, 0, 1, 1, 1], 6); // B (3,2)
    H.fill(NaN, 12, 16);
    gemmBlocked(H, 0, 0, 2, 2, 3, 0, 6, 12, 0);
    expect(Array.from(H.subarray(12, 16))).toEqual([4, 5, 10, 11]);
    gemmBlocked(H, 0, 0, 2, 2, 3, 0, 6, 12, 1);
    expect(Array.from(H.subarray(12, 16))).toEqual([8, 10, 20, 22]);
  });

  it("K=0 gives zeros (beta=0) or leaves C (beta=1)", () => {
    const H = new Float32Array([NaN, NaN, 7, 7]);
    gemmBlocked(H, 0, 0, 1, 2, 0, 0, 0, 0, 0);
    expect(Array.from(H.subarray(0, 2))).toEqual([0, 0]);
    gemmBlocked(H, 0, 0, 1, 2, 0, 0, 0, 2, 1);
    expect(Array.from(H.subarray(2, 4))).toEqual([7, 7]);
  });

  it("makeGemm binds H for both implementations", () => {
    for (const impl of ["naive", "blocked"] as const) {
      const H = new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]);
      const g = makeGemm(H, impl);
      g(0, 1, 2, 2, 1, 0, 2, 4, 0); // A (2,1)=[1,2], B stored (2,1)=[3,4] transposed: outer product
      expect(Array.from(H.subarray(4))).toEqual([3, 4, 6, 8]);
    }
  });
});
