// dnnc train end to end for the report (bin/dnnc.mjs, so `npm run build` first, as test/cli.test.ts):
// with --report-live the report is written after each epoch ("live report:" once) and the final
// one no longer reloads; the trainer records the rate of every step with the warm-up (run-info.json),
// a sample of the test predictions (predictions.json), and the report shows them.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

const SPEC = `model moons_live {
  input [2]
  dense(8) -> tanh
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv("${resolve("specs/data/two-moons")}", label="label")
  validation 0.1
}
train {
  seed 5
  batch 40
  epochs 3
  optimizer sgd(lr=0.1)
  schedule_per step
  warmup 12
  schedule cosine
}
`;

describe("dnnc train --report-live", () => {
  it("writes the report after every epoch and a final one that does not reload, with the per-step rate and the predictions", () => {
    const work = mkdtempSync(join(tmpdir(), "dnnc-live-"));
    writeFileSync(join(work, "moons.dnn"), SPEC);
    const dir = join(work, "run");
    const r = dnnc("train", join(work, "moons.dnn"), "-o", dir, "--report-live");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^live report: .*report\.html$/gm)).toEqual([`live report: ${join(dir, "report.html")}`]);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).not.toContain("data-live");
    // warm-up 12: optimizer steps 1..12 run at rates rising from 0, step 13 is the first at the full rate
    expect(html).toContain("moons_live — warm-up ends at step 13");
    const info = JSON.parse(readFileSync(join(dir, "run-info.json"), "utf8"));
    // 360 training rows / 40 = 9 steps an epoch, 27 in all; the rate rises over 12 steps, then anneals
    expect(info.lr_steps.slice(0, 2)).toEqual([
      [1, 0],
      [13, 0.1],
    ]);
    expect(info.lr_steps[info.lr_steps.length - 1][0]).toBe(27);
    expect(info.train.optimizer.kind).toBe("sgd");
    expect(Date.parse(info.finished)).toBeGreaterThanOrEqual(Date.parse(info.started));
    const pred = JSON.parse(readFileSync(join(dir, "predictions.json"), "utf8"));
    expect(pred.kind).toBe("classification");
    expect(pred.seen).toBeGreaterThan(0);
    expect(pred.samples.length).toBe(Math.min(32, pred.wrong));
  }, 60_000);
});
