// Search spaces and samplers. A space maps a hyperparameter path (the lead's business, e.g.
// "train.optimizer.lr") to a distribution. `sample` draws one configuration from an Rng, `grid`
// describes the Cartesian grid without enumerating it (its exact size, and point i by index),
// `trialSeed` derives trial i's seed from the search seed so that every trial can be rerun alone.
// Nothing here touches the file system.

import { hash3, Rng, streamId } from "../../runtime/rng";
import { DnncError } from "../../runtime/errors";

export type Dist =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "loguniform"; low: number; high: number }
  | { kind: "int"; low: number; high: number; log?: boolean }
  | { kind: "choice"; values: (string | number)[] };

export type Space = { [path: string]: Dist };
export type Value = string | number;
export type Config = { [path: string]: Value };

const TRIAL_STREAM = streamId("search:trial");
const SAMPLE_STREAM = streamId("search:sample");

/** The seed of trial i: a pure function of (baseSeed, i), independent of every other trial. */
export function trialSeed(baseSeed: number, i: number): number {
  return hash3(baseSeed >>> 0, TRIAL_STREAM, i >>> 0);
}

/** The Rng a random-search / halving trial samples its configuration from. */
export function trialRng(baseSeed: number, i: number): Rng {
  return new Rng(trialSeed(baseSeed, i), SAMPLE_STREAM);
}

/** Throws a DnncError naming the path for every ill-formed distribution. */
export function validateSpace(space: Space): void {
  const paths = Object.keys(space);
  if (paths.length === 0) throw new DnncError("search: the search space is empty");
  for (const p of paths) {
    const d = space[p];
    const bad = (why: string) => new DnncError(`search: ${p}: ${why}`);
    if (d.kind === "choice") {
      if (!Array.isArray(d.values) || d.values.length === 0) throw bad("choice() needs at least one value");
      continue;
    }
    if (d.kind !== "uniform" && d.kind !== "loguniform" && d.kind !== "int") throw bad(`unknown distribution '${(d as { kind: string }).kind}'`);
    if (!Number.isFinite(d.low) || !Number.isFinite(d.high)) throw bad("bounds must be finite numbers");
    if (!(d.low < d.high) && !(d.kind === "int" && d.low === d.high)) throw bad(`${d.kind}(${d.low}, ${d.high}): low must be below high`);
    if (d.kind === "loguniform" && d.low <= 0) throw bad(`loguniform(${d.low}, ${d.high}): bounds must be positive`);
    if (d.kind === "int") {
      if (!Number.isInteger(d.low) || !Number.isInteger(d.high)) throw bad(`int(${d.low}, ${d.high}): bounds must be integers`);
      if (d.log && d.low <= 0) throw bad(`int(${d.low}, ${d.high}, log): bounds must be positive`);
    }
  }
}

/** Maps u in [0, 1) to a value of d. Log-uniform is uniform in log10; int bounds are inclusive. */
export function fromUnit(d: Dist, u: number): Value {
  switch (d.kind) {
    case "uniform":
      return d.low + (d.high - d.low) * u;
    case "loguniform": {
      const a = Math.log10(d.low);
      const b = Math.log10(d.high);
      return Math.min(d.high, Math.max(d.low, 10 ** (a + (b - a) * u)));
    }
    case "int": {
      if (d.log) {
        // uniform in log over [low, high + 1), floored: each integer k gets log((k+1)/k) of the mass
        const a = Math.log(d.low);
        const b = Math.log(d.high + 1);
        return Math.min(d.high, Math.floor(Math.exp(a + (b - a) * u)));
      }
      return Math.min(d.high, d.low + Math.floor(u * (d.high - d.low + 1)));
    }
    case "choice":
      return d.values[Math.min(d.values.length - 1, Math.floor(u * d.values.length))];
  }
}

/** One configuration: one draw per path, in the space's key order. */
export function sample(space: Space, rng: Rng): Config {
  const out: Config = {};
  for (const p of Object.keys(space)) out[p] = fromUnit(space[p], rng.uniform());
  return out;
}

/**
 * How grid points sit on a numeric axis: "endpoints" (default, like numpy's linspace/logspace:
 * both bounds included) or "centred" (one point in the middle of each of `steps` equal cells,
 * which wastes no trial on a bound; see docs/search-experiment.md).
 */
export type GridPlacement = "endpoints" | "centred";

/** The values one axis takes on a grid of `steps` points. */
export function axisPoints(d: Dist, steps: number, placement: GridPlacement = "endpoints"): Value[] {
  if (d.kind === "choice") return d.values.slice();
  const n = Math.max(1, Math.floor(steps));
  const centred = placement === "centred";
  const t = (i: number) => (centred ? (i + 0.5) / n : n === 1 ? 0.5 : i / (n - 1));
  if (d.kind === "uniform") return Array.from({ length: n }, (_, i) => d.low + (d.high - d.low) * t(i));
  if (d.kind === "loguniform") {
    const a = Math.log10(d.low);
    const b = Math.log10(d.high);
    // exact bounds at the ends of an endpoint grid (10 ** log10(x) need not give x back)
    return Array.from({ length: n }, (_, i) => (!centred && i === 0 ? d.low : !centred && i === n - 1 && n > 1 ? d.high : 10 ** (a + (b - a) * t(i))));
  }
  // int: evenly spaced (in log if d.log), rounded, duplicates dropped; centred cells split the
  // integers low..high the way sampling does, i.e. the interval [low, high + 1)
  const vals: number[] = [];
  const top = centred ? d.high + 1 : d.high;
  const snap = centred ? Math.floor : Math.round;
  for (let i = 0; i < n; i++) {
    const v = d.log ? snap(Math.exp(Math.log(d.low) + (Math.log(top) - Math.log(d.low)) * t(i))) : snap(d.low + (top - d.low) * t(i));
    if (vals[vals.length - 1] !== v) vals.push(v);
  }
  return vals;
}

/** Steps per numeric axis: one number for all, or per path (3 for a path not named). */
export type GridSteps = number | { [path: string]: number };

/** The most trials any search runs (the upper bound of the `trials` setting); a grid is held to it. */
export const MAX_TRIALS = 100_000;

/** A grid described by its axes, never enumerated: `size` is exact (BigInt), `at(i)` is point i. */
export interface Grid {
  paths: string[];
  axes: Value[][];
  size: bigint;
  /** Point i (0 <= i < size), first path varying slowest. */
  at(i: number): Config;
}

/**
 * The Cartesian grid of a space, lazily: the axes are computed (each at most `steps` points or
 * the choice's values) but their product is not, so a grid of 10^9 points costs nothing until
 * points are asked for.
 */
export function grid(space: Space, steps: GridSteps, placement: GridPlacement = "endpoints"): Grid {
  const paths = Object.keys(space);
  const axes = paths.map((p) => axisPoints(space[p], typeof steps === "number" ? steps : (steps[p] ?? 3), placement));
  let size = 1n;
  for (const a of axes) size *= BigInt(a.length);
  return {
    paths,
    axes,
    size,
    at(i: number): Config {
      if (!Number.isSafeInteger(i) || i < 0 || BigInt(i) >= size) throw new RangeError(`grid point ${i} outside 0..${size - 1n}`);
      const digit = new Array<number>(paths.length);
      let r = i;
      for (let k = paths.length - 1; k >= 0; k--) {
        digit[k] = r % axes[k].length;
        r = Math.floor(r / axes[k].length);
      }
      const out: Config = {};
      paths.forEach((p, k) => (out[p] = axes[k][digit[k]]));
      return out;
    },
  };
}

/** 1,000,000,000 */
export function formatCount(n: bigint | number): string {
  return BigInt(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Why a grid may not run: its size against the trial budget (`trials` when the search block sets
 * it, else MAX_TRIALS), or undefined when it fits. Shared by `dnnc check` (E0404) and runSearch.
 */
export function gridOverBudget(g: Pick<Grid, "axes" | "size">, budget: number, budgetFrom: "trials" | "limit"): string | undefined {
  if (g.size <= BigInt(budget)) return undefined;
  const dims = g.axes.map((a) => a.length).join(" × ");
  const what = budgetFrom === "trials" ? `the trial budget (\`trials ${budget}\`)` : `the ${formatCount(budget)} trials a search may run`;
  return `the grid has ${formatCount(g.size)} configurations (${dims}), more than ${what}`;
}

/**
 * The Cartesian grid, first path varying slowest. `steps` is points per numeric axis (one number
 * for all, or per path); choice axes always take all their values. Materialises every point: for
 * grids known to be small (runSearch checks the size first and takes points by index).
 */
export function gridPoints(space: Space, steps: GridSteps, placement: GridPlacement = "endpoints"): Config[] {
  const g = grid(space, steps, placement);
  if (g.size > BigInt(MAX_TRIALS)) throw new DnncError(`search: ${gridOverBudget(g, MAX_TRIALS, "limit")}`);
  return Array.from({ length: Number(g.size) }, (_, i) => g.at(i));
}

/** Where v lies in d's range, in [0, 1] (in log10 space for loguniform and int log); null for choice. */
export function unitPosition(d: Dist, v: Value): number | null {
  if (d.kind === "choice" || typeof v !== "number") return null;
  if (d.high === d.low) return 0.5;
  if (d.kind === "loguniform" || (d.kind === "int" && d.log)) return (Math.log10(v) - Math.log10(d.low)) / (Math.log10(d.high) - Math.log10(d.low));
  return (v - d.low) / (d.high - d.low);
}
