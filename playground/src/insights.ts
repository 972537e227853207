// What the worker shows of the model besides its curves (called between training slices, when the
// loop is paused after a whole step, and once at the end): for two input features, the model's
// class probability over a grid spanning the data (TensorFlow Playground's decision boundary) with
// the test points; for images, the first test images with the predicted class; at the end the
// weights as a safetensors file (the format `dnnc train` writes).
import type { Backend } from "../../runtime/backend";
import type { Dataset } from "../../runtime/data/dataset";
import { unpackRowScaled } from "../../runtime/data/packed";
import type { Model, Program } from "../../runtime/program";
import { encodeSafetensors } from "../../runtime/safetensors";

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
function classify(H: Float32Array, out: number, k: number): [number, number] {
  if (k === 1) {
    const q = 1 / (1 + Math.exp(-H[out]));
    return q >= 0.5 ? [1, q] : [0, 1 - q];
  }
  let a = 0;
  for (let j = 1; j < k; j++) if (H[out + j] > H[out + a]) a = j;
  let z = 0;
  for (let j = 0; j < k; j++) z += Math.exp(H[out + j] - H[out + a]);
  return [a, 1 / z];
}

/** Run the model in eval mode on `n` feature rows written by `fill(i, dst)` (already scaled), `B` at a time. */
function predictRows(
  p: Program,
  H: Float32Array,
  model: Model,
  n: number,
  fill: (i: number, dst: number) => void,
  each: (i: number, out: number) => void,
): void {
  const B = p.meta.batch;
  const F = p.meta.inputSize;
  const k = p.meta.outputSize;
  for (let s = 0; s < n; s += B) {
    const m = Math.min(B, n - s);
    for (let i = 0; i < m; i++) fill(s + i, p.layout.x + i * F);
    model.forward(m, false, 0);
    for (let i = 0; i < m; i++) each(s + i, p.layout.out + i * k);
  }
}

/** The picture for this model and data, or undefined (a sequence model, preprocessing, another shape). */
export function insight(p: Program, be: Backend, model: Model, data: { train: Dataset; test?: Dataset }): Insight | undefined {
  const H = be.H;
  const k = p.meta.outputSize;
  if (((p.data.preprocess ?? []) as unknown[]).length > 0 || p.meta.positions || p.layout.lengths !== undefined) return undefined;
  if (data.train.classes === undefined) return undefined;
  const { scale, shift } = p.data;
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
    predictRows(
      p,
      H,
      model,
      GRID * GRID,
      (i, dst) => {
        H[dst] = (x0 + (((i % GRID) + 0.5) / GRID) * (x1 - x0)) * scale + shift;
        H[dst + 1] = (y0 + ((Math.floor(i / GRID) + 0.5) / GRID) * (y1 - y0)) * scale + shift;
      },
      (i, out) => {
        const [c, q] = classify(H, out, k);
        cls[i] = c;
        prob[i] = q;
      },
    );
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
    predictRows(
      p,
      H,
      model,
      n,
      (i, dst) => {
        const b = bytes(i);
        for (let j = 0; j < F; j++) H[dst + j] = b[j] * scale + shift;
        images.push({ pixels: b, label: ds.y[i], pred: 0, prob: 0 });
      },
      (i, out) => {
        const [c, q] = classify(H, out, k);
        images[i].pred = c;
        images[i].prob = q;
      },
    );
    return { type: "samples", shape, images };
  }
  return undefined;
}

/** The model's tensors as a safetensors file, with dnnc's metadata. */
export function weightsFile(p: Program, be: Backend): Uint8Array {
  const H = be.H;
  return encodeSafetensors(
    p.tensors.map((t) => ({ name: t.name, shape: t.shape, data: H.subarray(t.offset, t.offset + t.size) })),
    {
      format: "dnnc",
      dnnc_version: p.meta.dnncVersion,
      spec: p.meta.file,
      spec_name: p.meta.name,
      spec_sha256: p.meta.specHash,
      input_shape: JSON.stringify(p.meta.inputShape),
      seed: String(p.train.seed),
    },
  );
}
