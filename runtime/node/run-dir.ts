// Run directories (Node only): plan, then write. A run is refused, if at all, before its first
// write: planRun checks everything that can refuse without writing a byte (the output directory
// is usable and not locked, the checkpoint to resume is there, readable, of this spec, its
// tensors the model's size and its loop state valid, the loss trace readable), and only then
// openRunDir creates the directory, locks it, removes what a killed process left, and installs
// the run's first files. A resume reads its source directory and writes only into the output
// directory: `--resume A --out B` leaves A byte for byte as it was; without --out the output is A.
//
// Files of a run directory (besides spec.dnn and the trainer, which dnnc train installs):
//   checkpoint.safetensors, best.safetensors   (checkpoint.ts; atomic replacements)
//   loss-trace.f64        the loss of every optimizer step, float64 little-endian, append-only;
//                         fsync'ed before each checkpoint, so it is never shorter than the
//                         checkpoint's step; a resume cuts what a kill left after it
//   metrics.jsonl, run.json, confusion.json, model.safetensors   (main.ts)
//   run-info.json, predictions.json   (main.ts; for the report: run-record.ts)
//   run.lock              the pid of the process writing here (lock.ts)
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fsReason } from "./fs-errors";
import { DnncError } from "../errors";
import type { Program } from "../program";
import type { EpochMetrics } from "../train-loop";
import { removeStaleTemps, writeFileAtomicSync } from "./atomic";
import { BEST_FILE, CHECKPOINT_FILE, loadCheckpoint, type Checkpoint } from "./checkpoint";
import { lockDir, lockHolder, type DirLock, type LockHolder } from "./lock";

export const RUN_LOCK = "run.lock";
export const TRACE_FILE = "loss-trace.f64";
export const METRICS_FILE = "metrics.jsonl";

/** What a run writes besides its spec and trainer: cleared when a new run takes over a directory. */
export const RUN_STATE_FILES = [
  CHECKPOINT_FILE,
  BEST_FILE,
  TRACE_FILE,
  METRICS_FILE,
  "run.json",
  "run-info.json",
  "confusion.json",
  "predictions.json",
  "model.safetensors",
];

const busy = (dir: string) => (h: LockHolder) =>
  `${dir}: another training run (pid ${h.pid} on ${h.host}) is writing to this run directory; wait for it to end or name another directory with -o/--out (if no such process runs, delete ${h.path})`;

/** The point a run resumes from: a validated checkpoint and the losses of its steps. */
export interface ResumePoint {
  /** The run directory (or checkpoint file) named by --resume. */
  from: string;
  checkpoint: Checkpoint;
  /** The loss of steps 1..step (NaN where the trace file lacked them; see note). */
  trace: Float64Array;
  /** Set when the trace was shorter than the checkpoint's step. */
  note?: string;
  /** best.safetensors beside the checkpoint, copied along when the output is another directory. */
  bestFile?: string;
}

export interface RunPlan {
  /** The output directory (undefined: write nothing). */
  out?: string;
  resume?: ResumePoint;
  /** True when the output is the directory resumed from: continue there instead of starting over. */
  inPlace: boolean;
}

/** The same directory, however it is spelled (symlinks included, when both exist). */
function sameDir(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Read-only: `dir` can become (or is) a run directory this process may write: refuses otherwise. */
export function checkOutputDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT")
      throw new DnncError(`${dir}: cannot use as the run directory (${code === "ENOTDIR" ? "a parent is not a directory" : (code ?? (e as Error).message)})`);
  }
  if (st) {
    if (!st.isDirectory()) throw new DnncError(`${dir}: exists and is not a directory; name a directory for the run`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (e) {
      throw new DnncError(`${dir}: the run directory is not writable (${fsReason((e as NodeJS.ErrnoException).code)})`);
    }
    const h = lockHolder(dir, RUN_LOCK);
    if (h) throw new DnncError(busy(dir)(h));
    return;
  }
  // to be created: its nearest existing ancestor must be a writable directory
  let up = resolve(dir);
  for (;;) {
    const parent = dirname(up);
    if (parent === up) return;
    up = parent;
    if (!existsSync(up)) continue;
    if (!statSync(up).isDirectory()) throw new DnncError(`${dir}: cannot create the run directory: ${up} is not a directory`);
    try {
      accessSync(up, constants.W_OK | constants.X_OK);
    } catch (e) {
      throw new DnncError(`${dir}: cannot create the run directory: ${up} is not writable (${fsReason((e as NodeJS.ErrnoException).code)})`);
    }
    return;
  }
}

/** Read the first `steps` losses of a trace file (NaN-filled past its end; note says so). */
function readTrace(path: string, steps: number): { trace: Float64Array; note?: string } {
  const trace = new Float64Array(steps).fill(NaN);
  let have = 0;
  if (existsSync(path)) {
    let b: Buffer;
    try {
      b = readFileSync(path);
    } catch (e) {
      throw new DnncError(`${path}: cannot read the loss trace (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    have = Math.min(steps, Math.floor(b.length / 8));
    const view = new DataView(b.buffer, b.byteOffset, have * 8);
    for (let i = 0; i < have; i++) trace[i] = view.getFloat64(i * 8, true);
  }
  return have < steps ? { trace, note: `${path} holds the losses of ${have} of the checkpoint's ${steps} steps; the rest are NaN in the trace` } : { trace };
}

/** Read-only: the checkpoint of `from` (validated against the program when given) and its loss trace. */
export function planResume(from: string, p?: Program): ResumePoint {
  const checkpoint = loadCheckpoint(from, p);
  const { state } = checkpoint;
  const dir = dirname(checkpoint.path);
  const best = join(dir, BEST_FILE);
  const bestFile = existsSync(best) && statSync(best).isFile() ? best : undefined;
  if (state.lossTrace) return { from, checkpoint, trace: Float64Array.from(state.lossTrace), bestFile }; // a checkpoint of an earlier version
  return { from, checkpoint, bestFile, ...readTrace(join(dir, TRACE_FILE), state.step) };
}

/** The directory a run resumed from `resume` writes by default: the run directory (also when a checkpoint file is named). */
export function resumeOutDir(resume: string): string {
  return existsSync(resume) && statSync(resume).isFile() ? dirname(resume) : resume;
}

/** Everything that can refuse a run, checked without writing. */
export function planRun(o: { out?: string; resume?: string }, p?: Program): RunPlan {
  const resume = o.resume !== undefined ? planResume(o.resume, p) : undefined;
  const out = o.out ?? (o.resume !== undefined ? resumeOutDir(o.resume) : undefined);
  if (out !== undefined) checkOutputDir(out);
  const inPlace = resume !== undefined && out !== undefined && sameDir(dirname(resume.checkpoint.path), out);
  return { out, resume, inPlace };
}

/** An open run directory: locked by this process; the loss trace open for appending. */
export class RunDir {
  private fd = -1;
  private pending = new Float64Array(4096);
  private n = 0;
  constructor(
    readonly dir: string,
    private readonly lock: DirLock,
  ) {}

  /** Open the trace for appending (after its first `steps` entries are in place). */
  openTrace(): void {
    const path = join(this.dir, TRACE_FILE);
    try {
      this.fd = openSync(path, "a");
    } catch (e) {
      throw new DnncError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /** One step's loss (buffered; written by flushTrace, and when the buffer is full). */
  appendLoss(loss: number): void {
    this.pending[this.n++] = loss;
    if (this.n === this.pending.length) this.flushTrace(false);
  }

  /** Write the buffered losses; `sync`: and fsync them (before a checkpoint names their step). */
  flushTrace(sync: boolean): void {
    if (this.fd < 0) return;
    const path = join(this.dir, TRACE_FILE);
    try {
      const bytes = new Uint8Array(this.pending.buffer, 0, this.n * 8);
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
      this.n = 0;
      if (sync) fsyncSync(this.fd);
    } catch (e) {
      throw new DnncError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      try {
        this.flushTrace(false);
      } finally {
        closeSync(this.fd);
        this.fd = -1;
        this.lock.release();
      }
    } else this.lock.release();
  }
}

function float64Bytes(a: Float64Array): Uint8Array {
  const out = new Uint8Array(a.length * 8);
  const v = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) v.setFloat64(i * 8, a[i], true);
  return out;
}

/** The lines of metrics.jsonl for these epochs. */
export function metricsText(metrics: EpochMetrics[]): string {
  return metrics.length === 0 ? "" : metrics.map((m) => JSON.stringify(m)).join("\n") + "\n";
}

/**
 * The first writes of a planned run: create and lock the output directory, remove the temporary
 * files of killed writers, then
 *  - a new run (or a resume from another directory): remove the previous run's state files, so
 *    that nothing of that run can be mistaken for this one's (a checkpoint resumed, a model
 *    exported against the new spec);
 *  - `install(dir)`: the caller's files (dnnc train: spec.dnn and the trainer);
 *  - a resume: the trace cut (or written) to the checkpoint's step, the metrics so far, and, from
 *    another directory, the checkpoint itself (last), so the output is resumable from the start.
 */
export function openRunDir(plan: RunPlan & { out: string }, install?: (dir: string) => void): RunDir {
  const dir = plan.out;
  const created = !existsSync(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new DnncError(
      `${dir}: cannot create the run directory (${(e as NodeJS.ErrnoException).code ? fsReason((e as NodeJS.ErrnoException).code) : (e as Error).message})`,
    );
  }
  let lock: DirLock;
  try {
    lock = lockDir(dir, { file: RUN_LOCK, busy: busy(dir) });
  } catch (e) {
    if (created) {
      try {
        rmdirSync(dir); // only if still empty
      } catch {
        // another process uses it now
      }
    }
    throw e;
  }
  const run = new RunDir(dir, lock);
  try {
    removeStaleTemps(dir);
    const r = plan.resume;
    if (!plan.inPlace) for (const f of RUN_STATE_FILES) rmSync(join(dir, f), { force: true });
    install?.(dir);
    if (r) {
      const trace = join(dir, TRACE_FILE);
      const steps = r.checkpoint.state.step;
      if (plan.inPlace && !r.note && !r.checkpoint.state.lossTrace && existsSync(trace)) {
        // cut what a kill left after the checkpoint's step
        const fd = openSync(trace, "r+");
        try {
          if (statSync(trace).size > steps * 8) {
            ftruncateSync(fd, steps * 8);
            fsyncSync(fd);
          }
        } finally {
          closeSync(fd);
        }
      } else writeFileAtomicSync(trace, float64Bytes(r.trace));
      const metrics = r.checkpoint.state.metrics;
      if (metrics.length > 0) writeFileAtomicSync(join(dir, METRICS_FILE), metricsText(metrics));
      else rmSync(join(dir, METRICS_FILE), { force: true }); // lines of epochs after the checkpoint's
      if (!plan.inPlace) {
        if (r.bestFile) writeFileAtomicSync(join(dir, BEST_FILE), new Uint8Array(readFileSync(r.bestFile)));
        writeFileAtomicSync(join(dir, CHECKPOINT_FILE), r.checkpoint.bytes);
      }
    }
    run.openTrace();
  } catch (e) {
    run.close();
    if (e instanceof DnncError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new DnncError(`${err.path ?? dir}: cannot write (${err.code ?? err.message})`);
  }
  return run;
}
