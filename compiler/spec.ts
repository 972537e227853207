// The checked, typed form of a spec: what `check` produces from the AST and `lower` consumes.
// Every value has its default filled in; every layer keeps its source span for later diagnostics.
import type { Span } from "../grammar/ast";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface LayerSpec {
  op: string;
  args: Record<string, Json>;
  span: Span;
  /** Residual bodies. */
  body?: LayerSpec[];
}

export interface LossSpec {
  kind: "softmax_cross_entropy" | "mse" | "bce_with_logits" | "l1" | "huber";
  labelSmoothing: number;
  delta: number;
  span: Span;
}

export interface OptimizerSpec {
  kind: "sgd" | "adam" | "adamw" | "adagrad" | "rmsprop";
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  alpha: number;
  centered: boolean;
  amsgrad: boolean;
  /** AdamW's decoupled decay (0 for the others). */
  weightDecay: number;
  initialAccumulator: number;
  /** Adagrad's lr_decay: step t uses lr / (1 + (t - 1) lr_decay) (torch.optim.Adagrad); only set for adagrad. */
  lrDecay?: number;
}

export interface ScheduleSpec {
  kind: "constant" | "inverse_time" | "exponential" | "step" | "multistep" | "cosine" | "cosine_restarts" | "plateau";
  args: Record<string, Json>;
  warmup: number;
  per: "epoch" | "step";
}

export interface EarlyStoppingSpec {
  monitor: "val_loss" | "val_acc";
  mode: "min" | "max";
  patience: number;
  minDelta: number;
  /** Evaluate every N epochs (default 1) ... */
  every: number;
  /** ... or, when set, every N optimizer steps instead. */
  everySteps?: number;
}

/** The data sources (compiler/settings.ts SOURCES): images, CSV rows, and the sequence sources. */
export type SourceKind = "idx" | "csv" | "image_folder" | "text" | "text_classes" | "tokens" | "timeseries";

export interface DataSpec {
  source: { kind: SourceKind; path: string; span: Span; label?: string | number; args: Record<string, Json> };
  validation: number;
  /** The data block's `test F` (absent: 0): a single file's test split (csv, tokens); text, text_classes and timeseries take it as their test= argument. */
  test?: number;
  scale: number;
  shift: number;
  preprocess: { kind: "standardize" | "pca" | "whiten" | "zca"; args: Record<string, Json>; span: Span }[];
  augment: { kind: string; args: Record<string, Json>; span: Span }[];
}

export interface TrainSpec {
  seed: number;
  batch: number;
  epochs: number;
  optimizer: OptimizerSpec;
  /** Coupled L2 (gradient += wd·W), PyTorch's weight_decay. */
  weightDecay: number;
  l1: number;
  decayBias: boolean;
  decayNorm: boolean;
  /** Whether the token and position tables (embedding, pos_embedding) get weight decay (absent: true; false: the minGPT idiom; absent unless given, so trainers without it are unchanged). */
  decayEmbedding?: boolean;
  clipNorm: number;
  clipValue: number;
  schedule: ScheduleSpec;
  earlyStopping?: EarlyStoppingSpec;
  jacobianPenalty?: { lambda: number; projections: number };
  inputGradPenalty?: { lambda: number };
  golden?: { steps: number; tolerance: number };
  /** What a non-finite loss or gradient does: stop (default, naming the tensor), skip the batch, or halve the rate and skip. */
  onDivergence?: "stop" | "skip" | "lower_lr";
  /**
   * Truncated backpropagation through time (a text source, recurrent layers): the windows are read
   * in order as `batch` contiguous tracks and each recurrent layer starts from its state at the end
   * of the previous batch, with no gradient flowing into it (zero at each epoch's start).
   */
  tbptt?: boolean;
}

export interface Spec {
  file: string;
  name: string;
  input: number[];
  /** Where `input [...]` is written (dnnc check's data checks point at it). */
  inputSpan?: Span;
  layers: LayerSpec[];
  loss: LossSpec;
  data: DataSpec;
  train: TrainSpec;
  search?: { entries: { path: string; dist: Json; span: Span }[]; settings: Record<string, Json> };
  /** sha256 of the spec source. */
  hash: string;
  /** Fine-tuning (the train block's init_from, freeze, lr_scale); absent when the spec uses none. */
  finetune?: FinetuneSpec;
}

/** A layer named in `freeze` or `lr_scale`: a node id as in the state dict (`conv2d_0`, `bn_1`, `dense_0`). */
export interface LayerRef {
  name: string;
  span: Span;
}

/** One `freeze` or `lr_scale` statement's layers: single names and inclusive ranges `a to b` of the chain. */
export interface LayerSelection {
  items: ({ one: LayerRef } | { from: LayerRef; to: LayerRef })[];
  span: Span;
}

export interface FinetuneSpec {
  /** Initial weights: a .safetensors file, or a run directory (its model.safetensors); relative to the spec's directory. */
  initFrom?: { path: string; span: Span };
  /** Layers whose parameters are not trained (no update, no decay; batch norm there uses and keeps its running statistics). */
  freeze: LayerSelection[];
  /** Learning-rate multipliers of layers (a later statement overrides an earlier one for the same layer). */
  lrScale: { scale: number; sel: LayerSelection }[];
}

/**
 * What the data source tells the compiler before lowering (read by the CLI from the training split;
 * compiler/data-facts.ts): the vocabulary of a character source, the number of classes. `auto`
 * arguments (embedding(auto, 64), dense(auto)) take their sizes from here.
 */
export interface DataFacts {
  vocab?: { size: number; json: string };
  classes?: number;
  /** Why the data could not be read (the diagnostic of an `auto` says it). */
  unreadable?: string;
  /** The train block's init_from as read by the CLI: the file's tensor shapes, or why it cannot be used. */
  initFrom?: { file: string; shapes?: Record<string, number[]>; error?: string };
}
