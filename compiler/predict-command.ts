// `dnnc predict RUN --input FILE [--out FILE]`: load a run directory's trainer and weights
// (model.safetensors, with its fitted preprocessing) and predict the inputs of an IDX images
// file, a CSV file of features, or one or more PNG images. Prints `index,class,probability` (or
// the raw outputs for regression) per sample.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { decodeSafetensors } from "../runtime/safetensors";
import { createBackend } from "../runtime/backend-create";
import { DnncError } from "../runtime/errors";
import { parseIdx } from "../runtime/data/idx";
import { parseCsv } from "../runtime/data/csv";
import { imageToSample } from "../runtime/data/image";
import { readBytes, readMaybeGzip } from "../runtime/node/files";
import { writeFileAtomicSync } from "../runtime/node/atomic";
import { decodePng } from "../runtime/node/png";
import { applyPreprocess, preprocessFromStored, preprocessScratchSize } from "../runtime/preprocess";
import type { Program } from "../runtime/program";

interface Inputs {
  x: Float32Array;
  n: number;
}

/** `F` is the number of raw values per sample: the model's input size, or the fitted preprocessing's
 * input size when it changes the dimension (pca/whiten with k < d). */
function loadInputs(files: string[], p: Program, F: number): Inputs {
  const scale = p.data.scale;
  const shift = p.data.shift;
  if (files.every((f) => f.toLowerCase().endsWith(".png"))) {
    if (F !== p.meta.inputSize)
      throw new DnncError(`predict: PNG input needs a model that takes images; this one takes ${p.meta.inputSize} preprocessed features of ${F} raw values: give an IDX or CSV file`);
    const x = new Float32Array(files.length * F);
    files.forEach((f, i) => {
      const img = decodePng(new Uint8Array(readFileSync(f)), f);
      const s = imageToSample(img, p.meta.inputShape, f);
      for (let j = 0; j < F; j++) x[i * F + j] = s[j] * scale + shift;
    });
    return { x, n: files.length };
  }
  if (files.length !== 1) throw new DnncError("predict: give one IDX or CSV file, or PNG images");
  const f = files[0];
  if (/\.csv$/i.test(f)) {
    const text = readFileSync(f, "utf8");
    const label = p.data.source.label ?? "label";
    let ds;
    try {
      ds = parseCsv(text, f, { label, regression: true });
    } catch {
      ds = parseCsv(text + "", f, { label: -1, regression: true });
    }
    if (ds.shape[0] !== F) throw new DnncError(`${f}: rows have ${ds.shape[0]} features, the model takes ${F}`);
    const x = new Float32Array(ds.n * F);
    for (let i = 0; i < x.length; i++) x[i] = ds.x[i] * scale + shift;
    return { x, n: ds.n };
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

/** `opts.json`: one JSON document {ok, run, n, predictions} on stdout (the file, with `out`, stays CSV). */
export async function predictCommand(runDir: string, inputs: string[], out?: string, opts: { json?: boolean; quiet?: boolean } = {}): Promise<number> {
  if (!existsSync(runDir)) throw new DnncError(`${runDir}: no such run directory`);
  const trainerFile = readdirSync(runDir).find((f) => f.endsWith(".trainer.mjs"));
  if (!trainerFile) throw new DnncError(`${runDir}: no *.trainer.mjs (is this a directory written by dnnc train?)`);
  const weights = join(runDir, "model.safetensors");
  if (!existsSync(weights)) throw new DnncError(`${runDir}: no model.safetensors`);
  const { program: p } = (await import(pathToFileURL(join(runDir, trainerFile)).href)) as { program: Program };
  const { tensors, metadata } = decodeSafetensors(readBytes(weights), weights);
  if (metadata.spec_sha256 !== p.meta.specHash) throw new DnncError(`${weights}: written by another spec than ${trainerFile}`);
  for (const f of inputs) {
    if (!existsSync(f)) throw new DnncError(`${f}: no such file`);
    if (statSync(f).isDirectory()) throw new DnncError(`${f}: is a directory, expected an IDX, CSV or PNG file`);
  }
  const pre = preprocessFromStored(metadata, tensors);
  const inp = loadInputs(inputs, p, pre ? pre.inDim : p.meta.inputSize);
  const be = await createBackend(p.meta.heapFloats, { backend: "auto" });
  try {
    const H = be.H;
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const t of p.tensors) {
      const w = byName.get(t.name);
      if (!w || w.data.length !== t.size) throw new DnncError(`${weights}: tensor ${t.name} is missing or has the wrong size`);
      H.set(w.data, t.offset);
    }
    const scratch = new Float32Array(pre ? preprocessScratchSize(pre) : 0);
    const model = p.create(be, 0);
    const B = p.meta.batch;
    const k = p.meta.outputSize;
    const F = p.meta.inputSize;
    const lines: string[] = [k > 1 ? "index,class,probability" : "index,output"];
    const preds: ({ index: number; class: number; probability: number } | { index: number; output: number })[] = [];
    const raw = pre ? new Float32Array(B * Math.max(pre.inDim, F)) : undefined;
    for (let s = 0; s < inp.n; s += B) {
      const n = Math.min(B, inp.n - s);
      if (pre && raw) {
        raw.set(inp.x.subarray(s * pre.inDim, (s + n) * pre.inDim));
        applyPreprocess(pre, raw, 0, n, scratch);
        H.set(raw.subarray(0, n * F), p.layout.x);
      } else H.set(inp.x.subarray(s * F, (s + n) * F), p.layout.x);
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
        for (let j = 1; j < k; j++) if (H[o + j] > m) (m = H[o + j]), (a = j);
        let z = 0;
        for (let j = 0; j < k; j++) z += Math.exp(H[o + j] - m);
        const prob = p.loss.kind === "softmax_cross_entropy" ? 1 / z : 1 / (1 + Math.exp(-H[o + a]));
        lines.push(`${s + i},${a},${prob.toFixed(6)}`);
        if (opts.json) preds.push({ index: s + i, class: a, probability: Number(prob.toFixed(6)) });
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
