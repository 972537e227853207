// gatherBatch on sequence datasets: several targets per sample (targetShape), windows over one
// series (Windows), and gatherLengths. The existing sources are covered by data-batch.test.ts.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gatherBatch, gatherBatchNaive, gatherLengths } from "../runtime/data/batch";
import { targetSize, windowCount, windowedDataset, type Dataset, type Windows } from "../runtime/data/dataset";

describe("gatherBatch with targetShape", () => {
  it("copies T targets per sample, as the naive definition does", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 5 }),
        (n, targetShape, picks, xOff) => {
          const F = 3;
          const T = targetShape.reduce((a, b) => a * b, 1);
          const ds: Dataset = {
            x: Float32Array.from({ length: n * F }, (_, i) => i * 0.5),
            y: Float32Array.from({ length: n * T }, (_, i) => (i % 7) - 1),
            n,
            shape: [F],
            targetShape,
          };
          expect(targetSize(ds)).toBe(T);
          const order = Int32Array.from(picks, (p) => p % n);
          const yOff = xOff + order.length * F + 2;
          const H = new Float32Array(yOff + order.length * T + 3).fill(NaN);
          gatherBatch(H, ds, order, 0, order.length, xOff, yOff, 2, 1);
          const want = gatherBatchNaive(ds, Array.from(order), 2, 1);
          expect(Array.from(H.subarray(xOff, xOff + order.length * F))).toEqual(want.x);
          expect(Array.from(H.subarray(yOff, yOff + order.length * T))).toEqual(want.y);
          expect(H[yOff + order.length * T]).toBeNaN(); // nothing written past the block
        },
      ),
    );
  });

  it("refuses a target block that does not fit the heap", () => {
    const ds: Dataset = { x: new Float32Array(4), y: new Float32Array(8), n: 2, shape: [2], targetShape: [4] };
    expect(() => gatherBatch(new Float32Array(10), ds, Int32Array.of(0, 1), 0, 2, 0, 4, 1)).toThrow(/does not fit/);
  });
});

describe("windowed datasets", () => {
  const arb = fc.record({
    steps: fc.integer({ min: 1, max: 40 }),
    features: fc.integer({ min: 1, max: 3 }),
    targetFeatures: fc.integer({ min: 1, max: 2 }),
    length: fc.integer({ min: 1, max: 6 }),
    stride: fc.integer({ min: 1, max: 5 }),
    targetOffset: fc.integer({ min: 0, max: 6 }),
    targetLength: fc.integer({ min: 1, max: 4 }),
    ids: fc.boolean(),
  });

  it("gatherBatch reads each window from the series, equal to the materialized x and y, without touching them", () => {
    fc.assert(
      fc.property(arb, fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), fc.constantFrom(0, 0.5), (a, picks, shift) => {
        const series = a.ids
          ? Uint16Array.from({ length: a.steps * a.features }, (_, i) => (i * 31) % 1000)
          : Float32Array.from({ length: a.steps * a.features }, (_, i) => Math.fround(Math.sin(i)));
        const target = Float32Array.from({ length: a.steps * a.targetFeatures }, (_, i) => i + 0.25);
        const w: Windows = {
          series,
          features: a.features,
          length: a.length,
          stride: a.stride,
          target,
          targetFeatures: a.targetFeatures,
          targetOffset: a.targetOffset,
          targetLength: a.targetLength,
        };
        const n = windowCount(a.steps, Math.max(a.length, a.targetOffset + a.targetLength), a.stride);
        if (n === 0) return;
        const shape = [a.length, a.features];
        const targetShape = [a.targetLength, a.targetFeatures];
        const ds = windowedDataset(w, n, shape, targetShape);
        // the same description whose x and y may not be read
        const guarded = {
          n,
          shape,
          targetShape,
          windows: w,
          get x(): Float32Array {
            throw new Error("x read");
          },
          get y(): Float32Array {
            throw new Error("y read");
          },
        } as Dataset;
        const order = Int32Array.from(picks, (p) => p % n);
        const F = a.length * a.features;
        const T = a.targetLength * a.targetFeatures;
        const H = new Float32Array(order.length * (F + T)).fill(NaN);
        gatherBatch(H, guarded, order, 0, order.length, 0, order.length * F, 1, shift);
        const want = gatherBatchNaive(ds, Array.from(order), 1, shift);
        expect(Array.from(H.subarray(0, order.length * F))).toEqual(want.x);
        expect(Array.from(H.subarray(order.length * F))).toEqual(want.y);
        // and the definition: window i starts at step i*stride
        const r = order[0];
        const s = r * a.stride;
        expect(Array.from(H.subarray(0, F))).toEqual(Array.from(series.subarray(s * a.features, (s + a.length) * a.features), (v) => Math.fround(v + shift)));
        const t0 = (s + a.targetOffset) * a.targetFeatures;
        expect(Array.from(H.subarray(order.length * F, order.length * F + T))).toEqual(Array.from(target.subarray(t0, t0 + T)));
      }),
    );
  });

  it("counts windows that fit, and refuses windows that would run past the series", () => {
    expect(windowCount(10, 4, 3)).toBe(3); // starts 0, 3, 6
    expect(windowCount(10, 10, 1)).toBe(1);
    expect(windowCount(9, 10, 1)).toBe(0);
    const series = new Uint8Array(10);
    const w: Windows = { series, features: 1, length: 4, stride: 3, target: series, targetFeatures: 1, targetOffset: 1, targetLength: 4 };
    expect(windowCount(10, 5, 3)).toBe(2);
    expect(() => windowedDataset(w, 2, [4], [4])).not.toThrow(); // last: starts 3, target steps 4..7
    expect(() => windowedDataset(w, 3, [4], [4])).toThrow(/run past the end/); // would need target steps 7..10
    expect(() => windowedDataset(w, 3, [5], [4])).toThrow(/shape/);
  });
});

describe("gatherLengths", () => {
  it("writes the recorded lengths, or the full length without them", () => {
    const ds: Dataset = { x: new Float32Array(12), y: new Float32Array(3), n: 3, shape: [4], lengths: Int32Array.of(4, 1, 2) };
    const out = new Float32Array(5).fill(-1);
    gatherLengths(out, 1, ds, Int32Array.of(2, 0, 1, 2), 1, 3);
    expect(Array.from(out)).toEqual([-1, 4, 1, 2, -1]);
    const full: Dataset = { x: new Float32Array(12), y: new Float32Array(3), n: 3, shape: [4, 1] };
    const o2 = new Int32Array(2);
    gatherLengths(o2, 0, full, Int32Array.of(1, 2), 0, 2);
    expect(Array.from(o2)).toEqual([4, 4]);
    expect(() => gatherLengths(o2, 0, full, Int32Array.of(3), 0, 1)).toThrow(/row 3 outside/);
  });
});
