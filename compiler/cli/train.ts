// `dnnc train SPEC`: compile into a run directory, train there with the runtime's trainer (its
// flags are forwarded), then render the report. A progress bar per epoch on a terminal; plain
// lines otherwise; JSON lines with --json (the trainer's, then one line naming the run's files).
// The compiler runs in a child process (compile-child.ts) that has exited before training starts:
// ts-morph, the TypeScript compiler, prettier and esbuild never load in the process that trains,
// and this module imports none of the compiler (issue 7: peak RSS).
// Plan, then write: the run directories are checked before compiling (nothing to resume, a locked
// or unusable output directory: refused at once), the compiler writes into a staging directory
// under the system's temporary directory, and its files reach the run directory only from the
// trainer's `install` hook, after every check of the runtime (the checkpoint against the compiled
// program, the data) has passed. A refused run leaves every directory as it was.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DnncError } from "../../runtime/errors";
import type { CompileJob, CompileResult } from "./compile-child";
import { usageError, type Out } from "./io";

export interface TrainOptions {
  out?: string;
  data?: string;
  epochs?: number;
  seed?: number;
  threads?: number;
  backend?: "auto" | "wasm" | "ts";
  fma?: boolean;
  maxSteps?: number;
  resume?: string;
  checkpointEvery?: number;
  checkpointSteps?: number;
  bench?: boolean;
  json?: boolean;
  report: boolean;
  /** Rewrite report.html after every epoch, reloading itself while the run goes on. */
  reportLive?: boolean;
  /** --set PATH=VALUE, repeatable: written into the run's spec.dnn. */
  set?: string[];
}

/** A per-epoch progress bar with throughput, ETA and running loss (terminal only). */
async function progressBar() {
  const cp = (await import("cli-progress")).default;
  let bar: InstanceType<typeof cp.SingleBar> | undefined;
  let epoch = 0;
  let t0 = 0;
  let lossAvg = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    hooks: {
      onStep: (e: number, done: number, total: number, loss: number) => {
        if (e !== epoch || !bar) {
          stop();
          epoch = e;
          t0 = performance.now();
          lossAvg = loss;
          bar = new cp.SingleBar(
            {
              format: `epoch ${e} [{bar}] {percentage}% | {value}/{total} | {speed} samples/s | eta {eta}s | loss {loss}`,
              hideCursor: true,
              clearOnComplete: true,
            },
            cp.Presets.shades_classic,
          );
          bar.start(total, 0, { speed: 0, loss: loss.toFixed(4) });
        }
        lossAvg = 0.95 * lossAvg + 0.05 * loss;
        const secs = (performance.now() - t0) / 1000;
        bar.update(done, { speed: secs > 0 ? Math.round(done / secs) : 0, loss: lossAvg.toFixed(4) });
      },
      onEpoch: () => stop(),
    },
  };
}

/** The runtime trainer's own flags (runtime/node/main.ts parses them again). */
function trainerArgv(o: TrainOptions, dir: string, quiet: boolean): string[] {
  const a: string[] = [];
  const put = (flag: string, v: string | number | undefined) => {
    if (v !== undefined) a.push(flag, String(v));
  };
  put("--data", o.data);
  put("--epochs", o.epochs);
  put("--seed", o.seed);
  put("--threads", o.threads);
  put("--backend", o.backend);
  put("--max-steps", o.maxSteps);
  put("--checkpoint-every", o.checkpointEvery);
  put("--checkpoint-steps", o.checkpointSteps);
  put("--resume", o.resume);
  put("--out", dir);
  if (o.fma === false) a.push("--no-fma");
  if (o.bench) a.push("--bench");
  if (o.json) a.push("--json");
  if (quiet) a.push("--quiet");
  return a;
}

/**
 * The compiler's entry: dist/compile-child.mjs beside this chunk in the bundle (or in dist/ above
 * it); from the sources (tsx), compile-child.ts, run with tsx.
 */
export function compileChildEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  // the parent's node flags, but not a second inspector on the same port
  const execArgv = process.execArgv.filter((a) => !/^--inspect/.test(a));
  if (/\.ts$/.test(here))
    return { file: join(dirname(here), "compile-child.ts"), execArgv: execArgv.includes("tsx") ? execArgv : [...execArgv, "--import", "tsx"] };
  let d = dirname(here);
  for (let i = 0; i < 4; i++) {
    for (const f of [join(d, "compile-child.mjs"), join(d, "dist", "compile-child.mjs")]) if (existsSync(f)) return { file: f, execArgv };
    d = dirname(d);
  }
  throw new DnncError("dnnc: dist/compile-child.mjs is missing; run `npm run build`");
}

/**
 * Compile SPEC into DIR in a child process and wait until it has exited: resolves to the trainer
 * .mjs. The child writes its diagnostics and --verbose lines to our stderr (before it exits, so in
 * order); a user error comes back as the same DnncError (with its diagnostics, for --json), any
 * other failure as an internal error.
 */
export async function compileInChild(
  spec: string,
  dir: string,
  out: Out,
  runDir = dir,
  data?: string,
  run: Pick<CompileJob, "specGiven" | "sets" | "epochs" | "seed" | "resume"> = { specGiven: true, sets: [] },
): Promise<{ mjs: string; pid: number; epochs?: number; seed?: number }> {
  const { fork } = await import("node:child_process");
  const { file, execArgv } = compileChildEntry();
  const job: CompileJob = { spec, dir, runDir, data, quiet: out.quiet, verbose: out.verbose, json: out.json, color: out.color, ...run };
  const child = fork(file, [], {
    execArgv,
    env: { ...process.env, DNNC_COMPILE_CHILD: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  let result: CompileResult | undefined;
  child.on("message", (m: CompileResult) => (result = m));
  const exit = await new Promise<{ code: number | null; signal: string | null; error?: Error }>((res) => {
    child.on("error", (error) => res({ code: null, signal: null, error }));
    child.on("exit", (code, signal) => res({ code, signal }));
    child.send(job);
  });
  if (result?.t === "done") return { mjs: result.mjs, pid: result.pid, epochs: result.epochs, seed: result.seed };
  if (result?.t === "error") throw Object.assign(new DnncError(result.message, result.exitCode), result.diagnostics ? { diagnostics: result.diagnostics } : {});
  if (result?.t === "crash") throw Object.assign(new Error("the compiler failed"), { stack: result.stack });
  throw new Error(
    `the compiler's process ${exit.error ? `could not run (${exit.error.message})` : `ended (${exit.signal ?? `exit code ${exit.code}`})`} before writing the trainer`,
  );
}

const STAGING_PREFIX = "dnnc-staging-";

/**
 * A new staging directory for the compiler's files (TMPDIR/dnnc-staging-PID-XXXXXX), after removing
 * those of dnnc processes that were killed before they could remove their own.
 */
function makeStaging(isAlive: (pid: number) => boolean): string {
  const tmp = tmpdir();
  try {
    for (const name of readdirSync(tmp)) {
      const m = new RegExp(`^${STAGING_PREFIX}(\\d+)-`).exec(name);
      if (m && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))) rmSync(join(tmp, name), { recursive: true, force: true });
    }
  } catch {
    // an unreadable temporary directory: only the cleanup is lost
  }
  return mkdtempSync(join(tmp, `${STAGING_PREFIX}${process.pid}-`));
}

export async function trainCommand(specArg: string | undefined, o: TrainOptions, out: Out): Promise<number> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  // resuming continues in the run's own directory unless --out names another (which the run then
  // writes; the resumed directory is only read)
  const { planRun, resumeOutDir } = await import("../../runtime/node/run-dir");
  if (specArg === undefined && o.resume === undefined) throw usageError("train", "missing required argument 'spec' (or --resume RUN to continue a run)");
  const resumed = o.resume !== undefined ? resumeOutDir(o.resume) : undefined;
  // without a spec, a resume trains the run's own spec.dnn
  const spec = specArg ?? join(resumed!, "spec.dnn");
  const dir = o.out ?? resumed ?? join("runs", `${basename(spec).replace(/\.dnn$/, "")}-${stamp}`);
  out.info(`run directory ${resolve(dir)}${o.resume !== undefined && o.out !== undefined ? ` (resuming ${resolve(o.resume)}, which is only read)` : ""}`);
  // the runtime and the report load while the child compiles (and before training: a rebuild of
  // dist/ during a long run may replace their chunks)
  const loading = Promise.all([import("../../runtime/node/main"), import("../report"), import("../../runtime/node/atomic")]);
  loading.catch(() => {}); // awaited below; a compile error comes first
  // the checks that need no compiled program, before the compiler's seconds: nothing to resume,
  // an output directory that is a file or locked by a live run
  const { processAlive } = await import("../../runtime/node/lock");
  planRun({ out: dir, resume: o.resume });
  if (resumed !== undefined) {
    const { checkResume } = await import("./run-record");
    // the data the run was started on, unless --data names other data now
    const record = checkResume({ resume: resumed, spec: specArg, sets: o.set ?? [] });
    if (o.data === undefined && record?.data !== undefined) o = { ...o, data: record.data };
  }
  const staging = makeStaging(processAlive);
  try {
    const run = { specGiven: specArg !== undefined, sets: o.set ?? [], epochs: o.epochs, seed: o.seed, resume: resumed };
    const { mjs, pid, epochs, seed } = await out.time("compile (in a child process, ended before training)", () =>
      compileInChild(spec, staging, out, dir, o.data, run),
    );
    // a resume runs with the epochs and seed its run was started with (recorded in run-command.json)
    o = { ...o, epochs, seed };
    const [{ runTrainer }, { writeReport }, { writeFileAtomicSync }] = await loading;
    if (out.verbose)
      out.info(`compiled by process ${pid} (exited); training in process ${process.pid}, rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MB`);
    const { pathToFileURL } = await import("node:url");
    const mod = (await out.time("load trainer", () => import(pathToFileURL(mjs).href))) as { program: import("../../runtime/program").Program };
    const trainer = join(dir, basename(mjs));
    // called by the trainer once every check passed and the run directory is locked: the compiled
    // files move in (each replaced atomically; the spec last)
    const install = (d: string) => {
      const names = readdirSync(staging).sort((a, b) => Number(a === "spec.dnn") - Number(b === "spec.dnn") || a.localeCompare(b));
      for (const name of names) writeFileAtomicSync(join(d, name), readFileSync(join(staging, name)));
      out.info(`installed ${names.join(", ")} in ${resolve(d)}`);
    };
    return await trainAndReport(specArg, o, out, dir, trainer, mod.program, runTrainer, writeReport, install);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function trainAndReport(
  spec: string | undefined,
  o: TrainOptions,
  out: Out,
  dir: string,
  mjs: string,
  program: import("../../runtime/program").Program,
  runTrainer: typeof import("../../runtime/node/main").runTrainer,
  writeReport: typeof import("../report").writeReport,
  install: (dir: string) => void,
): Promise<number> {
  const { pathToFileURL } = await import("node:url");
  const quiet = out.quiet || !!o.json || !!o.bench;
  const bar = !quiet && out.bars ? await progressBar() : undefined;
  const argv = trainerArgv(o, dir, out.quiet);
  out.info(`trainer flags: ${argv.join(" ")} (backend ${o.backend ?? "auto"}, ${o.threads ?? 1} thread${(o.threads ?? 1) > 1 ? "s" : ""} requested)`);
  const t0 = performance.now();
  let report: string | undefined;
  // the report is written while the trainer still holds the run directory's lock
  const finish = (d: string) => {
    out.info(`training: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    if (o.report) {
      report = out.time("report", () => writeReport([d], d)).html;
      if (!quiet) out.say(`report: ${report}`);
    }
  };
  // --report-live: the report after every epoch (atomically replaced; it reloads itself until the
  // final one, written by finish, which does not); a failure to render is said once, never fatal
  let liveFailed = false;
  const afterEpoch =
    o.report && o.reportLive
      ? (d: string) => {
          try {
            const html = writeReport([d], d, { live: true }).html;
            if (report === undefined && !quiet) out.say(`live report: ${html}`);
            report = html;
          } catch (e) {
            if (!liveFailed && !out.quiet) process.stderr.write(`dnnc: warning: live report not written: ${(e as Error).message}\n`);
            liveFailed = true;
          }
        }
      : undefined;
  try {
    await runTrainer(program, argv, pathToFileURL(mjs).href, { ...bar?.hooks, install, finish, afterEpoch });
  } catch (e) {
    // a live report must not go on reloading a run that ended: the last one, without the reload
    if (afterEpoch && report !== undefined)
      try {
        writeReport([dir], dir);
      } catch {
        // the run's own error is the one to report
      }
    // SIGINT: the trainer wrote a checkpoint; say where and how to go on (a plain line, exit 130)
    const step = (e as { step?: unknown }).step;
    if (e instanceof DnncError && e.exitCode === 130 && typeof step === "number")
      e.message = `interrupted after step ${step}; checkpoint written to ${join(dir, "checkpoint.safetensors")}; resume with: dnnc train ${spec !== undefined ? spec + " " : ""}--resume ${dir}`;
    throw e;
  } finally {
    bar?.stop();
  }
  if (o.json)
    out.emit({
      event: "run",
      run: dir,
      files: {
        spec: join(dir, "spec.dnn"),
        trainer: mjs,
        metrics: join(dir, "metrics.jsonl"),
        model: join(dir, "model.safetensors"),
        ...(report ? { report } : {}),
      },
    });
  return 0;
}
