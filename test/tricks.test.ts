// Every example spec of docs/tricks.md (specs/trick-*.dnn) compiles in-process and trains: 20
// optimizer steps on the shipped data with the TypeScript backend, with a loss that stays finite and
// goes down (the mean of the last 5 steps is below the mean of the first 5). Fashion-MNIST is cut to
// its first 1,600 training rows (the preprocessing fits stay fast; 20 steps of 64 rows fit in one
// epoch), two-moons is used whole. What each trick computes is proven against PyTorch elsewhere:
// the files are named in docs/tricks.md.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { compileProgram } from "./helpers/compile";
import { train } from "../runtime/train-loop";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import type { Dataset } from "../runtime/data/dataset";
import type { Program } from "../runtime/program";

const SPECS = readdirSync("specs")
  .filter((f) => /^trick-.*\.dnn$/.test(f))
  .sort();
const STEPS = 20;
/**
 * Specs that check but do not train yet, with the error they give today (docs/tricks.md, "Known
 * problems"): pca(k)/whiten(k) with k below the input size gather the batch into a side buffer
 * whose pixel rows overlap the label offset (runtime/train-loop.ts BatchFeeder). When this test
 * fails because training now succeeds, delete the entry.
 */
const KNOWN_BROKEN: Record<string, RegExp> = {
  "trick-pca.dnn": /is not a class index/,
  "trick-whitening.dnn": /is not a class index/,
};
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
