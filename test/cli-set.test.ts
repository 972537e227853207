// --set PATH=VALUE on train, compile and check: the search block's paths; the run's spec.dnn holds
// the overrides (comments and layout kept, a missing setting added to its block) with its data path
// rewritten relative to the run directory, so it trains again where it lies; every bad path or
// value is refused naming it, before anything is written.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-set-"));
const MOONS = "test/fixtures/cliflow/moons.dnn";
const run = join(tmp, "run");
const lines = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

beforeAll(() => {
  const r = dnnc(
    "train",
    MOONS,
    "--out",
    run,
    "--epochs",
    "2",
    "--set",
    "train.optimizer.lr=0.05",
    "--set",
    "train.batch=64",
    "--set",
    "model.dense[0].units=8",
    "--set",
    "train.weight_decay=1e-3",
    "--no-report",
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^moons: 320 training samples \(of 400: 80 held out for validation\), 200 test, batch 64,/);
}, 60_000);

describe("dnnc train --set", () => {
  it("writes the overrides into the run's spec.dnn, keeping its comments, and records the command line", () => {
    const text = readFileSync(join(run, "spec.dnn"), "utf8");
    const want = readFileSync(MOONS, "utf8")
      .replace("dense(16)", "dense(8)")
      .replace("batch 32", "batch 64")
      .replace("sgd(lr=0.1, momentum=0.9)", "sgd(lr=0.05, momentum=0.9)")
      .replace("schedule cosine\n}", "schedule cosine\n  weight_decay 0.001\n}");
    // the data path, relative to the run directory
    const path = /csv\("([^"]*)"/.exec(text)![1];
    expect(join(run, path)).toBe(join(process.cwd(), "specs/data/two-moons"));
    expect(text).toBe(want.replace(/csv\("[^"]*"/, `csv("${path}"`));
    expect(JSON.parse(readFileSync(join(run, "run-command.json"), "utf8"))).toMatchObject({
      spec: MOONS,
      epochs: 2,
      set: ["train.optimizer.lr=0.05", "train.batch=64", "model.dense[0].units=8", "train.weight_decay=1e-3"],
    });
  });

  it("the run's spec.dnn trains again where it lies, to the same figures", () => {
    const again = join(tmp, "again");
    const r = dnnc("train", join(run, "spec.dnn"), "--out", again, "--epochs", "2", "--no-report", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    expect(lines(again).map((l) => [l.train_loss, l.val_loss, l.test_acc])).toEqual(lines(run).map((l) => [l.train_loss, l.val_loss, l.test_acc]));
  });

  it("refuses a path that names nothing (exit 2) and a bad value (the diagnostic, exit 1), writing nothing", () => {
    const out = join(tmp, "never");
    // the train verb's refusals come from its compiler process (dnnc check's from the same code, below)
    for (const [flag, message] of [
      ["foo", '--set expects PATH=VALUE (such as train.optimizer.lr=0.01), got "foo"'],
      ["train.nope.x=1", "--set train.nope.x=1: train.nope is not set in the spec"],
    ]) {
      const r = dnnc("train", MOONS, "--out", out, "--set", flag);
      expect(r.status, flag).toBe(2);
      expect(r.stderr).toBe(`error: ${message} (run dnnc train --help)\n`);
    }
    const bad = dnnc("train", MOONS, "--out", out, "--set", "train.batch=0");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("bad value for `batch`: 0 is out of range");
    expect(bad.stderr).toContain(`${MOONS}:14:9`);
    expect(bad.stderr).toContain(`error: ${MOONS} (with --set train.batch=0): compilation failed`);
    const unknown = dnnc("train", MOONS, "--out", out, "--set", "train.nope=1");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("unknown setting `nope` in `train`");
    expect(existsSync(out)).toBe(false);
  });
});

describe("dnnc compile and check --set", () => {
  it("compile --set writes the overridden spec beside the trainer, which names it: its runs are evaluated from it", () => {
    const out = join(tmp, "compiled");
    const c = dnnc("compile", MOONS, "-o", out, "--set", "train.batch=16", "--json");
    expect(c.status, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).files.spec).toBe(join(out, "moons.dnn"));
    const text = readFileSync(join(out, "moons.dnn"), "utf8");
    expect(text).toContain("  batch 16\n");
    expect(join(out, /csv\("([^"]*)"/.exec(text)![1])).toBe(join(process.cwd(), "specs/data/two-moons"));
    // what the trainer writes (as the PyTorch target's does): weights that name OUT/moons.dnn
    const run = join(tmp, "compiled-run");
    const t = spawnSync(process.execPath, [join(out, "moons.trainer.mjs"), "--out", run, "--max-steps", "3", "--quiet"], { encoding: "utf8" });
    expect(t.status, t.stderr).toBe(0);
    const e = dnnc("evaluate", run, "--json");
    expect(e.status, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ ok: true, split: "test", n: 200 });
    // -o naming the spec's own directory: refused rather than replacing the spec
    const again = dnnc("compile", join(out, "moons.dnn"), "-o", out, "--set", "train.batch=8");
    expect(again.status).toBe(1);
    expect(again.stderr).toBe(
      `error: ${join(out, "moons.dnn")}: compile --set would replace the spec itself with the overridden one; give another -o directory\n`,
    );
    expect(readFileSync(join(out, "moons.dnn"), "utf8")).toBe(text);
  });

  it("compile --set: the trainer of the overridden spec; check --set: its diagnostics", () => {
    const ir = dnnc("compile", MOONS, "--emit", "ir", "--set", "model.dense[0].units=8", "--set", "train.batch=16");
    expect(ir.status, ir.stderr).toBe(0);
    expect(ir.stdout).toMatch(/^ir moons \(batch 16, input \[2\], output \[2\]\)/);
    expect(ir.stdout).toContain("[2] -> [8]");
    expect(dnnc("check", MOONS, "--set", "train.optimizer=adam").stdout).toBe(`${MOONS}: ok\n`);
    const c = dnnc("check", MOONS, "--set", "train.epochs=0");
    expect(c.status).toBe(1);
    expect(c.stderr).toContain("bad value for `epochs`");
    expect(c.stderr).toContain(`note: ${MOONS} as changed by --set train.epochs=0`);
    for (const [flag, message] of [
      ["train.batch=", '--set train.batch: no value after "="'],
      ["model.dense[5].units=3", "--set model.dense[5].units=3: model.dense[5].units: the model has 2 dense layer(s)"],
      ["model.dense[0].bogus=1", "--set model.dense[0].bogus=1: dense has no argument bogus"],
      ["model.conv2d[0].filters=3", "--set model.conv2d[0].filters=3: model.conv2d[0].filters: the model has 0 conv2d layer(s)"],
      ["optimizer.lr=1", "--set optimizer.lr=1: a path starts with model., data. or train.: optimizer.lr"],
    ]) {
      const u = dnnc("check", MOONS, "--set", flag);
      expect(u.status, flag).toBe(2);
      expect(u.stderr).toBe(`error: ${message} (run dnnc check --help)\n`);
    }
  });
});
