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
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import type { DnncError } from "../../runtime/errors";
import { asUserError } from "../../runtime/node/fs-errors";
import { compileSpec, readSpec } from "./front";
import { makeOut } from "./io";

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
}

export type CompileResult =
  { t: "done"; mjs: string; pid: number } | { t: "error"; message: string; exitCode: number; diagnostics?: unknown[] } | { t: "crash"; stack: string };

/** Compile `job.spec` into `job.dir`: trainer.ts, trainer.mjs and a copy of the spec (spec.dnn), for a trainer that runs from `job.runDir`. */
export async function runCompileJob(job: CompileJob): Promise<CompileResult> {
  try {
    const out = { ...makeOut(job), color: job.color };
    const files = await compileSpec(job.spec, job.dir, "ts", out, job.runDir, job.data);
    writeFileSync(join(job.dir, "spec.dnn"), readSpec(job.spec));
    return { t: "done", mjs: files.mjs!, pid: process.pid };
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
