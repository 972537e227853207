import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Rng } from "../runtime/rng";
import { axisPoints, gridPoints, sample, trialRng, trialSeed, validateSpace, type Config, type Dist, type Space } from "../compiler/search/space";
import { flatTrials } from "../compiler/search/strategies";

const draws = (d: Dist, n: number, seed = 7) => {
  const rng = new Rng(seed, 1);
  return Array.from({ length: n }, () => sample({ x: d }, rng).x as number);
};

describe("sample", () => {
  it("keeps every draw inside its bounds (property over random ranges)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e3, noNaN: true }),
        fc.double({ min: -8, max: 3, noNaN: true }),
        fc.double({ min: 0.01, max: 6, noNaN: true }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 40 }),
        fc.nat(),
        (lo, w, llo, lw, ilo, iw, seed) => {
          const space: Space = {
            u: { kind: "uniform", low: lo, high: lo + w },
            l: { kind: "loguniform", low: 10 ** llo, high: 10 ** (llo + lw) },
            i: { kind: "int", low: ilo, high: ilo + iw },
            il: { kind: "int", low: ilo + 51, high: ilo + 51 + iw, log: true },
            c: { kind: "choice", values: ["a", 2, "b"] },
          };
          const c = sample(space, new Rng(seed, 3));
          const u = c.u as number,
            l = c.l as number,
            i = c.i as number,
            il = c.il as number;
          expect(u >= lo && u <= lo + w).toBe(true);
          expect(l >= 10 ** llo && l <= 10 ** (llo + lw)).toBe(true);
          expect(Number.isInteger(i) && i >= ilo && i <= ilo + iw).toBe(true);
          expect(Number.isInteger(il) && il >= ilo + 51 && il <= ilo + 51 + iw).toBe(true);
          expect(["a", 2, "b"]).toContain(c.c);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("draws loguniform uniformly in log10: each decade of [1e-4, 1e-1] gets about a third", () => {
    const xs = draws({ kind: "loguniform", low: 1e-4, high: 1e-1 }, 6000);
    const counts = [0, 0, 0];
    for (const x of xs) counts[Math.min(2, Math.floor(Math.log10(x) + 4))]++;
    // binomial sd of a count is sqrt(6000 * 1/3 * 2/3) ~ 37; allow 5 sd. Linear sampling would put ~90% in the last decade.
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(185);
  });

  // Kolmogorov-Smirnov against the analytic CDF; 1.63/sqrt(n) is the 1% critical value
  const ks = (xs: number[], cdf: (x: number) => number) => {
    const s = [...xs].sort((a, b) => a - b);
    let d = 0;
    s.forEach((x, i) => (d = Math.max(d, Math.abs(cdf(x) - i / s.length), Math.abs(cdf(x) - (i + 1) / s.length))));
    return d;
  };
  it("matches the log-uniform CDF (KS test), and would fail a linear-uniform one", () => {
    const xs = draws({ kind: "loguniform", low: 1e-6, high: 1e-2 }, 4000, 11);
    const logCdf = (x: number) => (Math.log10(x) + 6) / 4;
    const linCdf = (x: number) => (x - 1e-6) / (1e-2 - 1e-6);
    expect(ks(xs, logCdf)).toBeLessThan(1.63 / Math.sqrt(4000));
    expect(ks(xs, linCdf)).toBeGreaterThan(0.5);
  });

  it("matches the uniform CDF (KS test)", () => {
    const xs = draws({ kind: "uniform", low: -2, high: 5 }, 4000, 12);
    expect(ks(xs, (x) => (x + 2) / 7)).toBeLessThan(1.63 / Math.sqrt(4000));
  });

  it("draws uniform with a flat histogram", () => {
    const xs = draws({ kind: "uniform", low: 0, high: 0.7 }, 7000);
    const counts = new Array(7).fill(0);
    for (const x of xs) counts[Math.min(6, Math.floor(x / 0.1))]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it("treats int bounds as inclusive, each value equally likely", () => {
    const xs = draws({ kind: "int", low: 1, high: 3 }, 3000);
    const counts = new Map<number, number>();
    for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([1, 2, 3]);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(130);
  });

  it("int with log gives each integer k mass log((k+1)/k) / log((high+1)/low)", () => {
    const xs = draws({ kind: "int", low: 1, high: 7, log: true }, 8000);
    const p1 = xs.filter((x) => x === 1).length / xs.length; // log(2)/log(8) = 1/3
    const p7 = xs.filter((x) => x === 7).length / xs.length; // log(8/7)/log(8) ~ 0.0642
    expect(Math.abs(p1 - 1 / 3)).toBeLessThan(0.03);
    expect(Math.abs(p7 - Math.log(8 / 7) / Math.log(8))).toBeLessThan(0.015);
  });

  it("reaches every choice", () => {
    const rng = new Rng(1, 2);
    const seen = new Set(Array.from({ length: 200 }, () => sample({ o: { kind: "choice", values: ["sgd", "adam", 3] } }, rng).o));
    expect([...seen].sort()).toEqual([3, "adam", "sgd"].sort());
  });
});

describe("trial seeds", () => {
  it("derive each trial alone: trial i is the same in a 5-trial and a 12-trial search", () => {
    const space: Space = { lr: { kind: "loguniform", low: 1e-4, high: 1e-1 }, p: { kind: "uniform", low: 0, high: 0.7 } };
    const a = flatTrials(space, { kind: "random", trials: 5 }, 42);
    const b = flatTrials(space, { kind: "random", trials: 12 }, 42);
    expect(b.slice(0, 5)).toEqual(a);
    expect(a[3].config).toEqual(sample(space, trialRng(42, 3)));
    expect(a[3].seed).toBe(trialSeed(42, 3));
  });

  it("differ between trials and between base seeds", () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 10; s++) for (let i = 0; i < 100; i++) seeds.add(trialSeed(s, i));
    expect(seeds.size).toBe(1000);
  });
});

describe("gridPoints", () => {
  it("spaces loguniform axes evenly in log10 and includes the endpoints", () => {
    const pts = axisPoints({ kind: "loguniform", low: 1e-4, high: 1e-1 }, 4) as number[];
    expect(pts.length).toBe(4);
    pts.forEach((p, i) => expect(Math.log10(p)).toBeCloseTo(-4 + i, 12));
    expect(pts[0]).toBe(1e-4);
    expect(pts[3]).toBe(1e-1);
  });

  it("spaces uniform axes linearly, rounds and dedups int axes, takes every choice", () => {
    expect(axisPoints({ kind: "uniform", low: 0, high: 0.6 }, 3)).toEqual([0, 0.3, 0.6]);
    expect(axisPoints({ kind: "int", low: 64, high: 512 }, 3)).toEqual([64, 288, 512]);
    expect(axisPoints({ kind: "int", low: 1, high: 2 }, 5)).toEqual([1, 2]);
    expect(axisPoints({ kind: "int", low: 16, high: 256, log: true }, 3)).toEqual([16, 64, 256]);
    expect(axisPoints({ kind: "choice", values: ["sgd", "adam"] }, 7)).toEqual(["sgd", "adam"]);
  });

  it("centred placement puts one point in the middle of each equal cell (in log10 for loguniform)", () => {
    const lg = axisPoints({ kind: "loguniform", low: 1e-4, high: 1e-1 }, 3, "centred") as number[];
    lg.forEach((p, i) => expect(Math.log10(p)).toBeCloseTo(-3.5 + i, 12));
    expect(axisPoints({ kind: "uniform", low: 0, high: 0.6 }, 3, "centred").map((v) => +(v as number).toFixed(12))).toEqual([0.1, 0.3, 0.5]);
    expect(axisPoints({ kind: "int", low: 1, high: 9 }, 3, "centred")).toEqual([2, 5, 8]);
    expect(gridPoints({ a: { kind: "uniform", low: 0, high: 1 }, b: { kind: "choice", values: [1, 2] } }, 2, "centred")).toEqual([
      { a: 0.25, b: 1 },
      { a: 0.25, b: 2 },
      { a: 0.75, b: 1 },
      { a: 0.75, b: 2 },
    ]);
  });

  it("is the Cartesian product of the axes, first path slowest (property against nested loops)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), (sa, sb, nc) => {
        const space: Space = {
          a: { kind: "uniform", low: 0, high: 1 },
          b: { kind: "loguniform", low: 1e-3, high: 1 },
          c: { kind: "choice", values: ["x", "y", "z"].slice(0, nc) },
        };
        const steps = { a: sa, b: sb };
        const want: Config[] = [];
        for (const a of axisPoints(space.a, sa)) for (const b of axisPoints(space.b, sb)) for (const c of ["x", "y", "z"].slice(0, nc)) want.push({ a, b, c });
        expect(gridPoints(space, steps)).toEqual(want);
      }),
    );
  });
});

describe("validateSpace", () => {
  const bad: [Space, RegExp][] = [
    [{}, /empty/],
    [{ lr: { kind: "loguniform", low: 0, high: 1 } }, /lr: .*positive/],
    [{ p: { kind: "uniform", low: 0.7, high: 0 } }, /p: .*below/],
    [{ u: { kind: "int", low: 1.5, high: 4 } }, /u: .*integers/],
    [{ o: { kind: "choice", values: [] } }, /o: .*at least one/],
  ];
  it.each(bad)("refuses %j", (space, msg) => {
    expect(() => validateSpace(space)).toThrow(msg);
  });
  it("accepts the spec example", () => {
    expect(() =>
      validateSpace({
        "train.optimizer.lr": { kind: "loguniform", low: 1e-4, high: 1e-1 },
        "model.dropout[0].p": { kind: "uniform", low: 0, high: 0.7 },
        "model.dense[1].units": { kind: "int", low: 64, high: 512 },
        "train.optimizer": { kind: "choice", values: ["sgd", "adam"] },
      }),
    ).not.toThrow();
  });
});
