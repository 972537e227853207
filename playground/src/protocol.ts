// Messages between the page (src/main.ts) and the training worker (src/worker.ts).
import type { EpochMetrics } from "../../runtime/train-loop";
import type { Insight } from "./insights";

/** `csv`: a CSV file the user uploaded, used instead of the spec's csv(...) source (its test split: `test`, a fraction of its rows). */
export type ToWorker = { type: "train"; source: string; file: string; baseUrl: string; epochs?: number; csv?: UploadedCsv } | { type: "stop" };

export interface UploadedCsv {
  name: string;
  text: string;
}

export interface CompileInfo {
  /** Milliseconds spent in the front end, code generation (ts-morph + prettier), and TS → JS. */
  frontMs: number;
  codegenMs: number;
  transpileMs: number;
  /** The generated trainer's TypeScript, as `dnnc compile` writes it. */
  trainerTs: string;
  params: number;
  heapFloats: number;
}

export type FromWorker =
  | { type: "status"; text: string }
  | { type: "compiled"; info: CompileInfo }
  | { type: "started"; backend: string; trainRows: number; testRows: number; epochs: number; stepsPerEpoch: number }
  /** Mean training loss of each group of `every` steps finished since the previous message, as [last step, mean]. */
  | { type: "progress"; step: number; epoch: number; points: [number, number][]; samplesPerSec: number }
  | { type: "epoch"; step: number; metrics: EpochMetrics }
  | { type: "done"; stopped: boolean; steps: number; testLoss: number | null; testAcc: number | null; seconds: number }
  | { type: "error"; message: string; diagnostics?: { line: number; col: number; message: string }[] }
  /** After each epoch and at the end: the decision boundary (two features) or predicted test images (src/insights.ts). */
  | Insight
  /** At the end: the weights as a safetensors file. */
  | { type: "weights"; bytes: Uint8Array };
