// Strategies turn (space, strategy, seed) into the trials to run. Random search and grid search
// are one rung of independent trials; successive halving is a list of rungs, and which trials
// enter rung k+1 depends on the results of rung k (`promote`). Every trial's configuration and
// seed depend only on (space, seed, trial index), so any trial can be rerun alone.
//
// Halving "continues" a trial by retraining it from scratch at the larger budget with the same
// configuration and the same seed: the first epochs are bit-identical to the shorter run, so the
// result equals what resuming from a checkpoint would give, at the price of recomputing them.
// The runner tells runTrial the previous budget (`info.previousBudget`) so a caller that keeps
// checkpoints can resume instead.

import { grid, gridOverBudget, MAX_TRIALS, sample, trialRng, trialSeed, type Config, type GridPlacement, type GridSteps, type Space } from "./space";
import { DnncError } from "../../runtime/errors";

export type Strategy =
  | { kind: "random"; trials: number; budget?: number }
  | { kind: "grid"; steps: GridSteps; placement?: GridPlacement; budget?: number }
  | { kind: "halving"; trials: number; maxBudget: number; eta?: number; minBudget?: number };

/** One run of one trial at one budget. `key` identifies it in results.jsonl. */
export interface TrialSpec {
  key: string;
  trial: number;
  rung: number;
  budget: number | undefined;
  previousBudget: number | undefined;
  seed: number;
  config: Config;
}

export interface Rung {
  size: number;
  budget: number;
}

export function trialKey(trial: number, rung: number): string {
  return `${trial}@${rung}`;
}

/**
 * Successive-halving schedule: rung k runs floor(n / eta^k) trials at maxBudget * eta^(k - s),
 * where s, the number of halvings, is as many as both n and maxBudget / minBudget allow.
 * Budgets are rounded to integers when maxBudget is one (epochs). The last rung runs at maxBudget.
 */
export function halvingRungs(n: number, maxBudget: number, eta = 3, minBudget = 1): Rung[] {
  if (!(eta >= 2)) throw new DnncError(`search: halving needs eta >= 2, got ${eta}`);
  if (!(n >= 1) || !(maxBudget > 0)) throw new DnncError("search: halving needs trials >= 1 and a positive budget");
  const eps = 1e-9;
  const byTrials = Math.floor(Math.log(n) / Math.log(eta) + eps);
  const byBudget = Math.floor(Math.log(maxBudget / minBudget) / Math.log(eta) + eps);
  const s = Math.max(0, Math.min(byTrials, byBudget));
  const integral = Number.isInteger(maxBudget);
  const rungs: Rung[] = [];
  for (let k = 0; k <= s; k++) {
    const raw = maxBudget * eta ** (k - s);
    const budget = integral ? Math.max(minBudget, Math.round(raw)) : Math.max(minBudget, raw);
    rungs.push({ size: Math.max(1, Math.floor(n / eta ** k + eps)), budget: k === s ? maxBudget : budget });
  }
  return rungs;
}

/**
 * Trials of a one-rung strategy (random or grid). A grid is counted before anything is built (its
 * axes, not their product) and refused when it has more points than `maxTrials` (the search
 * block's `trials` when it sets one, else MAX_TRIALS): running a grid means running every point.
 */
export function flatTrials(
  space: Space,
  strategy: Strategy,
  seed: number,
  maxTrials: { trials: number; from: "trials" | "limit" } = { trials: MAX_TRIALS, from: "limit" },
): TrialSpec[] {
  if (strategy.kind === "halving") throw new Error("flatTrials: halving has rungs");
  let configAt: (i: number) => Config;
  let n: number;
  if (strategy.kind === "grid") {
    const g = grid(space, strategy.steps, strategy.placement);
    const over = gridOverBudget(g, maxTrials.trials, maxTrials.from);
    if (over) throw new DnncError(`search: ${over}; lower \`steps\`, drop an axis, or use \`strategy random\``);
    n = Number(g.size);
    configAt = (i) => g.at(i);
  } else {
    n = strategy.trials;
    configAt = (i) => sample(space, trialRng(seed, i));
  }
  return Array.from({ length: n }, (_, i) => ({
    key: trialKey(i, 0),
    trial: i,
    rung: 0,
    budget: strategy.budget,
    previousBudget: undefined,
    seed: trialSeed(seed, i),
    config: configAt(i),
  }));
}

/** Rung 0 of successive halving: `trials` random configurations at the smallest budget. */
export function halvingFirstRung(space: Space, n: number, rung0: Rung, seed: number): TrialSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    key: trialKey(i, 0),
    trial: i,
    rung: 0,
    budget: rung0.budget,
    previousBudget: undefined,
    seed: trialSeed(seed, i),
    config: sample(space, trialRng(seed, i)),
  }));
}

/** Orders by objective; failed / non-finite results last; ties by trial index (deterministic). */
export function compareResults(mode: "min" | "max", a: { metric: number | null; trial: number }, b: { metric: number | null; trial: number }): number {
  const fa = a.metric !== null && Number.isFinite(a.metric);
  const fb = b.metric !== null && Number.isFinite(b.metric);
  if (fa !== fb) return fa ? -1 : 1;
  if (fa && fb && a.metric !== b.metric) return mode === "min" ? a.metric! - b.metric! : b.metric! - a.metric!;
  return a.trial - b.trial;
}

/**
 * The best `rung.size` trials of the previous rung, re-run at `rung.budget` with their own config
 * and seed. Failed and non-finite trials are never promoted (the rung may then be smaller).
 */
export function promote(previous: { spec: TrialSpec; metric: number | null }[], rung: Rung, rungIndex: number, mode: "min" | "max"): TrialSpec[] {
  const ranked = previous
    .filter((p) => p.metric !== null && Number.isFinite(p.metric))
    .map((p) => ({ ...p, trial: p.spec.trial }))
    .sort((a, b) => compareResults(mode, a, b))
    .slice(0, rung.size)
    .sort((a, b) => a.trial - b.trial);
  return ranked.map(({ spec }) => ({
    ...spec,
    key: trialKey(spec.trial, rungIndex),
    rung: rungIndex,
    previousBudget: spec.budget,
    budget: rung.budget,
  }));
}
