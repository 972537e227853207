// Train / validation / test splits of sequence sources, decided where the data is loaded (the
// vocabulary and the standardization are fitted on the training split only, so the split must
// exist before them).
//  - splitSpans: by position, for one long series (a character corpus, a time series): the
//    training span first, then validation, then test; contiguous, never shuffled, so no window
//    sees across a boundary. The span sizes are round(N * fraction) for validation and test; the
//    training span is the rest.
//  - splitStratified: for separate samples with classes (documents): within each class, a
//    deterministic shuffle (seed, stream "data:document-split", the classes in order) picks
//    round(n_c * test) test and then round(n_c * validation) validation samples; every part is
//    returned sorted ascending (the training loop shuffles per epoch). Stratifying keeps small
//    classes in every part in proportion.
import { DnncError } from "../errors";
import { Rng, streamId } from "../rng";

export interface SplitFractions {
  /** Fraction of the data for validation, in [0, 1). Default 0: no validation split. */
  validation?: number;
  /** Fraction of the data for the test split, in [0, 1). Default 0: no test split. */
  test?: number;
}

/** A half-open range [start, end) of positions (characters, time steps). */
export interface Span {
  start: number;
  end: number;
}

export interface Spans {
  train: Span;
  validation?: Span;
  test?: Span;
}

function fractions(f: SplitFractions, what: string): { val: number; test: number } {
  const val = f.validation ?? 0;
  const test = f.test ?? 0;
  for (const [name, v] of [
    ["validation", val],
    ["test", test],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new DnncError(`${what}: ${name} fraction must be in [0, 1), got ${v}`);
  }
  if (!(val + test < 1)) throw new DnncError(`${what}: validation ${val} + test ${test} leave nothing for training`);
  return { val, test };
}

/**
 * Contiguous spans of positions 0..N-1: train, then validation, then test. A fraction of 0 gives
 * no span; a positive fraction that rounds to an empty span is an error. `what` names the data
 * and `unit` its positions ("characters", "steps") in errors.
 */
export function splitSpans(N: number, f: SplitFractions, what: string, unit: string): Spans {
  const { val, test } = fractions(f, what);
  const nTest = Math.round(N * test);
  const nVal = Math.round(N * val);
  if (val > 0 && nVal === 0) throw new DnncError(`${what}: validation fraction ${val} of ${N} ${unit} is an empty span`);
  if (test > 0 && nTest === 0) throw new DnncError(`${what}: test fraction ${test} of ${N} ${unit} is an empty span`);
  const nTrain = N - nVal - nTest;
  if (nTrain <= 0) throw new DnncError(`${what}: validation ${val} and test ${test} of ${N} ${unit} leave nothing for training`);
  const spans: Spans = { train: { start: 0, end: nTrain } };
  if (nVal > 0) spans.validation = { start: nTrain, end: nTrain + nVal };
  if (nTest > 0) spans.test = { start: nTrain + nVal, end: N };
  return spans;
}

/**
 * Sample indices split per class (labels[i] in 0..classes-1). `names` name the classes in errors.
 * A class left without training samples is an error; so is a positive fraction that gives no sample at all.
 */
export function splitStratified(
  labels: ArrayLike<number>,
  classes: number,
  f: SplitFractions,
  seed: number,
  what: string,
  names?: readonly string[],
): { train: Int32Array; validation: Int32Array; test: Int32Array } {
  const { val, test } = fractions(f, what);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) throw new RangeError(`splitStratified: label ${c} of sample ${i} outside 0..${classes - 1}`);
    byClass[c].push(i);
  }
  const rng = new Rng(seed >>> 0, streamId("data:document-split"));
  const tr: number[] = [];
  const va: number[] = [];
  const te: number[] = [];
  for (let c = 0; c < classes; c++) {
    const idx = Int32Array.from(byClass[c]);
    rng.shuffle(idx);
    const nTest = Math.round(idx.length * test);
    const nVal = Math.round(idx.length * val);
    if (idx.length > 0 && nTest + nVal >= idx.length)
      throw new DnncError(
        `${what}: class ${names ? JSON.stringify(names[c]) : c} has ${idx.length} samples: validation ${val} and test ${test} leave none for training`,
      );
    for (let k = 0; k < idx.length; k++) (k < nTest ? te : k < nTest + nVal ? va : tr).push(idx[k]);
  }
  if (val > 0 && va.length === 0) throw new DnncError(`${what}: validation fraction ${val} of ${labels.length} samples gives no validation sample`);
  if (test > 0 && te.length === 0) throw new DnncError(`${what}: test fraction ${test} of ${labels.length} samples gives no test sample`);
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(tr), validation: sorted(va), test: sorted(te) };
}

/**
 * The test rows of a source of separate samples (a single CSV file, a tokens file, an image
 * folder): a Fisher-Yates shuffle of 0..n-1 on the stream "data:test-split" of the SPEC's seed
 * (--seed does not move it: runs with different seeds are scored on the same rows) picks
 * round(n * fraction) test rows; the validation rows are drawn later from the rest, as from any
 * training set. Both parts sorted ascending. A positive fraction that gives no test row, or leaves
 * no training row, is an error naming `what`.
 */
export function splitTestRows(n: number, fraction: number, seed: number, what: string): { train: Int32Array; test: Int32Array } {
  if (!(fraction >= 0 && fraction < 1)) throw new DnncError(`${what}: test fraction must be in [0, 1), got ${fraction}`);
  const nTest = Math.round(n * fraction);
  if (fraction > 0 && nTest === 0) throw new DnncError(`${what}: test fraction ${fraction} of ${n} samples gives no test sample`);
  if (nTest >= n && n > 0) throw new DnncError(`${what}: test fraction ${fraction} of ${n} samples leaves none for training`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Rng(seed >>> 0, streamId("data:test-split")).shuffle(perm);
  return { train: perm.slice(nTest).sort(), test: perm.slice(0, nTest).sort() };
}
