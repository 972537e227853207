// Random vs grid search with real training (a figure for docs/search-experiment.md, not a test).
// An MLP on the shipped two-moons CSV, 4 epochs; the space is lr ~ loguniform(1e-3, 1) (matters)
// and weight_decay ~ loguniform(1e-7, 1e-5) (too small to matter); the lr range is shifted per seed. For each seed, 9 random trials vs
// a centred 3x3 grid; each method keeps its best validation loss; the test accuracy of that choice
// is reported. The spec is compiled once; each trial sets lr and the decay of the weight segments.
// Run: npx tsx bench/search-real.mts [--seeds 10]
import { resolve } from "node:path";
import { compileProgram } from "../test/helpers/compile";
import { runSearch, type Space } from "../compiler/search";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";

const seeds = Number(process.argv[process.argv.indexOf("--seeds") + 1] || 10);
const spec = `model moons {
  input [2]
  dense(32) -> relu
  dense(32) -> relu
  dense(2)
  loss softmax_cross_entropy
}
data { source csv("x")
 validation 0.25 }
train { seed 1
 batch 32
 epochs 4
 optimizer sgd(lr=0.1, momentum=0.9) }
`;
const { program } = await compileProgram(spec, "moons.dnn");
const data = loadData(program, resolve("specs/data/two-moons"));
// The optimum's position relative to the grid is unknown in practice: each seed shifts the lr range
// by u ~ U(-0.5, 0.5) decades (3 decades wide), so grid points land anywhere relative to the optimum.
const spaceFor = (s: number): Space => {
  const u = ((s * 0.6180339887) % 1) - 0.5;
  return {
    "train.optimizer.lr": { kind: "loguniform", low: 10 ** (-2.5 + u), high: 10 ** (0.5 + u) },
    "train.weight_decay": { kind: "loguniform", low: 1e-7, high: 1e-5 },
  };
};

async function trial(config: Record<string, unknown>, seed: number) {
  program.train.optimizer.lr = config["train.optimizer.lr"] as number;
  for (const s of program.segments) s.weightDecay = s.name?.endsWith(".weight") ? (config["train.weight_decay"] as number) : 0;
  const be = await createBackend(program.meta.heapFloats, { backend: "wasm" });
  const model = program.create(be, seed);
  model.init();
  const r = train(program, be, model, data, { seed });
  be.close();
  const last = r.epochs[r.epochs.length - 1];
  return { metric: last.val_loss ?? NaN, metrics: { test_acc: r.test_acc } };
}

const rows: { seed: number; random: number; grid: number; randomAcc: number; gridAcc: number }[] = [];
for (let s = 1; s <= seeds; s++) {
  const out: Record<string, { loss: number; acc: number }> = {};
  for (const [name, strategy] of [
    ["random", { kind: "random" as const, trials: 9 }],
    ["grid", { kind: "grid" as const, steps: 3, placement: "centred" as const }],
  ] as const) {
    const space = spaceFor(s);
    const { summary } = await runSearch({
      space,
      strategy,
      seed: 1000 + s,
      parallel: 1,
      objective: { metric: "val_loss", mode: "min" },
      runTrial: (c, seed) => trial(c, seed),
    });
    const b = summary.best!;
    out[name] = { loss: b.metric as number, acc: (b.metrics as { test_acc: number }).test_acc };
  }
  rows.push({ seed: s, random: out.random.loss, grid: out.grid.loss, randomAcc: out.random.acc, gridAcc: out.grid.acc });
  console.log(
    `seed ${s}: best val_loss random ${out.random.loss.toFixed(4)} (test acc ${out.random.acc.toFixed(3)})  grid ${out.grid.loss.toFixed(4)} (test acc ${out.grid.acc.toFixed(3)})`,
  );
}
const wins = rows.filter((r) => r.random < r.grid).length;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `random better on ${wins}/${rows.length} seeds; mean best val_loss random ${mean(rows.map((r) => r.random)).toFixed(4)} vs grid ${mean(rows.map((r) => r.grid)).toFixed(4)}; mean test acc ${mean(rows.map((r) => r.randomAcc)).toFixed(4)} vs ${mean(rows.map((r) => r.gridAcc)).toFixed(4)}`,
);
