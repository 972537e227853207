// The wasm optimizer sweep (runtime/optim-fast.ts, runtime/wasm/optim.wat) against its reference
// optimizerStep (runtime/optim.ts): the same bytes on random configurations and arenas, and
// PyTorch 1.13's values on the cases of test/reference/optim/optim.json.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../runtime/backend-create";
import { optimizerStep, stateSlots, type OptimLayout, type OptimizerConfig, type Segment } from "../runtime/optim";
import { makeClipGradNorm, makeOptimizerStep, wasmOptimExports, wasmOptimizerStep } from "../runtime/optim-fast";
import { clipGradNorm } from "../runtime/regularize";

const FLOATS = 1 << 14;
const be = await createBackend(FLOATS, { backend: "wasm" });
const k = wasmOptimExports(be)!;
afterAll(() => be.close());

/** Same bytes, NaN equal to NaN (the payload of a NaN may differ between engines' paths). */
function expectSameBytes(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`${what}: H[${i}] is ${got[i]}, optimizerStep wrote ${want[i]}`);
  }
}

describe("makeOptimizerStep", () => {
  it("is optimizerStep on the ts backend and the wasm sweep on the wasm backend", async () => {
    const ts = await createBackend(100, { backend: "ts" });
    expect(makeOptimizerStep(ts)).toBe(optimizerStep);
    expect(makeClipGradNorm(ts)).toBe(clipGradNorm);
    expect(wasmOptimExports(ts)).toBeUndefined();
    expect(k).toBeDefined();
    expect(makeOptimizerStep(be)).not.toBe(optimizerStep);
    ts.close();
  });

  it("runs on the shared memory of a 2-thread backend too (the shared build of the module)", async () => {
    const be2 = await createBackend(8192, { backend: "wasm", threads: 2 });
    try {
      const step = makeOptimizerStep(be2);
      expect(step).not.toBe(optimizerStep);
      const seg: Segment = { offset: 0, size: 1001, rows: 1, cols: 1001, weightDecay: 0.01, decoupledDecay: 0, l1: 0, lrScale: 1, maxNorm: 0 };
      const layout: OptimLayout = { P: 1, G: 1003, S: 2005, N: 1001, segments: [seg] };
      for (let i = 0; i < 8192; i++) be2.H[i] = Math.sin(i);
      const R = be2.H.slice();
      for (let t = 1; t <= 3; t++) {
        step(be2.H, layout, { kind: "adam", amsgrad: true }, 0.01, t);
        optimizerStep(R, layout, { kind: "adam", amsgrad: true }, 0.01, t);
      }
      expectSameBytes(be2.H, R, "2-thread backend");
    } finally {
      be2.close();
    }
  });

  it("refuses a segment outside H instead of writing past it", () => {
    const seg: Segment = { offset: 0, size: 10, rows: 1, cols: 10, weightDecay: 0, decoupledDecay: 0, l1: 0, lrScale: 1, maxNorm: 0 };
    const layout: OptimLayout = { P: 0, G: 10, S: FLOATS - 5, N: 10, segments: [seg] };
    expect(() => wasmOptimizerStep(k, be.H, layout, { kind: "sgd", momentum: 0.9 }, 0.1, 1)).toThrow(RangeError);
    expect(() => wasmOptimizerStep(k, be.H, layout, { kind: "sgd" }, 0.1, 0)).toThrow(RangeError);
  });
});

// ---- random configurations ---------------------------------------------------------------------
const prob = fc.double({ min: 0, max: 0.999, noNaN: true });
const optArb: fc.Arbitrary<OptimizerConfig> = fc.oneof(
  fc.record({ kind: fc.constant("sgd" as const) }),
  fc
    .record({ momentum: fc.double({ min: 0.01, max: 0.99, noNaN: true }), dampening: prob, nesterov: fc.boolean() })
    .map(({ momentum, dampening, nesterov }) => ({ kind: "sgd" as const, momentum, dampening: nesterov ? 0 : dampening, nesterov })),
  fc.record({
    kind: fc.constant("adagrad" as const),
    lrDecay: fc.double({ min: 0, max: 0.5, noNaN: true }),
    initialAccumulatorValue: fc.double({ min: 0, max: 1, noNaN: true }),
    eps: fc.constantFrom(1e-10, 1e-3),
  }),
  fc.record({
    kind: fc.constant("rmsprop" as const),
    alpha: prob,
    eps: fc.constantFrom(1e-8, 1e-2),
    momentum: fc.constantFrom(0, 0.5, 0.9),
    centered: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom("adam" as const, "adamw" as const),
    beta1: prob,
    beta2: prob,
    eps: fc.constantFrom(1e-8, 1e-3),
    amsgrad: fc.boolean(),
  }),
);
const regArb = fc.record({
  size: fc.integer({ min: 0, max: 23 }),
  gap: fc.integer({ min: 0, max: 3 }),
  weightDecay: fc.constantFrom(0, 0, 1e-4, 0.3),
  decoupledDecay: fc.constantFrom(0, 0, 0.01, 0.5),
  l1: fc.constantFrom(0, 0, 1e-3, 0.2),
  lrScale: fc.constantFrom(1, 1, 2, 0.5),
});
// values: ordinary floats, zeros of both signs, and an occasional NaN or infinity
const valueArb = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, 1e-30, -1e-40) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

describe("wasmOptimizerStep writes the same bytes as optimizerStep", () => {
  it("random optimizers, segments, regularizers, states and steps", () => {
    fc.assert(
      fc.property(
        optArb,
        fc.array(regArb, { minLength: 1, maxLength: 5 }),
        fc.array(valueArb, { minLength: 400, maxLength: 400 }),
        fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        (opt, regs, values, lrs, t0, base) => {
          // segments in order with gaps; P, G, S at odd offsets (unaligned loads and stores)
          let off = 0;
          const segments: Segment[] = regs.map((r, i) => {
            off += r.gap;
            const { weightDecay, decoupledDecay, l1, lrScale, size } = r;
            const s = { name: `s${i}`, offset: off, size, rows: 1, cols: size, maxNorm: 0, weightDecay, decoupledDecay, l1, lrScale };
            off += r.size;
            return s;
          });
          const N = off + 1;
          const slots = stateSlots(opt);
          const P = 7 + base,
            G = P + N + 1,
            S = G + N + 3;
          const end = S + slots * N + 5;
          const H = be.H;
          H.fill(NaN, 0, end + 8);
          for (let i = P; i < end; i++) H[i] = values[i % values.length] * (i % 3 === 0 ? -1 : 1);
          for (let i = 0; i < slots * N; i++) if (H[S + i] < 0) H[S + i] = -H[S + i]; // squared averages are >= 0
          const layout: OptimLayout = { P, G, S, N, segments };
          const R = H.slice(0, end + 8);
          for (let j = 0; j < lrs.length; j++) {
            // the first call may be step 1 (state reset) or any later step
            const t = j === 0 && t0 <= 10 ? 1 : t0 + j;
            wasmOptimizerStep(k, H, layout, opt, lrs[j], t);
            optimizerStep(R, layout, opt, lrs[j], t);
            expectSameBytes(H.subarray(0, end + 8), R, `${JSON.stringify(opt)} step ${t}`);
          }
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });
});

// ---- PyTorch --------------------------------------------------------------------------------------
const OPT = JSON.parse(readFileSync(new URL("./reference/optim/optim.json", import.meta.url), "utf8"));

describe("wasmOptimizerStep equals torch.optim (test/reference/optim, 5 steps, two tensors)", () => {
  for (const c of OPT.cases as {
    name: string;
    opt: OptimizerConfig;
    regs: Partial<Segment>[];
    lrs: number[];
    after: number[][];
  }[]) {
    it(c.name, () => {
      const N: number = OPT.N;
      const segments = (OPT.segments as Omit<Segment, "maxNorm">[]).map((s, i) => ({ maxNorm: 0, ...s, ...c.regs[i] }) as Segment);
      const P = 3,
        G = P + N + 1,
        S = G + N + 2;
      const H = be.H;
      H.fill(NaN, 0, S + (stateSlots(c.opt) + 1) * N);
      H.set(OPT.p0, P);
      const layout: OptimLayout = { P, G, S, N, segments };
      const step = makeOptimizerStep(be);
      for (let t = 0; t < c.after.length; t++) {
        H.set(OPT.grads[t], G);
        step(H, layout, c.opt, c.lrs[t], t + 1);
        for (let i = 0; i < N; i++) {
          const want = c.after[t][i];
          const err = Math.abs(H[P + i] - want) / Math.max(Math.abs(want), 1);
          if (!(err <= 1e-5)) throw new Error(`${c.name} step ${t + 1}: p[${i}] = ${H[P + i]}, PyTorch ${want}`);
        }
      }
      expect(H[P - 1]).toBeNaN();
      expect(H[P + N]).toBeNaN();
      expect(H[S + stateSlots(c.opt) * N]).toBeNaN();
    });
  }
});

describe("clip_grad_norm in wasm", () => {
  it("matches clipGradNorm (norm to 1e-12 relative, clipped gradients to 1 ulp)", () => {
    const clip = makeClipGradNorm(be);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 37 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: 100, maxLength: 100 }),
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        (sizes, values, maxNorm) => {
          let off = 0;
          const segments: Segment[] = sizes.map((size) => {
            const s = { offset: off, size, rows: 1, cols: size, weightDecay: 0, decoupledDecay: 0, l1: 0, lrScale: 1, maxNorm: 0 };
            off += size;
            return s;
          });
          const layout: OptimLayout = { P: 0, G: 1, S: 0, N: off, segments };
          const H = be.H;
          for (let i = 0; i <= off + 1; i++) H[i] = values[i % 100];
          const R = H.slice(0, off + 2);
          const a = clip(H, layout, maxNorm);
          const b = clipGradNorm(R, layout, maxNorm);
          expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * b);
          for (let i = 0; i < off + 2; i++) expect(Math.abs(H[i] - R[i])).toBeLessThanOrEqual(Math.abs(R[i]) * 2 ** -23);
        },
      ),
      { numRuns: 200, seed: 15 },
    );
  });

  it("other norm types go to the TypeScript", () => {
    const layout: OptimLayout = {
      P: 0,
      G: 4,
      S: 0,
      N: 4,
      segments: [{ offset: 0, size: 4, rows: 1, cols: 4, weightDecay: 0, decoupledDecay: 0, l1: 0, lrScale: 1, maxNorm: 0 }],
    };
    be.H.set([0, 0, 0, 0, 3, -4, 1, 0]);
    expect(makeClipGradNorm(be)(be.H, layout, 100, Infinity)).toBe(4);
    expect(makeClipGradNorm(be)(be.H, layout, 100, 1)).toBe(8);
  });
});
