// What a generated trainer exports: its constants (meta, layout, tensors, optimizer segments, the
// spec's training settings) and `create`, which binds the straight-line forward/backward code to
// a backend's heap. Everything else (the loop, evaluation, files) is shared runtime code.
import type { Backend } from "./backend";
import type { Segment } from "./optim";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ProgramTensor {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  kind: "param" | "stat";
}

export interface ProgramMeta {
  name: string;
  /** The spec file as given to the compiler. */
  file: string;
  specHash: string;
  dnncVersion: string;
  batch: number;
  inputShape: number[];
  inputSize: number;
  outputShape: number[];
  outputSize: number;
  /**
   * Softmax cross-entropy on a sequence output [T, classes]: T targets per sample (absent: one). The
   * loss and accuracy then count the n·T positions whose label is not -1 (padding is ignored).
   */
  positions?: number;
  /**
   * Sequence models: whether the output at position t reads inputs at positions <= t only (every
   * layer causal along time; dnnc generate needs it); `acausal` names the first layer that is not.
   */
  causal?: boolean;
  acausal?: string;
  heapFloats: number;
  /** Default data location, relative to the trainer file's directory (or absolute). */
  dataPath: string;
  /**
   * Fine-tuning (the train block's init_from): the .safetensors file whose tensors start the run,
   * matched by name (runtime/init-from.ts), relative to the trainer file's directory (or absolute).
   */
  initFrom?: string;
  /** Multiply-adds of the largest GEMM in a step (decides whether a second thread can pay). */
  maxGemmMacs?: number;
  /**
   * Floats of scratch each worker thread needs for the convolutions it shares (the largest
   * Winograd block scratch; absent: the backend's default area suffices).
   */
  convColFloats?: number;
}

export interface LossConfig {
  kind: "softmax_cross_entropy" | "mse" | "bce_with_logits" | "l1" | "huber";
  labelSmoothing: number;
  delta: number;
}

export interface ProgramLayout {
  P: number;
  G: number;
  S: number;
  N: number;
  slots: number;
  x: number;
  labels: number;
  /** Each sample's valid length (B floats), when the data are padded sequences (absent otherwise). */
  lengths?: number;
  out: number;
  gradOut: number;
  scratch: number;
}

export interface Program {
  meta: ProgramMeta;
  loss: LossConfig;
  /** The spec's train block, with defaults (see compiler/spec.ts TrainSpec). */
  train: Record<string, Json> & {
    seed: number;
    epochs: number;
    batch: number;
    optimizer: Record<string, Json> & { kind: string; lr: number };
    clipNorm: number;
    clipValue: number;
    schedule: { kind: string; args: Record<string, Json>; warmup: number; per: "epoch" | "step" };
    earlyStopping?: { monitor: string; mode: "min" | "max"; patience: number; minDelta: number; every: number; everySteps?: number };
  };
  /** The spec's data block (source, validation fraction, scale, shift). */
  data: Record<string, Json> & {
    validation: number;
    scale: number;
    shift: number;
    /** args: a sequence source's settings (context, window, separator, ...). */
    source: { kind: string; path: string; label?: string | number; args?: Record<string, Json> };
  };
  layout: ProgramLayout;
  tensors: ProgramTensor[];
  segments: Segment[];
  create(be: Backend, seed: number): Model;
}

export interface Model {
  /** Initialize parameters and running statistics from the seed. */
  init(): void;
  /** Forward pass over the first n rows of the batch at layout.x; writes layout.out. */
  forward(n: number, train: boolean, step: number): void;
  /** Backward pass, from the gradient at layout.gradOut into every parameter gradient. */
  backward(n: number, step: number): void;
  /** After forward(n, true, step) and backward: adds the smoothness penalties' gradients, returns their value. */
  penalty?(n: number, step: number): number;
  /**
   * Models whose recurrent layers carry their state across batches (the train block's tbptt): zero
   * that state, and turn the carrying on or off (off when created: each forward starts from zero,
   * as for predict, generate and test; the training loop turns it on).
   */
  resetState?(): void;
  carryState?(on: boolean): void;
}
