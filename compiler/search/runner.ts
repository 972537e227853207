// runSearch: runs the trials of a strategy, `parallel` at a time, recording each finished run in
// the results directory and skipping runs that a previous (interrupted) invocation finished.
// The caller supplies runTrial (compile + train a spec, typically in a worker: see pool.ts).
// Halving runs rung after rung; promotions are recomputed from the recorded results, so a resumed
// search makes exactly the choices the uninterrupted one would have made.

import { validateSpace, type Config, type Space } from "./space";
import { flatTrials, halvingFirstRung, halvingRungs, promote, type Strategy, type TrialSpec } from "./strategies";
import { ResultsStore, type TrialRecord } from "./results";
import { formatLeaderboard, summarize, type Objective, type SearchSummary } from "./summary";
import * as path from "node:path";
import { DnncError } from "../../runtime/errors";
import { writeFileAtomicSync } from "../../runtime/node/atomic";

export interface TrialResult {
  /** The objective value; if absent, `metrics[objective.metric]` is used. */
  metric?: number;
  metrics?: { [name: string]: unknown };
}

export interface TrialInfo {
  key: string;
  rung: number;
  /** Budget of this trial's previous rung (halving), for callers that resume from checkpoints. */
  previousBudget: number | undefined;
}

export type RunTrial = (config: Config, seed: number, budget: number | undefined, trialIndex: number, info: TrialInfo) => Promise<TrialResult>;

export interface Progress {
  /** Runs finished so far, including those read back from the results directory. */
  done: number;
  /** Runs the whole search will make (for halving: the full schedule, failures aside). */
  total: number;
  running: number;
  /** The run that just finished (null for the first report after reading back old results). */
  record: TrialRecord | null;
  best: TrialRecord | null;
}

export interface SearchOptions {
  space: Space;
  strategy: Strategy;
  seed: number;
  /** Concurrent trials (default 1). */
  parallel?: number;
  /** Where search.json, results.jsonl, results.csv and (at the end) leaderboard.txt live; omit for an in-memory search. */
  resultsDir?: string;
  runTrial: RunTrial;
  objective: Objective;
  onProgress?: (p: Progress) => void;
  /** Leaderboard length in the summary (default 10). */
  top?: number;
  /**
   * The most trials a grid may have: the search block's `trials` when it sets one ("trials"),
   * else MAX_TRIALS ("limit"). A larger grid is refused before anything runs.
   */
  maxTrials?: { trials: number; from: "trials" | "limit" };
}

export interface SearchResult {
  records: TrialRecord[];
  /** Runs made by this invocation. */
  ran: number;
  /** Runs read back from the results directory. */
  resumed: number;
  summary: SearchSummary;
}

/** Runs `jobs` with at most `parallel` in flight; `fn` must not throw (it records failures). */
async function pool<T>(jobs: T[], parallel: number, fn: (job: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) await fn(jobs[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, lane));
}

export async function runSearch(opts: SearchOptions): Promise<SearchResult> {
  const { space, strategy, seed, objective } = opts;
  validateSpace(space);
  const parallel = Math.max(1, Math.floor(opts.parallel ?? 1));
  if (objective.mode !== "min" && objective.mode !== "max") throw new DnncError(`search: objective mode must be min or max, got '${objective.mode}'`);

  const rungs = strategy.kind === "halving" ? halvingRungs(strategy.trials, strategy.maxBudget, strategy.eta ?? 3, strategy.minBudget ?? 1) : null;
  const first =
    strategy.kind === "halving" && rungs ? halvingFirstRung(space, strategy.trials, rungs[0], seed) : flatTrials(space, strategy, seed, opts.maxTrials);
  const total = rungs ? rungs.reduce((s, r) => s + r.size, 0) : first.length;

  // opened once the trials are known to be runnable (a refused grid writes nothing)
  const store = opts.resultsDir ? ResultsStore.open(opts.resultsDir, { space, strategy, seed, objective }, objective.metric) : null;
  const finished = store ? store.finished : new Map<string, TrialRecord>();
  const records: TrialRecord[] = store ? store.records : [];
  const resumed = records.length;
  let ran = 0;
  let running = 0;

  const best = () => summarize(records, space, objective, 1).best;
  const report = (record: TrialRecord | null) => opts.onProgress?.({ done: records.length, total, running, record, best: best() });

  const runOne = async (spec: TrialSpec): Promise<void> => {
    running++;
    const t0 = Date.now();
    let rec: TrialRecord;
    const base = {
      key: spec.key,
      trial: spec.trial,
      rung: spec.rung,
      budget: spec.budget ?? null,
      seed: spec.seed,
      config: spec.config,
    };
    try {
      const res = await opts.runTrial(spec.config, spec.seed, spec.budget, spec.trial, {
        key: spec.key,
        rung: spec.rung,
        previousBudget: spec.previousBudget,
      });
      const metrics = res.metrics ?? {};
      const m = res.metric ?? metrics[objective.metric];
      if (typeof m !== "number") throw new Error(`runTrial returned no number for the objective '${objective.metric}'`);
      rec = {
        ...base,
        status: "ok",
        metric: Number.isFinite(m) ? m : null,
        metrics,
        durationMs: Date.now() - t0,
        finishedAt: new Date().toISOString(),
      };
    } catch (e) {
      rec = {
        ...base,
        status: "failed",
        metric: null,
        metrics: {},
        error: e instanceof Error ? e.message : String(e),
        durationMs: Date.now() - t0,
        finishedAt: new Date().toISOString(),
      };
    }
    running--;
    ran++;
    if (store) store.append(rec);
    else {
      finished.set(rec.key, rec);
      records.push(rec);
    }
    report(rec);
  };

  const runRung = async (specs: TrialSpec[]) => {
    await pool(
      specs.filter((s) => !finished.has(s.key)),
      parallel,
      runOne,
    );
    return specs.map((spec) => ({ spec, metric: finished.get(spec.key)!.metric }));
  };

  try {
    if (resumed > 0) report(null);
    let results = await runRung(first);
    if (rungs) {
      for (let k = 1; k < rungs.length; k++) {
        const specs = promote(results, rungs[k], k, objective.mode);
        if (specs.length === 0) break;
        results = await runRung(specs);
      }
    }
  } finally {
    store?.close();
  }
  const summary = summarize(records, space, objective, opts.top ?? 10);
  if (opts.resultsDir) writeFileAtomicSync(path.join(opts.resultsDir, "leaderboard.txt"), formatLeaderboard(summary, space).join("\n") + "\n");
  return { records, ran, resumed, summary };
}
