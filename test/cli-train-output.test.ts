// What dnnc train prints: the samples trained on after the validation hold-out; for regression no
// accuracy columns, and MAE, RMSE and R² at the end (of the validation rows without a test split:
// checked against predict's outputs on those rows); --json lines carry an `event` field.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { splitValidation } from "../runtime/data/batch";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-train-output-"));

describe("dnnc train output", () => {
  it("regression: no accuracy columns; the validation rows' MAE, RMSE and R² at the end, as predict's outputs give them", () => {
    const run = join(tmp, "linear");
    const r = dnnc("train", "test/fixtures/cliflow/linear.dnn", "--out", run, "--no-report");
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split("\n");
    expect(out[0]).toMatch(/^linear: 180 training samples \(of 240: 60 held out for validation\), batch 16, backend /);
    expect(out[1]).toMatch(/^epoch 1: train_loss [\d.]+ val_loss [\d.]+ lr 0\.0200 \(/);
    expect(r.stdout).not.toContain("_acc");
    const final = JSON.parse(readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").pop()!);
    expect(Object.keys(final)).toEqual(["test_loss", "test_acc", "val_mae", "val_rmse", "val_r2"]);
    // the same rows the loop held out (seed 3), predicted by the saved model
    const p = dnnc("predict", run, "--input", "test/fixtures/cliflow/linear.csv");
    expect(p.status, p.stderr).toBe(0);
    const pred = p.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => Number(l.split(",")[1]));
    const y = readFileSync("test/fixtures/cliflow/linear.csv", "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => Number(l.split(",")[3]));
    const val = Array.from(splitValidation(240, 0.25, 3).val);
    const mean = val.reduce((a, i) => a + y[i], 0) / val.length;
    const sse = val.reduce((a, i) => a + (pred[i] - y[i]) ** 2, 0);
    expect(final.val_mae).toBeCloseTo(val.reduce((a, i) => a + Math.abs(pred[i] - y[i]), 0) / val.length, 4);
    expect(final.val_rmse).toBeCloseTo(Math.sqrt(sse / val.length), 4);
    expect(final.val_r2).toBeCloseTo(1 - sse / val.reduce((a, i) => a + (y[i] - mean) ** 2, 0), 4);
    expect(out.at(-2)).toBe(
      `test_loss - (no test split) val_loss ${Math.pow(final.val_rmse, 2).toFixed(4)} val_mae ${final.val_mae.toFixed(4)} val_rmse ${final.val_rmse.toFixed(4)} val_r2 ${final.val_r2.toFixed(4)}`,
    );
  });

  it("--json: an event field on every line (epoch, test, run); the epoch lines are metrics.jsonl's", () => {
    const run = join(tmp, "moons");
    const r = dnnc("train", "test/fixtures/cliflow/moons.dnn", "--out", run, "--epochs", "2", "--no-report", "--json");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(["epoch", "epoch", "test", "run"]);
    const metrics = readFileSync(join(run, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, 3).map(({ event: _, ...rest }) => rest)).toEqual(metrics);
    expect(Object.keys(lines[2])).toEqual(["event", "test_loss", "test_acc"]);
    expect(lines[3]).toMatchObject({ run, files: { model: join(run, "model.safetensors") } });
  });
});
