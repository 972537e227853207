// Text as sequences of character ids (the pure part; runtime/node/load-text.ts reads the files).
//
// charCorpus: a character language-model corpus. The text (code points) is split BY POSITION
// into contiguous spans (runtime/data/split.ts splitSpans: train, then validation, then test);
// the vocabulary is built from the training span only (runtime/data/vocab.ts: id 0 unknown, no
// pad id), and the whole text is encoded once into one id array (Uint8Array up to 256 ids,
// Uint16Array up to 65,536, else Int32Array): characters of the validation and test spans that
// the training span lacks encode to the unknown id (counted in `unknown`). Each span is a
// windowed Dataset over its own part of that array (Windows in dataset.ts; nothing is copied):
//   sample i: s = i * stride;  x = ids[s .. s+context)  y = ids[s+1 .. s+context]
// (targetShape [context]: the next character at every position). A window and its target lie
// inside one span; the last stride-1 + ... characters of a span that do not fill a window are not
// used. A span (of a positive fraction) shorter than context + 1 characters is an error.
//
// documentClasses: document classification. Documents come grouped by class (ClassDocs: one
// class's text and the [start, end) ranges of its documents; splitDocuments finds them between
// separator lines). The split is stratified and seeded (split.ts splitStratified); the
// vocabulary is built from the training documents only, WITH the pad id (1). Each sample is one
// document's first `context` characters (longer documents are cut: `truncated` counts them),
// padded with the pad id to `context`; lengths[i] = min(length, context); y[i] = the class index.
// Samples keep a stable order: classes in the given order, documents in file order.
import { DnncError } from "../errors";
import { windowCount, windowedDataset, type Dataset, type IdArray } from "./dataset";
import { splitSpans, splitStratified, type Span, type Spans, type SplitFractions } from "./split";
import { Vocab, VocabBuilder } from "./vocab";

export interface CharCorpusOptions extends SplitFractions {
  /** Characters per window (x and y are [context]). */
  context: number;
  /** Characters between the starts of consecutive windows. Default: context (windows do not overlap). */
  stride?: number;
  /** A fixed vocabulary (a compiled trainer's): encode with it instead of building one from the training span. */
  vocab?: Vocab;
}

export interface CharCorpus {
  vocab: Vocab;
  /** The ids of the whole text (every span), one per character. */
  ids: IdArray;
  /** The spans, in characters. */
  spans: Spans;
  train: Dataset;
  validation?: Dataset;
  test?: Dataset;
  /** Characters of the validation and test spans outside the training vocabulary (encoded as the unknown id 0). */
  unknown: { validation: number; test: number };
}

function positiveInt(v: number | undefined, name: string, what: string): number {
  if (!(Number.isInteger(v) && (v as number) >= 1)) throw new DnncError(`${what}: ${name} must be a positive integer, got ${v}`);
  return v as number;
}

/** The narrowest id array for a vocabulary of `size` ids. */
export function idArray(size: number, length: number): IdArray {
  return size <= 256 ? new Uint8Array(length) : size <= 65536 ? new Uint16Array(length) : new Int32Array(length);
}

/** A character corpus from the code points cps[0, length); `what` names it in errors (the file or directory). */
export function charCorpus(cps: ArrayLike<number>, length: number, what: string, opts: CharCorpusOptions): CharCorpus {
  const context = positiveInt(opts.context, "context", what);
  const stride = positiveInt(opts.stride ?? context, "stride", what);
  if (length === 0) throw new DnncError(`${what}: empty text`);
  const spans = splitSpans(length, opts, what, "characters");
  const vocab = opts.vocab ?? new VocabBuilder().add(cps, spans.train.start, spans.train.end).build();
  const ids = vocab.encodeCodePoints(cps, 0, length, idArray(vocab.size, length), 0);
  const part = (name: string, span: Span | undefined): Dataset | undefined => {
    if (!span) return undefined;
    const L = span.end - span.start;
    const n = windowCount(L, context + 1, stride);
    if (n === 0)
      throw new DnncError(
        `${what}: the ${name} span has ${L} characters, fewer than one window needs (context ${context} + 1 for the next-character target)` +
          (name === "training" ? "" : `; lower context or raise the ${name} fraction`),
      );
    const series = ids.subarray(span.start, span.end);
    const w = { series, features: 1, length: context, stride, target: series, targetFeatures: 1, targetOffset: 1, targetLength: context };
    return windowedDataset(w, n, [context], [context], { classes: vocab.size, vocab });
  };
  const unk = (s: Span | undefined) => (s ? vocab.countUnknown(cps, s.start, s.end) : 0);
  return {
    vocab,
    ids,
    spans,
    train: part("training", spans.train)!,
    validation: part("validation", spans.validation),
    test: part("test", spans.test),
    unknown: { validation: unk(spans.validation), test: unk(spans.test) },
  };
}

// ---------------------------------------------------------------------------------------------
// Documents.

function isBlank(cps: ArrayLike<number>, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = cps[i];
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 11 && c !== 12) return false;
  }
  return true;
}

/**
 * The documents of a text: the pieces between lines that are exactly `separator` (a trailing
 * "\r" ignored, so CRLF files work), each without the line break before the separator line.
 * Blank documents (only spaces, tabs, line breaks) are skipped. A null separator: the whole text
 * (without one final line break) is one document. Ranges index cps.
 */
export function splitDocuments(cps: ArrayLike<number>, length: number, separator: string | null): Span[] {
  const docs: Span[] = [];
  const push = (s: number, e: number) => {
    if (e > s && cps[e - 1] === 10) e--;
    if (e > s && cps[e - 1] === 13) e--;
    if (!isBlank(cps, s, e)) docs.push({ start: s, end: e });
  };
  if (separator === null) {
    push(0, length);
    return docs;
  }
  const sep = Array.from(separator, (ch) => ch.codePointAt(0)!);
  if (sep.length === 0 || sep.includes(10)) throw new DnncError(`document separator must be one non-empty line, got ${JSON.stringify(separator)}`);
  let docStart = 0;
  for (let ls = 0; ls < length;) {
    let le = ls;
    while (le < length && cps[le] !== 10) le++;
    let ce = le;
    if (ce > ls && cps[ce - 1] === 13) ce--;
    let match = ce - ls === sep.length;
    for (let k = 0; match && k < sep.length; k++) match = cps[ls + k] === sep[k];
    const next = le < length ? le + 1 : le;
    if (match) {
      push(docStart, ls);
      docStart = next;
    }
    ls = next;
  }
  push(docStart, length);
  return docs;
}

/** One class: the code points of its text(s) and its documents' ranges. */
export interface ClassDocs {
  /** The class name (a file name). */
  name: string;
  /** Where the documents come from, for errors (a file or directory path). */
  source: string;
  /** The documents: code points cps[start, end) each (several documents may share one array). */
  docs: { cps: ArrayLike<number>; start: number; end: number }[];
}

export interface DocumentOptions extends SplitFractions {
  /** Characters per sample: longer documents are cut, shorter ones padded with the pad id. */
  context: number;
  /** Seed of the stratified split. */
  seed: number;
  /** A fixed vocabulary with a pad id (a compiled trainer's): encode with it instead of building one. */
  vocab?: Vocab;
}

export interface DocumentClasses {
  vocab: Vocab;
  /** Class names, index = class id. */
  classNames: string[];
  train: Dataset;
  validation?: Dataset;
  test?: Dataset;
  /** Documents per class (all splits). */
  counts: number[];
  /** Documents longer than context (only their first context characters are used). */
  truncated: number;
  /** Characters of validation and test samples (the first context of each document) outside the training vocabulary (encoded as the unknown id 0). */
  unknown: { validation: number; test: number };
}

/** Classification samples from documents grouped by class (see the top of the file). */
export function documentClasses(classes: ClassDocs[], what: string, opts: DocumentOptions): DocumentClasses {
  const context = positiveInt(opts.context, "context", what);
  if (classes.length < 2) throw new DnncError(`${what}: ${classes.length} class${classes.length === 1 ? "" : "es"}; classification needs at least 2`);
  const all: { cps: ArrayLike<number>; start: number; end: number }[] = [];
  const labels: number[] = [];
  const counts: number[] = [];
  classes.forEach((c, k) => {
    if (c.docs.length === 0) throw new DnncError(`${c.source}: no documents (class "${c.name}" is empty)`);
    counts.push(c.docs.length);
    for (const d of c.docs) {
      all.push(d);
      labels.push(k);
    }
  });
  const names = classes.map((c) => c.name);
  const split = splitStratified(labels, classes.length, opts, opts.seed, what, names);
  const builder = new VocabBuilder();
  for (const i of split.train) builder.add(all[i].cps, all[i].start, all[i].end);
  const vocab = opts.vocab ?? builder.build({ pad: true });
  if (vocab.pad === undefined) throw new DnncError(`${what}: the fixed vocabulary has no pad id (documents are padded)`);
  const pad = vocab.pad;
  let truncated = 0;
  for (const d of all) if (d.end - d.start > context) truncated++;
  const make = (idx: Int32Array): Dataset => {
    const n = idx.length;
    const x = new Float32Array(n * context).fill(pad);
    const y = new Float32Array(n);
    const lengths = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const d = all[idx[i]];
      const len = Math.min(d.end - d.start, context);
      vocab.encodeCodePoints(d.cps, d.start, d.start + len, x, i * context);
      lengths[i] = len;
      y[i] = labels[idx[i]];
    }
    return { x, y, n, shape: [context], classes: classes.length, lengths, vocab };
  };
  const unknown = (idx: Int32Array) => {
    let u = 0;
    for (const i of idx) u += vocab.countUnknown(all[i].cps, all[i].start, Math.min(all[i].end, all[i].start + context));
    return u;
  };
  return {
    vocab,
    classNames: names,
    train: make(split.train),
    validation: split.validation.length > 0 ? make(split.validation) : undefined,
    test: split.test.length > 0 ? make(split.test) : undefined,
    counts,
    truncated,
    unknown: { validation: unknown(split.validation), test: unknown(split.test) },
  };
}
