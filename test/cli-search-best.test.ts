// best.dnn carries the winning trial's seed and budget of epochs, and its data path relative to
// where it is written: `dnnc train DIR/best.dnn` reproduces the leaderboard's figure.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseSpec } from "../grammar/to-ast";
import { bestSpec } from "../compiler/search-command";
import type { TrialRecord } from "../compiler/search/results";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-best-"));
const spec = readFileSync("test/fixtures/cliflow/moons.dnn", "utf8")
  .replace("../../../specs", resolve("specs"))
  .replace("epochs 4", "epochs 1")
  .concat("search {\n  strategy random\n  trials 2\n  metric val_loss\n  parallel 1\n  train.optimizer.lr: loguniform(1e-2, 3e-1)\n}\n");

describe("best.dnn", () => {
  it("holds the trial's configuration, seed and budget, and a data path relative to its directory", () => {
    const ast = parseSpec(spec.replace(resolve("specs"), "../../specs"), "sub/dir/s.dnn").ast!;
    const trial = { config: { "train.optimizer.lr": 0.0123 }, seed: 4000000000, budget: 3 } as unknown as TrialRecord;
    const text = bestSpec(ast, trial, "/data/moons", "/runs/search");
    expect(text).toContain("seed 4000000000\n");
    expect(text).toContain("epochs 3\n");
    expect(text).toContain("sgd(lr=0.0123, momentum=0.9)");
    expect(text).toContain('csv("../../data/moons", label="label")');
    expect(text).not.toContain("search {");
    // no budget (random search): the spec's epochs
    expect(bestSpec(ast, { ...trial, budget: null }, "/data/moons", "/runs/search")).toContain("epochs 1\n");
  });

  it("dnnc train DIR/best.dnn reproduces the winning trial's val_loss", () => {
    const dir = join(tmp, "work");
    mkdirSync(dir);
    writeFileSync(join(dir, "s.dnn"), spec.replace(resolve("specs"), relative(dir, resolve("specs")))); // a relative data path
    const out = join(tmp, "results");
    const s = dnnc("search", join(dir, "s.dnn"), "-o", out, "--json");
    expect(s.status, s.stderr).toBe(0);
    const summary = JSON.parse(s.stdout.trim().split("\n").pop()!);
    expect(summary.event).toBe("summary");
    const best = readFileSync(join(out, "best.dnn"), "utf8");
    expect(best).toContain(`seed ${summary.best.seed}\n`);
    const path = /csv\("([^"]*)"/.exec(best)![1];
    expect(path.startsWith("../")).toBe(true);
    expect(resolve(out, path)).toBe(resolve("specs/data/two-moons"));
    // trials run the plain SIMD build (the same bytes on every machine): so does --no-fma
    const t = dnnc("train", join(out, "best.dnn"), "-o", join(tmp, "again"), "--json", "--no-report", "--no-fma");
    expect(t.status, t.stderr).toBe(0);
    const epochs = t.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => "epoch" in l);
    expect(epochs[epochs.length - 1].val_loss).toBe(summary.best.metric);
  });
});
