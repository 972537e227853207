// Moving one mini-batch from a Dataset into the heap, and the train/validation split.
import { DnncError } from "../errors";
import { Rng, streamId } from "../rng";
import type { Dataset } from "./dataset";
import { unpackRowScaled } from "./packed";

/**
 * Copy the samples order[start .. start+n) of `ds` into H as float32:
 *   H[xOff + i*F + j] = ds.x[order[start+i]*F + j] * scale + shift   (x block is (n, ...shape))
 *   H[yOff + i]       = ds.y[order[start+i]]                          (label as float)
 * F is the per-sample feature size. Allocates nothing; called once per training step.
 * For images stored as bytes, scale = 1/255 maps pixels to [0, 1]. Packed rows (ds.packed) are
 * decoded with the same expression, so the batch holds the same bytes.
 */
export function gatherBatch(
  H: Float32Array,
  ds: Dataset,
  order: Int32Array,
  start: number,
  n: number,
  xOff: number,
  yOff: number,
  scale: number,
  shift = 0,
): void {
  const pk = ds.packed;
  const x = pk ? undefined : ds.x;
  const y = ds.y;
  let F = 1;
  for (let k = 0; k < ds.shape.length; k++) F *= ds.shape[k];
  if (start < 0 || n < 0 || start + n > order.length) {
    throw new RangeError(`gatherBatch: rows [${start}, ${start + n}) outside the order of length ${order.length}`);
  }
  if (xOff < 0 || xOff + n * F > H.length || yOff < 0 || yOff + n > H.length) {
    throw new RangeError(`gatherBatch: batch of ${n} x ${F} at x=${xOff}, y=${yOff} does not fit in a heap of ${H.length}`);
  }
  for (let i = 0; i < n; i++) {
    const r = order[start + i];
    if (r < 0 || r >= ds.n) throw new RangeError(`gatherBatch: row ${r} outside the dataset of ${ds.n} samples`);
    const src = r * F;
    const dst = xOff + i * F;
    if (pk) unpackRowScaled(pk, r, H, dst, scale, shift);
    else if (!x) throw new RangeError("gatherBatch: no features");
    else if (shift === 0) {
      for (let j = 0; j < F; j++) H[dst + j] = x[src + j] * scale;
    } else {
      for (let j = 0; j < F; j++) H[dst + j] = x[src + j] * scale + shift;
    }
    H[yOff + i] = y[r];
  }
}

/** Reference for gatherBatch: the plain definition, allocating (tests only). */
export function gatherBatchNaive(ds: Dataset, rows: number[], scale: number, shift = 0): { x: number[]; y: number[] } {
  const F = ds.shape.reduce((a, b) => a * b, 1);
  const x: number[] = [];
  const y: number[] = [];
  for (const r of rows) {
    for (let j = 0; j < F; j++) x.push(Math.fround(ds.x[r * F + j] * scale + shift)); // computed in double, rounded once
    y.push(ds.y[r]);
  }
  return { x, y };
}

/**
 * Split sample indices 0..n-1 into a training and a validation part, deterministically from
 * `seed`: a Fisher-Yates shuffle on the stream "data:validation-split" picks round(n*fraction)
 * validation indices. Both parts are returned sorted ascending (shuffling for training happens
 * per epoch, elsewhere). fraction = 0 gives an empty validation part.
 */
export function splitValidation(n: number, fraction: number, seed: number): { train: Int32Array; val: Int32Array } {
  if (!Number.isInteger(n) || n < 0) throw new DnncError(`validation split: bad sample count ${n}`);
  if (!(fraction >= 0 && fraction < 1)) {
    throw new DnncError(`validation split: fraction must be in [0, 1), got ${fraction}`);
  }
  const nVal = Math.round(n * fraction);
  if (n > 0 && nVal === n) throw new DnncError(`validation split: fraction ${fraction} of ${n} samples leaves none for training`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Rng(seed >>> 0, streamId("data:validation-split")).shuffle(perm);
  const val = perm.slice(0, nVal).sort();
  const train = perm.slice(nVal).sort();
  return { train, val };
}
