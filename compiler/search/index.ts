// Hyperparameter search engine: spaces and samplers (space.ts), strategies: random, grid,
// successive halving (strategies.ts), a resumable runner that records every trial (runner.ts,
// results.ts), a worker_threads pool (pool.ts), and the summary (summary.ts).
//
// Typical use by the CLI (the spec's `search { ... }` block turned into `space` and `strategy`):
//
//   const pool = createWorkerPool<TrialJob, TrialResult>("dist/trial-worker.mjs", "runTrial", parallel);
//   const { summary } = await runSearch({
//     space, strategy: { kind: "halving", trials: 20, maxBudget: 8, eta: 3 }, seed, parallel,
//     resultsDir: "runs/search-1", objective: { metric: "val_loss", mode: "min" },
//     runTrial: (config, seed, budget, trialIndex) => pool.run({ spec, config, seed, budget, trialIndex }),
//     onProgress: (p) => bar.update(p.done, p),
//   });
//   await pool.close();
//   for (const line of formatLeaderboard(summary, space)) console.log(line);
//
// Conventions: trial i's seed is trialSeed(seed, i) and its configuration depends only on
// (space, seed, i); a halving trial keeps both across rungs and is retrained from scratch at the
// larger budget (info.previousBudget lets a checkpointing caller resume instead). A run that threw
// is recorded as failed and is not re-run on resume; delete its line from results.jsonl to retry it.
export * from "./space";
export * from "./strategies";
export * from "./results";
export * from "./summary";
export * from "./runner";
export * from "./pool";
