// dnnc evaluate RUN [--data PATH]: the run's own test figures again, other data, regression
// figures (checked against predict's outputs), runs of the PyTorch target (weights and metrics only:
// the spec is compiled again), and every bad input refused in one line without touching the run.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-evaluate-"));
const moons = join(tmp, "moons");
const linear = join(tmp, "linear");
const MOONS = "test/fixtures/cliflow/moons.dnn";
const LINEAR = "test/fixtures/cliflow/linear.dnn";

function refused(r: ReturnType<typeof dnnc>, ...parts: string[]): void {
  expect(r.status, r.stderr).toBe(1);
  for (const p of parts) expect(r.stderr).toContain(p);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Every file of a directory with its bytes: what "not touched" means. */
const snapshot = (dir: string) => readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs, readFileSync(join(dir, f)).toString("base64")]);

beforeAll(() => {
  for (const [spec, out] of [
    [MOONS, moons],
    [LINEAR, linear],
  ]) {
    const r = dnnc("train", spec, "--out", out, "--quiet", "--no-report");
    expect(r.status, r.stderr).toBe(0);
  }
}, 120_000);

describe("dnnc evaluate", () => {
  it("gives the run's own test figures again, and leaves the run as it was", () => {
    const before = snapshot(moons);
    const r = dnnc("evaluate", moons, "--json");
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const lines = readFileSync(join(moons, "metrics.jsonl"), "utf8").trim().split("\n");
    const final = JSON.parse(lines[lines.length - 1]);
    expect(doc).toMatchObject({ ok: true, run: moons, split: "test", n: 200 });
    expect(doc.loss).toBeCloseTo(final.test_loss, 6);
    expect(doc.acc).toBeCloseTo(final.test_acc, 6);
    expect(doc.mae).toBeUndefined();
    const h = dnnc("evaluate", moons);
    expect(h.stdout).toMatch(
      new RegExp(`^${moons} on .*two-moons \\(test split, 200 samples\\): loss ${final.test_loss.toFixed(4)} acc ${final.test_acc.toFixed(4)}\\n$`),
    );
    expect(snapshot(moons)).toEqual(before);
  });

  it("scores every sample of a CSV file given with --data", () => {
    const r = dnnc("evaluate", moons, "--data", "specs/data/two-moons/train.csv", "--json");
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ split: "all", n: 400, data: "specs/data/two-moons/train.csv" });
  });

  it("gives MAE, RMSE and R² for regression, as computed from predict's outputs", () => {
    const r = dnnc("evaluate", linear, "--json");
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ split: "all", n: 240, acc: null });
    const p = dnnc("predict", linear, "--input", "test/fixtures/cliflow/linear.csv");
    expect(p.status, p.stderr).toBe(0);
    const out = p.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => Number(l.split(",")[1]));
    const y = readFileSync("test/fixtures/cliflow/linear.csv", "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => Number(l.split(",")[3]));
    const n = y.length;
    const mean = y.reduce((a, b) => a + b, 0) / n;
    const sse = y.reduce((a, v, i) => a + (out[i] - v) ** 2, 0);
    expect(doc.mae).toBeCloseTo(y.reduce((a, v, i) => a + Math.abs(out[i] - v), 0) / n, 4);
    expect(doc.rmse).toBeCloseTo(Math.sqrt(sse / n), 4);
    expect(doc.r2).toBeCloseTo(1 - sse / y.reduce((a, v) => a + (v - mean) ** 2, 0), 4);
    expect(doc.loss).toBeCloseTo(sse / n, 4); // mse
    expect(dnnc("evaluate", linear).stdout).toMatch(/\(every sample, 240 samples\): loss [\d.]+ mae [\d.]+ rmse [\d.]+ r2 [\d.]+\n$/);
  });

  it("works on a run of the PyTorch target: weights and metrics only, the spec compiled again", () => {
    // what a trainer compiled by dnnc compile writes with --out, as the PyTorch target's does: the
    // metrics and the weights, whose metadata names the spec as it was given (relative to the
    // working directory) and its hash
    const compiled = join(tmp, "compiled");
    expect(dnnc("compile", MOONS, "-o", compiled, "--quiet").status).toBe(0);
    const pt = join(tmp, "pytorch-run");
    const t = spawnSync(process.execPath, [join(compiled, "moons.trainer.mjs"), "--out", pt, "--quiet"], { encoding: "utf8" });
    expect(t.status, t.stderr).toBe(0);
    expect(readdirSync(pt).filter((f) => f.endsWith(".dnn") || f.includes(".trainer."))).toEqual([]);
    const want = JSON.parse(dnnc("evaluate", moons, "--json").stdout);
    const r = dnnc("evaluate", pt, "--json");
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...want, run: pt });
    const pred = dnnc("predict", pt, "--input", "specs/data/two-moons/test.csv");
    expect(pred.status, pred.stderr).toBe(0);
    expect(pred.stdout).toBe(dnnc("predict", moons, "--input", "specs/data/two-moons/test.csv").stdout);
    const ex = dnnc("export", pt, "-o", join(tmp, "pt.onnx"));
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toBe(`wrote ${join(tmp, "pt.onnx")} (5 nodes, 82 parameters)\n`);
    // a spec in the run directory that is not the one the weights were trained with
    writeFileSync(join(pt, "spec.dnn"), readFileSync(MOONS, "utf8").replace("dense(16)", "dense(17)"));
    refused(dnnc("evaluate", pt), `${join(pt, "model.safetensors")}: written by another spec than ${join(pt, "spec.dnn")}`);
  });

  it("refuses bad inputs in one line, naming them", () => {
    refused(dnnc("evaluate", join(tmp, "nope")), `${join(tmp, "nope")}: no such run directory`);
    refused(dnnc("evaluate", moons, "--data", join(tmp, "none.csv")), `${join(tmp, "none.csv")}: no such file or directory`);
    const wide = join(tmp, "wide.csv");
    writeFileSync(wide, "x1,x2,x3,label\n1,2,3,0\n4,5,6,1\n");
    refused(dnnc("evaluate", moons, "--data", wide), `${wide}: samples have shape [3] but the model's input is [2]`);
    // a run that has not finished: no model yet
    const unfinished = join(tmp, "unfinished");
    mkdirSync(unfinished);
    copyFileSync(join(moons, "metrics.jsonl"), join(unfinished, "metrics.jsonl"));
    writeFileSync(join(unfinished, "checkpoint.safetensors"), "");
    refused(dnnc("evaluate", unfinished), `${unfinished}: no model.safetensors (the run has not finished: resume it with dnnc train --resume ${unfinished})`);
    // weights without a spec anywhere
    const bare = join(tmp, "bare");
    mkdirSync(bare);
    const w = readFileSync(join(moons, "model.safetensors"));
    writeFileSync(join(bare, "model.safetensors"), Buffer.from(w.toString("latin1").replace(MOONS, MOONS.replace("moons.dnn", "gone!.dnn")), "latin1"));
    refused(dnnc("evaluate", bare), `${bare}: no spec.dnn and the spec its weights name (test/fixtures/cliflow/gone!.dnn) is not there; copy the spec`);
    const j = dnnc("evaluate", join(tmp, "nope"), "--json");
    expect(JSON.parse(j.stdout)).toEqual({ ok: false, error: `${join(tmp, "nope")}: no such run directory` });
    const u = dnnc("evaluate");
    expect(u.status).toBe(2);
    expect(u.stderr).toContain("missing required argument 'run' (run dnnc evaluate --help)");
  });
});
