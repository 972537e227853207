// The dense epilogues in wasm SIMD (runtime/wasm-kernels.ts) write the same bytes as their
// TypeScript references (the loops the compiler emits), on random shapes, offsets and values
// (zeros of both signs, NaN, infinities included).
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../runtime/backend-create";
import { biasAddRef, biasAddReluRef, biasGradRef, makeDenseEpilogues, reluBackwardRef } from "../runtime/wasm-kernels";

const FLOATS = 1 << 17;
const be = await createBackend(FLOATS, { backend: "wasm" });
const K = makeDenseEpilogues(be);
const tsBe = await createBackend(64, { backend: "ts" });
afterAll(() => {
  be.close();
  tsBe.close();
});

const valueArb = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, 1e-40, -3e38) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);
const caseArb = fc.record({
  n: fc.integer({ min: 0, max: 9 }),
  out: fc.integer({ min: 0, max: 21 }),
  offs: fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 3, maxLength: 3 }),
  values: fc.array(valueArb, { minLength: 64, maxLength: 64 }),
});

function sameBytes(got: Float32Array, want: Float32Array): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i])) throw new Error(`H[${i}] is ${got[i]}, the reference wrote ${want[i]}`);
}

/** Fills H, runs `fast` on it and `ref` on a copy; the regions are 1000 floats apart (no overlap). */
function check(c: { values: number[] }, fast: () => void, ref: (R: Float32Array) => void): void {
  const H = be.H;
  for (let i = 0; i < 3000; i++) H[i] = c.values[(i * 7) % 64] * (i % 5 === 0 ? -1 : 1);
  const R = H.slice(0, 3000);
  fast();
  ref(R);
  sameBytes(H.subarray(0, 3000), R);
}

describe("dense epilogues in wasm equal the TypeScript loops, byte for byte", () => {
  it("biasAdd and biasAddRelu", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const [y, b, z] = [c.offs[0], 1000 + c.offs[1], 2000 + (c.offs[2] % 750)];
        check(
          c,
          () => K.biasAdd(y, b, c.n, c.out),
          (R) => biasAddRef(R, y, b, c.n, c.out),
        );
        check(
          c,
          () => K.biasAddRelu(y, b, z, c.n, c.out),
          (R) => biasAddReluRef(R, y, b, z, c.n, c.out),
        );
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it("biasGrad and reluBackward", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const [dy, db] = [c.offs[0], 1000 + c.offs[1]];
        check(
          c,
          () => K.biasGrad(dy, db, c.n, c.out),
          (R) => biasGradRef(R, dy, db, c.n, c.out),
        );
        const len = c.n * c.out;
        check(
          c,
          () => K.reluBackward(dy, 1000 + c.offs[2], len),
          (R) => reluBackwardRef(R, dy, 1000 + c.offs[2], len),
        );
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it("on M1's shapes (128 x 256 and 128 x 10)", () => {
    const E = makeDenseEpilogues(be);
    for (const out of [256, 10]) {
      const H = be.H;
      for (let i = 0; i < 2 * 128 * out + out; i++) H[i] = Math.sin(i * 0.37) * 3;
      const R = H.slice();
      const [y, b, z] = [0, 128 * out, 128 * out + out];
      E.biasAddRelu(y, b, z, 128, out);
      biasAddReluRef(R, y, b, z, 128, out);
      E.biasGrad(y, b, 128, out);
      biasGradRef(R, y, b, 128, out);
      sameBytes(H, R);
    }
  });

  it("relu of -0 is +0 and of NaN is NaN (PyTorch propagates it), in the SIMD columns and in the scalar tail", () => {
    for (const [E, H] of [
      [K, be.H],
      [makeDenseEpilogues(tsBe), tsBe.H],
    ] as const) {
      H.set([-0, NaN, -0, NaN, -0, NaN, -0, NaN, -0, NaN, -Infinity, Infinity], 0);
      H.fill(-0, 12, 18);
      E.biasAddRelu(0, 12, 20, 2, 6);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) expect(Object.is(H[20 + i], 0), `z[${i}] = ${H[20 + i]}`).toBe(true);
        else expect(H[20 + i], `z[${i}]`).toBeNaN();
      }
      expect([H[30], H[31]]).toEqual([0, Infinity]);
    }
  });

  it("refuses to reach outside H; the ts backend gets the references", async () => {
    expect(() => K.biasAdd(FLOATS - 10, 0, 2, 8)).toThrow(RangeError);
    expect(() => K.reluBackward(0, 1.5, 4)).toThrow(RangeError);
    const ts = await createBackend(64, { backend: "ts" });
    const T = makeDenseEpilogues(ts);
    ts.H.set([1, -2, 3, -4, 10, 20, 30, 40]);
    T.biasAddRelu(0, 4, 0, 1, 4); // y = z: in place
    expect(Array.from(ts.H.subarray(0, 4))).toEqual([11, 18, 33, 36]);
    ts.close();
  });
});
