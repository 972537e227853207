// Learning-rate schedules (runtime/schedule.ts) against PyTorch 1.13's lr_scheduler (cases from
// test/reference/optim/make_cases.py: the lr used at k = 0..29), plus properties.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { initialScheduleState, learningRate, observeMetric, scheduleConfigErrors, type Schedule } from "../runtime/schedule";

const REF = JSON.parse(readFileSync(new URL("./reference/optim/schedule.json", import.meta.url), "utf8"));

function expectClose(got: number[], want: number[], what: string): void {
  for (let k = 0; k < want.length; k++) {
    const err = Math.abs(got[k] - want[k]) / Math.max(Math.abs(want[k]), 1e-12);
    if (!(err <= 1e-5)) throw new Error(`${what}: at k=${k} lr is ${got[k]}, PyTorch ${want[k]}`);
  }
}

/** The lr sequence, counting epochs (default) or steps; plateau schedules are fed `metrics`. */
function run(s: Schedule, K: number, metrics?: number[]): number[] {
  const state = initialScheduleState(s);
  const out: number[] = [];
  for (let k = 0; k < K; k++) {
    const perStep = s.per === "step";
    out.push(learningRate(s, perStep ? k : 1000 + k, perStep ? 7 : k, state));
    if (metrics) observeMetric(s, state, metrics[k]);
  }
  return out;
}

describe("learningRate equals torch.optim.lr_scheduler (30 steps)", () => {
  for (const c of REF.cases as { name: string; schedule: Schedule; lrs: number[]; metrics?: number[] }[]) {
    it(`${c.name}, per epoch`, () => expectClose(run(c.schedule, c.lrs.length, c.metrics), c.lrs, c.name));
    it(`${c.name}, per step`, () => expectClose(run({ ...c.schedule, per: "step" }, c.lrs.length, c.metrics), c.lrs, c.name));
  }
});

describe("schedule properties", () => {
  it("the default counter is the epoch: the step number does not matter", () => {
    const s: Schedule = { kind: "cosine", lr: 0.1, tMax: 10 };
    expect(learningRate(s, 0, 3)).toBe(learningRate(s, 999, 3));
    expect(learningRate({ ...s, per: "step" }, 3, 0)).toBe(learningRate(s, 0, 3));
  });

  it("warm-up rises linearly from startFactor to lr0, then the schedule starts from its own k = 0", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 40 }), (W, f0, k) => {
        const main: Schedule = { kind: "step", lr: 0.3, every: 3, gamma: 0.5 };
        const s: Schedule = { ...main, warmup: { length: W, startFactor: f0 } };
        const lr = learningRate(s, 0, k);
        if (k < W) {
          expect(lr).toBeCloseTo(0.3 * (f0 + ((1 - f0) * k) / W), 12);
          expect(lr).toBeLessThanOrEqual(0.3 + 1e-15);
        } else expect(lr).toBe(learningRate(main, 0, k - W));
      }),
    );
  });

  it("cosine with warm restarts: T_mult > 1 matches PyTorch's closed form (the log formula)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 2000 }), (t0, m, k) => {
        const n = Math.floor(Math.log((k / t0) * (m - 1) + 1) / Math.log(m) + 1e-12);
        const tCur = k - (t0 * (Math.pow(m, n) - 1)) / (m - 1),
          tI = t0 * Math.pow(m, n);
        const want = 0.01 + ((0.2 - 0.01) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
        const got = learningRate({ kind: "cosine_restarts", lr: 0.2, t0, tMult: m, etaMin: 0.01 }, 0, k);
        expect(got).toBeCloseTo(want, 10);
      }),
    );
  });

  it("reduce-on-plateau state survives a JSON round trip mid-run (checkpoint) with the same result", () => {
    const s: Schedule = { kind: "plateau", lr: 0.1, factor: 0.5, patience: 2, cooldown: 1 };
    const metrics = REF.cases.find((c: { name: string }) => c.name === "plateau min rel").metrics as number[];
    const a = initialScheduleState(s);
    let b = initialScheduleState(s);
    for (let k = 0; k < metrics.length; k++) {
      observeMetric(s, a, metrics[k]);
      b = JSON.parse(JSON.stringify(b));
      observeMetric(s, b, metrics[k]);
      expect(learningRate(s, 0, k, b)).toBe(learningRate(s, 0, k, a));
    }
    expect(a.lr).toBeLessThan(0.1);
  });

  it("observeMetric does nothing to closed-form schedules; NaN never improves a plateau", () => {
    const s: Schedule = { kind: "exponential", lr: 0.1, gamma: 0.9 };
    const st = initialScheduleState(s);
    expect(observeMetric(s, st, 1)).toBe(false);
    const p: Schedule = { kind: "plateau", lr: 0.1, patience: 0 };
    const ps = initialScheduleState(p);
    expect(observeMetric(p, ps, NaN)).toBe(true); // first evaluation NaN: a bad epoch, patience 0
    expect(ps.best).toBe(null);
    expect(ps.lr).toBeCloseTo(0.01, 15);
  });
});

describe("scheduleConfigErrors", () => {
  it("accepts every reference schedule and rejects what PyTorch rejects", () => {
    for (const c of REF.cases as { schedule: Schedule }[]) expect(scheduleConfigErrors(c.schedule)).toEqual([]);
    expect(scheduleConfigErrors({ kind: "cosine_restarts", lr: 0.1, t0: 3, tMult: 1.5 })).toEqual(["cosine_restarts: tMult must be an integer >= 1, got 1.5"]);
    expect(scheduleConfigErrors({ kind: "plateau", lr: 0.1, factor: 1 })).toHaveLength(1);
    expect(scheduleConfigErrors({ kind: "multistep", lr: 0.1, milestones: [5, 3], gamma: 0.1 })).toHaveLength(1);
    expect(scheduleConfigErrors({ kind: "exponential", lr: 0.1, gamma: 0.9, beta: 0.1 })).toHaveLength(1);
    expect(scheduleConfigErrors({ kind: "step", lr: 0.1, every: 0, warmup: { length: 2, startFactor: 2 } })).toHaveLength(2);
  });
});
