// The command line of a generated trainer (Node): parse flags, load the data, create the backend,
// train, and write DIR/metrics.jsonl and DIR/model.safetensors (atomically). Every user error is
// one line on stderr and exit code 1 (2 for a bad flag), never a stack trace. Plan, then write
// (run-dir.ts): every check that can refuse the run (flags, the checkpoint to resume, the output
// directory and its lock, the data) passes before the first byte is written; --resume A --out B
// reads A and writes B only.
import { existsSync, rmSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createBackend, type BackendKind } from "../backend-create";
import { PARALLEL_MIN_MACS } from "../wasm/wasm-backend";
import { takeRows, type Dataset } from "../data/dataset";
import { splitTestRows } from "../data/split";
import { DnncError } from "../errors";
import type { Program } from "../program";
import { encodeSafetensors } from "../safetensors";
import { describeInitFrom, type InitFromReport } from "../init-from";
import { loadInitFromFile } from "./init-from-file";
import { preprocessMetadata, preprocessTensors } from "../preprocess";
import { checkDataFits, trainAsync, type EpochMetrics, type LoopState, type TrainResult } from "../train-loop";
import { MAX_THREADS } from "../limits";
import { BEST_FILE, CHECKPOINT_FILE, restoreCheckpoint, writeCheckpoint } from "./checkpoint";
import { openRunDir, planRun, type RunDir, type RunPlan } from "./run-dir";
import { describeNonFinite, findNonFiniteCheckpoint } from "../divergence";
import { writeFileAtomicSync } from "./atomic";
import { asUserError } from "./fs-errors";
import { loadCsvSource, loadTokenCsv } from "./load-csv";
import { loadImageFolder } from "./load-image-folder";
import { loadTextClasses, loadTextCorpus } from "./load-text";
import { loadTimeSeries } from "./load-timeseries";
import { seriesStatsMetadata, seriesStatsTensors } from "../data/timeseries";
import { Vocab, vocabMetadata } from "../data/vocab";
import type { Json } from "../program";
import { loadIdxDir, loadIdxDirStreaming } from "./load-idx";
import { classNamesFile, LrRecord, PredictionCollector, resumedRunInfo, RUN_INFO_FILE } from "./run-record";
import { isRegression, modelClasses, modelMetadata, modelTensors } from "../model-file";

export { modelClasses, modelMetadata, modelTensors };
import { scoreDataset } from "../score";
import { splitValidation } from "../data/batch";

/** Written when training diverged (read by `dnnc runs`); removed when the directory is opened again. */
export const STATUS_FILE = "status.json";

export interface TrainerArgs {
  data?: string;
  epochs?: number;
  seed?: number;
  out?: string;
  threads: number;
  backend: BackendKind;
  /** wasm: the GEMM's multiply-adds fused (relaxed SIMD) where the engine has it (default; --no-fma: off) */
  fma: boolean;
  bench: boolean;
  quiet: boolean;
  json: boolean;
  maxSteps?: number;
  resume?: string;
  checkpointEvery: number;
  checkpointSteps?: number;
}

const USAGE = `usage: node TRAINER.mjs [options]
  --data DIR        data directory (default: the spec's data source)
  --epochs N        number of epochs (default: the spec's)
  --seed N          random seed (default: the spec's)
  --out DIR         write DIR/metrics.jsonl and DIR/model.safetensors
  --threads N       GEMM threads, 1..${MAX_THREADS} (default 1)
  --backend KIND    auto | wasm | ts (default auto)
  --no-fma          wasm: plain SIMD multiply and add in the GEMM instead of the fused
                    multiply-add of relaxed SIMD, used by default where the engine has it
                    (~10% faster on conv models; same bytes run to run on one machine either
                    way; --no-fma gives the same bytes on every machine with SIMD, fused or
                    not). --fma: the default, explicitly
  --max-steps N     stop after N optimizer steps
  --resume DIR      continue the run whose checkpoint is in DIR (DIR/checkpoint.safetensors),
                    writing into DIR, or into --out's directory (DIR is then only read)
  --checkpoint-every N       write DIR/checkpoint.safetensors every N epochs (default 1; needs --out)
  --checkpoint-steps N       also every N optimizer steps
  --bench           print throughput windows as JSON lines
  --json            print epoch metrics as JSON lines
  --quiet           print nothing but errors
  --help            this text`;

function intFlag(name: string, v: string | undefined, min: number, max?: number): number {
  if (v === undefined) throw new DnncError(`${name} needs a value\n${USAGE}`, 2);
  const x = Number(v);
  if (!Number.isInteger(x) || x < min || (max !== undefined && x > max))
    throw new DnncError(`${name}: expected an integer ${max !== undefined ? `from ${min} to ${max}` : `>= ${min}`}, got "${v}"`, 2);
  return x;
}

export function parseTrainerArgs(argv: string[]): TrainerArgs | "help" {
  const a: TrainerArgs = { threads: 1, backend: "auto", fma: true, bench: false, quiet: false, json: false, checkpointEvery: 1 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const [flag, inline] = f.startsWith("--") && f.includes("=") ? [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] : [f, undefined];
    const val = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case "--help":
      case "-h":
        return "help";
      case "--data": {
        const v = val();
        if (!v) throw new DnncError(`--data needs a directory`, 2);
        a.data = v;
        break;
      }
      case "--out": {
        const v = val();
        if (!v) throw new DnncError(`--out needs a directory`, 2);
        a.out = v;
        break;
      }
      case "--epochs":
        a.epochs = intFlag("--epochs", val(), 1);
        break;
      case "--seed":
        a.seed = intFlag("--seed", val(), 0);
        break;
      case "--threads":
        a.threads = intFlag("--threads", val(), 1, MAX_THREADS);
        break;
      case "--max-steps":
        a.maxSteps = intFlag("--max-steps", val(), 1);
        break;
      case "--checkpoint-every":
        a.checkpointEvery = intFlag("--checkpoint-every", val(), 1);
        break;
      case "--checkpoint-steps":
        a.checkpointSteps = intFlag("--checkpoint-steps", val(), 1);
        break;
      case "--resume": {
        const v = val();
        if (!v) throw new DnncError(`--resume needs a run directory`, 2);
        a.resume = v;
        break;
      }
      case "--backend": {
        const v = val();
        if (v !== "auto" && v !== "wasm" && v !== "ts") throw new DnncError(`--backend: expected auto, wasm or ts, got "${v}"`, 2);
        a.backend = v;
        break;
      }
      case "--fma":
        a.fma = true;
        break;
      case "--no-fma":
        a.fma = false;
        break;
      case "--bench":
        a.bench = true;
        break;
      case "--json":
        a.json = true;
        break;
      case "--quiet":
        a.quiet = true;
        break;
      default:
        throw new DnncError(`unknown option "${f}"\n${USAGE}`, 2);
    }
  }
  return a;
}

/** What a data source gives the training loop: the splits, and what must be saved with the model. */
export interface LoadedData {
  train: Dataset;
  /** A source that splits by position (a corpus, a time series) gives its own validation set. */
  validation?: Dataset;
  test?: Dataset;
  /** Fitted statistics stored in model.safetensors (a time series' standardization). */
  tensors?: { name: string; shape: number[]; data: Float32Array }[];
  metadata?: Record<string, string>;
}

/** The sequence sources (text, text_classes, tokens, timeseries; compiler/settings.ts), with the spec's settings. */
function loadSequenceData(p: Program, dataDir: string): LoadedData {
  const src = p.data.source as { kind: string; label?: string | number; args?: Record<string, Json> };
  const a = src.args ?? {};
  const num = (k: string) => (a[k] === undefined ? undefined : (a[k] as number));
  // a compiled trainer encodes any corpus with the vocabulary it was compiled with (other characters: id 0)
  const fixed = p.data.vocab as { json: string } | undefined;
  const vocab = fixed ? Vocab.fromJSON(fixed.json, `${p.meta.file} (the trainer's vocabulary)`) : undefined;
  const validation = p.data.validation;
  switch (src.kind) {
    case "text": {
      const c = loadTextCorpus(dataDir, { context: num("context")!, stride: num("stride"), validation, test: num("test"), vocab });
      return { train: c.train, validation: c.validation, test: c.test, metadata: vocabMetadata(c.vocab) };
    }
    case "text_classes": {
      const c = loadTextClasses(dataDir, {
        context: num("context")!,
        seed: p.train.seed,
        validation,
        test: num("test"),
        separator: a.separator as string | undefined,
        vocab,
      });
      return { train: c.train, validation: c.validation, test: c.test, metadata: { ...vocabMetadata(c.vocab), classes: JSON.stringify(c.classNames) } };
    }
    case "tokens": {
      const ds = loadTokenCsv(dataDir, {
        label: src.label ?? "label",
        pad: num("pad"),
        maxLength: num("max_length") ?? p.meta.inputShape[0],
        regression: isRegression(p),
        classes: modelClasses(p),
      });
      if (ds.shape[0] !== p.meta.inputShape[0])
        throw new DnncError(
          `${dataDir}: the longest row has ${ds.shape[0]} tokens, but the model's input is [${p.meta.inputShape[0]}]; set max_length=${p.meta.inputShape[0]} to pad (or cut) every row to it`,
        );
      const test = (p.data.test as number | undefined) ?? 0;
      if (test === 0) return { train: ds };
      const rows = splitTestRows(ds.n, test, p.train.seed, dataDir);
      return { train: takeRows(ds, rows.train), test: takeRows(ds, rows.test) };
    }
    case "timeseries": {
      const t = a.target as string | string[];
      const w = loadTimeSeries(dataDir, {
        targets: Array.isArray(t) ? t : [t],
        inputs: a.inputs as string[] | undefined,
        time: a.time as string | undefined,
        window: num("window")!,
        horizon: num("horizon"),
        stride: num("stride"),
        validation,
        test: num("test"),
      });
      return {
        train: w.train,
        validation: w.validation,
        test: w.test,
        ...(w.stats ? { tensors: seriesStatsTensors(w.stats), metadata: seriesStatsMetadata(w.stats) } : {}),
      };
    }
  }
  throw new DnncError(`${p.meta.file}: unknown data source ${src.kind}`);
}

/** Load the training and test splits named by the program (or --data). */
export function loadData(p: Program, dataDir: string): LoadedData {
  const classes = modelClasses(p);
  if (p.data.source.kind === "idx") return loadIdxDir(dataDir, { classes });
  if (p.data.source.kind === "image_folder") {
    const f = loadImageFolder(dataDir, { shape: p.meta.inputShape, test: (p.data.test as number | undefined) ?? 0, seed: p.train.seed });
    if (classes !== undefined && f.classNames.length > classes)
      throw new DnncError(`${dataDir}: ${f.classNames.length} class folders (${f.classNames.join(", ")}), but the model has ${classes} outputs`);
    return { train: f.train, ...(f.test ? { test: f.test } : {}), metadata: { classes: JSON.stringify(f.classNames) } };
  }
  if (p.data.source.kind !== "csv") return loadSequenceData(p, dataDir);
  // csv: a directory with train.csv (and optionally test.csv), or a single file (runtime/node/load-csv.ts)
  const a = p.data.source.args ?? {};
  return loadCsvSource(dataDir, {
    label: p.data.source.label ?? "label",
    regression: isRegression(p),
    classes,
    header: a.header as boolean | undefined,
    delimiter: a.delimiter as string | undefined,
    features: a.features as (string | number)[] | undefined,
    skipRows: a.skip_rows as number | undefined,
    categorical: a.categorical as (string | number)[] | undefined,
    test: (p.data.test as number | undefined) ?? 0,
    seed: p.train.seed,
    inputSize: ((p.data.preprocess ?? []) as unknown[]).length > 0 ? undefined : p.meta.inputSize,
  });
}

/**
 * loadData for a trainer process: IDX files are inflated as streams, so the compressed bytes are
 * never held next to the inflated ones (the peak RSS of a Fashion-MNIST run drops by about the
 * 30 MB of its .gz files), and gzipped byte images are packed as they inflate (47 -> 29 MB for
 * Fashion-MNIST's training images). Same batches as loadData.
 */
export async function loadDataStreaming(p: Program, dataDir: string): Promise<LoadedData> {
  // byte images stay packed (decoded per batch) unless a preprocessing is fitted on the whole array
  const packed = ((p.data.preprocess ?? []) as unknown[]).length === 0;
  if (p.data.source.kind === "idx") return loadIdxDirStreaming(dataDir, { packed, classes: modelClasses(p) });
  return loadData(p, dataDir);
}

/** Fine-tuning: read the program's init_from (relative to the trainer's directory) and copy its matching tensors into H. */
function loadInitFrom(p: Program, H: Float32Array, trainerUrl: string): InitFromReport {
  const path = p.meta.initFrom!;
  return loadInitFromFile(p, H, isAbsolute(path) ? path : resolve(dirname(fileURLToPath(trainerUrl)), path));
}

export function defaultDataDir(p: Program, trainerUrl: string): string {
  const path = p.meta.dataPath;
  if (isAbsolute(path)) return path;
  return resolve(dirname(fileURLToPath(trainerUrl)), path);
}

function fmt(x: number | null, d = 4): string {
  return x === null || Number.isNaN(x) ? "-" : x.toFixed(d);
}

/**
 * The first line's sample counts: those trained on, those held out for validation (drawn from the
 * training data by the seed, or the source's own validation part), and the test split.
 */
function samplesLine(p: Program, data: LoadedData): string {
  const n = data.train.n;
  const held = data.validation ? 0 : Math.round(n * p.data.validation);
  const val = data.validation ? `, ${data.validation.n} validation` : held > 0 ? ` (of ${n}: ${held} held out for validation)` : "";
  return `${n - held} training samples${val}${data.test ? `, ${data.test.n} test` : ""}`;
}

/**
 * A regression run's last figures (runtime/score.ts): on the test split when there is one, else on
 * the validation rows (the same the loop held out). `figures` go into the final metrics line
 * (test_mae, test_rmse, test_r2, or val_*), `text` onto the printed one.
 */
function regressionFigures(
  p: Program,
  be: Awaited<ReturnType<typeof createBackend>>,
  model: ReturnType<Program["create"]>,
  data: LoadedData,
  seed: number,
  result: TrainResult,
): { figures: Record<string, number | null>; text: string } | undefined {
  let ds = data.test;
  let rows: Int32Array | undefined;
  let split = "test";
  if (!ds) {
    split = "val";
    if (data.validation) ds = data.validation;
    else if (p.data.validation > 0) {
      ds = data.train;
      rows = splitValidation(data.train.n, p.data.validation, seed).val;
    }
  }
  if (!ds || (rows ?? { length: ds.n }).length === 0) return undefined;
  const s = scoreDataset(p, be, model, ds, result.preprocess, rows);
  const num = (x: number | null | undefined) => (x === undefined || x === null || !Number.isFinite(x) ? null : x);
  const figures = { [`${split}_mae`]: num(s.mae), [`${split}_rmse`]: num(s.rmse), [`${split}_r2`]: num(s.r2) };
  const text =
    (split === "val" ? ` (no test split) val_loss ${fmt(s.loss)}` : "") +
    ` ${split}_mae ${fmt(s.mae ?? null)} ${split}_rmse ${fmt(s.rmse ?? null)} ${split}_r2 ${fmt(s.r2 ?? null)}`;
  return { figures, text };
}

export interface TrainerHooks {
  /** Called after every step (the CLI draws its progress bar from it). */
  onStep?: (epoch: number, samplesDone: number, epochSamples: number, loss: number) => void;
  onEpoch?: (m: EpochMetrics) => void;
  /**
   * Called once every check has passed, right after the output directory was created and locked
   * and before the run's own files are written: dnnc train installs the spec and trainer there.
   */
  install?: (dir: string) => void;
  /** Called after each epoch's line was written to DIR/metrics.jsonl (dnnc train --report-live: the report). */
  afterEpoch?: (dir: string) => void;
  /** Called after the model is written, while the run directory is still locked (dnnc train: the report). */
  finish?: (dir: string) => void;
}

/** The checks of the data against the model and the checkpoint that can be made before writing. */
function checkDataPlan(p: Program, data: { train: Dataset; test?: Dataset }, plan: RunPlan): void {
  // with a preprocessing that changes the number of features the size is checked once fitted (train-loop)
  const size = ((p.data.preprocess ?? []) as unknown[]).length > 0 ? p.meta.inputSize : undefined;
  checkDataFits(p, data.train, "training data", size);
  if (data.test) checkDataFits(p, data.test, "test data", size);
  const ck = plan.resume?.checkpoint;
  if (ck && ck.state.batchStart >= data.train.n + p.meta.batch)
    throw new DnncError(
      `${ck.path}: loop state: field batchStart (${ck.state.batchStart}) is past the ${data.train.n} training samples; was this run trained on other data?`,
    );
}

export async function runTrainer(p: Program, argv: string[], trainerUrl: string, hooks: TrainerHooks = {}): Promise<TrainResult | undefined> {
  const args = parseTrainerArgs(argv);
  if (args === "help") {
    process.stdout.write(`${p.meta.name}: trainer compiled by dnnc ${p.meta.dnncVersion} from ${p.meta.file}\n${USAGE}\n`);
    return undefined;
  }
  // plan: everything that can refuse the run, before anything is written
  const plan = planRun({ out: args.out, resume: args.resume }, p);
  const dataDir = args.data ?? defaultDataDir(p, trainerUrl);
  const data = await loadDataStreaming(p, dataDir);
  checkDataPlan(p, data, plan);
  // a second thread only splits GEMMs of >= PARALLEL_MIN_MACS multiply-adds; when the model has none,
  // shared memory would only slow its JavaScript loops down (measured: conv models), so stay on one
  const threads = args.threads > 1 && (p.meta.maxGemmMacs ?? Infinity) < PARALLEL_MIN_MACS ? 1 : args.threads;
  if (threads !== args.threads && !args.quiet && !args.bench && !args.json)
    process.stdout.write(`note: no GEMM of this model is large enough to split (largest ${p.meta.maxGemmMacs} multiply-adds); training on 1 thread\n`);
  const be = await createBackend(p.meta.heapFloats, {
    backend: args.backend,
    threads,
    relaxed: args.fma,
    convColFloats: p.meta.convColFloats,
  });
  let run: RunDir | undefined;
  try {
    let resume: { state: LoopState; best?: Float32Array } | undefined;
    const out = plan.out;
    const seed0 = args.seed ?? p.train.seed;
    if (plan.resume) {
      // seeds must match the interrupted run: they come from the checkpoint
      resume = {
        state: { ...plan.resume.checkpoint.state, lossTrace: Array.from(plan.resume.trace) },
        best: restoreCheckpoint(plan.resume.checkpoint, p, be.H),
      };
      if (plan.resume.note && !args.quiet) process.stderr.write(`note: ${plan.resume.note}\n`);
      // a checkpoint is only "good" when it is finite: refused before the first write, like every other check
      const bad = findNonFiniteCheckpoint(be.H, p, resume.best);
      if (bad)
        throw new DnncError(`${plan.resume.checkpoint.path}: ${describeNonFinite(bad)}; refusing to resume from a checkpoint that holds a non-finite value`);
    }
    const seed = resume?.state.seed ?? seed0;
    const model = p.create(be, seed);
    if (!resume) model.init(); // when resuming, the heap already holds the checkpoint's state
    // fine-tuning: the tensors of another run's model, matched by name, over the fresh initialisation
    const initFrom = !resume && p.meta.initFrom !== undefined ? loadInitFrom(p, be.H, trainerUrl) : undefined;
    let lastCheckpoint: string | undefined = plan.resume ? (out !== undefined ? join(out, CHECKPOINT_FILE) : plan.resume.checkpoint.path) : undefined;
    // the first write: create and lock the output directory, then its first files
    if (out !== undefined) {
      run = openRunDir({ ...plan, out }, hooks.install);
      rmSync(join(out, STATUS_FILE), { force: true }); // a divergence of an earlier attempt is history now
    }
    const resumedFrom = plan.resume?.from;
    plan.resume = undefined; // its tensors are in the heap now: let the checkpoint's bytes go
    const lines: string[] = resume ? resume.state.metrics.map((m) => JSON.stringify(m)) : [];
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      if (!args.quiet) process.stderr.write("\ninterrupt: finishing the current step and writing a checkpoint (press Ctrl-C again to quit now)\n");
    };
    process.on("SIGINT", onSigint);
    const say = (s: string) => {
      if (!args.quiet && !args.bench && !args.json) process.stdout.write(s + "\n");
    };
    say(`${p.meta.name}: ${samplesLine(p, data)}, batch ${p.meta.batch}, backend ${be.name} (${be.threads} thread${be.threads > 1 ? "s" : ""})`);
    // a directory of classes: which files (or folders) became which class (a stray file is a class too)
    if (data.metadata?.classes !== undefined)
      say(
        `classes (by ${p.data.source.kind === "image_folder" ? "folder" : "file"}): ${(JSON.parse(data.metadata.classes) as string[]).map((c, i) => `${i} ${c}`).join(", ")}`,
      );
    if (initFrom) {
      const trained = new Set(p.segments.map((s) => s.name));
      for (const line of describeInitFrom(
        initFrom,
        p.tensors.filter((t) => t.kind === "param" && !trained.has(t.name)).map((t) => t.name),
      ))
        say(line);
    }
    if (args.bench) process.stdout.write(JSON.stringify({ event: "start", backend: be.name, threads: be.threads }) + "\n");
    const regression = isRegression(p) && p.meta.positions === undefined;
    let curEpoch = resume?.state.epoch ?? 1;
    // for the report (run-record.ts): the rate of every step, and a sample of the test predictions
    const info = resumedRunInfo(resumedFrom, resume?.state.step ?? 0);
    const lrRecord = new LrRecord(info.lrSteps);
    const predictions = data.test ? new PredictionCollector(p, data.test, isRegression(p)) : undefined;
    let winStart = performance.now();
    let winSamples = 0;
    const t0 = performance.now();
    const result = await trainAsync(p, be, model, data, {
      epochs: args.epochs,
      seed,
      maxSteps: args.maxSteps,
      resume: resume?.state,
      bestBuffer: (b) => {
        if (resume?.best && resume.best.length === b.length) b.set(resume.best);
      },
      checkpointEveryEpochs: out ? args.checkpointEvery : undefined,
      checkpointEverySteps: out ? args.checkpointSteps : undefined,
      interrupted: () => interrupted,
      onCheckpoint: (kind, state, best) => {
        if (!out) return;
        const bad = findNonFiniteCheckpoint(be.H, p, best);
        if (bad)
          throw new DnncError(
            `not writing a poisoned checkpoint at step ${state.step}: ${describeNonFinite(bad)}${lastCheckpoint ? `; the last good checkpoint is ${lastCheckpoint}` : ""}`,
          );
        const path = join(out, kind === "best" ? BEST_FILE : CHECKPOINT_FILE);
        run?.flushTrace(true); // the trace holds the checkpoint's steps before the checkpoint names them
        writeCheckpoint(path, p, be.H, state, best, kind);
        if (kind !== "best") lastCheckpoint = path;
      },
      lastCheckpoint: () => lastCheckpoint,
      onStep: (step, loss, done, total, lr) => {
        run?.appendLoss(loss);
        lrRecord.add(step, lr);
        hooks.onStep?.(curEpoch, done, total, loss);
        if (!args.bench) return;
        winSamples += p.meta.batch;
        const now = performance.now();
        if (now - winStart >= 1000) {
          process.stdout.write(JSON.stringify({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000 }) + "\n");
          winStart = now;
          winSamples = 0;
        }
      },
      onEpoch: (m: EpochMetrics) => {
        curEpoch = m.epoch + 1;
        hooks.onEpoch?.(m);
        lines.push(JSON.stringify(m));
        if (args.json) process.stdout.write(JSON.stringify({ event: "epoch", ...m }) + "\n");
        else
          say(
            `epoch ${m.epoch}: train_loss ${fmt(m.train_loss)}${regression ? "" : ` train_acc ${fmt(m.train_acc)}`} val_loss ${fmt(m.val_loss)}${regression ? "" : ` val_acc ${fmt(m.val_acc)}`}` +
              (m.train_bpc !== undefined ? ` train_bpc ${fmt(m.train_bpc)} val_bpc ${fmt(m.val_bpc ?? null)} val_ppl ${fmt(m.val_ppl ?? null, 2)}` : "") +
              ` lr ${m.lr.toPrecision(3)} (${m.seconds.toFixed(1)} s)`,
          );
        if (out) {
          writeFileAtomicSync(join(out, "metrics.jsonl"), lines.join("\n") + "\n");
          run?.flushTrace(false);
          hooks.afterEpoch?.(out);
        }
      },
      onTestOutput: predictions?.active ? predictions.sink : undefined,
    }).catch((e: unknown) => {
      // `dnnc runs` tells a diverged run from an interrupted one by this file (the run is locked still)
      if (out !== undefined && e instanceof DnncError && e.message.startsWith("training diverged"))
        writeFileAtomicSync(join(out, STATUS_FILE), JSON.stringify({ status: "diverged", error: e.message }) + "\n");
      throw e;
    });
    // regression: the mean absolute error, RMSE and R² of the test split (else of the validation
    // split), with the weights the run keeps
    const reg = regression ? regressionFigures(p, be, model, data, seed, result) : undefined;
    const final = {
      test_loss: result.test_loss,
      test_acc: result.test_acc,
      ...(result.test_bpc !== undefined ? { test_ppl: result.test_ppl, test_bpc: result.test_bpc } : {}),
      ...(reg?.figures ?? {}),
    };
    lines.push(JSON.stringify(final));
    if (args.bench)
      process.stdout.write(
        JSON.stringify({
          event: "done",
          test_acc: result.test_acc,
          test_loss: result.test_loss,
          max_rss_kb: process.resourceUsage().maxRSS,
          seconds: (performance.now() - t0) / 1000,
        }) + "\n",
      );
    else if (args.json) process.stdout.write(JSON.stringify({ event: "test", ...final }) + "\n");
    else
      say(
        `test_loss ${fmt(result.test_loss)}${reg ? reg.text : ` test_acc ${fmt(result.test_acc)}`}${result.test_bpc !== undefined ? ` test_bpc ${fmt(result.test_bpc ?? null)} test_ppl ${fmt(result.test_ppl ?? null, 2)}` : ""}${result.stoppedEarly ? ` (stopped early; best epoch ${result.bestEpoch} restored)` : result.bestEpoch !== null ? ` (best epoch ${result.bestEpoch} restored)` : ""}`,
      );
    if (out) {
      run?.flushTrace(true);
      // nothing non-finite is written as the model (the loop checked it too; this guards the file)
      // the weights, then what the data's preprocessing fitted (a time series' standardization; the vocabulary is metadata)
      const tensors = [...modelTensors(p, be.H), ...(result.preprocess ? preprocessTensors(result.preprocess) : []), ...(data.tensors ?? [])];
      const nf = tensors.find((t) => !t.data.every(Number.isFinite));
      if (nf) throw new DnncError(`not writing ${join(out, "model.safetensors")}: tensor ${nf.name} holds ${nf.data.find((v) => !Number.isFinite(v))}`);
      writeFileAtomicSync(join(out, "metrics.jsonl"), lines.join("\n") + "\n");
      const classes =
        data.metadata?.classes !== undefined
          ? (JSON.parse(data.metadata.classes) as string[])
          : result.confusion
            ? classNamesFile(dataDir, result.confusion.length, (l) => !args.quiet && process.stderr.write(l + "\n"))
            : undefined;
      if (result.confusion)
        writeFileAtomicSync(
          join(out, "confusion.json"),
          JSON.stringify({ matrix: result.confusion, ...(classes?.length === result.confusion.length ? { classes } : {}) }) + "\n",
        );
      if (predictions?.active) writeFileAtomicSync(join(out, "predictions.json"), JSON.stringify(predictions.toJSON()) + "\n");
      writeFileAtomicSync(
        join(out, "run.json"),
        JSON.stringify({
          name: p.meta.name,
          bestEpoch: result.bestEpoch,
          stoppedEarly: result.stoppedEarly,
          steps: result.steps,
          seed,
          divergences: result.divergences,
          ...(initFrom ? { initFrom } : {}),
        }) + "\n",
      );
      // for the report: when, with which settings (the epochs in effect), and the rate of each step
      writeFileAtomicSync(
        join(out, RUN_INFO_FILE),
        JSON.stringify({
          started: info.started,
          finished: new Date().toISOString(),
          train: { ...p.train, epochs: args.epochs ?? p.train.epochs },
          data: { ...p.data, vocab: undefined },
          lr_steps: lrRecord.points(),
        }) + "\n",
      );
      writeFileAtomicSync(
        join(out, "model.safetensors"),
        encodeSafetensors(
          tensors,
          modelMetadata(p, {
            seed: String(seed),
            steps: String(result.steps),
            ...(result.preprocess ? preprocessMetadata(result.preprocess) : {}),
            ...(data.metadata ?? {}),
            // the sizes `auto` took from the data: dnnc export recompiles the spec with them
            ...(p.data.auto !== undefined ? { auto: JSON.stringify(p.data.auto) } : {}),
          }),
        ),
      );
      say(`wrote ${join(out, "metrics.jsonl")} and ${join(out, "model.safetensors")}`);
      hooks.finish?.(out);
    }
    process.off("SIGINT", onSigint);
    return result;
  } finally {
    run?.close();
    be.close();
  }
}

/**
 * What a trainer interrupted by SIGINT prints (not an error: the run can go on): the step, where
 * the checkpoint went, and the command that resumes it (the same flags, with --resume DIR).
 */
export function interruptLine(e: Error & { step?: number }, argv: string[], trainer: string): string {
  let dir: string | undefined;
  try {
    const a = parseTrainerArgs(argv);
    if (a !== "help") dir = a.out ?? a.resume;
  } catch {
    // the flags were parsed once already
  }
  const step = typeof e.step === "number" ? `interrupted after step ${e.step}` : e.message;
  if (!dir) return `${step} (no --out: no checkpoint was written)`;
  const named = (f: string) => f === "--out" || f === "--resume";
  const rest = argv.filter((f, i) => !named(f) && !(i > 0 && named(argv[i - 1])) && !/^--(out|resume)=/.test(f));
  return `${step}; checkpoint written to ${join(dir, CHECKPOINT_FILE)}; resume with: node ${trainer} --resume ${dir}${rest.length ? " " + rest.join(" ") : ""}`;
}

/**
 * Run the trainer when its file is the process's entry point. The trainer's error boundary (as
 * compiler/entry.ts is the CLI's): user errors and expected system errors (ENOENT, EROFS, ENOSPC,
 * ...: asUserError) are one line "error: PATH: reason" and their exit code, without a stack; an
 * interrupt (SIGINT: a checkpoint was written) is a plain line with the command that resumes, exit
 * 130; anything else is an internal error with its stack, exit 70.
 */
export function runMain(p: Program, trainerUrl: string): void {
  const entry = process.argv[1];
  if (!entry || pathToFileURL(resolve(entry)).href !== trainerUrl) return;
  const argv = process.argv.slice(2);
  runTrainer(p, argv, trainerUrl).then(
    () => process.exit(0),
    (e: unknown) => {
      const user = asUserError(e);
      if (user?.exitCode === 130) {
        process.stderr.write(interruptLine(user, argv, entry) + "\n");
        process.exit(130);
      }
      if (user) {
        process.stderr.write(`error: ${user.message}\n`);
        process.exit(user.exitCode);
      }
      process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(70);
    },
  );
}
