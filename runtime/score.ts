// Scoring a trained model on rows of a dataset in evaluation mode, in one pass: the loss and the
// accuracy (as the training loop's evaluate), and for regression the mean absolute error, the root
// mean squared error and R² (1 - SS_res / SS_tot, averaged over the outputs as scikit-learn's
// r2_score does; undefined, null, when the targets do not vary). Used by `dnnc evaluate` and by the
// trainer's last line for a regression run. Allocates a few arrays per call, nothing per batch.
import type { Backend } from "./backend";
import type { Dataset } from "./data/dataset";
import { lossForward } from "./loss";
import type { Model, Program } from "./program";
import { BatchFeeder, trackOrder } from "./train-loop";
import type { FittedPreprocess } from "./preprocess";

export interface Score {
  /** Samples scored. */
  n: number;
  loss: number;
  /** Accuracy for class data, else null. */
  acc: number | null;
  /** Regression only: mean absolute error, root mean squared error, R² (null when the targets are constant). */
  mae?: number;
  rmse?: number;
  r2?: number | null;
}

/** Score rows `rows` of `ds` (all rows when omitted) with the model's current weights in the heap. */
export function scoreDataset(p: Program, be: Backend, model: Model, ds: Dataset, pre?: FittedPreprocess, rows?: Int32Array): Score {
  const B = p.meta.batch;
  const H = be.H;
  const all = rows ?? Int32Array.from({ length: ds.n }, (_, i) => i);
  // truncated BPTT: windows in track order from a zero state, as the training loop evaluates them
  const tbptt = p.train.tbptt === true && model.resetState !== undefined && model.carryState !== undefined;
  if (tbptt) {
    model.carryState!(true);
    model.resetState!();
  }
  const order = tbptt ? trackOrder(all, B) : all;
  const feeder = new BatchFeeder(
    p,
    H,
    pre,
    ds.shape.reduce((a, b) => a * b, 1),
  );
  const regression = ds.classes === undefined;
  const k = p.meta.outputSize;
  const absSum = new Float64Array(k);
  const sqSum = new Float64Array(k);
  const ySum = new Float64Array(k);
  const y2Sum = new Float64Array(k);
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  let samples = 0;
  for (let s = 0; s < order.length; s += B) {
    const n = Math.min(B, order.length - s);
    feeder.feed(ds, order, s, n, false, 0, 0);
    model.forward(n, false, 0);
    if (regression)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < k; j++) {
          const o = H[p.layout.out + i * k + j];
          const t = H[p.layout.labels + i * k + j];
          absSum[j] += Math.abs(o - t);
          sqSum[j] += (o - t) * (o - t);
          ySum[j] += t;
          y2Sum[j] += t * t;
        }
    const r = lossForward(H, p, n, false);
    lossSum += r.loss * r.count;
    correct += r.correct;
    count += r.count;
    samples += n;
  }
  const score: Score = { n: samples, loss: count > 0 ? lossSum / count : NaN, acc: !regression && count > 0 ? correct / count : null };
  if (regression && samples > 0) {
    let abs = 0;
    let sq = 0;
    let r2 = 0;
    let constant = false;
    for (let j = 0; j < k; j++) {
      abs += absSum[j];
      sq += sqSum[j];
      const ssTot = y2Sum[j] - (ySum[j] * ySum[j]) / samples;
      if (!(ssTot > 1e-12 * Math.max(1, y2Sum[j]))) constant = true;
      else r2 += 1 - sqSum[j] / ssTot;
    }
    score.mae = abs / (samples * k);
    score.rmse = Math.sqrt(sq / (samples * k));
    score.r2 = constant ? null : r2 / k;
  }
  return score;
}
