// Losses with PyTorch's reduction='mean'. Each returns the batch's mean loss (computed in double)
// and writes d(mean loss)/d(prediction) into dpred, which has the predictions' shape; pass
// dpred = -1 to skip the gradient (evaluation).
//
// Counting correct predictions without allocating: softmaxCrossEntropy and bceWithLogits also
// store, in the module-level `lossStats.correct`, how many predictions of the batch were right
// (argmax == label, first maximum wins as torch.argmax; for BCE, elementwise (logit > 0) ==
// (target >= 0.5)). Read it right after the call.
import { DnncError } from "../errors";

/** What the last loss call counted: correct predictions, and the targets it averaged over (rows not ignored). */
export const lossStats = { correct: 0, count: 0 };

// logits is (n, C), labels is (n) (class indices stored as floats), dlogits is (n, C).
// loss_i = -(1-eps)·log p[i, y_i] - (eps/C)·Σ_c log p[i, c]  (CrossEntropyLoss(label_smoothing=eps))
// dlogits[i, c] = (p[i, c] - (1-eps)·[c == y_i] - eps/C) / m
// A label of -1 (a padded position of a sequence) is ignored, as PyTorch's ignore_index: its row adds
// nothing and gets a zero gradient, and the mean is over the m rows that are not ignored (0 when
// every row is: the loss is then 0, not NaN).
export function softmaxCrossEntropy(H: Float32Array, logits: number, labels: number, dlogits: number, n: number, classes: number, labelSmoothing = 0): number {
  const eps = labelSmoothing;
  const off = eps / classes;
  let m = 0;
  for (let i = 0; i < n; i++) if (H[labels + i] !== -1) m++;
  const inv = m > 0 ? 1 / m : 0;
  let total = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = logits + i * classes;
    const y = H[labels + i];
    if (y === -1) {
      if (dlogits >= 0) H.fill(0, dlogits + i * classes, dlogits + (i + 1) * classes);
      continue;
    }
    if (!(y >= 0 && y < classes && y === Math.floor(y))) {
      throw new DnncError(`label ${y} of row ${i} is not a class index in [0, ${classes})`);
    }
    let max = H[row];
    let arg = 0;
    for (let c = 1; c < classes; c++) {
      const v = H[row + c];
      if (v > max) {
        max = v;
        arg = c;
      }
    }
    if (arg === y) correct++;
    let sum = 0;
    let sumLogits = 0;
    for (let c = 0; c < classes; c++) {
      const v = H[row + c];
      sum += Math.exp(v - max);
      sumLogits += v;
    }
    const lse = max + Math.log(sum);
    // -Σ_c log p_c = C·lse - Σ_c z_c
    total += (1 - eps) * (lse - H[row + y]) + off * (classes * lse - sumLogits);
    if (dlogits >= 0) {
      const drow = dlogits + i * classes;
      for (let c = 0; c < classes; c++) H[drow + c] = (Math.exp(H[row + c] - lse) - off) * inv;
      H[drow + y] -= (1 - eps) * inv;
    }
  }
  lossStats.correct = correct;
  lossStats.count = m;
  return total * inv;
}

// logits, targets, dlogits are (n, k); targets in [0, 1].
// loss = mean of max(z,0) - z·t + log(1 + e^-|z|)  (BCEWithLogitsLoss, stable form)
// dlogits = (σ(z) - t) / (n·k)
export function bceWithLogits(H: Float32Array, logits: number, targets: number, dlogits: number, n: number, k: number): number {
  const len = n * k;
  const inv = 1 / len;
  let total = 0;
  let correct = 0;
  for (let i = 0; i < len; i++) {
    const z = H[logits + i];
    const t = H[targets + i];
    const e = Math.exp(-Math.abs(z));
    total += (z > 0 ? z : 0) - z * t + Math.log1p(e);
    if (z > 0 === t >= 0.5) correct++;
    if (dlogits >= 0) {
      const s = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      H[dlogits + i] = (s - t) * inv;
    }
  }
  lossStats.correct = correct;
  return total * inv;
}

// pred, target, dpred are (n, k). loss = mean (p - t)², dpred = 2(p - t)/(n·k)
export function mse(H: Float32Array, pred: number, target: number, dpred: number, n: number, k: number): number {
  const len = n * k;
  const inv = 1 / len;
  let total = 0;
  for (let i = 0; i < len; i++) {
    const d = H[pred + i] - H[target + i];
    total += d * d;
    if (dpred >= 0) H[dpred + i] = 2 * d * inv;
  }
  return total * inv;
}

// pred, target, dpred are (n, k). loss = mean |p - t|, dpred = sign(p - t)/(n·k) (0 at p = t)
export function l1Loss(H: Float32Array, pred: number, target: number, dpred: number, n: number, k: number): number {
  const len = n * k;
  const inv = 1 / len;
  let total = 0;
  for (let i = 0; i < len; i++) {
    const d = H[pred + i] - H[target + i];
    total += Math.abs(d);
    if (dpred >= 0) H[dpred + i] = d > 0 ? inv : d < 0 ? -inv : 0;
  }
  return total * inv;
}

// pred, target, dpred are (n, k); d = p - t.  HuberLoss(delta):
// loss = mean of (|d| <= delta ? d²/2 : delta·(|d| - delta/2)), dpred = clamp(d, ±delta)/(n·k)
export function huber(H: Float32Array, pred: number, target: number, dpred: number, n: number, k: number, delta = 1): number {
  const len = n * k;
  const inv = 1 / len;
  let total = 0;
  for (let i = 0; i < len; i++) {
    const d = H[pred + i] - H[target + i];
    const a = Math.abs(d);
    total += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
    if (dpred >= 0) H[dpred + i] = (d > delta ? delta : d < -delta ? -delta : d) * inv;
  }
  return total * inv;
}
