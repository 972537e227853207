// Moving one mini-batch from a Dataset into the heap, and the train/validation split.
import { DnncError } from "../errors";
import { Rng, streamId } from "../rng";
import type { Dataset, Windows } from "./dataset";
import { unpackRowScaled } from "./packed";

const NO_TARGETS = new Float32Array(0);

/**
 * Copy the samples order[start .. start+n) of `ds` into H as float32:
 *   H[xOff + i*F + j] = ds.x[order[start+i]*F + j] * scale + shift   (x block is (n, ...shape))
 *   H[yOff + i*T + j] = ds.y[order[start+i]*T + j]                   (y block is (n, ...targetShape))
 * F is the per-sample feature size, T the per-sample target size (1 without ds.targetShape: one
 * label per sample, as float). Allocates nothing; called once per training step.
 * For images stored as bytes, scale = 1/255 maps pixels to [0, 1]. Packed rows (ds.packed) are
 * decoded with the same expression, so the batch holds the same bytes. Windowed samples
 * (ds.windows: a character corpus, a time series) are read from the series with the same
 * expression, never through the materialized ds.x / ds.y.
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
  const w = ds.windows;
  const pk = w ? undefined : ds.packed;
  const x = pk || w ? undefined : ds.x;
  const y = w ? NO_TARGETS : ds.y;
  let F = 1;
  for (let k = 0; k < ds.shape.length; k++) F *= ds.shape[k];
  let T = 1;
  if (ds.targetShape) for (let k = 0; k < ds.targetShape.length; k++) T *= ds.targetShape[k];
  if (start < 0 || n < 0 || start + n > order.length) {
    throw new RangeError(`gatherBatch: rows [${start}, ${start + n}) outside the order of length ${order.length}`);
  }
  if (xOff < 0 || xOff + n * F > H.length || yOff < 0 || yOff + n * T > H.length) {
    throw new RangeError(`gatherBatch: batch of ${n} x ${F} at x=${xOff}, y=${yOff} does not fit in a heap of ${H.length}`);
  }
  for (let i = 0; i < n; i++) {
    const r = order[start + i];
    if (r < 0 || r >= ds.n) throw new RangeError(`gatherBatch: row ${r} outside the dataset of ${ds.n} samples`);
    const src = r * F;
    const dst = xOff + i * F;
    if (w) {
      gatherWindow(H, w, r, dst, F, yOff + i * T, T, scale, shift);
      continue;
    }
    if (pk) unpackRowScaled(pk, r, H, dst, scale, shift);
    else if (!x) throw new RangeError("gatherBatch: no features");
    else if (shift === 0) {
      for (let j = 0; j < F; j++) H[dst + j] = x[src + j] * scale;
    } else {
      for (let j = 0; j < F; j++) H[dst + j] = x[src + j] * scale + shift;
    }
    if (T === 1) H[yOff + i] = y[r];
    else {
      const ys = r * T;
      const yd = yOff + i * T;
      for (let j = 0; j < T; j++) H[yd + j] = y[ys + j];
    }
  }
}

/** One windowed sample r (see Windows in dataset.ts): its F inputs at H[dst], its T targets at H[ydst]. */
function gatherWindow(H: Float32Array, w: Windows, r: number, dst: number, F: number, ydst: number, T: number, scale: number, shift: number): void {
  const s0 = r * w.stride;
  const xs = w.series;
  const xb = s0 * w.features;
  if (shift === 0) {
    for (let j = 0; j < F; j++) H[dst + j] = xs[xb + j] * scale;
  } else {
    for (let j = 0; j < F; j++) H[dst + j] = xs[xb + j] * scale + shift;
  }
  const ts = w.target;
  const tb = (s0 + w.targetOffset) * w.targetFeatures;
  for (let j = 0; j < T; j++) H[ydst + j] = ts[tb + j];
}

/**
 * The valid lengths of samples order[start .. start+n) into dst[off + i] (as numbers): ds.lengths,
 * or the full length (the first dimension of ds.shape) for a dataset without lengths. Allocates nothing.
 */
export function gatherLengths(dst: Float32Array | Int32Array, off: number, ds: Dataset, order: Int32Array, start: number, n: number): void {
  if (start < 0 || n < 0 || start + n > order.length) throw new RangeError(`gatherLengths: rows [${start}, ${start + n}) outside the order`);
  if (off < 0 || off + n > dst.length) throw new RangeError(`gatherLengths: ${n} lengths at ${off} do not fit in ${dst.length}`);
  const L = ds.lengths;
  const full = ds.shape[0];
  for (let i = 0; i < n; i++) {
    const r = order[start + i];
    if (r < 0 || r >= ds.n) throw new RangeError(`gatherLengths: row ${r} outside the dataset of ${ds.n} samples`);
    dst[off + i] = L ? L[r] : full;
  }
}

/** Reference for gatherBatch: the plain definition, allocating (tests only). */
export function gatherBatchNaive(ds: Dataset, rows: number[], scale: number, shift = 0): { x: number[]; y: number[] } {
  const F = ds.shape.reduce((a, b) => a * b, 1);
  const T = (ds.targetShape ?? []).reduce((a, b) => a * b, 1);
  const x: number[] = [];
  const y: number[] = [];
  for (const r of rows) {
    for (let j = 0; j < F; j++) x.push(Math.fround(ds.x[r * F + j] * scale + shift)); // computed in double, rounded once
    for (let j = 0; j < T; j++) y.push(ds.y[r * T + j]);
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
