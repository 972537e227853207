// Shared by the ONNX export tests: train a spec a few steps with the real pipeline, write a run
// directory (spec.dnn + model.safetensors as `dnnc train` does), run the exported file with
// onnxruntime-node on 32 raw test inputs and compare with our own eval-mode forward pass (the
// path `dnnc predict` takes: x*scale+shift, fitted preprocessing, model.forward(n, false)).
import { expect } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { tsProgram, dataDirOf } from "../reference/networks/harness";
import { exportRun } from "../../compiler/export-command";
import { loadData, modelMetadata, modelTensors } from "../../runtime/node/main";
import { createBackend } from "../../runtime/backend-create";
import { train } from "../../runtime/train-loop";
import { encodeSafetensors } from "../../runtime/safetensors";
import { applyPreprocess, preprocessMetadata, preprocessScratchSize, preprocessTensors } from "../../runtime/preprocess";
import type { Dataset } from "../../runtime/data/dataset";
export const ROWS = 32;
export const DATA = resolve("specs/data/fashion-mnist-small");

/** The first `n` rows of a dataset (a small training set keeps the validation pass short). */
export function head(ds: Dataset, n: number): Dataset {
  const F = ds.shape.reduce((a, b) => a * b, 1);
  return { ...ds, n, x: ds.x.subarray(0, n * F), y: ds.y.subarray(0, n) };
}

export interface Trained {
  dir: string;
  raw: Float32Array;
  rawShape: number[];
  ours: Float32Array;
  k: number;
}

/** Train `steps` steps, write a run directory, and compute our logits on the first 32 test rows. */
export async function trainRun(specPath: string, steps: number): Promise<Trained> {
  const { ir, program: p } = await tsProgram(specPath);
  const data = loadData(p, dataDirOf(specPath, ir));
  const test = data.test!;
  const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
  try {
    const model = p.create(be, p.train.seed);
    model.init();
    const result = train(p, be, model, { train: head(data.train, 8 * p.meta.batch) }, { maxSteps: steps });
    const pre = result.preprocess;
    const dir = mkdtempSync(join(tmpdir(), "dnnc-export-"));
    writeFileSync(join(dir, "spec.dnn"), readFileSync(specPath, "utf8"));
    writeFileSync(
      join(dir, "model.safetensors"),
      encodeSafetensors([...modelTensors(p, be.H), ...(pre ? preprocessTensors(pre) : [])], modelMetadata(p, pre ? preprocessMetadata(pre) : {})),
    );
    // our eval-mode predictions, as dnnc predict computes them
    const F = test.shape.reduce((a, b) => a * b, 1);
    const raw = Float32Array.from(test.x.subarray(0, ROWS * F));
    const x = Float32Array.from(raw, (v) => v * p.data.scale + p.data.shift);
    const H = be.H;
    const k = p.meta.outputSize;
    const ours = new Float32Array(ROWS * k);
    const B = p.meta.batch;
    for (let s = 0; s < ROWS; s += B) {
      const n = Math.min(B, ROWS - s);
      const buf = x.slice(s * F, (s + n) * F);
      if (pre) applyPreprocess(pre, buf, 0, n, new Float32Array(preprocessScratchSize(pre)));
      H.set(buf.subarray(0, n * p.meta.inputSize), p.layout.x);
      model.forward(n, false, 0);
      ours.set(H.subarray(p.layout.out, p.layout.out + n * k), s * k);
    }
    return { dir, raw, rawShape: test.shape, ours, k };
  } finally {
    be.close();
  }
}

export async function runOnnx(bytes: Uint8Array, raw: Float32Array, shape: number[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  const res = await session.run({ input: new ort.Tensor("float32", raw, [ROWS, ...shape]) });
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array]));
}

export function argmax(v: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length / k; i++) {
    let a = 0;
    for (let j = 1; j < k; j++) if (v[i * k + j] > v[i * k + a]) a = j;
    out.push(a);
  }
  return out;
}

/** max |a - b| / max(1, |b|) */
export function maxRelErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

export async function checkSpec(run: Trained | Promise<Trained>, expectOps: { has?: string[]; not?: string[] }) {
  const t = await run;
  const folded = exportRun(t.dir);
  const ops = new Set(folded.model.graph.nodes.map((n) => n.opType));
  for (const o of expectOps.has ?? []) expect(ops, `graph has ${o}`).toContain(o);
  for (const o of expectOps.not ?? []) expect(ops, `graph has no ${o}`).not.toContain(o);
  const inShape = folded.inputShape.slice(1) as number[];
  const onnx = await runOnnx(folded.bytes, t.raw, inShape);
  expect(maxRelErr(onnx.logits, t.ours)).toBeLessThan(1e-4);
  expect(argmax(onnx.logits, t.k)).toEqual(argmax(t.ours, t.k));
  // probabilities: Softmax of the logits (rows sum to 1), or Sigmoid for one logit (bce_with_logits)
  const p = onnx.probabilities;
  if (t.k > 1) for (let i = 0; i < ROWS; i++) expect(p.subarray(i * t.k, (i + 1) * t.k).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  else for (let i = 0; i < ROWS; i++) expect(p[i]).toBeCloseTo(1 / (1 + Math.exp(-onnx.logits[i])), 6);
  // folded vs unfolded batch norm
  const unfolded = exportRun(t.dir, { fold: false });
  const u = await runOnnx(unfolded.bytes, t.raw, inShape);
  expect(maxRelErr(onnx.logits, u.logits)).toBeLessThan(1e-5);
  // deterministic bytes
  expect(Buffer.from(exportRun(t.dir).bytes).equals(Buffer.from(folded.bytes))).toBe(true);
  return { t, folded, unfolded };
}
