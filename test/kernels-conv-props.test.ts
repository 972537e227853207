// conv2d: im2col+GEMM kernels equal the naive direct oracle on random configurations
// (fast-check), touch nothing but their outputs and scratch, and their gradients match central
// finite differences (float64 heap, tiny shapes).
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { convConfig, convScratchSize, convWeightSize, conv2dForward, conv2dBackward, type ConvConfig, type ConvOptions } from "../runtime/kernels/conv";
import { conv2dForwardNaive, conv2dBackwardNaive } from "../runtime/kernels/reference";
import { Rng } from "../runtime/rng";
import { makeGemm } from "../runtime/kernels/gemm";
import type { GemmFn } from "../runtime/backend";
import { Heap, naiveGemm, expectClose } from "./reference/conv_norm/harness";

describe("convConfig", () => {
  it("resolves padding 'same' as PyTorch: extra row/column at the bottom/right", () => {
    const c = convConfig({ C: 1, H: 6, W: 5, K: 1, kernel: [4, 2], padding: "same" });
    expect([c.ph, c.pw, c.OH, c.OW]).toEqual([1, 0, 6, 5]);
    const d = convConfig({ C: 1, H: 6, W: 7, K: 1, kernel: 3, padding: "same", dilation: 2 });
    expect([d.ph, d.pw, d.OH, d.OW]).toEqual([2, 2, 6, 7]);
  });
  it("computes OH/OW for stride, dilation and explicit asymmetric padding", () => {
    const c = convConfig({ C: 2, H: 8, W: 7, K: 2, kernel: 3, stride: 2, padding: 1 });
    expect([c.OH, c.OW]).toEqual([4, 4]);
    const d = convConfig({ C: 2, H: 9, W: 8, K: 2, kernel: 3, dilation: 2, padding: 2 });
    expect([d.OH, d.OW]).toEqual([9, 8]);
    const e = convConfig({ C: 1, H: 5, W: 5, K: 1, kernel: 2, padding: { top: 0, bottom: 1, left: 1, right: 0 } });
    expect([e.ph, e.pw, e.OH, e.OW]).toEqual([0, 1, 5, 5]);
  });
  it("rejects bad configurations", () => {
    expect(() => convConfig({ C: 3, H: 5, W: 5, K: 4, kernel: 3, groups: 2 })).toThrow(/groups/);
    expect(() => convConfig({ C: 1, H: 2, W: 5, K: 1, kernel: 3 })).toThrow(/too small/);
    expect(() => convConfig({ C: 1, H: 5, W: 5, K: 1, kernel: 3, stride: 2, padding: "same" })).toThrow(/stride 1/);
  });
  it("needs no scratch for pointwise convolutions", () => {
    expect(convScratchSize(convConfig({ C: 4, H: 3, W: 3, K: 2, kernel: 1 }))).toBe(0);
    expect(convScratchSize(convConfig({ C: 4, H: 3, W: 3, K: 2, kernel: 1, stride: 2 }))).toBe(4 * 2 * 2);
    expect(convScratchSize(convConfig({ C: 4, H: 5, W: 5, K: 2, kernel: 3, groups: 2 }))).toBe(2 * 9 * 9);
  });
});

const arbConv: fc.Arbitrary<ConvOptions & { n: number; bias: boolean }> = fc
  .record({
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 3 }),
    kg: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 2 }),
    dw: fc.integer({ min: 1, max: 2 }),
    pad: fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      fc.record({ top: fc.nat(2), bottom: fc.nat(2), left: fc.nat(2), right: fc.nat(2) }),
      fc.constant("same" as const),
    ),
    n: fc.integer({ min: 1, max: 3 }),
    bias: fc.boolean(),
  })
  .map((r) => ({
    C: r.groups * r.cg,
    K: r.groups * r.kg,
    H: r.H,
    W: r.W,
    kernel: [r.kh, r.kw] as [number, number],
    stride: (r.pad === "same" ? 1 : [r.sh, r.sw]) as number | [number, number],
    dilation: [r.dh, r.dw] as [number, number],
    padding: r.pad,
    groups: r.groups,
    n: r.n,
    bias: r.bias,
  }))
  .filter((o) => {
    try {
      convConfig(o);
      return true;
    } catch {
      return false;
    }
  });

function randomFill(hp: Heap, o: number, len: number, rng: Rng): void {
  for (let i = 0; i < len; i++) hp.H[o + i] = rng.normal();
}

describe("conv2d im2col+GEMM equals the naive oracle", () => {
  const gemms: [string, (H: Float32Array) => GemmFn][] = [
    ["the test's naive gemm", naiveGemm],
    ["gemmBlocked", (H) => makeGemm(H, "blocked")],
  ];
  it.each(gemms)("on random configurations (forward, dx, dw, db), writing nothing else, with %s", (_, mk) => {
    let seed = 0;
    fc.assert(
      fc.property(arbConv, (o) => {
        const cfg = convConfig(o);
        const { n } = o;
        const rng = new Rng(++seed, 7);
        const xs = n * cfg.C * cfg.H * cfg.W;
        const ys = n * cfg.K * cfg.OH * cfg.OW;
        const ws = convWeightSize(cfg);
        const hp = new Heap(2 * (xs + ys + ws + cfg.K) + 4 * (xs + ys + ws + cfg.K) + convScratchSize(cfg) + 64);
        const x = hp.alloc(xs);
        const w = hp.alloc(ws);
        const b = o.bias ? hp.alloc(cfg.K) : -1;
        const dy = hp.alloc(ys);
        randomFill(hp, x, xs, rng);
        randomFill(hp, w, ws, rng);
        if (b >= 0) randomFill(hp, b, cfg.K, rng);
        randomFill(hp, dy, ys, rng);
        const inputsEnd = hp.top;
        // reference outputs
        const y0 = hp.alloc(ys, NaN);
        const dx0 = hp.alloc(xs, NaN);
        const dw0 = hp.alloc(ws, NaN);
        const db0 = hp.alloc(cfg.K, NaN);
        conv2dForwardNaive(hp.H, cfg, x, w, b, y0, n);
        conv2dBackwardNaive(hp.H, cfg, x, w, dy, dx0, dw0, b >= 0 ? db0 : -1, n);
        // fast outputs, with a guard word after each buffer
        const y = hp.alloc(ys, NaN);
        const g1 = hp.alloc(1, 7);
        const dx = hp.alloc(xs, NaN);
        const g2 = hp.alloc(1, 7);
        const dw = hp.alloc(ws, NaN);
        const g3 = hp.alloc(1, 7);
        const db = hp.alloc(cfg.K, NaN);
        const g4 = hp.alloc(1, 7);
        const col = hp.alloc(convScratchSize(cfg), NaN);
        const g5 = hp.alloc(1, 7);
        const before = hp.get(0, inputsEnd);
        const gemm = mk(hp.H);
        conv2dForward(hp.H, gemm, cfg, x, w, b, y, col, n);
        conv2dBackward(hp.H, gemm, cfg, x, w, dy, dx, dw, b >= 0 ? db : -1, col, n);
        const tag = JSON.stringify(cfg);
        expectClose(hp.get(y, ys), hp.get(y0, ys), `y ${tag}`);
        expectClose(hp.get(dx, xs), hp.get(dx0, xs), `dx ${tag}`);
        expectClose(hp.get(dw, ws), hp.get(dw0, ws), `dw ${tag}`);
        if (b >= 0) expectClose(hp.get(db, cfg.K), hp.get(db0, cfg.K), `db ${tag}`);
        expect(hp.get(0, inputsEnd)).toEqual(before);
        expect([g1, g2, g3, g4, g5].map((g) => hp.H[g])).toEqual([7, 7, 7, 7, 7]);
      }),
      { numRuns: 150, seed: 20240601 },
    );
  });

  it("skips dx, dw and db when their offsets are -1", () => {
    const cfg = convConfig({ C: 2, H: 5, W: 4, K: 2, kernel: 3, padding: 1 });
    const hp = new Heap(4096);
    const rng = new Rng(3, 3);
    const x = hp.alloc(2 * 40);
    const w = hp.alloc(convWeightSize(cfg));
    const dy = hp.alloc(2 * 40);
    randomFill(hp, 0, hp.top, rng);
    const col = hp.alloc(convScratchSize(cfg));
    const dw = hp.alloc(convWeightSize(cfg), NaN);
    const snapshot = hp.get(0, col);
    conv2dBackward(hp.H, naiveGemm(hp.H), cfg, x, w, dy, -1, dw, -1, col, 2);
    expect(hp.get(0, col)).toEqual(snapshot);
    expect(hp.get(dw, convWeightSize(cfg)).every(Number.isFinite)).toBe(true);
  });
});

// L = sum(y * r); its gradient is conv2dBackward with dy = r. Central differences in float64.
function finiteDifferenceCheck(o: ConvOptions & { n: number }, fast: boolean): void {
  const cfg: ConvConfig = convConfig(o);
  const { n } = o;
  const xs = n * cfg.C * cfg.H * cfg.W;
  const ys = n * cfg.K * cfg.OH * cfg.OW;
  const ws = convWeightSize(cfg);
  const hp = new Heap(4 * (xs + ys + ws + cfg.K) + convScratchSize(cfg), true);
  const rng = new Rng(11, 5);
  const x = hp.alloc(xs);
  const w = hp.alloc(ws);
  const b = hp.alloc(cfg.K);
  const r = hp.alloc(ys);
  randomFill(hp, 0, hp.top, rng);
  const y = hp.alloc(ys);
  const dx = hp.alloc(xs);
  const dw = hp.alloc(ws);
  const db = hp.alloc(cfg.K);
  const col = hp.alloc(convScratchSize(cfg));
  const gemm = naiveGemm(hp.H);
  const loss = (): number => {
    if (fast) conv2dForward(hp.H, gemm, cfg, x, w, b, y, col, n);
    else conv2dForwardNaive(hp.H, cfg, x, w, b, y, n);
    let s = 0;
    for (let i = 0; i < ys; i++) s += hp.H[y + i] * hp.H[r + i];
    return s;
  };
  if (fast) conv2dBackward(hp.H, gemm, cfg, x, w, r, dx, dw, db, col, n);
  else conv2dBackwardNaive(hp.H, cfg, x, w, r, dx, dw, db, n);
  const h = 1e-4;
  for (const [param, grad, len] of [
    [x, dx, xs],
    [w, dw, ws],
    [b, db, cfg.K],
  ]) {
    const got: number[] = [];
    const want: number[] = [];
    for (let i = 0; i < len; i++) {
      const v = hp.H[param + i];
      hp.H[param + i] = v + h;
      const lp = loss();
      hp.H[param + i] = v - h;
      const lm = loss();
      hp.H[param + i] = v;
      want.push((lp - lm) / (2 * h));
      got.push(hp.H[grad + i]);
    }
    expectClose(got, want, `gradient at offset ${param}`, 1e-6, 1e-7);
  }
}

describe("conv2d gradients match central finite differences", () => {
  const cases: (ConvOptions & { n: number })[] = [
    { n: 2, C: 2, H: 4, W: 5, K: 2, kernel: 3, padding: 1 },
    {
      n: 1,
      C: 4,
      H: 5,
      W: 4,
      K: 2,
      kernel: [2, 3],
      stride: 2,
      dilation: [2, 1],
      groups: 2,
      padding: { top: 0, bottom: 1, left: 1, right: 0 },
    },
    { n: 1, C: 2, H: 4, W: 3, K: 3, kernel: 4, padding: "same" },
  ];
  for (const [i, o] of cases.entries())
    for (const fast of [true, false]) it(`case ${i} (${fast ? "im2col+gemm" : "naive"})`, () => finiteDifferenceCheck(o, fast));
});
