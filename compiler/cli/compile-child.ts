// `dnnc train`'s compiler, run in a child process (dist/compile-child.mjs, started by
// compiler/cli/train.ts with an IPC channel): the front end and the code generator (ts-morph, the
// TypeScript compiler, prettier, esbuild's service) live and die in this process, so the process
// that trains never loads them (issue 7: they held ~100 MB of its peak RSS). A worker thread was
// measured too: its isolate goes away when it ends, but its malloc arena (~30 MB) stays in the
// process, which then trains on top of it (docs in the report of this change).
//
// Protocol: the parent sends one CompileJob; this process writes what `dnnc compile` would
// (diagnostics, --verbose lines) to its stderr, which is the parent's, sends one CompileResult
// and exits. It also exits when the parent goes away.
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { DnncError } from "../../runtime/errors";
import { asUserError } from "../../runtime/node/fs-errors";
import { compileSpec, readSpec, type SpecText } from "./front";
import { makeOut, usageError } from "./io";
import { readRunRecord, RUN_RECORD, sha256, type RunRecord } from "./run-record";
import { parseSetFlag, runSpecText } from "./run-spec";

/** What `dnnc train` asks for: the spec, where to write, and its output flags. */
export interface CompileJob {
  spec: string;
  /** Where the files are written: a staging directory, moved into the run directory later. */
  dir: string;
  /** The run directory the trainer will run from (its default data path is relative to it). */
  runDir: string;
  /** --data: read for the compiler's `auto` sizes and vocabulary (default: the spec's source). */
  data?: string;
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  /** The parent's decision (the same stderr, so the same answer; passed to stay equal). */
  color: boolean;
  /** Whether `spec` was named on the command line (else it is the resumed run's spec.dnn). */
  specGiven: boolean;
  /** --set PATH=VALUE, --epochs, --seed: written into the run's spec (a new run), or checked against it (a resume). */
  sets: string[];
  epochs?: number;
  seed?: number;
  /** --resume: the run directory resumed. */
  resume?: string;
}

export type CompileResult =
  /** `epochs`, `seed`: the trainer's flags (a resume: the run's, as recorded). */
  | { t: "done"; mjs: string; pid: number; epochs?: number; seed?: number }
  | { t: "error"; message: string; exitCode: number; diagnostics?: unknown[] }
  | { t: "crash"; stack: string };

/**
 * The spec a run trains, the file its diagnostics name, and its record (run-record.ts). A new run:
 * the spec with the --set overrides written in and its data path relative to the run directory.
 * A resume: the run's own spec.dnn, byte for byte (its hash is the checkpoint's), with the record's
 * --epochs and --seed (train.ts has refused --set and a spec named that is not the run's: checkResume
 * in run-record.ts). A run without a record (written by a dnnc before it) resumes as it always did: from the
 * spec named, as it is.
 */
function runText(job: CompileJob): { spec: string; text: SpecText; record?: RunRecord } {
  if (job.resume === undefined) {
    const source = readSpec(job.spec);
    const sets = job.sets.map((s) => parseSetFlag(s));
    const text = runSpecText(source, { specPath: job.spec, sets, writtenTo: job.runDir });
    const record: RunRecord = {
      spec: job.spec,
      sha256: sha256(source),
      epochs: job.epochs,
      seed: job.seed,
      set: job.sets,
      data: job.data && resolve(job.data),
    };
    const overrides = job.sets.map((x) => `--set ${x}`).join(" ");
    return { spec: job.spec, text: { source: text, baseDir: job.runDir, ...(overrides ? { overrides } : {}) }, record };
  }
  const own = join(job.resume, "spec.dnn");
  const record = readRunRecord(job.resume, readSpec);
  if (!record) {
    // a run of an earlier dnnc: as before
    if (job.specGiven) return { spec: job.spec, text: { source: readSpec(job.spec) } };
    if (!existsSync(own)) throw new DnncError(`${job.resume}: no spec.dnn; name the spec the run was trained from: dnnc train SPEC --resume ${job.resume}`);
    return { spec: own, text: { source: readSpec(own) } };
  }
  // named as the run's first start named it (the model's metadata says so: the bytes of a run never interrupted)
  return { spec: job.specGiven ? job.spec : record.spec, text: { source: readSpec(own), baseDir: job.resume }, record };
}

/**
 * --seed and --epochs on a resume: the seed is the run's (its checkpoint holds the loop's random
 * state); other epochs than the run's are refused when the schedule spans the run (cosine without
 * t_max: its curve would change under the steps still to come), and kept otherwise (recorded, so
 * that a later resume goes on to them). Returns the epochs and seed the trainer runs with.
 */
function resumeFlags(job: CompileJob, ir: import("../ir").IR, record: RunRecord | undefined): { epochs?: number; seed?: number } {
  // a run of an earlier dnnc recorded nothing: its flags pass as they always did
  if (!record) return { epochs: job.epochs, seed: job.seed };
  const run = job.resume!;
  const seed = record.seed ?? ir.train.seed;
  if (job.seed !== undefined && job.seed !== seed)
    throw usageError("train", `--seed ${job.seed}: ${run} was trained with seed ${seed}, which a resume keeps; leave --seed out`);
  const E = record.epochs ?? ir.train.epochs;
  if (job.epochs === undefined || job.epochs === E) return { epochs: record.epochs, seed: record.seed };
  const s = ir.train.schedule;
  if (s.kind === "cosine" && (s.args as Record<string, unknown>).t_max === undefined)
    throw new DnncError(
      `--epochs ${job.epochs}: ${run} was started for ${E} epochs, and its cosine schedule spans them: resuming for ${job.epochs} would ${job.epochs > E ? "stretch" : "squeeze"} the learning rates still to come. ` +
        `Resume without --epochs (or with --epochs ${E}); to train longer, start a new run with --epochs ${job.epochs}, or give the schedule its own horizon (schedule cosine(t_max=${E})) so that epochs can be added later`,
    );
  return { epochs: job.epochs, seed: record.seed };
}

/** Compile `job.spec` into `job.dir`: trainer.ts, trainer.mjs and a copy of the spec (spec.dnn), for a trainer that runs from `job.runDir`. */
export async function runCompileJob(job: CompileJob): Promise<CompileResult> {
  try {
    const out = { ...makeOut(job), color: job.color };
    const { spec, text, record } = runText(job);
    const files = await compileSpec(spec, job.dir, "ts", out, job.runDir, job.data, text);
    const flags = job.resume !== undefined ? resumeFlags(job, files.program, record) : { epochs: job.epochs, seed: job.seed };
    writeFileSync(join(job.dir, "spec.dnn"), text.source!);
    // the record travels with the run (a resume into another directory too), with the epochs it now runs to
    if (record)
      writeFileSync(
        join(job.dir, RUN_RECORD),
        JSON.stringify({ ...record, epochs: flags.epochs, seed: flags.seed, data: job.data && resolve(job.data) }) + "\n",
      );
    return { t: "done", mjs: files.mjs!, pid: process.pid, ...flags };
  } catch (e) {
    const user = asUserError(e); // a DnncError, or an expected system error (EROFS, ENOSPC, ...) naming its file
    if (user) return { t: "error", message: user.message, exitCode: user.exitCode, diagnostics: (user as DnncError & { diagnostics?: unknown[] }).diagnostics };
    return { t: "crash", stack: (e as Error)?.stack ?? String(e) };
  }
}

// DNNC_COMPILE_CHILD=1 is set by the parent only (importing this module elsewhere does nothing)
if (process.env.DNNC_COMPILE_CHILD === "1" && process.send) {
  // before ts-morph, TypeScript and prettier load: their code runs once here, so V8's optimizing
  // compiler costs more than it saves, and a smaller heap is the point of this process. Measured
  // (compiling fashion-cnn.dnn, Node 20): peak RSS 164 -> 123 MB, CPU 0.75 -> 0.65 s; same files.
  setFlagsFromString("--no-turbofan");
  setFlagsFromString("--optimize-for-size");
  process.on("disconnect", () => process.exit(1));
  process.once("message", (job: CompileJob) => {
    void runCompileJob(job).then((r) => process.send!(r, () => process.exit(0)));
  });
}
