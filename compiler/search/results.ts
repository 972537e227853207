// The results directory of a search: search.json (what is being searched, checked on resume),
// results.jsonl (one line per finished trial run, fsync'ed after each line, the source of truth)
// and results.csv (rewritten after each line, for spreadsheets). On open, finished runs are read
// back; a torn last line (a crash mid-write) is cut off so that run is simply done again.
// search.lock holds the pid of the process using the directory; a lock left by a dead process
// (killed, crashed) is taken over, a live one is refused (runtime/node/lock.ts, shared with run
// directories).

import * as fs from "node:fs";
import * as path from "node:path";
import { DnncError } from "../../runtime/errors";
import { lockDir, type DirLock } from "../../runtime/node/lock";
import type { Config } from "./space";

export interface TrialRecord {
  key: string;
  trial: number;
  rung: number;
  budget: number | null;
  seed: number;
  config: Config;
  status: "ok" | "failed";
  /** The objective; null when the run failed or returned a non-finite value (NaN/Infinity). */
  metric: number | null;
  metrics: { [name: string]: unknown };
  error?: string;
  durationMs: number;
  finishedAt: string;
}

function isRecord(x: unknown): x is TrialRecord {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.key === "string" &&
    typeof r.trial === "number" &&
    typeof r.rung === "number" &&
    (r.status === "ok" || r.status === "failed") &&
    typeof r.config === "object" &&
    r.config !== null
  );
}

/** Parses results.jsonl text. Returns the records and the byte length of the intact prefix. */
export function parseJsonl(text: string, file = "results.jsonl"): { records: TrialRecord[]; intactBytes: number } {
  const records: TrialRecord[] = [];
  let pos = 0;
  let intact = 0;
  let line = 0;
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    const end = nl < 0 ? text.length : nl;
    const body = text.slice(pos, end);
    line++;
    let rec: unknown;
    let ok = nl >= 0; // a line without its newline was cut mid-write
    if (ok && body.trim() !== "") {
      try {
        rec = JSON.parse(body);
        ok = isRecord(rec);
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      if (nl < 0 || text.slice(nl + 1).trim() === "") break; // torn last line: ignore
      throw new DnncError(`${file}:${line}: not a trial record (the file was edited or corrupted)`);
    }
    if (body.trim() !== "") records.push(rec as TrialRecord);
    pos = end + 1;
    intact = Buffer.byteLength(text.slice(0, pos), "utf8");
  }
  return { records, intactBytes: intact };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** results.csv text: one row per record, config paths and metric names as columns. */
export function toCsv(records: TrialRecord[], metricName: string): string {
  const paths: string[] = [];
  const metricKeys: string[] = [];
  for (const r of records) {
    for (const p of Object.keys(r.config)) if (!paths.includes(p)) paths.push(p);
    for (const m of Object.keys(r.metrics ?? {})) if (!metricKeys.includes(m) && m !== metricName) metricKeys.push(m);
  }
  const head = ["trial", "rung", "budget", "seed", "status", metricName, ...paths, ...metricKeys, "duration_ms", "error"];
  const rows = records.map((r) =>
    [r.trial, r.rung, r.budget, r.seed, r.status, r.metric, ...paths.map((p) => r.config[p]), ...metricKeys.map((m) => r.metrics?.[m]), r.durationMs, r.error]
      .map(csvCell)
      .join(","),
  );
  return [head.map(csvCell).join(","), ...rows].join("\n") + "\n";
}

/** What identifies a search; a results directory holding another search is refused. */
export interface SearchHeader {
  space: unknown;
  strategy: unknown;
  seed: number;
  objective: unknown;
}

export class ResultsStore {
  readonly records: TrialRecord[] = [];
  readonly finished = new Map<string, TrialRecord>();
  private fd: number;
  private lock?: DirLock;
  private readonly jsonlPath: string;
  private readonly csvPath: string;

  private constructor(
    readonly dir: string,
    private readonly metricName: string,
  ) {
    this.jsonlPath = path.join(dir, "results.jsonl");
    this.csvPath = path.join(dir, "results.csv");
    this.fd = -1;
  }

  /** Opens (or creates) a results directory; reads back finished runs; cuts a torn last line. */
  static open(dir: string, header: SearchHeader, metricName: string): ResultsStore {
    fs.mkdirSync(dir, { recursive: true });
    const lock = takeLock(dir);
    try {
      const store = ResultsStore.read(dir, header, metricName);
      store.lock = lock;
      return store;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private static read(dir: string, header: SearchHeader, metricName: string): ResultsStore {
    const headerPath = path.join(dir, "search.json");
    const headerText = JSON.stringify({ version: 1, ...header }, null, 2) + "\n";
    if (fs.existsSync(headerPath)) {
      const old = fs.readFileSync(headerPath, "utf8");
      if (old !== headerText)
        throw new DnncError(
          `${headerPath}: this results directory belongs to a different search (space, strategy, seed or objective changed); use another directory`,
        );
    } else {
      writeAtomic(headerPath, headerText);
    }
    const store = new ResultsStore(dir, metricName);
    if (fs.existsSync(store.jsonlPath)) {
      const text = fs.readFileSync(store.jsonlPath, "utf8");
      const { records, intactBytes } = parseJsonl(text, store.jsonlPath);
      if (intactBytes < Buffer.byteLength(text, "utf8")) fs.truncateSync(store.jsonlPath, intactBytes);
      for (const r of records) store.add(r);
    }
    store.fd = fs.openSync(store.jsonlPath, "a");
    return store;
  }

  private add(r: TrialRecord): void {
    if (this.finished.has(r.key)) return; // a duplicate can only come from a hand edit: keep the first
    this.finished.set(r.key, r);
    this.records.push(r);
  }

  /** Appends one finished run: write the line, fsync, then rewrite results.csv. */
  append(r: TrialRecord): void {
    this.add(r);
    fs.writeSync(this.fd, JSON.stringify(r) + "\n");
    fs.fsyncSync(this.fd);
    writeAtomic(this.csvPath, toCsv(this.records, this.metricName));
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.lock?.release();
    }
    this.fd = -1;
  }
}

function takeLock(dir: string): DirLock {
  return lockDir(dir, { file: "search.lock", busy: (h) => `${dir}: another search (pid ${h.pid}) is using this results directory` });
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
