// Pooling: configuration, PyTorch's tie and NaN rules for max pooling, and gradients against
// central finite differences (float64 heap) on random small configurations.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  poolConfig,
  maxPool2dForward,
  maxPool2dBackward,
  avgPool2dForward,
  avgPool2dBackward,
  globalAvgPoolForward,
  globalAvgPoolBackward,
} from "../runtime/kernels/pool";
import { Rng } from "../runtime/rng";
import { Heap, expectClose } from "./reference/conv_norm/harness";

describe("poolConfig", () => {
  it("defaults the stride to the kernel and computes OH/OW", () => {
    const c = poolConfig({ C: 3, H: 7, W: 6, kernel: 2 });
    expect([c.sh, c.sw, c.OH, c.OW, c.countIncludePad]).toEqual([2, 2, 3, 3, true]);
    const d = poolConfig({ C: 1, H: 7, W: 6, kernel: 3, stride: 2, padding: 1 });
    expect([d.OH, d.OW]).toEqual([4, 3]);
  });
  it("rejects padding above half the kernel", () => {
    expect(() => poolConfig({ C: 1, H: 5, W: 5, kernel: 2, padding: 2 })).toThrow(/half the kernel/);
  });
});

describe("max pooling rules", () => {
  it("picks the first maximum of a window and propagates NaN", () => {
    const c = poolConfig({ C: 1, H: 2, W: 4, kernel: 2 });
    const hp = new Heap(64);
    const x = hp.put([5, 5, 1, NaN, 5, 2, 3, 9]);
    const y = hp.alloc(2);
    const idx = hp.alloc(2);
    maxPool2dForward(hp.H, c, x, y, idx, 1);
    expect(hp.get(idx, 2)).toEqual([0, 3]);
    expect(hp.H[y]).toBe(5);
    expect(hp.H[y + 1]).toBeNaN();
  });
  it("routes each output gradient to its argmax; overlapping windows add up", () => {
    const c = poolConfig({ C: 1, H: 1, W: 3, kernel: [1, 2], stride: 1 });
    const hp = new Heap(64);
    const x = hp.put([0, 4, 1]);
    const y = hp.alloc(2);
    const idx = hp.alloc(2);
    const dy = hp.put([1.5, 2]);
    const dx = hp.alloc(3, NaN);
    maxPool2dForward(hp.H, c, x, y, idx, 1);
    maxPool2dBackward(hp.H, c, dy, idx, dx, 1);
    expect(hp.get(dx, 3)).toEqual([0, 3.5, 0]);
  });
});

const arbPool = fc
  .record({
    C: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 7 }),
    W: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    ph: fc.integer({ min: 0, max: 1 }),
    pw: fc.integer({ min: 0, max: 1 }),
    n: fc.integer({ min: 1, max: 2 }),
    kind: fc.constantFrom("max", "avg", "avg-exclude", "global"),
  })
  .filter((r) => 2 * r.ph <= r.kh && 2 * r.pw <= r.kw && r.H + 2 * r.ph >= r.kh && r.W + 2 * r.pw >= r.kw);

describe("pooling gradients match central finite differences", () => {
  it("on random configurations", () => {
    let seed = 0;
    fc.assert(
      fc.property(arbPool, (r) => {
        const c = poolConfig({
          C: r.C,
          H: r.H,
          W: r.W,
          kernel: [r.kh, r.kw],
          stride: [r.sh, r.sw],
          padding: [r.ph, r.pw],
          countIncludePad: r.kind !== "avg-exclude",
        });
        const xs = r.n * r.C * r.H * r.W;
        const ys = r.kind === "global" ? r.n * r.C : r.n * r.C * c.OH * c.OW;
        const hp = new Heap(4 * (xs + ys), true);
        const rng = new Rng(++seed, 9);
        const x = hp.alloc(xs);
        const rr = hp.alloc(ys);
        // distinct values (a permutation, spaced by 0.1) keep max pooling differentiable
        const perm = Array.from({ length: xs }, (_, i) => i);
        rng.shuffle(perm);
        for (let i = 0; i < xs; i++) hp.H[x + i] = 0.1 * perm[i] - 1;
        for (let i = 0; i < ys; i++) hp.H[rr + i] = rng.normal();
        const y = hp.alloc(ys);
        const idx = hp.alloc(ys);
        const dx = hp.alloc(xs);
        const fwd = (): number => {
          if (r.kind === "max") maxPool2dForward(hp.H, c, x, y, idx, r.n);
          else if (r.kind === "global") globalAvgPoolForward(hp.H, c, x, y, r.n);
          else avgPool2dForward(hp.H, c, x, y, r.n);
          let s = 0;
          for (let i = 0; i < ys; i++) s += hp.H[y + i] * hp.H[rr + i];
          return s;
        };
        fwd();
        if (r.kind === "max") maxPool2dBackward(hp.H, c, rr, idx, dx, r.n);
        else if (r.kind === "global") globalAvgPoolBackward(hp.H, c, rr, dx, r.n);
        else avgPool2dBackward(hp.H, c, rr, dx, r.n);
        const want: number[] = [];
        const h = 1e-3;
        for (let i = 0; i < xs; i++) {
          const v = hp.H[x + i];
          hp.H[x + i] = v + h;
          const lp = fwd();
          hp.H[x + i] = v - h;
          const lm = fwd();
          hp.H[x + i] = v;
          want.push((lp - lm) / (2 * h));
        }
        expectClose(hp.get(dx, xs), want, `${r.kind} ${JSON.stringify(c)}`, 1e-6, 1e-7);
      }),
      { numRuns: 120, seed: 4242 },
    );
  });
});
