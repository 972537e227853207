// Grids are counted, never enumerated, and held to the trial budget (issue 16, item 7): a grid of
// 10^9 configurations (three axes of 1000 steps) used to pass `check`, then build every
// configuration and die out of memory. Now its size comes from its axes (BigInt, exact), point i is
// computed from i, `check` reports E0404 at the `steps` line, and `dnnc search` refuses it before
// writing anything. Also: a search in which no trial succeeds exits 1 (it used to exit 0).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { axisPoints, formatCount, grid, gridPoints, MAX_TRIALS, type Space } from "../compiler/search/space";
import { flatTrials } from "../compiler/search/strategies";
import { runSearch } from "../compiler/search/runner";
import { compileToIr } from "../compiler/pipeline";
import { DnncError } from "../runtime/errors";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-search-grid-"));
const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

const big: Space = {
  "train.optimizer.lr": { kind: "loguniform", low: 1e-3, high: 1 },
  "train.optimizer.momentum": { kind: "uniform", low: 0, high: 0.99 },
  "model.dense[0].units": { kind: "int", low: 1, high: 5000 },
};

describe("grid", () => {
  it("counts 10^9 points from the axes alone and computes any point from its index", () => {
    const t0 = performance.now();
    const g = grid(big, 1000, "centred");
    expect(g.size).toBe(1_000_000_000n);
    expect(performance.now() - t0).toBeLessThan(1000); // three axes of 1000 values, not 10^9 objects
    const axes = Object.values(big).map((d) => axisPoints(d, 1000, "centred"));
    // first path slowest: index = (i * 1000 + j) * 1000 + k
    for (const [i, j, k] of [
      [0, 0, 0],
      [999, 999, 999],
      [123, 456, 789],
      [1, 0, 999],
    ])
      expect(g.at((i * 1000 + j) * 1000 + k)).toEqual({
        "train.optimizer.lr": axes[0][i],
        "train.optimizer.momentum": axes[1][j],
        "model.dense[0].units": axes[2][k],
      });
    expect(() => g.at(1_000_000_000)).toThrow(RangeError);
    expect(formatCount(g.size)).toBe("1,000,000,000");
  });

  it("counts int axes after rounding (duplicates dropped), as the points run", () => {
    const s: Space = { a: { kind: "int", low: 1, high: 4 }, b: { kind: "choice", values: ["x", "y"] } };
    const g = grid(s, 10);
    expect(g.size).toBe(8n);
    expect(Array.from({ length: 8 }, (_, i) => g.at(i))).toEqual(gridPoints(s, 10));
  });

  it("flatTrials refuses a grid over the budget, naming its size, its axes and the budget", () => {
    expect(() => flatTrials(big, { kind: "grid", steps: 1000, placement: "centred" }, 1)).toThrow(
      "search: the grid has 1,000,000,000 configurations (1000 × 1000 × 1000), more than the 100,000 trials a search may run",
    );
    const small: Space = { a: { kind: "uniform", low: 0, high: 1 }, b: { kind: "uniform", low: 0, high: 1 } };
    expect(() => flatTrials(small, { kind: "grid", steps: 3 }, 1, { trials: 8, from: "trials" })).toThrow(
      "the grid has 9 configurations (3 × 3), more than the trial budget (`trials 8`)",
    );
    expect(flatTrials(small, { kind: "grid", steps: 3 }, 1, { trials: 9, from: "trials" })).toHaveLength(9);
    expect(() => gridPoints(big, 1000)).toThrow(DnncError);
  });

  it("runSearch refuses it before opening the results directory", async () => {
    const dir = join(tmp, "refused");
    await expect(
      runSearch({
        space: big,
        strategy: { kind: "grid", steps: 1000 },
        seed: 1,
        resultsDir: dir,
        runTrial: async () => ({ metric: 0 }),
        objective: { metric: "val_loss", mode: "min" },
      }),
    ).rejects.toThrow(/more than the 100,000 trials/);
    expect(existsSync(dir)).toBe(false);
  });
});

const SPEC = (search: string) =>
  `model g {\n  input [2]\n  dense(8) -> relu\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata {\n  source csv("${tmp}")\n  validation 0.25\n}\ntrain {\n  seed 1\n  batch 16\n  epochs 1\n  optimizer sgd(lr=0.1)\n}\nsearch {\n${search}}\n`;
const AXES = "  train.optimizer.lr: loguniform(1e-3, 1)\n  train.optimizer.momentum: uniform(0, 0.99)\n  model.dense[0].units: int(1, 5000)\n";

describe("dnnc check and dnnc search", () => {
  it("check: E0404 at the steps line, against 100,000 or against an explicit trials", () => {
    const src = SPEC(`  strategy grid\n  steps 1000\n${AXES}`);
    const r = compileToIr(src, "g.dnn", { passes: "lower" });
    expect(r.ir).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({
      code: "E0404",
      message: "search: the grid has 1,000,000,000 configurations (1000 × 1000 × 1000), more than the 100,000 trials a search may run",
      span: { line: 19, col: 3 },
    });
    const t = compileToIr(SPEC(`  strategy grid\n  steps 3\n  trials 20\n${AXES}`), "g.dnn", { passes: "lower" });
    expect(t.diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
      [
        "E0404",
        "search: the grid has 27 configurations (3 × 3 × 3), more than the trial budget (`trials 20`)",
        "lower `steps`, drop an axis, or raise `trials` to 27",
      ],
    ]);
    // within budget: no diagnostic; random search ignores steps
    expect(compileToIr(SPEC(`  strategy grid\n  steps 3\n  trials 27\n${AXES}`), "g.dnn", { passes: "lower" }).diagnostics).toEqual([]);
    expect(compileToIr(SPEC(`  strategy grid\n  steps 46\n${AXES}`), "g.dnn", { passes: "lower" }).diagnostics).toEqual([]); // 97,336
    expect(compileToIr(SPEC(`  strategy random\n  steps 1000\n${AXES}`), "g.dnn", { passes: "lower" }).diagnostics).toEqual([]);
    expect(MAX_TRIALS).toBe(100_000);
  });

  it("search on 10^9 points exits 1 at once with the diagnostic and writes nothing", () => {
    const spec = join(tmp, "huge.dnn");
    writeFileSync(spec, SPEC(`  strategy grid\n  steps 1000\n${AXES}`));
    const out = join(tmp, "huge-out");
    const t0 = performance.now();
    const r = dnnc("search", spec, "-o", out);
    expect(performance.now() - t0).toBeLessThan(20_000); // it used to run a minute, then run out of memory
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error[E0404]: search: the grid has 1,000,000,000 configurations (1000 × 1000 × 1000)");
    expect(r.stderr).toContain(`error: ${spec}: compilation failed`);
    expect(r.stderr).not.toMatch(/\n\s+at |internal error|heap/);
    expect(existsSync(out)).toBe(false);
    const c = dnnc("check", spec);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain(`${spec}:19:3`);
  });

  it("a search in which every trial fails exits 1 with the first error; --json says ok: false", () => {
    writeFileSync(join(tmp, "train.csv"), "x1,x2,label\n" + Array.from({ length: 40 }, (_, i) => `${i / 40},${(i % 3) / 3},${i % 2}`).join("\n") + "\n");
    const spec = join(tmp, "fail.dnn");
    writeFileSync(spec, SPEC("  trials 2\n  train.optimizer.lr: loguniform(1e-3, 1)\n"));
    const r = dnnc("search", spec, "-o", join(tmp, "fail-out"), "--data", join(tmp, "no-such-data"));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("2 of 2 trials failed");
    expect(r.stderr.trimEnd()).toBe(
      `error: search: all 2 trials failed; trial 0@0: ${join(tmp, "no-such-data")}: no such file (see ${join(tmp, "fail-out", "results.jsonl")}; delete a trial's line to run it again)`,
    );
    const j = dnnc("search", spec, "-o", join(tmp, "fail-out"), "--data", join(tmp, "no-such-data"), "--json");
    expect(j.status).toBe(1);
    const lines = j.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.at(-2)).toMatchObject({ event: "summary", ok: false, trials: 2, failed: 2, best: null });
    expect(lines.at(-1)).toMatchObject({ ok: false, error: expect.stringContaining("all 2 trials failed") });
    // and one that works still exits 0
    const ok = dnnc("search", spec, "-o", join(tmp, "ok-out"), "--quiet");
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
  });
});
