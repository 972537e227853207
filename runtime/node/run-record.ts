// What a run records for its report besides metrics.jsonl and the loss trace (runtime/node/main.ts
// writes them): the learning rate of every step, kept compact, and a sample of the test set's
// predictions (the misclassified images for a gallery, predicted-vs-true pairs for regression).
//
//   run-info.json: {"started", "finished" (ISO dates), "train", "data" (the settings in effect),
//     "lr_steps": [[step, lr], ...]}: the rate is linear between two listed steps (a warm-up is two
//     points, a staircase two per stair, a cosine every step, thinned to at most LR_POINTS). A
//     resumed run keeps the start date and the rates up to its checkpoint from the run it resumes.
//     (Not in run.json: a run that early stopping ended, resumed, leaves run.json as it was.)
//   predictions.json: {"kind": "classification", "seen", "wrong", "shape": [C, H, W] (images only),
//     "samples": [{"row", "true", "pred", "prob", "pixels" (images: base64 of C·H·W bytes 0..255)}]} or
//     {"kind": "regression", "seen", "pairs": [[true, predicted], ...]} (first PRED_POINTS test rows).
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Dataset } from "../data/dataset";
import { unpackRowScaled } from "../data/packed";
import type { Program } from "../program";

/** The most points of the learning-rate record written to run.json. */
export const LR_POINTS = 4000;
/** The most misclassified samples kept (with their pixels) and the most regression pairs. */
export const GALLERY_SAMPLES = 32;
export const PRED_POINTS = 2000;

/**
 * The learning rate per step, as the points where it leaves a straight line (relative tolerance
 * 1e-6): constant and linear stretches cost two points. Grows by doubling (no allocation per step
 * but the amortized growth).
 */
export class LrRecord {
  private buf = new Float64Array(256);
  private n = 0; // floats used (pairs × 2)

  constructor(start: [number, number][] = []) {
    for (const [s, lr] of start) this.add(s, lr);
  }

  add(step: number, lr: number): void {
    const k = this.n / 2;
    if (k >= 2) {
      // drop the previous point when it lies on the line from the one before it to this one
      const s0 = this.buf[this.n - 4];
      const l0 = this.buf[this.n - 3];
      const s1 = this.buf[this.n - 2];
      const l1 = this.buf[this.n - 1];
      const expect = l0 + ((lr - l0) * (s1 - s0)) / (step - s0);
      if (Math.abs(expect - l1) <= 1e-6 * Math.max(Math.abs(l1), 1e-30)) this.n -= 2;
    }
    if (this.n + 2 > this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = step;
    this.buf[this.n++] = lr;
  }

  /** The points, thinned to at most `max` (evenly, the first and last kept). */
  points(max = LR_POINTS): [number, number][] {
    const k = this.n / 2;
    const out: [number, number][] = [];
    if (k === 0) return out;
    const stride = k <= max ? 1 : (k - 1) / (max - 1);
    let last = -1;
    for (let j = 0; j < Math.min(k, max); j++) {
      const i = Math.min(k - 1, Math.round(j * stride));
      if (i === last) continue;
      last = i;
      out.push([this.buf[2 * i], this.buf[2 * i + 1]]);
    }
    return out;
  }
}

export const RUN_INFO_FILE = "run-info.json";

/**
 * What a resumed run keeps of the run-info.json beside the checkpoint it resumes (`from`: a run
 * directory or a checkpoint file): the start date and the rates of the steps up to `step`. A
 * missing or unreadable file gives a fresh start (the report then lacks the earlier rates).
 */
export function resumedRunInfo(from: string | undefined, step: number): { started: string; lrSteps: [number, number][] } {
  const fresh = { started: new Date().toISOString(), lrSteps: [] as [number, number][] };
  if (from === undefined) return fresh;
  try {
    const path = join(statSync(from).isDirectory() ? from : dirname(from), RUN_INFO_FILE);
    if (!existsSync(path)) return fresh;
    const v = JSON.parse(readFileSync(path, "utf8")) as { started?: unknown; lr_steps?: unknown };
    const lrSteps = Array.isArray(v.lr_steps)
      ? (v.lr_steps as unknown[]).filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number" && p[0] <= step)
      : [];
    return { started: typeof v.started === "string" ? v.started : fresh.started, lrSteps };
  } catch {
    return fresh;
  }
}

/**
 * Class names from a data directory's `classes.txt` (one name per line, in label order), for the
 * confusion matrix and the gallery. Undefined when there is none; a file whose number of names is
 * not `k` is not used, and `warn` says so.
 */
export function classNamesFile(dataPath: string, k: number, warn: (line: string) => void): string[] | undefined {
  try {
    if (!statSync(dataPath).isDirectory()) return undefined;
    const file = join(dataPath, "classes.txt");
    if (!existsSync(file)) return undefined;
    const names = readFileSync(file, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
    if (names.length === k) return names;
    warn(`note: ${file} has ${names.length} class name${names.length === 1 ? "" : "s"} for ${k} classes; the report numbers the classes instead`);
  } catch {
    // an unreadable directory: the classes are numbered
  }
  return undefined;
}

export interface ClassSample {
  row: number;
  true: number;
  pred: number;
  prob: number;
  /** Base64 of the image's C·H·W bytes (0..255), images only. */
  pixels?: string;
}

export type Predictions =
  | { kind: "classification"; seen: number; wrong: number; shape?: number[]; samples: ClassSample[] }
  | { kind: "regression"; seen: number; pairs: [number, number][] };

/** Whether samples of this shape are images the report can draw: [C, H, W] with 1 or 3 channels. */
export function isImageShape(shape: number[]): boolean {
  return shape.length === 3 && (shape[0] === 1 || shape[0] === 3) && shape[1] >= 4 && shape[2] >= 4;
}

/**
 * Collects predictions from the final test evaluation (TrainOptions.onTestOutput). Classification
 * (one label per sample, k >= 2 logits or one binary logit): the first GALLERY_SAMPLES misclassified
 * samples with the probability given to the wrong class; regression (one output): the first
 * PRED_POINTS (true, predicted) pairs. Sequence outputs (several positions) record nothing.
 */
export class PredictionCollector {
  private seen = 0;
  private wrong = 0;
  private samples: ClassSample[] = [];
  private pairs: [number, number][] = [];
  private readonly image: boolean;

  constructor(
    private readonly p: Program,
    private readonly ds: Dataset,
    private readonly regression: boolean,
  ) {
    this.image = isImageShape(ds.shape);
  }

  get active(): boolean {
    return !this.p.meta.positions && (this.ds.targetShape === undefined || this.ds.targetShape.reduce((a, b) => a * b, 1) === 1);
  }

  readonly sink = (row: number, H: Float32Array, out: number, k: number): void => {
    this.seen++;
    const t = this.ds.y[row];
    if (this.regression) {
      if (this.pairs.length < PRED_POINTS) this.pairs.push([t, H[out]]);
      return;
    }
    let pred: number;
    let prob: number;
    if (k === 1) {
      const q = 1 / (1 + Math.exp(-H[out]));
      pred = q >= 0.5 ? 1 : 0;
      prob = pred === 1 ? q : 1 - q;
    } else {
      pred = 0;
      for (let j = 1; j < k; j++) if (H[out + j] > H[out + pred]) pred = j;
      let z = 0;
      for (let j = 0; j < k; j++) z += Math.exp(H[out + j] - H[out + pred]);
      prob = 1 / z;
    }
    if (pred === t) return;
    this.wrong++;
    if (this.samples.length >= GALLERY_SAMPLES) return;
    const s: ClassSample = { row, true: t, pred, prob: Number(prob.toPrecision(4)) };
    if (this.image) s.pixels = this.pixels(row);
    this.samples.push(s);
  };

  /** Row `r`'s features as bytes: as stored for byte images, else stretched from their min..max. */
  private pixels(r: number): string {
    return Buffer.from(this.bytes(r)).toString("base64");
  }

  private bytes(r: number): Uint8Array {
    const F = this.ds.shape.reduce((a, b) => a * b, 1);
    let row: ArrayLike<number>;
    if (this.ds.packed) {
      const f = new Float32Array(F);
      unpackRowScaled(this.ds.packed, r, f, 0, 1, 0);
      row = f;
    } else row = this.ds.x.subarray(r * F, (r + 1) * F);
    if (this.ds.packed || this.ds.x instanceof Uint8Array) return Uint8Array.from(row, (v) => Math.round(v));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < F; i++) {
      lo = Math.min(lo, row[i]);
      hi = Math.max(hi, row[i]);
    }
    const span = hi > lo ? hi - lo : 1;
    return Uint8Array.from(row, (v) => Math.round((255 * (v - lo)) / span));
  }

  toJSON(): Predictions {
    if (this.regression) return { kind: "regression", seen: this.seen, pairs: this.pairs };
    return { kind: "classification", seen: this.seen, wrong: this.wrong, ...(this.image ? { shape: this.ds.shape } : {}), samples: this.samples };
  }
}
