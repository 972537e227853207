// The training loop shared by every generated trainer: epochs of shuffled mini-batches (gathered
// from bytes into the heap, no allocation per step), loss and its gradient, backward, clipping,
// the optimizer sweep, max-norm projection, the learning-rate schedule, evaluation on the
// validation and test splits, early stopping with best-weights restore (always, also when it did
// not stop early), and divergence detection. Platform-neutral: files and the CLI live in node/main.ts.
//
// Non-finite values (NaN, ±Infinity) are caught where they first show, and the run stops with
// the step, the epoch and the first culprit (a parameter, a running statistic, the input, the
// model's output) unless on_divergence skip|lower_lr can undo the step. The kernels propagate
// NaN as PyTorch does (relu(NaN) = NaN, max pooling picks a NaN), so a NaN or infinite
// parameter, input or activation makes the loss non-finite in the same forward pass; the loss is
// checked every step, the running statistics (small) too, since batch norm in training mode does
// not read them. A parameter that turns infinite without making the loss non-finite (a saturating
// tanh or sigmoid after it) is found by a scan of the parameters every PARAM_SCAN_STEPS steps, at
// every epoch's end (so also after the last update) and before the best weights are kept, and a
// resumed checkpoint when it is loaded: no non-finite model, snapshot or checkpoint leaves this
// loop (node/main.ts scans checkpoints and the model file once more before writing them).
import type { Backend } from "./backend";
import type { Dataset } from "./data/dataset";
import { gatherBatch, splitValidation } from "./data/batch";
import { EarlyStopping } from "./early-stopping";
import { DnncError } from "./errors";
import { lossForward } from "./loss";
import {
  describeNonFinite,
  findNonFinite,
  findNonFiniteCheckpoint,
  findNonFiniteInput,
  findNonFiniteModel,
  findNonFiniteOutput,
  findNonFiniteStats,
} from "./divergence";
import { type OptimLayout, type OptimizerConfig } from "./optim";
import { makeClipGradNorm, makeOptimizerStep } from "./optim-fast";
import { applyMaxNorm, clipGradValue } from "./regularize";
import { Rng, streamId } from "./rng";
import { Augmenter, type AugmentSpec } from "./augment";
import { applyPreprocess, fitPreprocessOn, preprocessScratchSize, type FittedPreprocess, type PreprocessSpec } from "./preprocess";
import { learningRate, observeMetric, initialScheduleState, type Schedule } from "./schedule";
import type { Model, Program } from "./program";

export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_acc: number | null;
  val_loss: number | null;
  val_acc: number | null;
  lr: number;
  seconds: number;
  /**
   * A class at every position (language models, meta.positions): perplexity exp(loss) and bits
   * per token loss / ln 2 (bits per character for a character model), of the training mean and of
   * the validation set.
   */
  train_ppl?: number;
  train_bpc?: number;
  val_ppl?: number | null;
  val_bpc?: number | null;
}

/** Perplexity and bits per token of a mean cross-entropy (nats). */
export const perplexity = (loss: number) => Math.exp(loss);
export const bitsPerToken = (loss: number) => loss / Math.LN2;

export interface TrainResult {
  epochs: EpochMetrics[];
  test_loss: number | null;
  test_acc: number | null;
  /** Language models (a class at every position): the test set's perplexity and bits per token. */
  test_ppl?: number | null;
  test_bpc?: number | null;
  /** Mean training loss of every step (for golden loss traces). */
  lossTrace: number[];
  stoppedEarly: boolean;
  bestEpoch: number | null;
  /** With early stopping every N steps: the step whose weights were kept. */
  bestStep?: number;
  steps: number;
  /** The input preprocessing fitted on the training rows (stored with the model). */
  preprocess?: FittedPreprocess;
  /** Test-set confusion matrix (rows: true class, columns: predicted), for classification. */
  confusion?: number[][];
  /** Steps skipped or learning-rate cuts made because of a non-finite loss or gradient. */
  divergences: number;
}

export interface TrainOptions {
  epochs?: number;
  seed?: number;
  /** Stop after this many optimizer steps (golden tests, quick runs). */
  maxSteps?: number;
  onEpoch?: (m: EpochMetrics) => void;
  /** After every optimizer step; `lr`: the rate that step used (the schedule's, times on_divergence's cuts). */
  onStep?: (step: number, loss: number, samplesInEpoch: number, epochSamples: number, lr: number) => void;
  /**
   * In the final test evaluation, for each test sample: its row in the test set, and the heap with
   * the model's k outputs for it at `out` (the run report's misclassified samples and predicted-vs-true plots).
   */
  onTestOutput?: (row: number, H: Float32Array, out: number, k: number) => void;
  /** The path of the last checkpoint written (named when training diverges). */
  lastCheckpoint?: () => string | undefined;
  /** Polled after every step: when true, the run ends there as at maxSteps (the library's AbortSignal). */
  stop?: () => boolean;
}

/**
 * Steps between two scans of the parameters for non-finite values that left the loss finite (one
 * scan of M1's 270k parameters takes 0.4-0.6 ms, ~8% of a step; every 50 steps, ~0.2%).
 */
export const PARAM_SCAN_STEPS = 50;

export function optimLayout(p: Program): OptimLayout {
  return { P: p.layout.P, G: p.layout.G, S: p.layout.S, N: p.layout.N, segments: p.segments };
}

export function optimizerConfig(p: Program): OptimizerConfig {
  const o = p.train.optimizer as Record<string, unknown>;
  switch (o.kind) {
    case "sgd":
      return { kind: "sgd", momentum: o.momentum as number, dampening: o.dampening as number, nesterov: o.nesterov as boolean };
    case "adagrad":
      return {
        kind: "adagrad",
        eps: o.eps as number,
        initialAccumulatorValue: o.initialAccumulator as number,
        lrDecay: (o.lrDecay as number | undefined) ?? 0,
      };
    case "rmsprop":
      return { kind: "rmsprop", alpha: o.alpha as number, eps: o.eps as number, momentum: o.momentum as number, centered: o.centered as boolean };
    default:
      return { kind: o.kind as "adam" | "adamw", beta1: o.beta1 as number, beta2: o.beta2 as number, eps: o.eps as number, amsgrad: o.amsgrad as boolean };
  }
}

/** `horizon`: the run's length in the schedule's unit (its epochs, --epochs included, or its steps
 * with schedule_per step); cosine without t_max spans it. */
export function scheduleConfig(p: Program, horizon = p.train.epochs): Schedule {
  const s = p.train.schedule;
  const a = s.args as Record<string, number & number[]>;
  const lr = p.train.optimizer.lr;
  const common = { lr, per: s.per, ...(s.warmup > 0 ? { warmup: { length: s.warmup } } : {}) };
  switch (s.kind) {
    case "inverse_time":
      return { ...common, kind: "inverse_time", decay: a.decay };
    case "exponential":
      return { ...common, kind: "exponential", gamma: a.gamma };
    case "step":
      return { ...common, kind: "step", every: a.every, gamma: a.factor };
    case "multistep":
      return { ...common, kind: "multistep", milestones: a.milestones, gamma: a.gamma };
    case "cosine":
      return { ...common, kind: "cosine", tMax: a.t_max ?? horizon, etaMin: a.eta_min };
    case "cosine_restarts":
      return { ...common, kind: "cosine_restarts", t0: a.t_0, tMult: a.t_mult, etaMin: a.eta_min };
    case "plateau":
      return {
        ...common,
        kind: "plateau",
        mode: (s.args.monitor as string) === "val_acc" ? "max" : "min",
        factor: a.factor,
        patience: a.patience,
        threshold: a.threshold,
        cooldown: a.cooldown,
        minLr: a.min_lr,
      };
    default:
      return { ...common, kind: "constant" };
  }
}

/**
 * Moves batches from a dataset into the heap: gather (bytes → floats, scale, shift), augment
 * (training only), then the fitted preprocessing. When preprocessing changes the number of
 * features (pca/whiten with k), rows are gathered into a side buffer allocated once and the
 * result is copied into the heap.
 */
export class BatchFeeder {
  private raw?: Float32Array;
  private rawLabels = 0;
  private scratch: Float32Array;
  private augmenter?: Augmenter;
  constructor(
    private p: Program,
    private H: Float32Array,
    private pre: FittedPreprocess | undefined,
    dataFeatures: number,
  ) {
    const B = p.meta.batch;
    if (pre && pre.outDim !== p.meta.inputSize)
      throw new DnncError(`preprocessing ${pre.kind} gives ${pre.outDim} features, but the model's input has ${p.meta.inputSize}`);
    // features in [0, B*F), labels after them at rawLabels
    if (pre && pre.inDim !== p.meta.inputSize) {
      this.rawLabels = B * Math.max(dataFeatures, pre.outDim);
      this.raw = new Float32Array(this.rawLabels + B);
    }
    this.scratch = new Float32Array(pre ? preprocessScratchSize(pre) : 0);
    const aug = (p.data.augment ?? []) as unknown as { kind: string; args: Record<string, unknown> }[];
    if (aug.length > 0) {
      const [C, Hh, W] = p.meta.inputShape;
      this.augmenter = new Augmenter(
        aug.map((a) => ({ kind: a.kind, ...a.args }) as AugmentSpec),
        { C, H: Hh, W },
      );
    }
  }
  feed(ds: Dataset, order: Int32Array, s: number, n: number, train: boolean, seed: number, epoch: number): void {
    const p = this.p;
    const H = this.H;
    const target = this.raw ?? H;
    const xOff = this.raw ? 0 : p.layout.x;
    gatherBatch(target, ds, order, s, n, xOff, this.raw ? this.rawLabels : p.layout.labels, p.data.scale, p.data.shift);
    if (this.raw) for (let i = 0; i < n; i++) H[p.layout.labels + i] = this.raw[this.rawLabels + i];
    if (train && this.augmenter) {
      const [C, Hh, W] = p.meta.inputShape;
      this.augmenter.applyBatch(target, xOff, n, C, Hh, W, seed, epoch, order, s); // sample keys: order[s..s+n)
    }
    if (this.pre) {
      applyPreprocess(this.pre, target, xOff, n, this.scratch);
      if (this.raw) H.set(this.raw.subarray(0, n * this.pre.outDim), p.layout.x);
    }
    prepareTargets(p, H, n, ds);
    // padded sequences: each sample's valid length (full length when the dataset has none)
    const L = p.layout.lengths;
    if (L !== undefined) {
      const T = p.meta.inputShape[0];
      for (let i = 0; i < n; i++) H[L + i] = ds.lengths ? ds.lengths[order[s + i]] : T;
    }
  }
}

/** Fit the spec's preprocessing on the training rows only. */
export function fitPreprocessing(p: Program, ds: Dataset, trainRows: Int32Array): FittedPreprocess | undefined {
  const list = (p.data.preprocess ?? []) as unknown as { kind: string; args: Record<string, unknown> }[];
  if (list.length === 0) return undefined;
  const spec = { kind: list[0].kind, ...list[0].args } as PreprocessSpec;
  const F = ds.shape.reduce((a, b) => a * b, 1);
  // fit on what the model sees: x * scale + shift (for float data, a scaled copy made once)
  const scaled = (x: Float32Array) => (p.data.scale === 1 && p.data.shift === 0 ? x : x.map((v) => v * p.data.scale + p.data.shift));
  const source =
    ds.x instanceof Uint8Array
      ? { kind: "u8" as const, data: ds.x, rowLength: F, scale: p.data.scale, shift: p.data.shift }
      : { kind: "f32" as const, data: scaled(ds.x as Float32Array), rowLength: F };
  const shape = ds.shape.length === 3 ? { C: ds.shape[0], H: ds.shape[1], W: ds.shape[2] } : undefined;
  return fitPreprocessOn(spec, source, trainRows, shape);
}

/** Evaluate (loss, accuracy) on rows `order` of `ds` in eval mode. */
export function evaluate(
  p: Program,
  be: Backend,
  model: Model,
  ds: Dataset,
  order: Int32Array,
  feeder?: BatchFeeder,
  confusion?: number[][],
  sink?: (row: number, H: Float32Array, out: number, k: number) => void,
): { loss: number; acc: number | null } {
  const B = p.meta.batch;
  const H = be.H;
  const feed =
    feeder ??
    new BatchFeeder(
      p,
      H,
      undefined,
      ds.shape.reduce((a, b) => a * b, 1),
    );
  let lossSum = 0;
  let correct = 0;
  let count = 0; // targets: samples, or the positions of a sequence that are not padding
  for (let s = 0; s < order.length; s += B) {
    const n = Math.min(B, order.length - s);
    feed.feed(ds, order, s, n, false, 0, 0);
    model.forward(n, false, 0);
    const r = lossForward(H, p, n, false);
    lossSum += r.loss * r.count;
    correct += r.correct;
    count += r.count;
    if (confusion) {
      const k = p.meta.outputSize;
      for (let i = 0; i < n; i++) {
        let a = 0;
        for (let j = 1; j < k; j++) if (H[p.layout.out + i * k + j] > H[p.layout.out + i * k + a]) a = j;
        const t = ds.y[order[s + i]];
        if (confusion[t]) confusion[t][a]++;
      }
    }
    if (sink) for (let i = 0; i < n; i++) sink(order[s + i], H, p.layout.out + i * p.meta.outputSize, p.meta.outputSize);
  }
  return { loss: count > 0 ? lossSum / count : NaN, acc: ds.classes !== undefined && count > 0 ? correct / count : null };
}

/** For losses other than softmax cross-entropy on class data, expand labels to one-hot rows in place. */
export function prepareTargets(p: Program, H: Float32Array, n: number, ds: Dataset): void {
  if (p.loss.kind === "softmax_cross_entropy" || ds.classes === undefined) return;
  const k = p.meta.outputSize;
  const y = p.layout.labels;
  if (k === 1) return; // binary with one logit: the label itself (0/1) is the target
  for (let i = n - 1; i >= 0; i--) {
    const c = H[y + i];
    H.fill(0, y + i * k, y + (i + 1) * k);
    H[y + i * k + c] = 1;
  }
}

/**
 * Truncated BPTT's batch order (PyTorch's word_language_model `batchify`): the rows, in order, cut
 * into `tracks` = min(B, rows) contiguous tracks of K = ⌊rows / tracks⌋ rows (the remainder is not
 * used); batch j holds row j of every track, so row b of batch j + 1 continues row b of batch j.
 * order[j * tracks + b] = rows[b * K + j].
 */
export function trackOrder(rows: Int32Array, B: number): Int32Array {
  const tracks = Math.min(B, rows.length);
  const K = tracks > 0 ? Math.floor(rows.length / tracks) : 0;
  const order = new Int32Array(tracks * K);
  for (let j = 0; j < K; j++) for (let b = 0; b < tracks; b++) order[j * tracks + b] = rows[b * K + j];
  return order;
}

function range(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

export function checkDataFits(p: Program, ds: Dataset, what: string, preprocessedSize?: number): void {
  if ((preprocessedSize ?? ds.shape.reduce((a, b) => a * b, 1)) !== p.meta.inputSize)
    throw new DnncError(`${what}: samples have shape [${ds.shape.join(", ")}] but the model's input is [${p.meta.inputShape.join(", ")}]`);
  if (p.loss.kind === "softmax_cross_entropy") {
    if (ds.classes === undefined) throw new DnncError(`${what}: softmax_cross_entropy needs class labels, but the targets are real values`);
    const logits = p.meta.outputSize / (p.meta.positions ?? 1); // per position of a sequence output
    if (ds.classes > logits)
      throw new DnncError(`${what}: the data has ${ds.classes} classes but the model outputs ${logits} logits${p.meta.positions ? " at each position" : ""}`);
  }
}

/** Everything a checkpoint holds besides the heap's parameters, optimizer state and statistics. */
export interface LoopState {
  /** The epoch in progress (1-based) and the next batch start within it. */
  epoch: number;
  batchStart: number;
  step: number;
  lossSum: number;
  correct: number;
  seen: number;
  epochStartMs: number;
  schedule: ReturnType<typeof initialScheduleState>;
  earlyStopping: ReturnType<EarlyStopping["toJSON"]> | null;
  bestEpoch: number | null;
  metrics: EpochMetrics[];
  /**
   * The loss of every step so far (steps 1..step). Not written into checkpoints (their writes grew
   * with the run's length): the trainer keeps it in its own append-only file and hands it back
   * here when resuming. Checkpoints of earlier versions carry it in their loop state.
   */
  lossTrace?: number[];
  seed: number;
}

export interface CheckpointHooks {
  /** Resume from this state (the caller has restored the heap: parameters, optimizer state, statistics, best snapshot). */
  resume?: LoopState;
  /** Called with the state at checkpoint points; `best` is the best-weights snapshot (or undefined). */
  onCheckpoint?: (kind: "epoch" | "steps" | "interrupt" | "best", state: LoopState, best: Float32Array | undefined) => void;
  checkpointEveryEpochs?: number;
  checkpointEverySteps?: number;
  /** Polled after every step: when true, write an "interrupt" checkpoint and stop. */
  interrupted?: () => boolean;
  /** Receives the best-weights buffer once allocated, so a resuming caller can fill it. */
  bestBuffer?: (best: Float32Array) => void;
}

/** Train to completion synchronously (tests, workers). */
export function train(
  p: Program,
  be: Backend,
  model: Model,
  data: { train: Dataset; validation?: Dataset; test?: Dataset },
  opts: TrainOptions & CheckpointHooks = {},
): TrainResult {
  const g = trainSteps(p, be, model, data, opts);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Train, yielding to the event loop every ~50 ms so that signals (SIGINT) are seen between steps. */
export async function trainAsync(
  p: Program,
  be: Backend,
  model: Model,
  data: { train: Dataset; validation?: Dataset; test?: Dataset },
  opts: TrainOptions & CheckpointHooks = {},
): Promise<TrainResult> {
  const g = trainSteps(p, be, model, data, opts);
  let last = Date.now();
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (Date.now() - last > 50) {
      await new Promise<void>((res) => setImmediate(res));
      last = Date.now();
    }
  }
}

/** The loop itself, as a generator that yields after every optimizer step. */
export function* trainSteps(
  p: Program,
  be: Backend,
  model: Model,
  data: { train: Dataset; validation?: Dataset; test?: Dataset },
  opts: TrainOptions & CheckpointHooks = {},
): Generator<void, TrainResult> {
  const H = be.H;
  // the optimizer sweep and the global gradient norm run in WebAssembly SIMD on the wasm backend (same bytes)
  const optimizerStep = makeOptimizerStep(be);
  const clipGradNorm = makeClipGradNorm(be);
  const B = p.meta.batch;
  const resume = opts.resume;
  const seed = resume?.seed ?? opts.seed ?? p.train.seed;
  const epochs = opts.epochs ?? p.train.epochs;
  // a source that splits by position (a corpus, a time series) gives its own validation set;
  // otherwise the validation rows are drawn from the training set by the seed
  const split = data.validation ? { train: range(data.train.n), val: range(data.validation.n) } : splitValidation(data.train.n, p.data.validation, seed);
  const valSet = data.validation ?? data.train;
  const pre = fitPreprocessing(p, data.train, split.train);
  checkDataFits(p, data.train, "training data", pre?.outDim);
  if (data.test) checkDataFits(p, data.test, "test data", pre?.outDim);
  const feeder = new BatchFeeder(
    p,
    H,
    pre,
    data.train.shape.reduce((a, b) => a * b, 1),
  );
  // truncated BPTT (p.train.tbptt): the windows in order as contiguous tracks, never shuffled; the
  // recurrent layers carry their state from one batch to the next, from zero at each epoch's start,
  // and the validation and test windows are evaluated the same way (tracks, from a zero state)
  const tbptt = p.train.tbptt === true && model.resetState !== undefined && model.carryState !== undefined;
  if (tbptt) model.carryState!(true);
  const order = tbptt ? trackOrder(split.train, B) : split.train;
  if (order.length === 0) throw new DnncError("training data: no training samples");
  const valOrder = tbptt ? trackOrder(split.val, B) : split.val;
  /** Loss and accuracy on `ds` in eval mode (stateful models: from a zero state, in track order). */
  const evalOn = (ds: Dataset, rows: Int32Array, confusion?: number[][], sink?: TrainOptions["onTestOutput"]) => {
    if (tbptt) model.resetState!();
    return evaluate(p, be, model, ds, rows, feeder, confusion, sink);
  };
  const layout = optimLayout(p);
  const opt = optimizerConfig(p);
  const sched = scheduleConfig(p, p.train.schedule.per === "step" ? epochs * Math.ceil(order.length / B) : epochs);
  const schedState = resume ? { ...resume.schedule } : initialScheduleState(sched);
  const es = p.train.earlyStopping;
  const stopper = es ? new EarlyStopping({ monitor: es.monitor, mode: es.mode, patience: es.patience, minDelta: es.minDelta }) : undefined;
  if (stopper && resume?.earlyStopping) stopper.state = { ...resume.earlyStopping };
  // best weights: parameters and running statistics, copied into buffers allocated once
  const statTensors = p.tensors.filter((t) => t.kind === "stat");
  const best = stopper ? new Float32Array(p.layout.N + statTensors.reduce((a, t) => a + t.size, 0)) : undefined;
  if (best) opts.bestBuffer?.(best);
  // a checkpoint is only "good" when it is finite: refuse to resume from one that is not
  if (resume) {
    const f = findNonFiniteCheckpoint(H, p, best);
    if (f)
      throw new DnncError(
        `${opts.lastCheckpoint?.() ?? "the checkpoint"}: ${describeNonFinite(f)}; refusing to resume from a checkpoint that holds a non-finite value`,
      );
  }
  const diverged = (where: string, what: string, hint = "lower the learning rate, add clip_norm, or set on_divergence skip") =>
    new DnncError(`training diverged ${where}: ${what}${opts.lastCheckpoint?.() ? `; the last good checkpoint is ${opts.lastCheckpoint()}` : ""}; ${hint}`);
  /** The parameters and running statistics must be finite (else the run stops, naming the first culprit). */
  const expectFiniteModel = (where: string, since: string) => {
    const f = findNonFiniteModel(H, p);
    if (f) throw diverged(where, `${describeNonFinite(f)} (${since})`);
  };
  const snapshot = (to: boolean) => {
    if (!best) return;
    if (to) expectFiniteModel(`at step ${step} (epoch ${epoch})`, "found before keeping the best weights");
    let o = p.layout.N;
    if (to) best.set(H.subarray(p.layout.P, p.layout.P + p.layout.N), 0);
    else H.set(best.subarray(0, p.layout.N), p.layout.P);
    for (const t of statTensors) {
      if (to) best.set(H.subarray(t.offset, t.offset + t.size), o);
      else H.set(best.subarray(o, o + t.size), t.offset);
      o += t.size;
    }
  };
  const lossTrace: number[] = resume?.lossTrace ? [...resume.lossTrace] : [];
  const result: TrainResult = {
    epochs: resume ? [...resume.metrics] : [],
    test_loss: null,
    test_acc: null,
    lossTrace,
    stoppedEarly: false,
    bestEpoch: resume?.bestEpoch ?? null,
    steps: 0,
    preprocess: pre,
    divergences: 0,
  };
  const onDiv = (p.train.onDivergence as string | undefined) ?? "stop";
  const statTensorsAll = p.tensors.filter((t) => t.kind === "stat");
  const statsBackup = new Float32Array(statTensorsAll.reduce((a, t) => a + t.size, 0));
  const statsBad = (): string | undefined => {
    const f = findNonFiniteStats(H, p);
    return f && `${describeNonFinite(f)} (after this step's forward pass, with a finite loss)`;
  };
  let lrFactor = 1;
  let step = resume?.step ?? 0;
  let lr = learningRate(sched, 0, 0, schedState);
  const shuffleStream = streamId("data:shuffle");
  const firstEpoch = resume?.epoch ?? 1;
  // the order is shuffled in place every epoch: replay the shuffles of the epochs before the first
  if (!tbptt) for (let e = 1; e < firstEpoch; e++) new Rng(seed, shuffleStream ^ e).shuffle(order);
  let reachedMax = false;
  let stopNow = false;
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  let epochStart = Date.now();
  let batchStart = 0;
  let epoch = firstEpoch;
  const state = (): LoopState => ({
    epoch,
    batchStart,
    step,
    lossSum,
    correct,
    seen,
    epochStartMs: epochStart,
    schedule: { ...schedState },
    earlyStopping: stopper ? { ...stopper.state } : null,
    bestEpoch: result.bestEpoch,
    metrics: [...result.epochs],
    seed,
  });
  // a run that early stopping ended stays ended when resumed from the checkpoint written as it
  // stopped (training on would move its best weights: not the run that was interrupted)
  if (stopper?.stopped) result.stoppedEarly = true;
  for (; epoch <= epochs && !reachedMax && !result.stoppedEarly; epoch++) {
    const resuming = resume !== undefined && epoch === firstEpoch;
    epochStart = Date.now();
    // (a run resumed within an epoch restarts the carried state from zero at its batch)
    if (tbptt) model.resetState!();
    else new Rng(seed, shuffleStream ^ epoch).shuffle(order);
    lossSum = resuming ? resume.lossSum : 0;
    correct = resuming ? resume.correct : 0;
    seen = resuming ? resume.seen : 0;
    if (sched.per !== "step") lr = learningRate(sched, step, epoch - 1, schedState);
    for (let s = resuming ? resume.batchStart : 0; s + 1 <= order.length; s += B) {
      const n = Math.min(B, order.length - s);
      if (n < 2 && p.tensors.some((t) => t.name.endsWith(".running_mean"))) break; // BN cannot train on one sample
      if (sched.per === "step") lr = learningRate(sched, step, epoch - 1, schedState);
      feeder.feed(data.train, order, s, n, true, seed, epoch);
      if (onDiv !== "stop") copyStats(H, statTensorsAll, statsBackup, true);
      model.forward(n, true, step);
      const r = lossForward(H, p, n, true);
      let bad: string | undefined;
      // a non-finite parameter cannot be undone by skipping a step: the run stops in every mode
      let fatal = false;
      let hint: string | undefined;
      if (!Number.isFinite(r.loss)) {
        // where it came from: the parameters (this step's forward read them: the last update broke
        // them), else the batch's inputs, else an activation (the model's output names the sample;
        // running statistics this forward moved are a consequence, not a cause)
        const rowOf = (i: number) => order[s + i]; // a sample of the batch -> its row in the training data
        const f = findNonFinite(H, p, "params");
        const x = f ? undefined : findNonFiniteInput(H, p, n);
        const y = f || x ? undefined : findNonFiniteOutput(H, p, n);
        fatal = f !== undefined;
        if (x)
          hint = `fix the data: with its scale (${p.data.scale}), shift (${p.data.shift}) and preprocessing, every input must stay within float32's range (±3.4e38)`;
        bad = `the loss is ${r.loss}; ${
          f
            ? `${describeNonFinite(f)} (${step > (resume?.step ?? 0) ? `after the update of step ${step}` : resume ? "as resumed" : "as initialized"})`
            : x
              ? describeNonFinite(x, rowOf)
              : y
                ? `${describeNonFinite(y, rowOf)}, from finite parameters and inputs: an activation overflowed float32`
                : "the parameters, inputs and outputs are finite"
        }`;
      } else if (statTensorsAll.length > 0 && (bad = statsBad())) {
        // batch norm's running statistics: the training forward does not read them, so the loss
        // cannot show that they overflowed (checked every step: they are small)
      } else {
        model.backward(n, step);
        if (model.penalty) {
          const pen = model.penalty(n, step);
          if (!Number.isFinite(pen)) bad = `the smoothness penalty is ${pen}`;
        }
        // a finite loss almost always means finite gradients: scan them every step only when the
        // spec asks to recover (skip/lower_lr); in stop mode the next step's loss catches it, and
        // checkpoints are scanned before they are written
        if (onDiv !== "stop") {
          const f = findNonFinite(H, p);
          if (f) bad = describeNonFinite(f);
          fatal = f?.kind === "param";
        }
      }
      if (bad !== undefined) {
        if (onDiv === "stop" || fatal)
          throw diverged(
            `at step ${step + 1} (epoch ${epoch})`,
            bad,
            hint ??
              (fatal && onDiv !== "stop"
                ? `skipping a step cannot undo a non-finite parameter (on_divergence ${onDiv}); lower the learning rate or add clip_norm`
                : undefined),
          );
        // skip this batch: undo the running statistics its forward pass moved (and the state it would
        // carry); optionally cut the rate
        copyStats(H, statTensorsAll, statsBackup, false);
        if (tbptt) model.resetState!();
        result.divergences++;
        if (onDiv === "lower_lr") lrFactor *= 0.5;
        batchStart = s + B;
        continue;
      }
      if (p.train.clipValue > 0) clipGradValue(H, layout, p.train.clipValue);
      if (p.train.clipNorm > 0) clipGradNorm(H, layout, p.train.clipNorm);
      step++;
      optimizerStep(H, layout, opt, lr * lrFactor, step);
      applyMaxNorm(H, layout);
      if (step % PARAM_SCAN_STEPS === 0)
        expectFiniteModel(`at step ${step} (epoch ${epoch})`, `found by the scan after the update of step ${step}; the loss stayed finite`);
      lossTrace.push(r.loss);
      lossSum += r.loss * r.count;
      correct += r.correct;
      seen += r.count;
      batchStart = s + B;
      opts.onStep?.(step, r.loss, s + n, order.length, lr * lrFactor);
      if ((opts.maxSteps !== undefined && step >= opts.maxSteps) || opts.stop?.()) {
        reachedMax = true;
        break;
      }
      if (stopper && es?.everySteps && step % es.everySteps === 0 && split.val.length > 0) {
        // early stopping evaluated every N steps (eval mode: running statistics are not touched)
        const v = evalOn(valSet, valOrder);
        const u = stopper.update(es.monitor === "val_acc" ? (v.acc ?? NaN) : v.loss, step);
        if (u.improved) {
          snapshot(true);
          result.bestEpoch = epoch;
          result.bestStep = step;
        }
        if (u.stop) {
          stopNow = true;
          break;
        }
      }
      if (opts.interrupted?.()) {
        opts.onCheckpoint?.("interrupt", state(), best);
        throw new InterruptedError(step);
      }
      if (opts.checkpointEverySteps && step % opts.checkpointEverySteps === 0) opts.onCheckpoint?.("steps", state(), best);
      yield;
    }
    // no epoch is reported (or its checkpoint written) with a non-finite model
    expectFiniteModel(`in epoch ${epoch}`, `found at the end of the epoch, after step ${step}; the loss stayed finite`);
    const m: EpochMetrics = {
      epoch,
      train_loss: lossSum / Math.max(1, seen),
      train_acc: data.train.classes !== undefined ? correct / Math.max(1, seen) : null,
      val_loss: null,
      val_acc: null,
      lr,
      seconds: 0,
    };
    if (p.meta.positions) {
      m.train_ppl = perplexity(m.train_loss);
      m.train_bpc = bitsPerToken(m.train_loss);
      m.val_ppl = m.val_bpc = null;
    }
    if (split.val.length > 0) {
      const v = evalOn(valSet, valOrder);
      m.val_loss = v.loss;
      m.val_acc = v.acc;
      if (p.meta.positions) {
        m.val_ppl = perplexity(v.loss);
        m.val_bpc = bitsPerToken(v.loss);
      }
      if (sched.kind === "plateau") observeMetric(sched, schedState, sched.mode === "max" ? (v.acc ?? 0) : v.loss);
    }
    m.seconds = (Date.now() - epochStart) / 1000;
    result.epochs.push(m);
    opts.onEpoch?.(m);
    let stop = false;
    let improved = false;
    if (stopper && es && !es.everySteps && epoch % es.every === 0) {
      const value = es.monitor === "val_acc" ? (m.val_acc ?? NaN) : (m.val_loss ?? NaN);
      const u = stopper.update(value, epoch);
      if (u.improved) {
        snapshot(true);
        result.bestEpoch = epoch;
        improved = true;
      }
      stop = u.stop;
    }
    // the state at an epoch boundary: the next epoch starts from its first batch
    if (!reachedMax) {
      const at = epoch;
      epoch = at + 1;
      batchStart = 0;
      lossSum = correct = seen = 0;
      if (improved) opts.onCheckpoint?.("best", state(), best);
      if (opts.checkpointEveryEpochs && at % opts.checkpointEveryEpochs === 0) opts.onCheckpoint?.("epoch", state(), best);
      epoch = at;
    }
    if (stop || stopNow) {
      result.stoppedEarly = true;
      break;
    }
  }
  result.steps = step;
  // the model is finite here: every way out of the loop above passed an epoch's end, whose scan
  // ran after the last update, and the best weights were scanned when kept (or when resumed)
  if (stopper && result.bestEpoch !== null) snapshot(false); // restore the best weights, always
  if (data.test) {
    const k = p.meta.outputSize;
    const confusion =
      data.test.classes !== undefined && k >= 2 && !p.meta.positions ? Array.from({ length: k }, () => new Array<number>(k).fill(0)) : undefined;
    const rows = range(data.test.n);
    const t = evalOn(data.test, tbptt ? trackOrder(rows, B) : rows, confusion, opts.onTestOutput);
    result.confusion = confusion;
    result.test_loss = t.loss;
    result.test_acc = t.acc;
    if (p.meta.positions) {
      result.test_ppl = perplexity(t.loss);
      result.test_bpc = bitsPerToken(t.loss);
    }
  }
  return result;
}

function copyStats(H: Float32Array, stats: { offset: number; size: number }[], buf: Float32Array, save: boolean): void {
  let o = 0;
  for (const t of stats) {
    if (save) buf.set(H.subarray(t.offset, t.offset + t.size), o);
    else H.set(buf.subarray(o, o + t.size), t.offset);
    o += t.size;
  }
}

/** Thrown after an interrupt checkpoint was written (SIGINT): the CLI exits 130. */
export class InterruptedError extends DnncError {
  constructor(public readonly step: number) {
    super(`interrupted after step ${step}; checkpoint written`, 130);
  }
}
