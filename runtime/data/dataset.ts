// The in-memory form of a dataset, shared by every loader (IDX, CSV, text, time series) and by gatherBatch.
// Samples are rows: sample i's features are x[i*F, (i+1)*F) with F the product of `shape`, its
// target is y[i] (or, with `targetShape`, y[i*T, (i+1)*T) with T the product of targetShape).
// Images stay as bytes (Uint8Array, 0..255) until gatherBatch converts one batch to
// float32, so the full Fashion-MNIST (60,000 x 784) takes 47 MB rather than 188 MB; a trainer
// keeps them packed (zero runs, `packed`): 28-29 MB.
//
// Sequences (runtime/data/text.ts, timeseries.ts, token-csv.ts): token ids are stored in x as
// floats (exact integers); `lengths` gives the valid length of padded sequences (positions at and
// after it hold the pad id); a padded TARGET position holds -1, the ignore index, which losses
// skip. Windows over one long series (a character corpus, a time series) are not copied per
// sample: `windows` describes them and gatherBatch reads each batch straight from the series;
// `x` and `y` are then getters that build the full arrays on first use (avoid them on large data).
import { unpackAll, type PackedRows } from "./packed";
import type { Vocab } from "./vocab";

/** Token ids of a whole corpus, in the narrowest array that holds the vocabulary. */
export type IdArray = Uint8Array | Uint16Array | Int32Array;

/**
 * Samples that are windows over one series held once. With s = i * stride, sample i is
 *   x = series[s*features, (s+length)*features)                                  ([length, features])
 *   y = target[(s+targetOffset)*targetFeatures, (s+targetOffset+targetLength)*targetFeatures)
 * A character language model: series = target = the ids, features 1, targetOffset 1 (the next
 * character at every position), targetLength = length = context. A forecast: series = the input
 * columns [steps, F_in], target = the target columns [steps, F_out], targetOffset = window,
 * targetLength = horizon.
 */
export interface Windows {
  series: IdArray | Float32Array;
  features: number;
  length: number;
  stride: number;
  target: IdArray | Float32Array;
  targetFeatures: number;
  targetOffset: number;
  targetLength: number;
}

export interface Dataset {
  /** Features, row-major [n, ...shape]; bytes for images, floats for tabular data. */
  x: Uint8Array | Float32Array;
  /** One target per sample: a class index (0 .. classes-1) or, for regression, a real value. */
  y: Float32Array | Uint8Array;
  /** Number of samples. */
  n: number;
  /** Per-sample feature shape, e.g. [1, 28, 28] for grayscale images (C, H, W), [2] for two features. */
  shape: number[];
  /** Padded sequences: each sample's valid length (absent: every sample is full length). */
  lengths?: Int32Array;
  /** Number of classes for classification data; undefined for regression targets. */
  classes?: number;
  /**
   * Byte images kept packed (runtime/data/packed.ts), decoded per batch by gatherBatch. `x` is then
   * a getter that unpacks every row once, on first use (packedDataset).
   */
  packed?: PackedRows;
  /** Per-sample target shape; absent: one target per sample. y is then row-major [n, ...targetShape]. */
  targetShape?: number[];
  /** The character vocabulary of token ids (text sources); saved with the model. */
  vocab?: Vocab;
  /** Samples as windows over one series, read by gatherBatch; x and y are then lazy getters (windowedDataset). */
  windows?: Windows;
}

/** A Dataset over packed byte rows: gatherBatch decodes them; `x` unpacks all rows on first use and keeps them. */
export function packedDataset(pk: PackedRows, y: Float32Array | Uint8Array, shape: number[], classes?: number): Dataset {
  let dense: Uint8Array | undefined;
  const ds = { y, n: pk.n, shape, classes, packed: pk } as Dataset;
  Object.defineProperty(ds, "x", { enumerable: true, get: () => (dense ??= unpackAll(pk)) });
  return ds;
}

/** Number of windows of a series of `steps` steps when each needs `span` steps from its start: floor((steps - span) / stride) + 1, or 0. */
export function windowCount(steps: number, span: number, stride: number): number {
  return steps < span ? 0 : Math.floor((steps - span) / stride) + 1;
}

/** Steps that the window of sample 0 reads, from its start, in its series and its target. */
function windowSpan(w: Windows): number {
  return Math.max(w.length, w.targetOffset + w.targetLength);
}

/**
 * A Dataset of `n` windows over a series (see Windows). `x` ([n, ...shape] as floats) and `y`
 * ([n, ...targetShape]) are built on first use and kept; gatherBatch never touches them.
 */
export function windowedDataset(w: Windows, n: number, shape: number[], targetShape: number[], extra: { classes?: number; vocab?: Vocab } = {}): Dataset {
  const F = w.length * w.features;
  const T = w.targetLength * w.targetFeatures;
  if (featureSize({ shape }) !== F) throw new RangeError(`windowedDataset: shape [${shape}] does not hold ${w.length} x ${w.features} values`);
  if (featureSize({ shape: targetShape }) !== T)
    throw new RangeError(`windowedDataset: target shape [${targetShape}] does not hold ${w.targetLength} x ${w.targetFeatures} values`);
  if (!(Number.isInteger(w.stride) && w.stride >= 1)) throw new RangeError(`windowedDataset: stride ${w.stride}`);
  if (n > 0) {
    const last = (n - 1) * w.stride;
    if ((last + w.length) * w.features > w.series.length || (last + w.targetOffset + w.targetLength) * w.targetFeatures > w.target.length)
      throw new RangeError(`windowedDataset: ${n} windows (stride ${w.stride}, span ${windowSpan(w)}) run past the end of the series`);
  }
  let x: Float32Array | undefined;
  let y: Float32Array | undefined;
  const ds = { n, shape, targetShape, classes: extra.classes, vocab: extra.vocab, windows: w } as Dataset;
  Object.defineProperty(ds, "x", {
    enumerable: true,
    get: () => {
      if (!x) {
        x = new Float32Array(n * F);
        for (let i = 0; i < n; i++) {
          const src = i * w.stride * w.features;
          for (let j = 0; j < F; j++) x[i * F + j] = w.series[src + j];
        }
      }
      return x;
    },
  });
  Object.defineProperty(ds, "y", {
    enumerable: true,
    get: () => {
      if (!y) {
        y = new Float32Array(n * T);
        for (let i = 0; i < n; i++) {
          const src = (i * w.stride + w.targetOffset) * w.targetFeatures;
          for (let j = 0; j < T; j++) y[i * T + j] = w.target[src + j];
        }
      }
      return y;
    },
  });
  return ds;
}

/** Targets per sample (the product of `targetShape`, 1 without one). */
export function targetSize(ds: Pick<Dataset, "targetShape">): number {
  let t = 1;
  for (const d of ds.targetShape ?? []) t *= d;
  return t;
}

/** Features per sample (the product of `shape`). */
export function featureSize(ds: Pick<Dataset, "shape">): number {
  let f = 1;
  for (const d of ds.shape) f *= d;
  return f;
}

/**
 * The samples `rows` of a dataset held as arrays (not windows, not packed), in that order: x, y
 * and the lengths copied row by row. For a split made where the data is loaded (a test split).
 */
export function takeRows<D extends Dataset>(ds: D, rows: Int32Array): D {
  if (ds.windows || ds.packed) throw new RangeError("takeRows: windowed or packed datasets are not copied by rows");
  const F = featureSize(ds);
  const T = ds.y.length === 0 ? 0 : targetSize(ds);
  const x = new (ds.x.constructor as Float32ArrayConstructor)(rows.length * F);
  const y = new (ds.y.constructor as Float32ArrayConstructor)(rows.length * T);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    x.set(ds.x.subarray(r * F, (r + 1) * F), i * F);
    if (T > 0) y.set(ds.y.subarray(r * T, (r + 1) * T), i * T);
  }
  const out = { ...ds, x, y, n: rows.length };
  if (ds.lengths) out.lengths = Int32Array.from(rows, (r) => ds.lengths![r]);
  return out;
}
