// What the worker shows of the trained model besides its curves, through the library API's
// predict (runtime/api.ts: raw features in, the data's scale and shift applied there): for two
// input features, the model's class probability over a grid spanning the data (TensorFlow
// Playground's decision boundary) with the test points; for images, the first test images with the
// predicted class. (The weights come from the model's save(): the file `dnnc train` writes.)
import type { Dataset } from "../../runtime/data/dataset";
import { unpackRowScaled } from "../../runtime/data/packed";
import type { Program } from "../../runtime/program";

/** Grid cells per side of the decision-boundary picture. */
export const GRID = 64;
/** Test images shown with their predictions. */
export const SAMPLE_IMAGES = 24;

export type Insight =
  | {
      type: "boundary";
      /** Data range of the two features: the grid spans it, padded by 10%. */
      x0: number;
      x1: number;
      y0: number;
      y1: number;
      n: number;
      /** Row-major n×n, row 0 at y0: the predicted class and its probability. */
      cls: Uint8Array;
      prob: Float32Array;
      classes: number;
      /** Up to 400 test points (features as in the data) and their labels. */
      points: [number, number, number][];
    }
  | {
      type: "samples";
      shape: number[];
      /** Per image: C·H·W bytes, the true class, the predicted class and its probability. */
      images: { pixels: Uint8Array; label: number; pred: number; prob: number }[];
    };

/** Classes of the model's output: argmax of k logits, or a sigmoid of one (binary). */
function classify(out: Float32Array, o: number, k: number): [number, number] {
  if (k === 1) {
    const q = 1 / (1 + Math.exp(-out[o]));
    return q >= 0.5 ? [1, q] : [0, 1 - q];
  }
  let a = 0;
  for (let j = 1; j < k; j++) if (out[o + j] > out[o + a]) a = j;
  let z = 0;
  for (let j = 0; j < k; j++) z += Math.exp(out[o + j] - out[o + a]);
  return [a, 1 / z];
}

/** A model's predict: rows of raw features in, k outputs per row out. */
export type Predict = (x: Float32Array) => Float32Array;

/** The picture for this model and data, or undefined (a sequence model, preprocessing, another shape). */
export function insight(p: Program, predict: Predict, data: { train: Dataset; test?: Dataset }): Insight | undefined {
  const k = p.meta.outputSize;
  if (((p.data.preprocess ?? []) as unknown[]).length > 0 || p.meta.positions || p.layout.lengths !== undefined) return undefined;
  if (data.train.classes === undefined) return undefined;
  const shape = p.meta.inputShape;
  const ds = data.test ?? data.train;
  if (shape.length === 1 && shape[0] === 2 && !(ds.x instanceof Uint8Array)) {
    const x = ds.x as Float32Array;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const d of [data.train, ds])
      for (let i = 0; i < d.n; i++) {
        const a = (d.x as Float32Array)[2 * i];
        const b = (d.x as Float32Array)[2 * i + 1];
        x0 = Math.min(x0, a);
        x1 = Math.max(x1, a);
        y0 = Math.min(y0, b);
        y1 = Math.max(y1, b);
      }
    const px = 0.1 * (x1 - x0 || 1);
    const py = 0.1 * (y1 - y0 || 1);
    [x0, x1, y0, y1] = [x0 - px, x1 + px, y0 - py, y1 + py];
    const cls = new Uint8Array(GRID * GRID);
    const prob = new Float32Array(GRID * GRID);
    const grid = new Float32Array(GRID * GRID * 2);
    for (let i = 0; i < GRID * GRID; i++) {
      grid[2 * i] = x0 + (((i % GRID) + 0.5) / GRID) * (x1 - x0);
      grid[2 * i + 1] = y0 + ((Math.floor(i / GRID) + 0.5) / GRID) * (y1 - y0);
    }
    const out = predict(grid);
    for (let i = 0; i < GRID * GRID; i++) [cls[i], prob[i]] = classify(out, i * k, k);
    const points: [number, number, number][] = [];
    for (let i = 0; i < Math.min(ds.n, 400); i++) points.push([x[2 * i], x[2 * i + 1], ds.y[i]]);
    return { type: "boundary", x0, x1, y0, y1, n: GRID, cls, prob, classes: Math.max(2, k), points };
  }
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) {
    const F = p.meta.inputSize;
    const n = Math.min(SAMPLE_IMAGES, ds.n);
    const row = new Float32Array(F);
    const bytes = (i: number) => {
      if (ds.packed) {
        unpackRowScaled(ds.packed, i, row, 0, 1, 0);
        return Uint8Array.from(row);
      }
      return Uint8Array.from(ds.x.subarray(i * F, (i + 1) * F), (v) => Math.max(0, Math.min(255, Math.round(v))));
    };
    const images: Extract<Insight, { type: "samples" }>["images"] = [];
    const x = new Float32Array(n * F);
    for (let i = 0; i < n; i++) {
      const b = bytes(i);
      x.set(b, i * F);
      images.push({ pixels: b, label: ds.y[i], pred: 0, prob: 0 });
    }
    const out = predict(x);
    for (let i = 0; i < n; i++) [images[i].pred, images[i].prob] = classify(out, i * k, k);
    return { type: "samples", shape, images };
  }
  return undefined;
}
