// The runtime a generated trainer imports as `dnnc/runtime` (platform-neutral; the Node entry
// point is `dnnc/runtime/node`).
export type { Backend, GemmFn } from "./backend";
export type { Model, Program, ProgramTensor } from "./program";
export type { Segment } from "./optim";
export { hash3, uniformAt, streamId, Rng } from "./rng";
export { initTensor } from "./init";
// every scalar activation helper (and its derivatives) the emitted expressions may call
export * from "./kernels/activations";
export { conv2dForward, conv2dBackward } from "./kernels/conv";
export { maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, globalAvgPoolForward, globalAvgPoolBackward } from "./kernels/pool";
// sequences: each sample's valid length, embedding, conv1d, pooling over time, last
export { seqLength, zeroPadded, lastForward, lastBackward } from "./kernels/sequence";
export { embeddingForward, embeddingBackward } from "./kernels/embedding";
export { conv1dForward, conv1dBackward } from "./kernels/conv1d";
// recurrent layers (lstm, gru): the kernels of kernels/rnn.ts over layers, directions, dropout and lengths
export { rnnLayerForward, rnnLayerBackward, rnnLayerResetState } from "./kernels/rnn-layer";
// multi-head self-attention (attention): GEMM-based, one head's scores at a time
export { attentionForward, attentionBackward } from "./kernels/attention";
export { posEmbeddingForward, posEmbeddingBackward, sinusoidForward } from "./kernels/positional";
export { maxPool1dForward, maxPool1dBackward, avgPool1dForward, avgPool1dBackward } from "./kernels/pool1d";
export {
  timeAvgPoolForward,
  timeAvgPoolBackward,
  timeMaxPoolForward,
  timeMaxPoolBackward,
  globalMaxPoolForward,
  globalMaxPoolBackward,
} from "./kernels/global-pool";
export {
  batchNormForwardTrain,
  batchNormForwardEval,
  batchNormBackward,
  layerNormForward,
  layerNormBackward,
  groupNormForward,
  groupNormBackward,
  weightNormForward,
  weightNormBackward,
} from "./kernels/norm";
export { iterNormForwardTrain, iterNormForwardEval, iterNormBackward } from "./kernels/iternorm";
export { train, evaluate } from "./train-loop";
export { DnncError } from "./errors";
export { makeOptimizerStep, makeClipGradNorm } from "./optim-fast";
export { makeDenseEpilogues, type DenseEpilogues } from "./wasm-kernels";
// the library face of a program (docs/library.md): every generated trainer exports trainerApi(program)'s functions
export { trainerApi } from "./api";
export type * from "./api-types";
