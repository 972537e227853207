// Every example spec of docs/tricks.md (specs/trick-*.dnn) compiles in-process and trains: 20
// optimizer steps on the shipped data with the TypeScript backend, with a loss that stays finite and
// goes down (the mean of the last 5 steps is below the mean of the first 5). Fashion-MNIST is cut to
// its first 1,600 training rows (the preprocessing fits stay fast; 20 steps of 64 rows fit in one
// epoch), two-moons is used whole. What each trick computes is proven against PyTorch elsewhere:
// the files are named in docs/tricks.md. A second test checks that the specs together use every
// optimizer, schedule, initialization, normalization, regularizer, preprocessing and augmentation.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { compileProgram } from "./helpers/compile";
import { train } from "../runtime/train-loop";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import type { Dataset } from "../runtime/data/dataset";
import type { Program } from "../runtime/program";
import { parseSpec } from "../grammar/to-ast";
import { check } from "../compiler/check";
import type { LayerSpec, Spec } from "../compiler/spec";

const SPECS = readdirSync("specs")
  .filter((f) => /^trick-.*\.dnn$/.test(f))
  .sort();
const STEPS = 20;
/** Specs that check but do not train yet, with the error they give today (none at the moment). */
const KNOWN_BROKEN: Record<string, RegExp> = {};
const FASHION_ROWS = 1600;

/** The first `n` rows of a dataset (a view, no copy). */
function head(ds: Dataset, n: number): Dataset {
  if (ds.n <= n) return ds;
  const F = ds.shape.reduce((a, b) => a * b, 1);
  return { ...ds, x: ds.x.subarray(0, n * F), y: ds.y.subarray(0, n), n };
}

const dataCache = new Map<string, Dataset>();
function trainingData(program: Program, specPath: string): Dataset {
  const dir = resolve(dirname(specPath), program.data.source.path);
  let ds = dataCache.get(dir);
  if (!ds) {
    ds = head(loadData(program, dir).train, FASHION_ROWS);
    dataCache.set(dir, ds);
  }
  return ds;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Every feature a checked spec uses, as short tags ("optimizer:adam", "layer:bn", "aug:blur", ...). */
function features(spec: Spec): Set<string> {
  const tags = new Set<string>();
  const t = spec.train;
  const walk = (ls: LayerSpec[]) => {
    for (const l of ls) {
      tags.add(`layer:${l.op}`);
      if (typeof l.args.init === "string") tags.add(`init:${l.args.init}`);
      else if (l.op === "dense" || l.op === "conv2d") tags.add("init:torch_default");
      if (l.args.weight_norm === true) tags.add("weight_norm");
      for (const k of ["weight_decay", "l1", "max_norm"]) if (l.args[k] !== undefined) tags.add(`layer-${k}`);
      if (l.body) walk(l.body);
    }
  };
  walk(spec.layers);
  const ops = spec.layers.map((l) => l.op);
  for (let i = 0; i + 1 < ops.length; i++) {
    if (ops[i] === "bn" && ops[i + 1] === "relu") tags.add("bn-before-activation");
    if (ops[i] === "relu" && ops[i + 1] === "bn" && ops[i + 2] === "dropout" && ops[i + 3] === "dense") tags.add("ic-layer");
  }
  const o = t.optimizer;
  tags.add(`optimizer:${o.kind}`);
  if (o.kind === "sgd" && o.momentum > 0) tags.add(o.nesterov ? "sgd-nesterov" : "sgd-momentum");
  if (o.amsgrad) tags.add("amsgrad");
  tags.add(`schedule:${t.schedule.kind}`);
  if (t.schedule.warmup > 0) tags.add("warmup");
  if (t.weightDecay > 0) tags.add("weight_decay");
  if (t.l1 > 0) tags.add("l1");
  if (t.decayBias) tags.add("decay_bias");
  if (t.decayNorm) tags.add("decay_norm");
  if (t.clipNorm > 0) tags.add("clip_norm");
  if (t.clipValue > 0) tags.add("clip_value");
  if (t.earlyStopping) tags.add("early_stopping");
  if (t.inputGradPenalty) tags.add("input_grad_penalty");
  if (t.jacobianPenalty) tags.add("jacobian_penalty");
  for (const p of spec.data.preprocess) tags.add(`preprocess:${p.kind}${p.kind === "standardize" ? `:${p.args.mode}` : ""}`);
  for (const a of spec.data.augment) tags.add(`aug:${a.kind}`);
  if (spec.search) tags.add(`search:${spec.search.settings.strategy}`);
  return tags;
}

describe("the trick specs cover the lecture checklist", () => {
  it("every optimizer, schedule, init, norm, regularizer, preprocessing and augmentation is used by some spec", () => {
    const used = new Set<string>();
    for (const f of SPECS) {
      const path = join("specs", f);
      const src = readFileSync(path, "utf8");
      const parsed = parseSpec(src, path);
      expect(parsed.diagnostics, f).toEqual([]);
      const r = check(parsed.ast!);
      expect(r.diagnostics, f).toEqual([]);
      for (const tag of features(r.spec!)) used.add(tag);
    }
    const want = [
      ...["sgd", "adagrad", "rmsprop", "adam", "adamw"].map((k) => `optimizer:${k}`),
      "sgd-momentum",
      "sgd-nesterov",
      "amsgrad",
      ...["inverse_time", "exponential", "step", "multistep", "cosine", "cosine_restarts", "plateau"].map((k) => `schedule:${k}`),
      "warmup",
      ...["torch_default", "xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform", "orthogonal"].map((k) => `init:${k}`),
      ...["preprocess:standardize:feature", "preprocess:standardize:channel", "preprocess:pca", "preprocess:whiten", "preprocess:zca"],
      ...["bn", "layernorm", "groupnorm", "instancenorm", "iternorm", "dropout", "spatial_dropout", "residual"].map((k) => `layer:${k}`),
      "bn-before-activation",
      "ic-layer",
      "weight_norm",
      "weight_decay",
      "l1",
      "decay_bias",
      "decay_norm",
      "layer-weight_decay",
      "layer-l1",
      "layer-max_norm",
      "clip_norm",
      "clip_value",
      "input_grad_penalty",
      "jacobian_penalty",
      "early_stopping",
      ...["flip_h", "flip_v", "translate", "crop", "rotate", "noise", "blur", "cutout", "brightness", "contrast"].map((k) => `aug:${k}`),
      "search:random",
      "search:halving",
    ];
    expect(want.filter((w) => !used.has(w))).toEqual([]);
  });
});

describe("the example spec of every trick trains", () => {
  it("there are specs to try, covering the sections of docs/tricks.md", () => {
    expect(SPECS.length).toBeGreaterThanOrEqual(10);
    const guide = readFileSync("docs/tricks.md", "utf8");
    for (const f of SPECS) expect(guide, `docs/tricks.md does not mention specs/${f}`).toContain(`specs/${f}`);
  });

  for (const f of SPECS) {
    it(f, async () => {
      const path = join("specs", f);
      const { program } = await compileProgram(readFileSync(path, "utf8"), path);
      const ds = trainingData(program, path);
      const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
      try {
        const model = program.create(be, program.train.seed);
        model.init();
        const run = () => train(program, be, model, { train: ds }, { maxSteps: STEPS, epochs: 3 });
        if (KNOWN_BROKEN[f]) {
          expect(run, `${f} trains now: remove it from KNOWN_BROKEN`).toThrow(KNOWN_BROKEN[f]);
          return;
        }
        const r = run();
        expect(r.lossTrace.length).toBe(STEPS);
        for (const l of r.lossTrace) expect(Number.isFinite(l)).toBe(true);
        const first = mean(r.lossTrace.slice(0, 5));
        const last = mean(r.lossTrace.slice(-5));
        expect(last, `loss trace ${r.lossTrace.map((l) => l.toFixed(3)).join(" ")}`).toBeLessThan(first);
        for (const e of r.epochs) if (e.val_loss !== null) expect(Number.isFinite(e.val_loss)).toBe(true);
      } finally {
        be.close();
      }
    });
  }
});
