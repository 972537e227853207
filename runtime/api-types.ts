// The public types of dnnc used from code (docs/library.md): what `compile` returns, what a trainer
// module exports (fit, load, predict, evaluate, save), the model that fit and load give, and the
// events fit reports. Declarations only, with no imports: the build copies this file as the
// package's .d.ts (dist/lib/api-types.d.ts) and `dnnc compile` inlines it into every trainer's
// .d.ts, so a compiled trainer's types need nothing installed.

/** Rows of inputs and their targets. */
export interface ArrayData {
  /** Inputs, row-major: rows x features (the model's input size, or the raw size its preprocessing takes). Bytes are scaled as floats are. */
  x: Float32Array | Uint8Array | ArrayLike<number>;
  /**
   * Targets, one per row: class ids (0 .. classes-1) for classification, real values for a model with
   * one regression output; or rows x outputs real values (multi-output regression), or rows x
   * positions class ids (a class at every position of a sequence output; -1: padding, ignored).
   */
  y: Float32Array | Int32Array | Uint8Array | ArrayLike<number>;
}

/** The metrics of one epoch (as `--json` prints them and metrics.jsonl holds them). */
export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_acc: number | null;
  val_loss: number | null;
  val_acc: number | null;
  lr: number;
  seconds: number;
  train_ppl?: number;
  train_bpc?: number;
  val_ppl?: number | null;
  val_bpc?: number | null;
}

/** What fit reports after every optimizer step. */
export interface StepProgress {
  /** Optimizer steps done (1-based). */
  step: number;
  /** The epoch in progress (1-based) and the epochs of the run. */
  epoch: number;
  epochs: number;
  /** This step's training loss (mean over its batch). */
  loss: number;
  /** Training rows done in this epoch, of `epochSamples`. */
  samples: number;
  epochSamples: number;
  /** Steps the whole run takes (epochs x steps per epoch, or maxSteps when fewer). */
  totalSteps: number;
  /** Training rows per second since fit started. */
  samplesPerSec: number;
  /** Estimated seconds left, at the rate so far (validation passes not counted). */
  eta: number;
}

/** What fit reports once, before its first step: where it trains, and how long the run is. */
export interface FitStart {
  backend: { name: string; threads: number };
  /** Training rows (after the validation split), validation rows, and steps. */
  trainRows: number;
  validationRows: number;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
}

export interface FitOptions {
  /** Default: the spec's `epochs`. */
  epochs?: number;
  /** Default: the spec's `seed`. Same seed, same data, same machine: identical weights. */
  seed?: number;
  /** Stop after this many optimizer steps. */
  maxSteps?: number;
  /** Held-out rows; without it, the spec's `validation` fraction of the training rows (drawn by the seed). */
  validation?: ArrayData;
  onStart?: (s: FitStart) => void;
  onEpoch?: (m: EpochMetrics) => void;
  onStep?: (s: StepProgress) => void;
  /** Aborting stops training after the current step; fit then resolves with the model as trained so far (history.aborted). */
  signal?: AbortSignal;
  /** "auto" (default): WebAssembly SIMD where the engine has it, else TypeScript kernels. */
  backend?: "auto" | "wasm" | "ts";
  /**
   * wasm: fused multiply-adds (relaxed SIMD) where the engine has them (default true, as the
   * trainer's command line; false: plain SIMD, the same bytes on every machine with SIMD).
   */
  fma?: boolean;
  /** GEMM threads of the wasm backend (default 1; a browser trainer picks 2 when the page is cross-origin isolated). */
  threads?: number;
}

export interface FitHistory {
  epochs: EpochMetrics[];
  steps: number;
  stoppedEarly: boolean;
  /** The epoch whose weights were kept (early stopping restores the best weights), or null. */
  bestEpoch: number | null;
  /** True when fit's AbortSignal stopped it. */
  aborted: boolean;
  seed: number;
}

export interface TrainedModel {
  /** Outputs, rows x outputs (any number of rows); the scale, shift and fitted preprocessing are applied to x first. */
  predict(x: Float32Array | Uint8Array | ArrayLike<number>): Float32Array;
  /** Mean loss and accuracy (null for regression) over the rows, in eval mode. */
  evaluate(data: ArrayData): { loss: number; acc: number | null };
  /** The weights, running statistics and fitted preprocessing, as the safetensors bytes `dnnc train` writes as model.safetensors. */
  save(): Uint8Array;
  /** Frees the backend (its worker threads). The model cannot be used afterwards. */
  dispose(): void;
  /** How it was trained (fit), or empty (load). */
  readonly history: FitHistory | null;
  /** The backend and thread count it trained (fit) or runs (load) on. */
  readonly backend: { name: string; threads: number };
}

/** What a compiled model is: its name, input and output shapes, batch size. */
export interface TrainerInfo {
  name: string;
  file: string;
  specHash: string;
  dnncVersion: string;
  batch: number;
  inputShape: number[];
  inputSize: number;
  outputShape: number[];
  outputSize: number;
  params: number;
}

/** A compiled spec (what `compile` returns; a generated trainer module exports the same functions). */
export interface Trainer {
  readonly info: TrainerInfo;
  fit(data: ArrayData, options?: FitOptions): Promise<TrainedModel>;
  /** A model from safetensors bytes (model.save(), or a model.safetensors written by `dnnc train`). */
  load(bytes: Uint8Array, options?: { backend?: "auto" | "wasm" | "ts"; fma?: boolean }): Promise<TrainedModel>;
  predict(model: TrainedModel, x: Float32Array | Uint8Array | ArrayLike<number>): Float32Array;
  evaluate(model: TrainedModel, data: ArrayData): { loss: number; acc: number | null };
  save(model: TrainedModel): Uint8Array;
}

/** One diagnostic of a spec that does not compile. */
export interface SpecDiagnostic {
  code: string;
  message: string;
  line: number;
  col: number;
  hint?: string;
}

/** What `compile` throws on a bad spec. */
export interface SpecErrorShape extends Error {
  diagnostics: SpecDiagnostic[];
}

export interface CompileOptions {
  /** The name the spec is known by in diagnostics and in the model's metadata (default "spec.dnn"). */
  file?: string;
}
