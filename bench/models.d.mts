// Types of bench/models.mjs (plain JavaScript so that `node bench/run.mjs` needs no build).
export type Layer =
  | { op: "flatten" | "bn" | "relu" }
  | { op: "dense"; units: number }
  | { op: "conv"; filters: number; kernel: number; padding: "same" }
  | { op: "dropout"; rate: number }
  | { op: "maxpool"; size: number }
  | { op: "residual"; body: Layer[] };
export interface BenchModel {
  name: string;
  title: string;
  input: number[];
  layers: Layer[];
  batch: number;
  optimizer: { name: "sgd"; lr: number; momentum: number };
  loss: "softmax_cross_entropy";
}
export const MODELS: Record<string, BenchModel>;
export const MODEL_NAMES: string[];
export function walkShapes(layers: Layer[], shape: number[], visit: (l: Layer, i: number[], o: number[]) => void): number[];
export function trainFlopsPerSample(model: Pick<BenchModel, "input" | "layers">): number;
export function countParams(model: Pick<BenchModel, "input" | "layers">): number;
