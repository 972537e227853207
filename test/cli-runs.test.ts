// dnnc runs [DIR]: one line per run with its figures and status (finished, interrupted, diverged,
// running, unreadable; a run of the PyTorch target too), --json; dnnc report DIR overlays the runs
// in a directory of runs.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-runs-"));
const runs = join(tmp, "runs");
const MOONS = "test/fixtures/cliflow/moons.dnn";

function refused(r: ReturnType<typeof dnnc>, message: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toBe(`error: ${message}\n`);
}

beforeAll(() => {
  mkdirSync(runs);
  const ok = dnnc("train", MOONS, "--out", join(runs, "a-finished"), "--quiet", "--no-report");
  expect(ok.status, ok.stderr).toBe(0);
  // a learning rate that overflows float32 at the second step
  const spec = join(tmp, "diverge.dnn");
  writeFileSync(spec, readFileSync(MOONS, "utf8").replace("lr=0.1", "lr=1e30").replace("../../../specs", join(process.cwd(), "specs")));
  const bad = dnnc("train", spec, "--out", join(runs, "b-diverged"), "--quiet", "--no-report");
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/^error: training diverged at step 2/);
  const fin = join(runs, "a-finished");
  const metrics = readFileSync(join(fin, "metrics.jsonl"), "utf8").trim().split("\n");
  // interrupted: a checkpoint, two epochs of metrics, no model
  mkdirSync(join(runs, "c-interrupted"));
  copyFileSync(join(fin, "checkpoint.safetensors"), join(runs, "c-interrupted", "checkpoint.safetensors"));
  copyFileSync(join(fin, "spec.dnn"), join(runs, "c-interrupted", "spec.dnn"));
  writeFileSync(join(runs, "c-interrupted", "metrics.jsonl"), metrics.slice(0, 2).join("\n") + "\n");
  // running: a live process (this one) holds the lock
  mkdirSync(join(runs, "d-running"));
  writeFileSync(join(runs, "d-running", "metrics.jsonl"), metrics[0] + "\n");
  writeFileSync(join(runs, "d-running", "run.lock"), `${process.pid}\n${hostname()}\n`);
  // the PyTorch target's run: metrics and weights only
  mkdirSync(join(runs, "e-pytorch"));
  for (const f of ["metrics.jsonl", "model.safetensors"]) copyFileSync(join(fin, f), join(runs, "e-pytorch", f));
  mkdirSync(join(runs, "f-damaged"));
  writeFileSync(join(runs, "f-damaged", "metrics.jsonl"), "{nope\n");
  mkdirSync(join(runs, "not-a-run"));
  writeFileSync(join(runs, "not-a-run", "notes.txt"), "hello\n");
}, 120_000);

describe("dnnc runs", () => {
  it("lists every run with its figures and status, --json", () => {
    const r = dnnc("runs", runs, "--json");
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    const by = Object.fromEntries(doc.runs.map((x: { run: string }) => [x.run.slice(runs.length + 1), x]));
    expect(Object.keys(by).sort()).toEqual(["a-finished", "b-diverged", "c-interrupted", "d-running", "e-pytorch", "f-damaged"]);
    const lines = readFileSync(join(runs, "a-finished", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => "epoch" in l);
    const final = lines[lines.length - 1];
    expect(by["a-finished"]).toMatchObject({
      spec: "moons",
      status: "finished",
      epochs: 4,
      best_val_loss: Math.min(...epochs.map((e) => e.val_loss)),
      best_val_acc: Math.max(...epochs.map((e) => e.val_acc)),
      last_val_loss: epochs[3].val_loss,
      last_val_acc: epochs[3].val_acc,
      test_loss: final.test_loss,
      test_acc: final.test_acc,
    });
    expect(by["a-finished"].updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(by["b-diverged"]).toMatchObject({ spec: "moons", status: "diverged", epochs: 0, test_loss: null });
    expect(by["c-interrupted"]).toMatchObject({ spec: "moons", status: "interrupted", epochs: 2, last_val_loss: epochs[1].val_loss, test_loss: null });
    expect(by["d-running"]).toMatchObject({ status: "running", epochs: 1 });
    expect(by["e-pytorch"]).toMatchObject({ spec: "moons", status: "finished", epochs: 4, test_acc: final.test_acc });
    expect(by["f-damaged"].status).toBe("unreadable");
    expect(by["f-damaged"].error).toMatch(/f-damaged\/metrics\.jsonl:1: not valid JSON/);
  });

  it("prints a table, and warns about an unreadable run on stderr", () => {
    const r = dnnc("runs", runs);
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split("\n");
    expect(rows[0].split(/\s+/)).toEqual([
      "run",
      "spec",
      "updated",
      "status",
      "epochs",
      "best_val_loss",
      "best_val_acc",
      "last_val_loss",
      "last_val_acc",
      "test_loss",
      "test_acc",
    ]);
    expect(rows).toHaveLength(7);
    const fin = rows.find((l) => l.startsWith("a-finished"))!.split(/\s+/);
    expect(fin.slice(0, 2)).toEqual(["a-finished", "moons"]);
    expect(fin[4]).toBe("finished");
    expect(rows.find((l) => l.startsWith("b-diverged"))).toMatch(/diverged +0 +- +- +- +- +- +-$/);
    expect(r.stderr).toMatch(/^warning: .*f-damaged\/metrics\.jsonl:1: not valid JSON/);
  });

  it("refuses a missing directory or a file; an empty directory has no runs", () => {
    refused(
      dnnc("runs", join(tmp, "nope")),
      `${join(tmp, "nope")}: no such directory (dnnc train writes its runs in runs/; name another directory: dnnc runs DIR)`,
    );
    refused(dnnc("runs", MOONS), `${MOONS}: is not a directory (expected a directory of runs, such as runs/)`);
    const empty = join(tmp, "empty");
    mkdirSync(empty);
    expect(dnnc("runs", empty).stdout).toBe(`no runs in ${empty}\n`);
    expect(JSON.parse(dnnc("runs", empty, "--json").stdout)).toEqual({ ok: true, dir: empty, runs: [] });
  });
});

describe("dnnc report DIR", () => {
  it("overlays the runs of a directory of runs (those with epochs), and names a directory without any", () => {
    const clean = join(tmp, "clean");
    mkdirSync(clean);
    for (const name of ["one", "two"]) {
      mkdirSync(join(clean, name));
      for (const f of ["metrics.jsonl", "run.json", "confusion.json"]) copyFileSync(join(runs, "a-finished", f), join(clean, name, f));
    }
    mkdirSync(join(clean, "three"));
    writeFileSync(join(clean, "three", "metrics.jsonl"), ""); // just started: nothing to plot
    const out = join(tmp, "report");
    const r = dnnc("report", clean, "-o", out, "--json");
    expect(r.status, r.stderr).toBe(0);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain("moons (one)");
    expect(html).toContain("moons (two)");
    expect(html).not.toContain("three");
    refused(
      dnnc("report", join(tmp, "empty")),
      `${join(tmp, "empty")}: no metrics.jsonl, and no run directory in it has one (is this a directory a trainer wrote with --out, or a directory of them?)`,
    );
  });
});
