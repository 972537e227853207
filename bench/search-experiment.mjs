#!/usr/bin/env node
// Random vs grid search when only one of two hyperparameters matters (Bergstra & Bengio 2012).
// Usage: node bench/search-experiment.mjs [--seeds 200] [--sigma 0.4] [--json out.json]
//
// A synthetic validation-loss surface over (lr, wd), both searched log-uniformly:
//   loss(lr, wd) = g(log10 lr) + h(log10 wd) + noise
//   g(x) = 0.25 + 0.5 * (1 - exp(-(x - x*)^2 / (2 * 0.4^2)))   the part that matters (range 0.5)
//   h(y) = 0.001 * (y - y*)^2                                   tiny (at most 0.016 over the range)
//   noise ~ N(0, 0.005), drawn from the trial's own seed (every trial reproducible alone)
// Each experiment seed draws a new unknown optimum x* ~ U(-3.7, -1.3), y* ~ U(-5.6, -2.4), then runs
// random search (N trials) and two grid searches (sqrt(N) points per axis: endpoints included,
// and cell-centred) through runSearch with the same N. A control run makes wd matter as much as
// lr (h(y) = g(y, y*) - 0.25). A method "finds" the trial with the lowest *noisy* loss; it is
// scored by the *true* (noise-free) loss of that trial minus the true minimum (the regret).
import { register } from "tsx/esm/api";
register();
const { runSearch, trialSeed } = await import("../compiler/search/index.ts");
const { Rng, streamId } = await import("../runtime/rng.ts");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SEEDS = Number(opt("seeds", 200));
const JSON_OUT = opt("json", null);

const space = {
  lr: { kind: "loguniform", low: 1e-4, high: 1e-1 },
  wd: { kind: "loguniform", low: 1e-6, high: 1e-2 },
};
const SIGMA = Number(opt("sigma", 0.4)); // width of the lr optimum, in decades
const g = (x, xs) => 0.25 + 0.5 * (1 - Math.exp(-((x - xs) ** 2) / (2 * SIGMA * SIGMA)));
// the scenario: wd tiny (the paper's case), or, as a control, wd mattering as much as lr
let BOTH = false;
const h = (y, ys) => (BOTH ? g(y, ys) - 0.25 : 0.001 * (y - ys) ** 2);
const NOISE = 0.005;
const NOISE_STREAM = streamId("experiment:noise");
const OPT_STREAM = streamId("experiment:optimum");

async function one(kind, n, seed, xs, ys) {
  const trueLoss = (c) => g(Math.log10(c.lr), xs) + h(Math.log10(c.wd), ys);
  const k = Math.round(Math.sqrt(n));
  const res = await runSearch({
    space,
    strategy: kind === "random" ? { kind: "random", trials: n } : { kind: "grid", steps: k, placement: kind === "grid-centred" ? "centred" : "endpoints" },
    seed,
    objective: { metric: "val_loss", mode: "min" },
    runTrial: async (c, trialSeedValue) => {
      const v = trueLoss(c) + NOISE * new Rng(trialSeedValue, NOISE_STREAM).normal();
      return { metric: v, metrics: { val_loss: v } };
    },
  });
  const best = res.summary.best;
  return {
    regret: trueLoss(best.config) - 0.25, // the true minimum is 0.25 in both scenarios
    lrError: Math.abs(Math.log10(best.config.lr) - xs),
    distinctLr: new Set(res.records.map((r) => r.config.lr)).size,
  };
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const meanOr0 = (a) => (a.length ? mean(a) : 0);
const median = (a) => {
  const b = [...a].sort((x, y) => x - y);
  return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
// Wilson 95% interval for a proportion
const wilson = (k, n) => {
  const z = 1.96,
    p = k / n,
    d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d,
    w = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [c - w, c + w];
};
const f3 = (v) => v.toFixed(3);

const METHODS = ["random", "grid", "grid-centred"];
const report = { seeds: SEEDS, noise: NOISE, sigma: SIGMA, rows: [] };
for (const [both, n] of [
  [false, 9],
  [false, 16],
  [true, 9],
  [true, 16],
]) {
  BOTH = both;
  const runs = Object.fromEntries(METHODS.map((m) => [m, []]));
  for (let s = 0; s < SEEDS; s++) {
    const o = new Rng(trialSeed(2012, s), OPT_STREAM);
    const xs = o.range(-3.7, -1.3),
      ys = o.range(-5.6, -2.4); // optima at least 10% inside each range
    for (const m of METHODS) runs[m].push(await one(m, n, s, xs, ys));
  }
  const r = runs.random;
  const row = { scenario: both ? "both matter (control)" : "only lr matters", trials: n, vs: {}, methods: {} };
  for (const m of METHODS) {
    const x = runs[m];
    row.methods[m] = {
      meanRegret: mean(x.map((v) => v.regret)),
      medianRegret: median(x.map((v) => v.regret)),
      meanLrErrorDecades: mean(x.map((v) => v.lrError)),
      distinctLr: mean(x.map((v) => v.distinctLr)),
    };
    if (m === "random") continue;
    const wins = r.filter((v, i) => v.regret < x[i].regret).length;
    row.vs[m] = {
      randomWins: wins,
      ties: r.filter((v, i) => v.regret === x[i].regret).length,
      winRateCI95: wilson(wins, SEEDS),
      meanGainWhenRandomWins: meanOr0(r.flatMap((v, i) => (v.regret < x[i].regret ? [x[i].regret - v.regret] : []))),
      meanGainWhenGridWins: meanOr0(r.flatMap((v, i) => (v.regret > x[i].regret ? [v.regret - x[i].regret] : []))),
    };
  }
  report.rows.push(row);
  const k = Math.round(Math.sqrt(n));
  console.log(`\n${row.scenario}: ${n} trials (grids ${k}x${k}), ${SEEDS} seeds, sigma ${SIGMA}`);
  console.log(`  method          mean regret  median regret  |log10 lr err|  distinct lr`);
  for (const m of METHODS) {
    const q = row.methods[m];
    console.log(
      `  ${m.padEnd(14)}  ${f3(q.meanRegret).padStart(11)}  ${f3(q.medianRegret).padStart(13)}  ${f3(q.meanLrErrorDecades).padStart(14)}  ${String(q.distinctLr).padStart(11)}`,
    );
  }
  for (const [m, v] of Object.entries(row.vs)) {
    const [lo, hi] = v.winRateCI95;
    console.log(
      `  random beats ${m} on ${v.randomWins}/${SEEDS} seeds (${((100 * v.randomWins) / SEEDS).toFixed(1)}%, 95% CI ${(100 * lo).toFixed(0)}-${(100 * hi).toFixed(0)}%, ties ${v.ties}); ` +
        `gain when it wins ${f3(v.meanGainWhenRandomWins)}, loss when it loses ${f3(v.meanGainWhenGridWins)}`,
    );
  }
}
if (JSON_OUT) {
  const fs = await import("node:fs");
  fs.writeFileSync(JSON_OUT, JSON.stringify(report, null, 2) + "\n");
}
