// Run directories never lose or corrupt a user's work (issue 16, items 1, 2, 5, 6, 10, 11): a
// resume reads its source and writes only the directory named as output; every refusal comes
// before the first write and leaves every directory as it was; the loss trace lives in its own
// append-only file; one process writes a run directory at a time; --threads is bounded.
import { beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-run-dir-"));
const DNNC = resolve("bin/dnnc.mjs");
const data = resolve("specs/data/two-moons");
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

/** Two-moons with early stopping (a best snapshot), plateau, preprocessing: 10 steps an epoch. */
const spec = (seed: number, patience: number | null = 50) => `model moons {
  input [2]
  dense(16) -> tanh
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv(${JSON.stringify(data)}, label="label")
  validation 0.2
  preprocess standardize(feature)
}
train {
  seed ${seed}
  batch 32
  epochs 4
  optimizer rmsprop(lr=0.01, alpha=0.9)
  schedule plateau(factor=0.5, patience=1, monitor=val_loss)
  ${patience === null ? "" : `early_stopping(patience=${patience}, monitor=val_loss)`}
}
`;
const a = join(tmp, "a.dnn");
const b = join(tmp, "b.dnn"); // the same model with another seed: another spec
const trainerA = join(tmp, "compiled", "a.trainer.mjs");
const trainerB = join(tmp, "compiled-b", "b.trainer.mjs");
const long = join(tmp, "long.dnn"); // no early stopping: runs as long as asked
const trainerLong = join(tmp, "compiled-long", "long.trainer.mjs");
const ref = join(tmp, "reference"); // a 4-epoch run never interrupted

const dnnc = (...args: string[]) => spawnSync(process.execPath, [DNNC, ...args], { encoding: "utf8", cwd: tmp });
const trainer = (t: string, ...args: string[]) => spawnSync(process.execPath, [t, "--quiet", ...args], { encoding: "utf8", cwd: tmp });
const at = (...p: string[]) => join(tmp, ...p);

/** sha256 over the names and bytes of every file below dir. */
function hashDir(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      h.update(relative(dir, p) + "\0");
      if (statSync(p).isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest("hex");
}
const same = (x: string, y: string) => readFileSync(x).equals(readFileSync(y));

/** Rewrite a checkpoint's loop state (or its tensors) as a hand edit or a damaged disk would. */
function editCheckpoint(path: string, edit: (state: Record<string, unknown>, tensors: ReturnType<typeof decodeSafetensors>["tensors"]) => unknown) {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
  const state = JSON.parse(metadata.loop_state);
  const edited = edit(state, tensors);
  writeFileSync(path, encodeSafetensors(tensors, { ...metadata, loop_state: typeof edited === "string" ? edited : JSON.stringify(edited ?? state) }));
}

/** A run of A stopped after `steps` steps with a checkpoint every 3 (no kill needed: --max-steps). */
function partialRun(dir: string, steps: number) {
  const r = trainer(trainerA, "--out", dir, "--max-steps", String(steps), "--checkpoint-steps", "3");
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
}

beforeAll(() => {
  writeFileSync(a, spec(4));
  writeFileSync(b, spec(5));
  writeFileSync(long, spec(4, null)); // (undefined would take the default patience: early stopping)
  expect(dnnc("compile", long, "-o", at("compiled-long"), "--quiet").status).toBe(0);
  expect(dnnc("compile", a, "-o", at("compiled"), "--quiet").status).toBe(0);
  expect(dnnc("compile", b, "-o", at("compiled-b"), "--quiet").status).toBe(0);
  const r = trainer(trainerA, "--out", ref);
  expect(r.stderr).toBe("");
}, 120_000);

describe("resume from A into B", () => {
  it("dnnc train --resume A --out B: A byte for byte untouched; B holds the spec, trainer, checkpoint, metrics and the model of an uninterrupted run", () => {
    const runC = at("runC");
    const runD = at("runD");
    expect(dnnc("train", a, "-o", runC, "--epochs", "1", "--no-report", "--quiet").status).toBe(0);
    const before = hashDir(runC);
    const r = dnnc("train", a, "--resume", runC, "--out", runD, "--epochs", "4", "--no-report", "--quiet");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(hashDir(runC)).toBe(before);
    for (const f of ["spec.dnn", "a.trainer.mjs", "a.trainer.ts", "checkpoint.safetensors", "loss-trace.f64", "metrics.jsonl", "run.json", "model.safetensors"])
      expect(existsSync(join(runD, f)), f).toBe(true);
    expect(readFileSync(join(runD, "spec.dnn"), "utf8")).toBe(spec(4));
    expect(same(join(runD, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
    expect(same(join(runD, "loss-trace.f64"), join(ref, "loss-trace.f64"))).toBe(true);
    expect(readFileSync(join(runD, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(5); // 4 epochs and the test line
    expect(readdirSync(runD).filter((f) => f.endsWith(".tmp") || f.endsWith(".lock"))).toEqual([]);
  });

  it("the trainer's --resume A --out B: the same; B can be resumed itself from its first moment", () => {
    const A = at("tA");
    const B = at("tB");
    partialRun(A, 7);
    const before = hashDir(A);
    expect(trainer(trainerA, "--resume", A, "--out", B).status).toBe(0);
    expect(hashDir(A)).toBe(before);
    expect(same(join(B, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
    expect(same(join(B, "loss-trace.f64"), join(ref, "loss-trace.f64"))).toBe(true);
    // B gets A's checkpoint before its own training: a B resumed later continues the same run
    const C = at("tC");
    expect(trainer(trainerA, "--resume", A, "--out", C, "--max-steps", "8").status).toBe(0);
    expect(same(join(C, "checkpoint.safetensors"), join(A, "checkpoint.safetensors"))).toBe(true);
    expect(trainer(trainerA, "--resume", C).status).toBe(0);
    expect(same(join(C, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
    expect(hashDir(A)).toBe(before);
  });

  it("without --out a resume continues in A (also when --resume names A's checkpoint file)", () => {
    const A = at("inplace");
    partialRun(A, 5);
    expect(trainer(trainerA, "--resume", A).status).toBe(0);
    expect(same(join(A, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
    expect(same(join(A, "loss-trace.f64"), join(ref, "loss-trace.f64"))).toBe(true);
    const F = at("inplace-file");
    partialRun(F, 5);
    const r = trainer(trainerA, "--resume", join(F, "checkpoint.safetensors"));
    expect(r.stderr).toBe("");
    expect(same(join(F, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
  });
});

describe("refusals come before the first write", () => {
  it("a resume of another spec's run leaves the run as it was (spec, files) and export still works", () => {
    const runA = at("runA");
    expect(dnnc("train", a, "-o", runA, "--epochs", "1", "--no-report", "--quiet").status).toBe(0);
    const before = hashDir(runA);
    const r = dnnc("train", b, "--resume", runA);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: .*runA\/checkpoint\.safetensors: this checkpoint was written by another spec/);
    noStack(r.stderr);
    expect(hashDir(runA)).toBe(before);
    expect(readdirSync(runA).filter((f) => f.startsWith("b."))).toEqual([]);
    const t = trainer(trainerB, "--resume", runA);
    expect(t.status).toBe(1);
    expect(hashDir(runA)).toBe(before);
    const e = dnnc("export", runA, "-o", at("runA.onnx"));
    expect(e.stderr).toBe("");
    expect(e.status).toBe(0);
  });

  it("--resume of a directory that does not exist: a message, exit 1, nothing created", () => {
    for (const r of [dnnc("train", a, "--resume", "runs/never-existed"), trainer(trainerA, "--resume", "runs/never-existed")]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toBe("error: runs/never-existed: no such run directory (nothing to resume)\n");
      expect(existsSync(at("runs"))).toBe(false);
    }
  });

  it("--resume of a run stopped before its first checkpoint, or of a directory that is no run: a message, exit 1, unchanged", () => {
    const early = at("early");
    mkdirSync(early);
    writeFileSync(join(early, "spec.dnn"), spec(4));
    const other = at("not-a-run");
    mkdirSync(other);
    writeFileSync(join(other, "notes.txt"), "mine");
    for (const [dir, msg] of [
      [early, "no checkpoint yet: the run was stopped before its first checkpoint was written; start it again without --resume"],
      [other, "no checkpoint.safetensors here; --resume takes a run directory written by dnnc train"],
    ]) {
      const before = hashDir(dir);
      for (const r of [dnnc("train", a, "--resume", dir), trainer(trainerA, "--resume", dir)]) {
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`error: ${dir}: ${msg}`);
        noStack(r.stderr);
      }
      expect(hashDir(dir)).toBe(before);
    }
  });

  it("-o naming an existing file: a message, exit 1, the file unchanged", () => {
    writeFileSync(at("afile"), "keep me");
    for (const r of [dnnc("train", a, "-o", at("afile")), trainer(trainerA, "--out", at("afile"))]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`error: ${at("afile")}: exists and is not a directory; name a directory for the run\n`);
    }
    expect(readFileSync(at("afile"), "utf8")).toBe("keep me");
  });

  it.each([
    ["an empty loop state", () => ({}), "loop state: field epoch must be an integer >= 1, got nothing (the field is missing)"],
    ["metrics: null", (s: Record<string, unknown>) => ({ ...s, metrics: null }), "loop state: field metrics must be an array of epoch metrics, got null"],
    ["a negative batch start", (s: Record<string, unknown>) => ({ ...s, batchStart: -32 }), "loop state: field batchStart must be an integer >= 0, got -32"],
    [
      "a batch start past the data",
      (s: Record<string, unknown>) => ({ ...s, batchStart: 32000 }),
      "loop state: field batchStart (32000) is past the 400 training samples",
    ],
    ["a loop state that is no JSON", () => "{", "loop state: not valid JSON"],
  ])("a checkpoint with %s: the file and the field, exit 1, the run unchanged", (name, edit, msg) => {
    const dir = at(`bad-${name.replace(/\W+/g, "-")}`);
    partialRun(dir, 4);
    editCheckpoint(join(dir, "checkpoint.safetensors"), edit as (s: Record<string, unknown>) => unknown);
    const before = hashDir(dir);
    for (const r of [trainer(trainerA, "--resume", dir), trainer(trainerA, "--resume", dir, "--out", at(`${name}-out`)), dnnc("train", a, "--resume", dir)]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`error: ${join(dir, "checkpoint.safetensors")}: ${msg}`);
      noStack(r.stderr);
    }
    expect(hashDir(dir)).toBe(before);
    expect(existsSync(at(`${name}-out`))).toBe(false);
  });

  it("a checkpoint with a tensor of the wrong size, or a directory where the checkpoint should be: refused, unchanged", () => {
    const dir = at("bad-tensor");
    partialRun(dir, 4);
    editCheckpoint(join(dir, "checkpoint.safetensors"), (_s, tensors) => {
      const t = tensors.find((x) => x.name === "params")!;
      t.data = t.data.subarray(1);
      t.shape = [t.data.length];
    });
    const before = hashDir(dir);
    const r = trainer(trainerA, "--resume", dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checkpoint\.safetensors: tensor params has \d+ values, the model needs \d+/);
    expect(hashDir(dir)).toBe(before);
    const d2 = at("ckpt-is-dir");
    mkdirSync(join(d2, "checkpoint.safetensors"), { recursive: true });
    const r2 = trainer(trainerA, "--resume", d2);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toBe(`error: ${join(d2, "checkpoint.safetensors")}: cannot read the checkpoint (it is a directory)\n`);
  });
});

describe("one writer per run directory", () => {
  it("a live run's lock refuses a second run, before it compiles or writes; a dead run's lock is taken over", async () => {
    const D = at("locked");
    const first = spawn(process.execPath, [trainerLong, "--quiet", "--out", D, "--epochs", "100000"], { stdio: ["ignore", "ignore", "pipe"] });
    try {
      while (!existsSync(join(D, "run.lock"))) await new Promise((r) => setTimeout(r, 20));
      for (const r of [dnnc("train", long, "-o", D, "--no-report"), trainer(trainerLong, "--out", D), trainer(trainerLong, "--resume", D)]) {
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(
          `error: ${D}: another training run (pid ${first.pid} on ${hostname()}) is writing to this run directory; wait for it to end or name another directory with -o/--out (if no such process runs, delete ${join(D, "run.lock")})\n`,
        );
      }
      expect(first.exitCode).toBeNull(); // still training: the refusals were the lock's
    } finally {
      first.kill("SIGKILL");
      await new Promise((r) => first.on("exit", r));
    }
    expect(readFileSync(join(D, "run.lock"), "utf8").split("\n")[0]).toBe(String(first.pid)); // stale now
    expect(existsSync(join(D, "checkpoint.safetensors"))).toBe(true);
    const epoch = JSON.parse(decodeSafetensors(new Uint8Array(readFileSync(join(D, "checkpoint.safetensors"))), "c").metadata.loop_state).epoch;
    const r = trainer(trainerLong, "--resume", D, "--epochs", String(epoch));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(existsSync(join(D, "run.lock"))).toBe(false);
  });

  it("two dnnc train -o D at once: one trains, the other is refused (no last-writer-wins)", async () => {
    const D = at("twice");
    const first = spawn(process.execPath, [DNNC, "train", long, "-o", D, "--epochs", "100000", "--no-report", "--quiet"], {
      stdio: ["ignore", "ignore", "pipe"],
      cwd: tmp,
    });
    try {
      while (!existsSync(join(D, "spec.dnn"))) await new Promise((r) => setTimeout(r, 20)); // installed under the lock
      const spec0 = readFileSync(join(D, "spec.dnn"));
      const second = dnnc("train", long, "-o", D, "--epochs", "1", "--no-report", "--quiet");
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`another training run \\(pid ${first.pid} `));
      expect(first.exitCode).toBeNull();
      expect(readFileSync(join(D, "spec.dnn")).equals(spec0)).toBe(true);
    } finally {
      first.kill("SIGKILL");
      await new Promise((r) => first.on("exit", r));
    }
  });
});

describe("loss trace, temporary files, threads", () => {
  it("checkpoints no longer carry the per-step trace: their header stays small however many steps; the trace file has 8 bytes a step", () => {
    const dir = at("long-run");
    const r = trainer(trainerA, "--out", dir, "--epochs", "40", "--checkpoint-steps", "1");
    expect(r.status).toBe(0);
    const bytes = readFileSync(join(dir, "checkpoint.safetensors"));
    const header = Number(bytes.readBigUInt64LE(0));
    const { metadata } = decodeSafetensors(new Uint8Array(bytes), "c");
    const state = JSON.parse(metadata.loop_state);
    expect(state.lossTrace).toBeUndefined();
    expect(state.step).toBeGreaterThan(100);
    expect(statSync(join(dir, "loss-trace.f64")).size).toBe(8 * JSON.parse(readFileSync(join(dir, "run.json"), "utf8")).steps);
    // the epochs' metrics remain (about 150 bytes each), nothing per step
    expect(header).toBeLessThan(1000 + 200 * state.metrics.length);
  });

  it("a trace longer than the checkpoint after a kill is cut to the checkpoint's step; temporary files of dead writers are removed, a live one's kept", () => {
    const dir = at("torn");
    partialRun(dir, 8); // checkpoint at step 6, trace of 8 steps
    appendFileSync(join(dir, "loss-trace.f64"), Buffer.alloc(8 * 3 + 5, 0xff)); // and a torn write
    const dead = [".checkpoint.safetensors.2147483646.0.tmp", ".metrics.jsonl.2147483646.7.tmp"];
    const live = `.model.safetensors.${process.pid}.0.tmp`;
    for (const f of [...dead, live]) writeFileSync(join(dir, f), "partial");
    expect(trainer(trainerA, "--resume", dir).status).toBe(0);
    expect(same(join(dir, "loss-trace.f64"), join(ref, "loss-trace.f64"))).toBe(true);
    expect(same(join(dir, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
    for (const f of dead) expect(existsSync(join(dir, f)), f).toBe(false);
    expect(existsSync(join(dir, live))).toBe(true);
  });

  it("a checkpoint of an earlier version (the trace in its loop state, no trace file) still resumes to the same bytes", () => {
    const dir = at("legacy");
    partialRun(dir, 6);
    const trace = readFileSync(join(dir, "loss-trace.f64"));
    const losses = Array.from({ length: 6 }, (_, i) => trace.readDoubleLE(8 * i));
    editCheckpoint(join(dir, "checkpoint.safetensors"), (s) => ({ ...s, lossTrace: losses.slice(0, s.step as number) }));
    rmSync(join(dir, "loss-trace.f64"));
    expect(trainer(trainerA, "--resume", dir).status).toBe(0);
    expect(same(join(dir, "loss-trace.f64"), join(ref, "loss-trace.f64"))).toBe(true);
    expect(same(join(dir, "model.safetensors"), join(ref, "model.safetensors"))).toBe(true);
  });

  it("a new run into a directory that held another run removes that run's checkpoint and model first", () => {
    const dir = at("reused");
    expect(trainer(trainerB, "--out", dir, "--max-steps", "6", "--checkpoint-steps", "3").status).toBe(0);
    expect(existsSync(join(dir, "checkpoint.safetensors"))).toBe(true);
    writeFileSync(join(dir, "mine.txt"), "kept");
    // a's run ends before its first checkpoint (as a kill would): b's checkpoint must not remain
    expect(trainer(trainerA, "--out", dir, "--max-steps", "2", "--checkpoint-steps", "3").status).toBe(0);
    expect(existsSync(join(dir, "checkpoint.safetensors"))).toBe(false); // b's is gone: it cannot be resumed as a's
    expect(readFileSync(join(dir, "mine.txt"), "utf8")).toBe("kept");
  });

  it("a run that early stopping ended, resumed from its last checkpoint, stays ended with the same weights", () => {
    const t = at("compiled-es");
    writeFileSync(at("es.dnn"), spec(4, 1));
    expect(dnnc("compile", at("es.dnn"), "-o", t, "--quiet").status).toBe(0);
    const dir = at("stopped");
    expect(trainer(join(t, "es.trainer.mjs"), "--out", dir, "--epochs", "30").status).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    expect(run.stoppedEarly).toBe(true);
    const model = readFileSync(join(dir, "model.safetensors"));
    expect(trainer(join(t, "es.trainer.mjs"), "--resume", dir, "--epochs", "30").status).toBe(0);
    expect(readFileSync(join(dir, "model.safetensors")).equals(model)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "run.json"), "utf8"))).toEqual(run);
  });

  it("--threads: one bound for dnnc train and the trainer; a larger value is refused with exit 2, naming it", () => {
    const t = trainer(trainerA, "--threads", "999", "--out", at("threads"));
    expect(t.status).toBe(2);
    expect(t.stderr).toBe('error: --threads: expected an integer from 1 to 64, got "999"\n');
    expect(existsSync(at("threads"))).toBe(false);
    const c = dnnc("train", a, "--threads", "65");
    expect(c.status).toBe(2);
    expect(c.stderr).toContain("'65' is invalid. expected an integer in [1, 64]");
    expect(trainer(trainerA, "--threads", "64", "--max-steps", "1").status).toBe(0);
  });
});

describe("dnnc train leaves no staging directory behind", () => {
  it("after a refusal and after a run", () => {
    const refused = dnnc("train", b, "--resume", at("runC"));
    expect(refused.status).toBe(1);
    const ran = dnnc("train", a, "-o", at("staged"), "--max-steps", "1", "--no-report", "--quiet");
    expect(ran.status).toBe(0);
    const left = readdirSync(tmpdir()).filter((f) => f.startsWith(`dnnc-staging-${refused.pid}-`) || f.startsWith(`dnnc-staging-${ran.pid}-`));
    expect(left).toEqual([]);
  });
});
