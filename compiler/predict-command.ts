// `dnnc predict RUN --input FILE [--out FILE]`: load a run directory's trainer and weights
// (model.safetensors, with its fitted preprocessing) and predict the inputs of an IDX images
// file, a CSV file of features (with or without the spec's label column), or one or more PNG
// images. Prints `index,class,probability` (or the raw outputs for regression) per sample.
import { existsSync, statSync } from "node:fs";
import { createBackend } from "../runtime/backend-create";
import { DnncError } from "../runtime/errors";
import { parseIdx } from "../runtime/data/idx";
import { imageToSample } from "../runtime/data/image";
import { readBytes, readMaybeGzip } from "../runtime/node/files";
import { writeFileAtomicSync } from "../runtime/node/atomic";
import { loadCsvFile } from "../runtime/node/load-csv";
import { categoriesFromMetadata, describeWidth, oneHot } from "../runtime/data/categorical";
import { decodePng } from "../runtime/node/png";
import { applyPreprocess, preprocessFromStored, preprocessScratchSize } from "../runtime/preprocess";
import type { Program } from "../runtime/program";
import { bindWeights, openRun } from "./load-run";
import { vocabFromMetadata } from "../runtime/data/vocab";
import { decodeUtf8CodePoints } from "../runtime/data/utf8";
import { splitDocuments } from "../runtime/data/text";

interface Inputs {
  x: Float32Array;
  n: number;
  /** Each sample's valid length (padded sequences), else absent. */
  lengths?: Int32Array;
}

/**
 * Documents to classify, for a model trained on a `text_classes(...)` source: each input file is
 * split into documents by the source's separator lines (a file without one is one document), each
 * encoded with the model's vocabulary (model.safetensors metadata; other characters: id 0) and cut
 * or padded to its context, as in training.
 */
function textDocuments(files: string[], p: Program, metadata: Record<string, string>, weights: string): Inputs {
  const vocab = vocabFromMetadata(metadata, weights);
  if (!vocab || vocab.pad === undefined) throw new DnncError(`${weights}: no padded vocabulary in its metadata (written by a dnnc before text_classes?)`);
  const T = p.meta.inputShape[0];
  const separator = (p.data.source.args?.separator as string | undefined) ?? "%";
  const docs: { cps: Int32Array; start: number; end: number }[] = [];
  for (const f of files) {
    const { cps, length } = decodeUtf8CodePoints(readMaybeGzip(f), f);
    for (const d of splitDocuments(cps, length, separator)) docs.push({ cps, start: d.start, end: d.end });
  }
  if (docs.length === 0) throw new DnncError(`${files.join(", ")}: no documents (every piece between separator lines "${separator}" is blank)`);
  const x = new Float32Array(docs.length * T).fill(vocab.pad);
  const lengths = new Int32Array(docs.length);
  docs.forEach((d, i) => {
    lengths[i] = Math.min(T, d.end - d.start);
    vocab.encodeCodePoints(d.cps, d.start, d.start + lengths[i], x, i * T);
  });
  return { x, n: docs.length, lengths };
}

/** The model's image size [C, H, W] for PNG input, or the reason it takes no images. */
function imageShape(p: Program, F: number): { C: number; H: number; W: number } {
  const shape = p.meta.inputShape;
  if (F !== p.meta.inputSize)
    throw new DnncError(
      `predict: PNG input needs a model that takes images; this one takes ${p.meta.inputSize} preprocessed features of ${F} raw values: give an IDX or CSV file`,
    );
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3))
    throw new DnncError(
      `predict: PNG input needs a model that takes images of 1 or 3 channels [C, H, W]; this one takes [${shape.join(", ")}]: give an IDX or CSV file`,
    );
  return { C: shape[0], H: shape[1], W: shape[2] };
}

/**
 * A CSV file's features for a model of F inputs. The file may hold the features only, or the
 * features and the spec's label column (as train.csv and test.csv do), which is then left out:
 * by name when the label is a column name and the file has a header, by index when the label is
 * an index and the file has one column more than the model's inputs. Anything else is refused
 * with the counts, rather than guessed.
 */
function csvFeatures(f: string, p: Program, F: number, metadata: Record<string, string>): { x: Float32Array; n: number } {
  const label = p.data.source.label ?? "label";
  // the spec's csv(...) reading settings; with `features` the file is read as train.csv was: those columns, in that order
  const a = p.data.source.args ?? {};
  const read = { header: a.header as boolean | undefined, delimiter: a.delimiter as string | undefined, skipRows: a.skip_rows as number | undefined };
  if (a.categorical !== undefined && p.data.source.kind === "csv") {
    // categorical columns: one-hot by the vocabulary saved with the model (an unknown category: zeros)
    const vocab = categoriesFromMetadata(metadata, f);
    const raw = loadCsvFile(f, {
      label: null,
      regression: true,
      ...read,
      features: a.features as (string | number)[] | undefined,
      categorical: a.categorical as (string | number)[],
    });
    const ds = oneHot(raw, vocab, f).ds;
    if (ds.shape[0] !== F)
      throw new DnncError(`${f}: the rows give ${describeWidth(raw, vocab)}, the model takes ${F}; give the feature columns only, as named by the spec`);
    return { x: ds.x, n: ds.n };
  }
  if (a.features !== undefined && p.data.source.kind === "csv") {
    const ds = loadCsvFile(f, { label: null, regression: true, ...read, features: a.features as (string | number)[] });
    if (ds.shape[0] !== F) throw new DnncError(`${f}: the spec's features give ${ds.shape[0]} values per row, the model takes ${F}`);
    return { x: ds.x, n: ds.n };
  }
  const ds = loadCsvFile(f, { label: null, regression: true, ...read });
  const W = ds.shape[0];
  let drop = -1;
  if (typeof label === "string") drop = ds.hasHeader ? ds.featureNames.indexOf(label) : -1;
  else if (W === F + 1) drop = label < 0 ? W + label : label;
  if (drop >= 0 && drop < W) {
    if (W - 1 !== F) throw new DnncError(`${f}: rows have ${W - 1} features, the model takes ${F} (the label column "${ds.featureNames[drop]}" left out)`);
    // leave the label column out, in place
    const x = ds.x;
    for (let i = 0, o = 0; i < ds.n; i++) for (let k = 0; k < W; k++) if (k !== drop) x[o++] = x[i * W + k];
    return { x: x.subarray(0, ds.n * F), n: ds.n };
  }
  if (W === F) return { x: ds.x, n: ds.n };
  if (W === F + 1 && typeof label === "string")
    throw new DnncError(
      `${f}: rows have ${W} columns and the model takes ${F} features, but ${ds.hasHeader ? `no column is named "${label}"` : "the file has no header"} ` +
        `to say which column is the label: give the ${F} feature columns only, or a header row with a "${label}" column`,
    );
  throw new DnncError(`${f}: rows have ${W} features, the model takes ${F}`);
}

/** `F` is the number of raw values per sample: the model's input size, or the fitted preprocessing's
 * input size when it changes the dimension (pca/whiten with k < d). */
function loadInputs(files: string[], p: Program, F: number, metadata: Record<string, string>, weights: string): Inputs {
  if (p.data.source.kind === "text_classes") return textDocuments(files, p, metadata, weights);
  if (p.data.source.kind !== "idx" && p.data.source.kind !== "csv" && p.data.source.kind !== "image_folder")
    throw new DnncError(
      `predict: a model trained on a ${p.data.source.kind}(...) source is not supported by predict${p.data.source.kind === "text" ? " (use dnnc generate)" : ""}`,
    );
  const scale = p.data.scale;
  const shift = p.data.shift;
  if (files.every((f) => f.toLowerCase().endsWith(".png"))) {
    const { H, W } = imageShape(p, F);
    const x = new Float32Array(files.length * F);
    files.forEach((f, i) => {
      // the model's size is checked before the image data is inflated (decompression bombs)
      const img = decodePng(readBytes(f), f, { width: W, height: H });
      const s = imageToSample(img, p.meta.inputShape, f);
      for (let j = 0; j < F; j++) x[i * F + j] = s[j] * scale + shift;
    });
    return { x, n: files.length };
  }
  if (files.length !== 1) throw new DnncError("predict: give one IDX or CSV file, or PNG images");
  const f = files[0];
  if (/\.csv(\.gz)?$/i.test(f)) {
    const { x, n } = csvFeatures(f, p, F, metadata);
    for (let i = 0; i < x.length; i++) x[i] = x[i] * scale + shift;
    return { x, n };
  }
  const arr = parseIdx(readMaybeGzip(f), f);
  const per = arr.dims.slice(1).reduce((a, b) => a * b, 1);
  if (per !== F)
    throw new DnncError(
      `${f}: samples have ${per} values, the model takes ${F}${F === p.meta.inputSize ? ` ([${p.meta.inputShape.join(", ")}])` : ` (before its fitted preprocessing, which gives [${p.meta.inputShape.join(", ")}])`}`,
    );
  const n = arr.dims[0];
  const x = new Float32Array(n * F);
  for (let i = 0; i < x.length; i++) x[i] = arr.data[i] * scale + shift;
  return { x, n };
}

/** The class names stored with a model (metadata "classes": a JSON array of k strings). */
function classNames(json: string, file: string, k: number): string[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== k || !v.every((x) => typeof x === "string"))
    throw new DnncError(`${file}: metadata "classes" is not a JSON array of ${k} class names (a damaged model file)`);
  return v as string[];
}

/** A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** `opts.json`: one JSON document {ok, run, n, predictions} on stdout (the file, with `out`, stays CSV). */
export async function predictCommand(runDir: string, inputs: string[], out?: string, opts: { json?: boolean; quiet?: boolean } = {}): Promise<number> {
  const run = await openRun(runDir);
  const { program: p, tensors, metadata } = run;
  for (const f of inputs) {
    if (!existsSync(f)) throw new DnncError(`${f}: no such file`);
    if (statSync(f).isDirectory())
      throw new DnncError(`${f}: is a directory, expected ${/\.csv(\.gz)?$/i.test(f) ? "a CSV" : /\.png$/i.test(f) ? "a PNG" : "an IDX"} file`);
  }
  const pre = preprocessFromStored(metadata, tensors);
  const inp = loadInputs(inputs, p, pre ? pre.inDim : p.meta.inputSize, metadata, run.weightsFile);
  const be = await createBackend(p.meta.heapFloats, { backend: "auto" });
  try {
    const H = be.H;
    bindWeights(run, H);
    const scratch = new Float32Array(pre ? preprocessScratchSize(pre) : 0);
    const model = p.create(be, 0);
    const B = p.meta.batch;
    const k = p.meta.outputSize;
    const F = p.meta.inputSize;
    // classes with names (a directory of classes: the file names, saved with the model): a last column
    const names = metadata.classes !== undefined ? classNames(metadata.classes, run.weightsFile, k) : undefined;
    const lines: string[] = [k > 1 ? `index,class,probability${names ? ",name" : ""}` : "index,output"];
    const preds: ({ index: number; class: number; probability: number; name?: string } | { index: number; output: number })[] = [];
    const raw = pre ? new Float32Array(B * Math.max(pre.inDim, F)) : undefined;
    for (let s = 0; s < inp.n; s += B) {
      const n = Math.min(B, inp.n - s);
      if (pre && raw) {
        raw.set(inp.x.subarray(s * pre.inDim, (s + n) * pre.inDim));
        applyPreprocess(pre, raw, 0, n, scratch);
        H.set(raw.subarray(0, n * F), p.layout.x);
      } else H.set(inp.x.subarray(s * F, (s + n) * F), p.layout.x);
      if (inp.lengths && p.layout.lengths !== undefined) for (let i = 0; i < n; i++) H[p.layout.lengths + i] = inp.lengths[s + i];
      model.forward(n, false, 0);
      for (let i = 0; i < n; i++) {
        const o = p.layout.out + i * k;
        if (k === 1) {
          lines.push(`${s + i},${H[o]}`);
          if (opts.json) preds.push({ index: s + i, output: H[o] });
          continue;
        }
        let a = 0;
        let m = H[o];
        for (let j = 1; j < k; j++) if (H[o + j] > m) ((m = H[o + j]), (a = j));
        let z = 0;
        for (let j = 0; j < k; j++) z += Math.exp(H[o + j] - m);
        const prob = p.loss.kind === "softmax_cross_entropy" ? 1 / z : 1 / (1 + Math.exp(-H[o + a]));
        lines.push(`${s + i},${a},${prob.toFixed(6)}${names ? "," + csvField(names[a]) : ""}`);
        if (opts.json) preds.push({ index: s + i, class: a, probability: Number(prob.toFixed(6)), ...(names ? { name: names[a] } : {}) });
      }
    }
    const text = lines.join("\n") + "\n";
    if (out) writeFileAtomicSync(out, text); // atomically: a full disk never leaves half a file
    if (opts.json) process.stdout.write(JSON.stringify({ ok: true, run: runDir, n: inp.n, ...(out ? { wrote: out } : {}), predictions: preds }) + "\n");
    else if (out) {
      if (!opts.quiet) process.stdout.write(`wrote ${out} (${inp.n} predictions)\n`);
    } else process.stdout.write(text);
    return 0;
  } finally {
    be.close();
  }
}
