// The WASM SIMD GEMM (runtime/wasm/) against the oracle gemmNaive (runtime/kernels/gemm.ts), on
// random shapes (1, primes, sizes across the module's MR=4/NR=8 tiles and MC=128/KC=256/NC=1024
// blocks, and its unpacked NT path for narrow C), all four layouts, beta 0 and 1, nonzero offsets;
// on 1 thread and split over 2 threads (forced even for small shapes); the relaxed-SIMD build;
// and bit-for-bit determinism (repeat, 1 vs 2 threads).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { gemmNaive } from "../runtime/kernels/gemm";
import { createWasmBackend, type WasmBackend } from "../runtime/wasm/wasm-backend";

const FLOATS = 1 << 21;
const U = 2 ** -23; // unit roundoff of float32

function fill(H: Float32Array, from: number, to: number, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = from; i < to; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    H[i] = s / 2 ** 31 - 1; // uniform in [-1, 1)
  }
}

interface Case {
  tA: 0 | 1;
  tB: 0 | 1;
  M: number;
  N: number;
  K: number;
  beta: 0 | 1;
  gaps: number[];
  seed: number;
}

const dim = (big: number) =>
  fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constantFrom(1, 2, 3, 5, 7, 8, 9, 13, 31, 127, 129, 257, big), fc.integer({ min: 1, max: big }));
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    tA: fc.constantFrom<0 | 1>(0, 1),
    tB: fc.constantFrom<0 | 1>(0, 1),
    M: dim(140),
    N: dim(1031),
    K: dim(300),
    beta: fc.constantFrom<0 | 1>(0, 1),
    gaps: fc.array(fc.integer({ min: 0, max: 37 }), { minLength: 4, maxLength: 4 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .filter((c) => c.M * c.N * c.K <= 1_500_000);

/** Runs the case on be.H and on a copy with gemmNaive; returns both heaps' used prefix. */
function runCase(be: WasmBackend, c: Case) {
  const { tA, tB, M, N, K, beta, gaps, seed } = c;
  const a = gaps[0],
    b = a + M * K + gaps[1],
    cc = b + K * N + gaps[2],
    end = cc + M * N + gaps[3];
  const H = be.H;
  fill(H, 0, end, seed);
  if (!beta) H.fill(NaN, cc, cc + M * N); // beta = 0 must ignore C's old contents, even NaN
  const R = H.slice(0, end);
  be.gemm(tA, tB, M, N, K, a, b, cc, beta);
  gemmNaive(R, tA, tB, M, N, K, a, b, cc, beta);
  return { got: H.slice(0, end), want: R, a, b, cc };
}

/** Worst |got - want| / ((K+2) u sum_k |a_ik b_kj| + beta |c|): the float32 accumulation bound. */
function check(be: WasmBackend, c: Case): void {
  const { got, want, a, b, cc } = runCase(be, c);
  const { tA, tB, M, N, K } = c;
  for (let i = 0; i < cc; i++) if (!Object.is(got[i], want[i])) throw new Error(`wrote outside C at ${i}`);
  for (let i = cc + M * N; i < got.length; i++) if (!Object.is(got[i], want[i])) throw new Error(`wrote past C at ${i}`);
  const A = got,
    B = got;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += Math.abs(A[a + (tA ? k * M + i : i * K + k)] * B[b + (tB ? j * K + k : k * N + j)]);
      }
      const o = cc + i * N + j;
      const tol = (K + 2) * U * (s + Math.abs(want[o])) + 1e-30;
      if (!(Math.abs(got[o] - want[o]) <= tol)) {
        throw new Error(`C[${i},${j}] = ${got[o]}, naive ${want[o]} (tol ${tol}) for ${JSON.stringify(c)}`);
      }
    }
  }
}

describe("wasm gemm", () => {
  let one: WasmBackend, two: WasmBackend;
  beforeAll(async () => {
    one = await createWasmBackend(FLOATS, 1);
    two = await createWasmBackend(FLOATS, 2, { minParallelMacs: 0 }); // split even tiny GEMMs
  });
  afterAll(() => {
    one?.close();
    two?.close();
  });

  it("H is a zero-copy view of the module's memory", () => {
    expect(one.H.length).toBe(FLOATS);
    expect(one.H.buffer).toBe(one.memory.buffer);
    expect(two.H.buffer).toBe(two.memory.buffer);
    expect(two.threads).toBe(2);
  });

  it("matches gemmNaive on random shapes, layouts, beta and offsets (1 thread)", () => {
    fc.assert(
      fc.property(caseArb, (c) => check(one, c)),
      { numRuns: 120, seed: 4242 },
    );
  });

  it("matches gemmNaive split over 2 threads", () => {
    fc.assert(
      fc.property(caseArb, (c) => check(two, c)),
      { numRuns: 60, seed: 777 },
    );
  });

  it("matches on NT with fewer than 16 columns and K % 4 = 0 (the unpacked dot-product path)", () => {
    const narrow = fc.record({
      tA: fc.constant<0 | 1>(0),
      tB: fc.constant<0 | 1>(1),
      M: dim(140),
      N: fc.integer({ min: 1, max: 15 }),
      K: fc.integer({ min: 1, max: 300 }).map((k) => 4 * k),
      beta: fc.constantFrom<0 | 1>(0, 1),
      gaps: fc.array(fc.integer({ min: 0, max: 37 }), { minLength: 4, maxLength: 4 }),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(narrow, (c) => {
        check(one, c);
        check(two, c);
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it("the worker thread does take chunks of split GEMMs", () => {
    const before = two.stats.chunks - two.stats.chunksOnMain;
    // a 4M multiply-add GEMM split in 4 chunks; the main thread takes them all only if the worker
    // never gets a core in time, so a few hundred tries suffice even on a busy machine
    for (let i = 0; i < 300 && two.stats.chunks - two.stats.chunksOnMain === before; i++) {
      two.gemm(0, 1, 64, 256, 256, 0, 20000, 100000, 0);
    }
    expect(two.stats.chunks - two.stats.chunksOnMain).toBeGreaterThan(before);
    expect(one.stats.splitCalls).toBe(0);
  });

  it("gives the same bytes on 1 and 2 threads, and on repeat", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const x = runCase(one, c).got,
          y = runCase(two, c).got,
          z = runCase(two, c).got;
        expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer))).toBe(true);
        expect(Buffer.from(z.buffer).equals(Buffer.from(y.buffer))).toBe(true);
      }),
      { numRuns: 40, seed: 99 },
    );
  });

  it("matches on the training-step layouts (784->256 layer, batch 36) and block edges", () => {
    const shapes: [0 | 1, 0 | 1, number, number, number][] = [
      [0, 1, 36, 256, 784],
      [0, 0, 36, 784, 256],
      [1, 0, 256, 784, 36],
      [0, 1, 16, 10, 256],
      [1, 1, 33, 1030, 65],
      [0, 0, 129, 9, 513],
      [1, 0, 5, 1025, 3],
    ];
    for (const [tA, tB, M, N, K] of shapes) {
      for (const be of [one, two]) check(be, { tA, tB, M, N, K, beta: 1, gaps: [3, 1, 2, 5], seed: M * 7 + N });
    }
  });

  it("the relaxed-SIMD build (fused multiply-add) matches too, and 1 vs 2 threads bit for bit", async () => {
    const r1 = await createWasmBackend(FLOATS, 1, { relaxed: true });
    const r2 = await createWasmBackend(FLOATS, 2, { relaxed: true, minParallelMacs: 0 });
    try {
      expect(r1.relaxed).toBe(true); // Node 20 on x86-64: enabled through the V8 flag
      expect(r2.name).toBe("wasm-relaxed-simd x2");
      fc.assert(
        fc.property(caseArb, (c) => {
          check(r1, c);
          const x = runCase(r1, c).got,
            y = runCase(r2, c).got;
          expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer))).toBe(true);
        }),
        { numRuns: 40, seed: 31337 },
      );
    } finally {
      r1.close();
      r2.close();
    }
  });

  it("K = 0 gives beta*C", () => {
    for (const be of [one, two]) {
      be.H.fill(5, 0, 100);
      be.gemm(0, 0, 3, 4, 0, 0, 10, 20, 1);
      expect(Array.from(be.H.subarray(20, 32))).toEqual(new Array(12).fill(5));
      be.gemm(1, 1, 3, 4, 0, 0, 10, 20, 0);
      expect(Array.from(be.H.subarray(20, 32))).toEqual(new Array(12).fill(0));
      expect(be.H[32]).toBe(5);
    }
  });

  it("refuses operands that reach outside H", () => {
    expect(() => one.gemm(0, 0, 10, 10, 10, FLOATS - 50, 0, 0, 0)).toThrow(/outside H/);
    expect(() => one.gemm(0, 0, 10, 10, 10, 0, 0, -1, 0)).toThrow(/outside H/);
    expect(() => one.gemm(0, 0, 10, 10, 10, 0.5, 0, 0, 0)).toThrow(/outside H/);
  });
});
