// Optimizers (runtime/optim.ts) and clipping / max-norm / penalties (runtime/regularize.ts)
// against PyTorch 1.13 (cases from test/reference/optim/make_cases.py), plus properties.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { layoutErrors, optimizerConfigErrors, optimizerStep, stateSlots, type OptimLayout, type OptimizerConfig, type Segment } from "../runtime/optim";
import { applyMaxNorm, clipGradNorm, clipGradValue, penaltyValue } from "../runtime/regularize";

const load = (f: string) => JSON.parse(readFileSync(new URL(`./reference/optim/${f}`, import.meta.url), "utf8"));
const OPT = load("optim.json");
const REG = load("regularize.json");

type SegShape = { name: string; offset: number; size: number; rows: number; cols: number };
type Regs = { weightDecay: number; decoupledDecay: number; l1: number; lrScale: number };
const segment = (s: SegShape, r: Partial<Regs> & { maxNorm?: number } = {}): Segment => ({
  ...s,
  weightDecay: r.weightDecay ?? 0,
  decoupledDecay: r.decoupledDecay ?? 0,
  l1: r.l1 ?? 0,
  lrScale: r.lrScale ?? 1,
  maxNorm: r.maxNorm ?? 0,
});

/** float32 closeness: relative 1e-5, with an absolute floor of 1e-5 * (typical magnitude 1). */
function expectClose(got: ArrayLike<number>, want: number[], what: string, rel = 1e-5): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0,
    at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1);
    if (!(err <= worst)) ((worst = err), (at = i));
  }
  if (!(worst <= rel)) throw new Error(`${what}: element ${at} is ${got[at]}, PyTorch ${want[at]} (rel err ${worst})`);
}

/** An arena with P, G, S away from 0 and NaN everywhere else, state slots included (step 1 must ignore them). */
function arena(N: number, segments: Segment[], slots: number, p: ArrayLike<number>) {
  const P = 5,
    G = P + N + 3,
    S = G + N + 7;
  const H = new Float32Array(S + Math.max(slots, 1) * N + 4).fill(NaN);
  H.set(p, P);
  H.fill(0, G, G + N);
  const layout: OptimLayout = { P, G, S, N, segments };
  return { H, layout };
}

describe("optimizerStep equals torch.optim (5 steps, two tensors)", () => {
  for (const c of OPT.cases as {
    name: string;
    opt: OptimizerConfig;
    regs: Regs[];
    lrs: number[];
    after: number[][];
  }[]) {
    it(c.name, () => {
      const segs = (OPT.segments as SegShape[]).map((s, i) => segment(s, c.regs[i]));
      const { H, layout } = arena(OPT.N, segs, stateSlots(c.opt), OPT.p0);
      for (let t = 0; t < c.after.length; t++) {
        H.set(OPT.grads[t], layout.G);
        optimizerStep(H, layout, c.opt, c.lrs[t], t + 1);
        expectClose(H.subarray(layout.P, layout.P + OPT.N), c.after[t], `${c.name}, step ${t + 1}`);
        expectClose(H.subarray(layout.G, layout.G + OPT.N), OPT.grads[t], "gradients untouched", 0);
      }
      // nothing outside [P, P+N), [G, G+N), [S, S + slots*N) was written
      expect(H[layout.P - 1]).toBeNaN();
      expect(H[layout.P + OPT.N]).toBeNaN();
      expect(H[layout.S + stateSlots(c.opt) * OPT.N]).toBeNaN();
    });
  }
});

describe("stateSlots", () => {
  it("counts what each optimizer keeps", () => {
    expect(stateSlots({ kind: "sgd" })).toBe(0);
    expect(stateSlots({ kind: "sgd", momentum: 0.9 })).toBe(1);
    expect(stateSlots({ kind: "adagrad" })).toBe(1);
    expect(stateSlots({ kind: "rmsprop" })).toBe(1);
    expect(stateSlots({ kind: "rmsprop", momentum: 0.9, centered: true })).toBe(3);
    expect(stateSlots({ kind: "adam" })).toBe(2);
    expect(stateSlots({ kind: "adamw", amsgrad: true })).toBe(3);
  });
});

const smallFloat = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });

describe("optimizer properties", () => {
  it("plain SGD is p -= lr * g, and decoupled decay with a zero gradient is p *= (1 - lr wd)^t", () => {
    fc.assert(
      fc.property(fc.array(smallFloat, { minLength: 1, maxLength: 20 }), fc.double({ min: 0.001, max: 0.5, noNaN: true }), (p, lr) => {
        const N = p.length;
        const seg = segment({ name: "x", offset: 0, size: N, rows: 1, cols: N }, { decoupledDecay: 0.5 });
        const { H, layout } = arena(N, [seg], 0, p);
        for (let t = 1; t <= 3; t++) optimizerStep(H, layout, { kind: "sgd" }, lr, t);
        for (let i = 0; i < N; i++) expect(H[layout.P + i]).toBeCloseTo(p[i] * Math.pow(1 - lr * 0.5, 3), 5);
        const g = p.map((_, i) => Math.sin(i + 1));
        const seg0 = segment({ name: "x", offset: 0, size: N, rows: 1, cols: N });
        const a = arena(N, [seg0], 0, p);
        a.H.set(g, a.layout.G);
        optimizerStep(a.H, a.layout, { kind: "sgd" }, lr, 1);
        for (let i = 0; i < N; i++) expect(a.H[a.layout.P + i]).toBe(Math.fround(Math.fround(p[i]) - lr * Math.fround(g[i])));
      }),
      { numRuns: 50 },
    );
  });

  it("coupled decay + L1 is the gradient of penaltyValue (finite differences)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: Math.fround(0.05), max: 3, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (mag, neg, wd, l1) => {
          const p = mag.map((m, i) => (neg[i] ? -m : m));
          const N = p.length;
          const seg = segment({ name: "x", offset: 0, size: N, rows: 1, cols: N }, { weightDecay: wd, l1 });
          const { H, layout } = arena(N, [seg], 0, p);
          const before = Array.from(H.subarray(layout.P, layout.P + N));
          const h = 1e-2;
          const fd = before.map((_, i) => {
            const H2 = new Float64Array(H) as unknown as Float32Array; // exact perturbations
            H2[layout.P + i] = before[i] + h;
            const up = penaltyValue(H2, layout);
            H2[layout.P + i] = before[i] - h;
            return (up - penaltyValue(H2, layout)) / (2 * h);
          });
          optimizerStep(H, layout, { kind: "sgd" }, 1, 1); // p -= (wd p + l1 sign p)
          for (let i = 0; i < N; i++) expect(before[i] - H[layout.P + i]).toBeCloseTo(fd[i], 4);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("segments are independent: one sweep over two segments equals two sweeps over one each", () => {
    fc.assert(
      fc.property(fc.array(smallFloat, { minLength: 4, maxLength: 16 }), fc.integer({ min: 1, max: 3 }), (p, split) => {
        const N = p.length,
          a = split,
          b = N - split;
        const opt: OptimizerConfig = { kind: "adam", amsgrad: true };
        const s1 = segment({ name: "a", offset: 0, size: a, rows: 1, cols: a }, { weightDecay: 0.1 });
        const s2 = segment({ name: "b", offset: a, size: b, rows: 1, cols: b }, { l1: 0.2, lrScale: 3 });
        const both = arena(N, [s1, s2], 3, p);
        const sep = arena(N, [s1, s2], 3, p);
        for (let t = 1; t <= 3; t++) {
          const g = p.map((_, i) => Math.cos(i * t));
          both.H.set(g, both.layout.G);
          sep.H.set(g, sep.layout.G);
          optimizerStep(both.H, both.layout, opt, 0.01, t);
          optimizerStep(sep.H, { ...sep.layout, segments: [s2] }, opt, 0.01, t);
          optimizerStep(sep.H, { ...sep.layout, segments: [s1] }, opt, 0.01, t);
        }
        expect(Array.from(both.H)).toEqual(Array.from(sep.H));
      }),
      { numRuns: 30 },
    );
  });
});

describe("clipping and max-norm equal torch", () => {
  const segs = (REG.segments as SegShape[]).map((s) => segment(s));
  const N = REG.x.length;
  const withGrads = () => {
    const { H, layout } = arena(N, segs, 0, new Array(N).fill(0));
    H.set(REG.x, layout.G);
    return { H, layout };
  };
  for (const c of REG.clipNorm as { maxNorm: number; normType: number | "inf"; total: number; grads: number[] }[]) {
    it(`clip_grad_norm_(max_norm=${c.maxNorm}, norm_type=${c.normType}), global over both tensors`, () => {
      const { H, layout } = withGrads();
      const total = clipGradNorm(H, layout, c.maxNorm, c.normType === "inf" ? Infinity : c.normType);
      expectClose([total], [c.total], "total norm");
      expectClose(H.subarray(layout.G, layout.G + N), c.grads, "clipped gradients");
    });
  }
  for (const c of REG.clipValue as { value: number; grads: number[] }[]) {
    it(`clip_grad_value_(${c.value})`, () => {
      const { H, layout } = withGrads();
      clipGradValue(H, layout, c.value);
      expectClose(H.subarray(layout.G, layout.G + N), c.grads, "clipped gradients", 0);
    });
  }
  for (const c of REG.maxNorm as { maxNorm: number[]; params: number[] }[]) {
    it(`max-norm ${c.maxNorm} = torch.renorm(p, 2, 0, c) (0 = no constraint)`, () => {
      const s = (REG.segments as SegShape[]).map((x, i) => segment(x, { maxNorm: c.maxNorm[i] }));
      const { H, layout } = arena(N, s, 0, REG.x);
      applyMaxNorm(H, layout);
      expectClose(H.subarray(layout.P, layout.P + N), c.params, "renormed");
    });
  }
  it("penaltyValue = sum wd/2 ||p||^2 + l1 ||p||_1", () => {
    const s = (REG.segments as SegShape[]).map((x, i) => segment(x, REG.penalty.regs[i]));
    const { H, layout } = arena(N, s, 0, REG.x);
    expectClose([penaltyValue(H, layout)], [REG.penalty.value], "penalty");
  });

  it("after clipGradNorm the global norm is at most maxNorm; after applyMaxNorm every row is at most c", () => {
    fc.assert(
      fc.property(fc.array(smallFloat, { minLength: 6, maxLength: 6 * 5 }), fc.double({ min: 0.1, max: 5, noNaN: true }), (x, c) => {
        const rows = 6,
          cols = Math.floor(x.length / 6),
          n = rows * cols;
        const seg = segment({ name: "w", offset: 0, size: n, rows, cols }, { maxNorm: c });
        const { H, layout } = arena(n, [seg], 0, x.slice(0, n));
        H.set(x.slice(0, n), layout.G);
        clipGradNorm(H, layout, c);
        let ss = 0;
        for (let i = 0; i < n; i++) ss += H[layout.G + i] ** 2;
        expect(Math.sqrt(ss)).toBeLessThanOrEqual(c * (1 + 1e-6));
        applyMaxNorm(H, layout);
        for (let r = 0; r < rows; r++) {
          let rs = 0,
            orig = 0;
          for (let j = 0; j < cols; j++) ((rs += H[layout.P + r * cols + j] ** 2), (orig += Math.fround(x[r * cols + j]) ** 2));
          expect(Math.sqrt(rs)).toBeLessThanOrEqual(c * (1 + 1e-6));
          if (Math.sqrt(orig) <= c) for (let j = 0; j < cols; j++) expect(H[layout.P + r * cols + j]).toBe(Math.fround(x[r * cols + j]));
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("configuration checks", () => {
  it("every PyTorch reference case is a valid configuration and layout", () => {
    for (const c of OPT.cases as { opt: OptimizerConfig; regs: Regs[] }[]) {
      expect(optimizerConfigErrors(c.opt)).toEqual([]);
      const segs = (OPT.segments as SegShape[]).map((s, i) => segment(s, c.regs[i]));
      expect(layoutErrors(arena(OPT.N, segs, stateSlots(c.opt), OPT.p0).layout, c.opt)).toEqual([]);
    }
  });
  it("rejects what PyTorch's constructors reject, and broken layouts", () => {
    expect(optimizerConfigErrors({ kind: "sgd", nesterov: true })).toEqual(["sgd: nesterov needs momentum > 0 and dampening 0"]);
    expect(optimizerConfigErrors({ kind: "sgd", momentum: 0.9, dampening: 0.1, nesterov: true })).toHaveLength(1);
    expect(optimizerConfigErrors({ kind: "adam", beta2: 1 })).toEqual(["adam: beta2 must be in [0, 1), got 1"]);
    expect(optimizerConfigErrors({ kind: "rmsprop", momentum: -1 })).toHaveLength(1);
    const w = segment({ name: "W", offset: 0, size: 12, rows: 3, cols: 4 }, { l1: -1 });
    const b = segment({ name: "b", offset: 10, size: 3, rows: 3, cols: 2 });
    const errs = layoutErrors({ P: 0, G: 10, S: 30, N: 12, segments: [w, b] }, { kind: "adam" });
    expect(errs).toEqual([
      "params [P, P+N) and grads [G, G+N) overlap",
      "W: l1 must be >= 0, got -1",
      "b overlaps the previous segment",
      "b lies outside [0, N=12)",
      "b: rows*cols = 6 but size = 3",
    ]);
  });
});
