import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { gatherBatch, gatherBatchNaive, splitValidation } from "../runtime/data/batch";
import type { Dataset } from "../runtime/data/dataset";
import { loadIdxDir } from "../runtime/node/load-idx";
import { DnncError } from "../runtime/errors";

const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8"));

describe("gatherBatch", () => {
  it("equals the naive definition on random datasets, orders and offsets", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 12 }),
          shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
          bytes: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1000 }),
          scale: fc.constantFrom(1, 1 / 255, 0.5, -2),
          shift: fc.constantFrom(0, -0.5, 3),
          xOff: fc.integer({ min: 0, max: 7 }),
        }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        ({ n, shape, bytes, seed, scale, shift, xOff }, picks) => {
          const F = shape.reduce((a, b) => a * b, 1);
          const x = bytes ? new Uint8Array(n * F) : new Float32Array(n * F);
          for (let i = 0; i < x.length; i++) x[i] = bytes ? (i * 37 + seed) % 256 : Math.fround(Math.sin(i + seed) * 3);
          const y = Float32Array.from({ length: n }, (_, i) => (i + seed) % 5);
          const ds: Dataset = { x, y, n, shape };
          const order = Int32Array.from(picks, (p) => p % n);
          const start = Math.min(2, order.length - 1);
          const rows = order.length - start;
          const yOff = xOff + rows * F + 3;
          const H = new Float32Array(yOff + rows + 5).fill(NaN);
          gatherBatch(H, ds, order, start, rows, xOff, yOff, scale, shift);
          const want = gatherBatchNaive(ds, Array.from(order.subarray(start)), scale, shift);
          expect(Array.from(H.subarray(xOff, xOff + rows * F), (v) => v + 0)).toEqual(want.x.map((v) => v + 0)); // -0 == 0
          expect(Array.from(H.subarray(yOff, yOff + rows))).toEqual(want.y);
          // nothing outside the two blocks is touched
          expect(H.subarray(0, xOff).every(Number.isNaN)).toBe(true);
          expect(H.subarray(xOff + rows * F, yOff).every(Number.isNaN)).toBe(true);
          expect(H.subarray(yOff + rows).every(Number.isNaN)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives PyTorch's x/255 - 0.5 for a Fashion-MNIST batch", () => {
    const { train } = loadIdxDir(join(__dirname, "../specs/data/fashion-mnist-small"));
    const b = ref.batch;
    const H = new Float32Array(10 + b.rows.length * 785);
    const yOff = 10 + b.rows.length * 784;
    gatherBatch(H, train, Int32Array.from(b.rows), 0, b.rows.length, 10, yOff, 1 / 255, b.shift);
    expect(Array.from(H.subarray(yOff, yOff + b.rows.length))).toEqual(b.y);
    for (let i = 0; i < b.rows.length; i++) {
      let s = 0;
      for (let j = 0; j < 784; j++) s += H[10 + i * 784 + j];
      expect(s).toBeCloseTo(b.x_sum_per_row[i], 3);
    }
    // element-wise: x*(1/255) vs x/255 in float32 differ by at most one rounding
    b.x_row0_first100.forEach((v: number, j: number) => expect(Math.abs(H[10 + 300 + j] - v)).toBeLessThanOrEqual(6e-8));
  });

  it("refuses rows or offsets out of range", () => {
    const ds: Dataset = { x: new Uint8Array(8), y: new Uint8Array(2), n: 2, shape: [4] };
    const H = new Float32Array(20);
    expect(() => gatherBatch(H, ds, Int32Array.of(0, 1), 1, 2, 0, 10, 1)).toThrow(/outside the order/);
    expect(() => gatherBatch(H, ds, Int32Array.of(0, 2), 0, 2, 0, 10, 1)).toThrow(/row 2 outside the dataset/);
    expect(() => gatherBatch(H, ds, Int32Array.of(0, 1), 0, 2, 14, 0, 1)).toThrow(/does not fit/);
  });
});

describe("splitValidation", () => {
  it("partitions 0..n-1 into sorted parts of the requested sizes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 0.9, noNaN: true }), fc.nat(), (n, fraction, seed) => {
        fc.pre(n === 0 || Math.round(n * fraction) < n);
        const { train, val } = splitValidation(n, fraction, seed);
        expect(val.length).toBe(Math.round(n * fraction));
        expect(train.length + val.length).toBe(n);
        const all = [...train, ...val].sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
        for (const part of [train, val]) for (let i = 1; i < part.length; i++) expect(part[i]).toBeGreaterThan(part[i - 1]);
      }),
      { numRuns: 100 },
    );
  });

  it("is a function of the seed", () => {
    const a = splitValidation(1000, 0.1, 42);
    expect(splitValidation(1000, 0.1, 42)).toEqual(a);
    const b = splitValidation(1000, 0.1, 43);
    expect(Array.from(b.val)).not.toEqual(Array.from(a.val));
    // not simply the first or last rows
    expect(a.val[0]).toBeLessThan(100);
    expect(a.val[a.val.length - 1]).toBeGreaterThan(900);
  });

  it("rejects fractions outside [0, 1) and leaving nothing to train on", () => {
    expect(() => splitValidation(10, 1, 0)).toThrow(DnncError);
    expect(() => splitValidation(10, -0.1, 0)).toThrow(/fraction must be in \[0, 1\)/);
    expect(() => splitValidation(1, 0.6, 0)).toThrow(/leaves none for training/);
    expect(splitValidation(10, 0, 0).val.length).toBe(0);
  });
});
