// Reading run directories (what a trainer writes with --out) and writing the report files.
//
// A run directory holds:
//   metrics.jsonl   one JSON object per epoch (epoch, train_loss, train_acc, val_loss, val_acc, lr,
//                   seconds; NaN losses arrive as null) and a last line {test_loss, test_acc}
//                   (optionally best_epoch, stopped_early).
//   confusion.json  optional: a square matrix of counts (rows true, columns predicted), or
//                   {"matrix": [[...]], "classes": ["T-shirt", ...]}.
//   run.json        optional: {"name", "bestEpoch" (or "best_epoch"), "stoppedEarly", "lrs": [per-step
//                   rates], "classes": [...], "steps", "seed"}; other keys are ignored.
//   run-info.json   optional: {"started", "finished" (ISO dates), "train", "data" (the settings),
//                   "lr_steps": [[step, lr], ...]} (runtime/node/run-record.ts).
//   loss-trace.f64  optional: the loss of every step (float64 little-endian; run-dir.ts).
//   predictions.json optional: a sample of the test predictions (runtime/node/run-record.ts).
//   spec.dnn        optional: the spec, shown in the report.
// Every problem is a DnncError naming the file (and line for metrics.jsonl).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve, sep } from "node:path";
import { DnncError } from "../../runtime/errors";
import { writeFileAtomicSync } from "../../runtime/node/atomic";
import { describeFsError, ensureDir } from "../../runtime/node/fs-errors";
import { encodePng } from "../../runtime/node/png";
import { renderReport, type RenderOptions, type Run, type RunEpoch, type RunPredictions } from "./render";
import { extent } from "./series";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const numOrNull = (v: unknown) => v === null || (typeof v === "number" && Number.isFinite(v));

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new DnncError(describeFsError(e, path) ?? `${path}: cannot read (${(e as Error).message})`);
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DnncError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Parse metrics.jsonl text; `file` names it in errors. */
export function parseMetrics(text: string, file: string): { metrics: RunEpoch[]; final?: Run["final"]; bestEpoch?: number } {
  const metrics: RunEpoch[] = [];
  let final: Run["final"];
  let bestEpoch: number | undefined;
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new DnncError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (!isObj(v)) throw new DnncError(`${where}: expected a JSON object, got ${JSON.stringify(v).slice(0, 40)}`);
    if ("epoch" in v) {
      if (final) throw new DnncError(`${where}: an epoch line after the final test_loss/test_acc line`);
      if (typeof v.epoch !== "number" || !Number.isInteger(v.epoch) || v.epoch < 1)
        throw new DnncError(`${where}: "epoch" must be a positive integer, got ${JSON.stringify(v.epoch)}`);
      const prev = metrics[metrics.length - 1];
      if (prev && v.epoch <= prev.epoch) throw new DnncError(`${where}: epoch ${v.epoch} does not follow epoch ${prev.epoch}`);
      for (const k of ["train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"])
        if (k in v && !numOrNull(v[k])) throw new DnncError(`${where}: "${k}" must be a number or null, got ${JSON.stringify(v[k])}`);
      if (!("train_loss" in v)) throw new DnncError(`${where}: missing "train_loss"`);
      const n = (k: string) => (v as Obj)[k] as number | null | undefined;
      metrics.push({
        epoch: v.epoch,
        train_loss: n("train_loss") ?? null,
        train_acc: n("train_acc") ?? null,
        val_loss: n("val_loss") ?? null,
        val_acc: n("val_acc") ?? null,
        lr: n("lr") ?? null,
        seconds: n("seconds") ?? null,
      });
    } else if ("test_loss" in v || "test_acc" in v) {
      for (const k of ["test_loss", "test_acc"])
        if (k in v && !numOrNull(v[k])) throw new DnncError(`${where}: "${k}" must be a number or null, got ${JSON.stringify(v[k])}`);
      final = { test_loss: (v.test_loss as number | null | undefined) ?? null, test_acc: (v.test_acc as number | null | undefined) ?? null };
      const b = v.best_epoch ?? v.bestEpoch;
      if (b !== undefined && b !== null) {
        if (typeof b !== "number" || !Number.isInteger(b)) throw new DnncError(`${where}: "best_epoch" must be an integer, got ${JSON.stringify(b)}`);
        bestEpoch = b;
      }
    } else throw new DnncError(`${where}: neither an epoch line (with "epoch") nor a final line (with "test_loss", "test_acc")`);
  });
  return { metrics, final, bestEpoch };
}

function checkMatrix(m: unknown, file: string): number[][] {
  if (!Array.isArray(m) || m.length === 0) throw new DnncError(`${file}: the confusion matrix must be a non-empty list of rows`);
  m.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== m.length) throw new DnncError(`${file}: row ${i} must be a list of ${m.length} counts (the matrix is square)`);
    row.forEach((x, j) => {
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0)
        throw new DnncError(`${file}: entry [${i}][${j}] must be a count >= 0, got ${JSON.stringify(x)}`);
    });
  });
  return m as number[][];
}

function checkClasses(c: unknown, k: number | undefined, file: string): string[] {
  if (!Array.isArray(c) || !c.every((x) => typeof x === "string" || typeof x === "number")) throw new DnncError(`${file}: "classes" must be a list of names`);
  if (k !== undefined && c.length !== k) throw new DnncError(`${file}: "classes" has ${c.length} names for a ${k}×${k} matrix`);
  return c.map(String);
}

/** Read one run directory (see the file comment). */
export function loadRun(dir: string): Run {
  const metricsPath = join(dir, "metrics.jsonl");
  if (!existsSync(dir)) throw new DnncError(`${dir}: no such directory`);
  if (!existsSync(metricsPath)) throw new DnncError(`${dir}: no metrics.jsonl (is this a directory a trainer wrote with --out?)`);
  const parsed = parseMetrics(readText(metricsPath), metricsPath);
  if (parsed.metrics.length === 0) throw new DnncError(`${metricsPath}: no epoch lines`);
  const run: Run = { name: basename(resolve(dir)), metrics: parsed.metrics, final: parsed.final };
  if (parsed.bestEpoch !== undefined) run.bestEpoch = parsed.bestEpoch;

  const runPath = join(dir, "run.json");
  if (existsSync(runPath)) {
    const r = readJson(runPath);
    if (!isObj(r)) throw new DnncError(`${runPath}: expected a JSON object`);
    if (r.name !== undefined) {
      if (typeof r.name !== "string" || r.name === "") throw new DnncError(`${runPath}: "name" must be a non-empty string`);
      run.name = r.name;
    }
    const b = r.bestEpoch ?? r.best_epoch;
    if (b !== undefined && b !== null) {
      if (typeof b !== "number" || !Number.isInteger(b)) throw new DnncError(`${runPath}: "bestEpoch" must be an integer`);
      run.bestEpoch = b;
    }
    if (r.stoppedEarly === true) run.stoppedEarly = true;
    if (r.lrs !== undefined) {
      if (!Array.isArray(r.lrs) || !r.lrs.every((x) => typeof x === "number" && Number.isFinite(x)))
        throw new DnncError(`${runPath}: "lrs" must be a list of numbers`);
      run.lrs = r.lrs as number[];
    }
    if (r.classes !== undefined) run.classes = checkClasses(r.classes, undefined, runPath);
    readRunDetails(r, run, runPath);
  }
  const infoPath = join(dir, "run-info.json");
  if (existsSync(infoPath)) {
    const r = readJson(infoPath);
    if (!isObj(r)) throw new DnncError(`${infoPath}: expected a JSON object`);
    readRunDetails(r, run, infoPath);
  }
  readStepFiles(dir, run);

  const confPath = join(dir, "confusion.json");
  if (existsSync(confPath)) {
    const c = readJson(confPath);
    if (isObj(c)) {
      run.confusion = checkMatrix(c.matrix, confPath);
      if (c.classes !== undefined) run.classes = checkClasses(c.classes, run.confusion.length, confPath);
    } else run.confusion = checkMatrix(c, confPath);
    if (run.classes && run.classes.length !== run.confusion.length)
      throw new DnncError(`${runPath}: "classes" has ${run.classes.length} names for a ${run.confusion.length}×${run.confusion.length} confusion matrix`);
  }
  return run;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** run.json's steps and seed, run-info.json's dates, settings and per-step rates (written by runtime/node/main.ts). */
function readRunDetails(r: Obj, run: Run, file: string): void {
  if (isNum(r.steps)) run.steps = r.steps;
  if (isNum(r.seed)) run.seed = r.seed;
  for (const k of ["started", "finished"] as const) if (typeof r[k] === "string") run[k] = r[k];
  if (isObj(r.train)) run.train = r.train;
  if (isObj(r.data)) run.data = r.data;
  if (r.lr_steps !== undefined) {
    const ok =
      Array.isArray(r.lr_steps) &&
      r.lr_steps.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1])) &&
      r.lr_steps.every((p, i, a) => i === 0 || (p as number[])[0] > (a[i - 1] as number[])[0]);
    if (!ok) throw new DnncError(`${file}: "lr_steps" must be a list of [step, lr] pairs with increasing steps`);
    run.lrSteps = r.lr_steps as [number, number][];
  }
}

/** The per-step loss (loss-trace.f64), the test predictions (predictions.json) and the spec (spec.dnn). */
function readStepFiles(dir: string, run: Run): void {
  const trace = join(dir, "loss-trace.f64");
  if (existsSync(trace)) {
    const b = readFileSync(trace);
    // a trace being appended to may end inside a value: the whole values only
    const n = Math.floor(b.length / 8);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(8 * i);
    if (n > 0) run.stepLoss = out;
  }
  const specPath = join(dir, "spec.dnn");
  if (existsSync(specPath)) run.spec = readText(specPath);
  const predPath = join(dir, "predictions.json");
  if (existsSync(predPath)) run.predictions = readPredictions(readJson(predPath), predPath);
}

function readPredictions(v: unknown, file: string): RunPredictions {
  if (!isObj(v) || (v.kind !== "classification" && v.kind !== "regression"))
    throw new DnncError(`${file}: expected {"kind": "classification" | "regression", ...}`);
  const seen = isNum(v.seen) ? v.seen : 0;
  if (v.kind === "regression") {
    if (!Array.isArray(v.pairs) || !v.pairs.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1])))
      throw new DnncError(`${file}: "pairs" must be a list of [true, predicted] number pairs`);
    return { kind: "regression", seen, pairs: v.pairs as [number, number][] };
  }
  const shape = v.shape;
  const img =
    Array.isArray(shape) && shape.length === 3 && shape.every((d) => Number.isInteger(d) && (d as number) > 0) && (shape[0] === 1 || shape[0] === 3)
      ? (shape as number[])
      : undefined;
  if (!Array.isArray(v.samples)) throw new DnncError(`${file}: "samples" must be a list`);
  const samples = v.samples.map((s, i) => {
    if (!isObj(s) || ![s.row, s.true, s.pred, s.prob].every(isNum)) throw new DnncError(`${file}: sample ${i} must have numbers row, true, pred, prob`);
    const out = { row: s.row as number, true: s.true as number, pred: s.pred as number, prob: s.prob as number, image: undefined as string | undefined };
    if (img && typeof s.pixels === "string") {
      const bytes = Buffer.from(s.pixels, "base64");
      const [C, H, W] = img;
      if (bytes.length !== C * H * W) throw new DnncError(`${file}: sample ${i}: "pixels" holds ${bytes.length} bytes, not ${C}×${H}×${W}`);
      // CHW planes → interleaved rows
      const px = new Uint8Array(C * H * W);
      for (let c = 0; c < C; c++) for (let k = 0; k < H * W; k++) px[k * C + c] = bytes[c * H * W + k];
      out.image = `data:image/png;base64,${Buffer.from(encodePng(W, H, C as 1 | 3, px)).toString("base64")}`;
    }
    return out;
  });
  return { kind: "classification", seen, wrong: isNum(v.wrong) ? v.wrong : samples.length, samples };
}

/** Make run names unique by appending the shortest distinguishing tail of their directories. */
export function disambiguate(runs: Run[], dirs: string[]): void {
  const parts = dirs.map((d) =>
    resolve(d)
      .split(sep)
      .filter((x) => x !== ""),
  );
  const groups = new Map<string, number[]>();
  runs.forEach((r, i) => groups.set(r.name, [...(groups.get(r.name) ?? []), i]));
  for (const [name, idx] of groups) {
    if (idx.length < 2) continue;
    const longest = extent(idx.map((i) => parts[i].length))[1];
    for (let k = 1; k <= longest; k++) {
      const tails = idx.map((i) => parts[i].slice(-k).join("/"));
      if (new Set(tails).size === idx.length || k === longest) {
        idx.forEach((i, j) => (runs[i].name = tails[j] === name ? name : `${name} (${tails[j]})`));
        break;
      }
    }
  }
}

/**
 * A directory of runs (runs/: no metrics.jsonl of its own) stands for its runs: the subdirectories
 * with a metrics.jsonl that has an epoch line (a run that has just started has nothing to plot),
 * in name order. Run directories stay as they are.
 */
export function expandRunDirs(dirs: string[]): string[] {
  return dirs.flatMap((d) => {
    if (!existsSync(d) || !statSync(d).isDirectory() || existsSync(join(d, "metrics.jsonl"))) return [d];
    const runs = readdirSync(d)
      .sort()
      .map((f) => join(d, f))
      .filter((r) => existsSync(join(r, "metrics.jsonl")) && statSync(r).isDirectory())
      .filter((r) => parseMetrics(readText(join(r, "metrics.jsonl")), join(r, "metrics.jsonl")).metrics.length > 0);
    if (runs.length === 0)
      throw new DnncError(
        `${d}: no metrics.jsonl, and no run directory in it has one (is this a directory a trainer wrote with --out, or a directory of them?)`,
      );
    return runs;
  });
}

/**
 * Load every run directory (a directory of runs: each of them), render, and write OUT/report.html and OUT/<plot>.svg (atomically).
 * Runs whose names collide (two runs of the same model) get their directory appended, with as
 * many trailing path components as it takes to tell them apart: `fashion_mlp (bn)`.
 * Returns the paths written.
 */
export function writeReport(dirs: string[], outDir: string, opts: RenderOptions = {}): { html: string; svgs: string[] } {
  if (dirs.length === 0) throw new DnncError("report: no run directories given");
  dirs = expandRunDirs(dirs);
  const runs = dirs.map(loadRun);
  disambiguate(runs, dirs);
  const rep = renderReport(runs, opts);
  ensureDir(outDir);
  const html = join(outDir, "report.html");
  writeFileAtomicSync(html, rep.html);
  const svgs = Object.entries(rep.svgs).map(([k, s]) => {
    const p = join(outDir, `${k}.svg`);
    writeFileAtomicSync(p, `<?xml version="1.0" encoding="UTF-8"?>\n${s}\n`);
    return p;
  });
  return { html, svgs };
}
