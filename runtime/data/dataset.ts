// The in-memory form of a dataset, shared by every loader (IDX, CSV) and by gatherBatch.
// Samples are rows: sample i's features are x[i*F, (i+1)*F) with F the product of `shape`, its
// target is y[i]. Images stay as bytes (Uint8Array, 0..255) until gatherBatch converts one batch to
// float32, so the full Fashion-MNIST (60,000 x 784) takes 47 MB rather than 188 MB; a trainer
// keeps them packed (zero runs, `packed`): 28-29 MB.
import { unpackAll, type PackedRows } from "./packed";

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
}

/** A Dataset over packed byte rows: gatherBatch decodes them; `x` unpacks all rows on first use and keeps them. */
export function packedDataset(pk: PackedRows, y: Float32Array | Uint8Array, shape: number[], classes?: number): Dataset {
  let dense: Uint8Array | undefined;
  const ds = { y, n: pk.n, shape, classes, packed: pk } as Dataset;
  Object.defineProperty(ds, "x", { enumerable: true, get: () => (dense ??= unpackAll(pk)) });
  return ds;
}

/** Features per sample (the product of `shape`). */
export function featureSize(ds: Pick<Dataset, "shape">): number {
  let f = 1;
  for (const d of ds.shape) f *= d;
  return f;
}
