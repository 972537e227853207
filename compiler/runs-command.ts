// `dnnc runs [DIR]`: the run directories under DIR (default runs/), one line each with their key
// figures: the spec, when the run last wrote, its status, the epochs done, the best and last
// validation loss and accuracy, and the test figures. A run's files are only read. Status:
//   running      a live process holds DIR/RUN/run.lock;
//   finished     model.safetensors and the final metrics line are there;
//   diverged     training stopped on a non-finite loss or parameter (status.json, runtime/node/main.ts);
//   interrupted  a checkpoint and no model: Ctrl-C, a kill, or --max-steps (resume it);
//   incomplete   none of these (killed before its first checkpoint).
// A run whose metrics cannot be read is listed as `unreadable`, with the reason on stderr; the
// other runs are still listed.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { DnncError } from "../runtime/errors";
import { lockHolder } from "../runtime/node/lock";
import { parseMetrics } from "./report/load";

export type RunStatus = "running" | "finished" | "diverged" | "interrupted" | "incomplete" | "unreadable";

export interface RunSummary {
  run: string;
  spec: string | null;
  /** When the run last wrote (its metrics, model or checkpoint), ISO 8601. */
  updated: string | null;
  status: RunStatus;
  epochs: number;
  best_val_loss: number | null;
  best_val_acc: number | null;
  last_val_loss: number | null;
  last_val_acc: number | null;
  test_loss: number | null;
  test_acc: number | null;
  error?: string;
}

/** Whether a directory looks like a run (what dnnc train or a trainer writes with --out). */
export function isRunDir(dir: string): boolean {
  return ["metrics.jsonl", "model.safetensors", "checkpoint.safetensors", "spec.dnn", "run.lock"].some((f) => existsSync(join(dir, f)));
}

const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : undefined);

/** The spec's model name: run.json's name, else the `model NAME` line of the run's spec. */
function specName(dir: string): string | null {
  try {
    const r = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as { name?: unknown };
    if (typeof r.name === "string") return r.name;
  } catch {
    // no run.json yet (an unfinished run), or a damaged one: the spec says it too
  }
  const spec = readdirSync(dir).find((f) => f === "spec.dnn") ?? readdirSync(dir).find((f) => f.endsWith(".dnn"));
  if (!spec) return modelSpecName(join(dir, "model.safetensors"));
  const m = /^\s*model\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]*`)/m.exec(readFileSync(join(dir, spec), "utf8"));
  return m ? m[1] : null;
}

/** The spec_name in a safetensors file's metadata (a run of the PyTorch target has no spec), reading its header only. */
function modelSpecName(file: string): string | null {
  if (!existsSync(file)) return null;
  const fd = openSync(file, "r");
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) return null;
    const n = Number(len.readBigUInt64LE(0));
    if (n > 1 << 24) return null;
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    const name = (JSON.parse(header.toString("utf8")) as { __metadata__?: { spec_name?: unknown } }).__metadata__?.spec_name;
    return typeof name === "string" ? name : null;
  } catch {
    return null; // a damaged model file: the listing goes on without its name
  } finally {
    closeSync(fd);
  }
}

export function summarizeRun(dir: string): RunSummary {
  const s: RunSummary = {
    run: dir,
    spec: null,
    updated: null,
    status: "incomplete",
    epochs: 0,
    best_val_loss: null,
    best_val_acc: null,
    last_val_loss: null,
    last_val_acc: null,
    test_loss: null,
    test_acc: null,
  };
  const times = ["metrics.jsonl", "model.safetensors", "checkpoint.safetensors", "spec.dnn"].map((f) => mtime(join(dir, f))).filter((t) => t !== undefined);
  if (times.length > 0) s.updated = new Date(Math.max(...times)).toISOString();
  let final = false;
  try {
    s.spec = specName(dir);
    const metrics = join(dir, "metrics.jsonl");
    if (existsSync(metrics)) {
      const m = parseMetrics(readFileSync(metrics, "utf8"), metrics);
      s.epochs = m.metrics.length;
      const vl = m.metrics.map((e) => e.val_loss).filter((v): v is number => v !== null);
      const va = m.metrics.map((e) => e.val_acc).filter((v): v is number => v !== null);
      if (vl.length) s.best_val_loss = Math.min(...vl);
      if (va.length) s.best_val_acc = Math.max(...va);
      const last = m.metrics[m.metrics.length - 1];
      s.last_val_loss = last?.val_loss ?? null;
      s.last_val_acc = last?.val_acc ?? null;
      if (m.final) {
        final = true;
        s.test_loss = m.final.test_loss;
        s.test_acc = m.final.test_acc;
      }
    }
  } catch (e) {
    if (!(e instanceof DnncError)) throw e;
    s.status = "unreadable";
    s.error = e.message;
    return s;
  }
  const model = mtime(join(dir, "model.safetensors"));
  const diverged = mtime(join(dir, "status.json"));
  if (lockHolder(dir, "run.lock")) s.status = "running";
  else if (model !== undefined && final && (diverged === undefined || model >= diverged)) s.status = "finished";
  else if (diverged !== undefined && /"diverged"/.test(readFileSync(join(dir, "status.json"), "utf8"))) s.status = "diverged";
  else if (existsSync(join(dir, "checkpoint.safetensors"))) s.status = "interrupted";
  return s;
}

/** The runs in DIR (its subdirectories that look like runs; DIR itself when it is one), oldest first. */
export function listRuns(dir: string): RunSummary[] {
  if (!existsSync(dir)) throw new DnncError(`${dir}: no such directory (dnnc train writes its runs in runs/; name another directory: dnnc runs DIR)`);
  if (!statSync(dir).isDirectory()) throw new DnncError(`${dir}: is not a directory (expected a directory of runs, such as runs/)`);
  if (isRunDir(dir) && !readdirSync(dir).some((f) => statSync(join(dir, f)).isDirectory() && isRunDir(join(dir, f)))) return [summarizeRun(dir)];
  const runs = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((d) => statSync(d).isDirectory() && isRunDir(d))
    .map(summarizeRun);
  return runs.sort((a, b) => (a.updated ?? "").localeCompare(b.updated ?? "") || a.run.localeCompare(b.run));
}

const num = (x: number | null, d = 4) => (x === null ? "-" : x.toFixed(d));

/** The table: a header, then one row per run, columns padded to their widest cell. */
export function formatRuns(runs: RunSummary[]): string[] {
  const rows = [
    ["run", "spec", "updated", "status", "epochs", "best_val_loss", "best_val_acc", "last_val_loss", "last_val_acc", "test_loss", "test_acc"],
    ...runs.map((r) => [
      basename(r.run),
      r.spec ?? "-",
      r.updated ? r.updated.slice(0, 16).replace("T", " ") : "-",
      r.status,
      String(r.epochs),
      num(r.best_val_loss),
      num(r.best_val_acc),
      num(r.last_val_loss),
      num(r.last_val_acc),
      num(r.test_loss),
      num(r.test_acc),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) =>
    row
      .map((cell, c) => (c < 4 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd(),
  );
}

export function runsCommand(dir: string, o: { json?: boolean; quiet?: boolean }): number {
  const runs = listRuns(dir);
  if (!o.json) for (const r of runs) if (r.error) process.stderr.write(`warning: ${r.error}\n`);
  if (o.json) process.stdout.write(JSON.stringify({ ok: true, dir, runs }) + "\n");
  else if (runs.length === 0) process.stdout.write(`no runs in ${dir}\n`);
  else process.stdout.write(formatRuns(runs).join("\n") + "\n");
  return 0;
}
