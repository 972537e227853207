// `dnnc train SPEC`: compile into a run directory, train there with the runtime's trainer (its
// flags are forwarded), then render the report. A progress bar per epoch on a terminal; plain
// lines otherwise; JSON lines with --json (the trainer's, then one line naming the run's files).
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { compileSpec, readSpec, specStem } from "./front";
import type { Out } from "./io";

export interface TrainOptions {
  out?: string;
  data?: string;
  epochs?: number;
  seed?: number;
  threads?: number;
  backend?: "auto" | "wasm" | "ts";
  maxSteps?: number;
  resume?: string;
  checkpointEvery?: number;
  checkpointSteps?: number;
  bench?: boolean;
  json?: boolean;
  report: boolean;
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
            { format: `epoch ${e} [{bar}] {percentage}% | {value}/{total} | {speed} samples/s | eta {eta}s | loss {loss}`, hideCursor: true, clearOnComplete: true },
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
  if (o.resume !== undefined) put("--resume", o.resume);
  else put("--out", dir);
  if (o.bench) a.push("--bench");
  if (o.json) a.push("--json");
  if (quiet) a.push("--quiet");
  return a;
}

export async function trainCommand(spec: string, o: TrainOptions, out: Out): Promise<number> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  // resuming continues in the run's own directory unless --out names another
  const dir = o.out ?? o.resume ?? join("runs", `${specStem(spec)}-${stamp}`);
  out.info(`run directory ${resolve(dir)}`);
  const files = await compileSpec(spec, dir, "ts", out);
  writeFileSync(join(dir, "spec.dnn"), readSpec(spec));
  const { pathToFileURL } = await import("node:url");
  const mod = (await out.time("load trainer", () => import(pathToFileURL(files.mjs!).href))) as { program: import("../../runtime/program").Program };
  const { runTrainer } = await import("../../runtime/node/main");
  // loaded now, not after training: a rebuild of dist/ during a long run may replace its chunk
  const { writeReport } = await import("../report");
  const quiet = out.quiet || !!o.json || !!o.bench;
  const bar = !quiet && out.bars ? await progressBar() : undefined;
  const argv = trainerArgv(o, dir, out.quiet);
  out.info(`trainer flags: ${argv.join(" ")} (backend ${o.backend ?? "auto"}, ${o.threads ?? 1} thread${(o.threads ?? 1) > 1 ? "s" : ""} requested)`);
  const t0 = performance.now();
  try {
    await runTrainer(mod.program, argv, pathToFileURL(files.mjs!).href, bar?.hooks);
  } finally {
    bar?.stop();
  }
  out.info(`training: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  let report: string | undefined;
  if (o.report) {
    report = out.time("report", () => writeReport([dir], dir)).html;
    if (!quiet) out.say(`report: ${report}`);
  }
  if (o.json)
    out.emit({
      run: dir,
      files: { spec: join(dir, "spec.dnn"), trainer: files.mjs, metrics: join(dir, "metrics.jsonl"), model: join(dir, "model.safetensors"), ...(report ? { report } : {}) },
    });
  return 0;
}
