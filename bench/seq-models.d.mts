// Types of bench/seq-models.mjs (plain JavaScript so that `node bench/run.mjs` needs no build).
export interface SeqModel {
  name: string;
  kind: "charlm" | "textcnn";
  title: string;
  context: number;
  embed: number;
  /** S1: LSTM units */
  hidden?: number;
  /** S2: conv filters and width */
  filters?: number;
  kernel?: number;
  batch: number;
  optimizer: { name: "adam"; lr: number };
}
/** Sizes the data gives a model: its vocabulary and (S2) its classes. */
export interface SeqFacts {
  vocab: number;
  classes?: number;
}
export const SEQ_MODELS: Record<string, SeqModel>;
export const SEQ_MODEL_NAMES: string[];
export function seqMacs(m: SeqModel, facts: SeqFacts): number[];
export function seqTrainFlopsPerSample(m: SeqModel, facts: SeqFacts): number;
export function seqCountParams(m: SeqModel, facts: SeqFacts): number;
export function seqSpec(m: SeqModel, facts: SeqFacts, dataDir: string): string;
