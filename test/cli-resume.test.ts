// dnnc train --resume RUN without the spec: the run's spec.dnn with the command line it was started
// with (--epochs 3 resumes as 3, the same cosine curve, the bytes of a run never interrupted);
// other epochs are refused where the schedule spans the run and kept (recorded) where it does not;
// --set, another --seed and another spec are refused, leaving the run as it was.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-resume-"));
const MOONS = "test/fixtures/cliflow/moons.dnn"; // schedule cosine, 13 steps an epoch
const A = join(tmp, "a");
const R = join(tmp, "reference");
const hashDir = (dir: string) => {
  const h = createHash("sha256");
  for (const f of readdirSync(dir).sort()) h.update(f + "\0").update(readFileSync(join(dir, f)));
  return h.digest("hex");
};
const ok = (r: ReturnType<typeof dnnc>) => expect(r.status, r.stderr).toBe(0);

beforeAll(() => {
  // stopped after 20 of its 39 steps (checkpoint at step 16), and the same run never interrupted
  ok(dnnc("train", MOONS, "--out", A, "--epochs", "3", "--max-steps", "20", "--checkpoint-steps", "4", "--quiet", "--no-report"));
  ok(dnnc("train", MOONS, "--out", R, "--epochs", "3", "--quiet", "--no-report"));
}, 60_000);

describe("dnnc train --resume RUN", () => {
  it("refuses what would change the run, naming it, and leaves the run as it was", () => {
    const before = hashDir(A);
    const epochs = dnnc("train", "--resume", A, "--epochs", "5");
    expect(epochs.status).toBe(1);
    expect(epochs.stderr).toBe(
      `error: --epochs 5: ${A} was started for 3 epochs, and its cosine schedule spans them: resuming for 5 would stretch the learning rates still to come. ` +
        `Resume without --epochs (or with --epochs 3); to train longer, start a new run with --epochs 5, or give the schedule its own horizon (schedule cosine(t_max=3)) so that epochs can be added later\n`,
    );
    const set = dnnc("train", "--resume", A, "--set", "train.batch=8");
    expect(set.status).toBe(2);
    expect(set.stderr).toContain(`--set cannot change a run being resumed (it trains ${join(A, "spec.dnn")}, with the overrides it was started with)`);
    const seed = dnnc("train", "--resume", A, "--seed", "6");
    expect(seed.status).toBe(2);
    expect(seed.stderr).toContain(`--seed 6: ${A} was trained with seed 5, which a resume keeps; leave --seed out`);
    const other = join(tmp, "other.dnn");
    writeFileSync(other, readFileSync(MOONS, "utf8").replace("seed 5", "seed 6").replace("../../../specs", resolve("specs")));
    const spec = dnnc("train", other, "--resume", A);
    expect(spec.status).toBe(1);
    expect(spec.stderr).toMatch(
      new RegExp(
        `^error: ${A}/checkpoint\\.safetensors: this checkpoint was written by another spec \\(${MOONS}, sha256 [0-9a-f]{12}\\), not by ${other} \\(sha256 [0-9a-f]{12}\\): resume with \`dnnc train --resume ${A}\``,
      ),
    );
    const none = dnnc("train");
    expect(none.status).toBe(2);
    expect(none.stderr).toBe("error: missing required argument 'spec' (or --resume RUN to continue a run) (run dnnc train --help)\n");
    expect(hashDir(A)).toBe(before);
  });

  it("without the spec continues with the run's spec and --epochs: the bytes of the run never interrupted", () => {
    ok(dnnc("train", "--resume", A, "--quiet", "--no-report"));
    for (const f of ["model.safetensors", "metrics.jsonl".replace("metrics.jsonl", "loss-trace.f64"), "spec.dnn", "run-command.json"])
      expect(readFileSync(join(A, f)).equals(readFileSync(join(R, f))), f).toBe(true);
    const lrs = (d: string) =>
      readFileSync(join(d, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .slice(0, 3)
        .map((l) => JSON.parse(l).lr);
    expect(lrs(A)).toEqual(lrs(R));
    expect(lrs(A)).toHaveLength(3); // 3 epochs, not the spec's 4
  });

  it("more epochs where the schedule does not span the run: kept, and recorded for the next resume; --data is kept", () => {
    const flat = join(tmp, "flat.dnn");
    // its own data path leads nowhere: the run reads --data, and so does its resume
    writeFileSync(flat, readFileSync(MOONS, "utf8").replace("  schedule cosine\n", "").replace("../../../specs/data", "nowhere"));
    const B = join(tmp, "b");
    ok(dnnc("train", flat, "--out", B, "--epochs", "1", "--data", "specs/data/two-moons", "--quiet", "--no-report"));
    ok(dnnc("train", "--resume", B, "--epochs", "2", "--quiet", "--no-report"));
    expect(readFileSync(join(B, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(3); // 2 epochs and the test line
    expect(JSON.parse(readFileSync(join(B, "run-command.json"), "utf8"))).toEqual({
      spec: flat,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      epochs: 2,
      set: [],
      data: resolve("specs/data/two-moons"),
    });
  });

  it("a run without run-command.json (an earlier dnnc's) resumes as before: from the spec named, with the flags given", () => {
    const spec = join(tmp, "absolute.dnn"); // an absolute data path: its spec.dnn is the spec, byte for byte
    writeFileSync(spec, readFileSync(MOONS, "utf8").replace("../../../specs", resolve("specs")));
    const C = join(tmp, "c");
    ok(dnnc("train", spec, "--out", C, "--epochs", "2", "--seed", "9", "--max-steps", "20", "--checkpoint-steps", "4", "--quiet", "--no-report"));
    expect(readFileSync(join(C, "spec.dnn"), "utf8")).toBe(readFileSync(spec, "utf8"));
    rmSync(join(C, "run-command.json"));
    ok(dnnc("train", spec, "--resume", C, "--epochs", "2", "--seed", "9", "--quiet", "--no-report"));
    expect(readFileSync(join(C, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);
  });
});
