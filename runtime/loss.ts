// The loss of a program's output against the batch targets, dispatched on the spec's loss kind.
// Returns the batch's mean loss; writes its gradient into layout.gradOut when `withGrad`; leaves
// the number of correct predictions in `lossStats.correct` (no allocation per step) and the number
// of targets the mean is over in `count`: the n samples, or for a class at every position of a
// sequence (meta.positions = T) the n·T positions whose label is not -1.
import { bceWithLogits, huber, l1Loss, lossStats, mse, softmaxCrossEntropy } from "./kernels/losses";
import type { Program } from "./program";

export { lossStats };

export function lossForward(H: Float32Array, p: Program, n: number, withGrad: boolean): { loss: number; correct: number; count: number } {
  const L = p.layout;
  const k = p.meta.outputSize;
  const d = withGrad ? L.gradOut : -1;
  let loss: number;
  lossStats.correct = 0;
  lossStats.count = n;
  switch (p.loss.kind) {
    case "softmax_cross_entropy": {
      const T = p.meta.positions ?? 1;
      loss = softmaxCrossEntropy(H, L.out, L.labels, d, n * T, k / T, p.loss.labelSmoothing);
      break;
    }
    case "bce_with_logits":
      loss = bceWithLogits(H, L.out, L.labels, d, n, k);
      lossStats.correct /= k; // per-element accuracy, so that correct / n stays in [0, 1]
      break;
    case "mse":
      loss = mse(H, L.out, L.labels, d, n, k);
      lossStats.correct = countArgmax(H, p, n);
      break;
    case "l1":
      loss = l1Loss(H, L.out, L.labels, d, n, k);
      lossStats.correct = countArgmax(H, p, n);
      break;
    case "huber":
      loss = huber(H, L.out, L.labels, d, n, k, p.loss.delta);
      lossStats.correct = countArgmax(H, p, n);
      break;
  }
  result.loss = loss;
  result.correct = lossStats.correct;
  result.count = lossStats.count;
  return result;
}

const result = { loss: 0, correct: 0, count: 0 };

/** For one-hot targets: rows whose output argmax equals the target's argmax. */
function countArgmax(H: Float32Array, p: Program, n: number): number {
  const k = p.meta.outputSize;
  if (k < 2) return 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let j = 1; j < k; j++) {
      if (H[p.layout.out + i * k + j] > H[p.layout.out + i * k + a]) a = j;
      if (H[p.layout.labels + i * k + j] > H[p.layout.labels + i * k + b]) b = j;
    }
    if (a === b) c++;
  }
  return c;
}
