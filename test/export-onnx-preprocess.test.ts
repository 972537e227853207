// ONNX export of the input pipeline (scale, shift, pca/whiten/zca in the graph). The helpers are in
// test/helpers/onnx.ts (two files so that each stays well under 20 s: the PCA fit of 784 pixels
// alone takes a few seconds).
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { exportRun } from "../compiler/export-command";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DATA, ROWS, Trained, argmax, checkSpec, head, maxRelErr, runOnnx, trainRun } from "./helpers/onnx";

const MOONS = resolve("specs/data/two-moons");

/** A small spec on the two-moons CSV data (2 features) with the given data block lines. */
function moons(name: string, data: string, head: string, loss: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-export-moons-"));
  const spec = join(dir, `${name}.dnn`);
  writeFileSync(
    spec,
    `model ${name} {
  input [2]
  dense(16) -> tanh
  ${head}
  loss ${loss}
}
data {
  source csv("${MOONS}")
  validation 0.1
  ${data}
}
train {
  seed 5
  batch 16
  epochs 1
  optimizer sgd(lr=0.1)
}
`,
  );
  return spec;
}

describe("ONNX export: preprocessing in the graph", () => {
  it("PCA of raw pixels (specs/trick-pca.dnn): input is [N, 784] raw bytes", async () => {
    const { folded } = await checkSpec(trainRun("specs/trick-pca.dnn", 5), { has: ["Mul", "Sub", "MatMul"] });
    expect(folded.inputShape).toEqual(["N", 784]);
  }, 30_000);

  it("whitening with a scale and a shift (two moons, softmax)", async () => {
    const spec = moons("moons_whiten", "scale 0.5\n  shift 0.25\n  preprocess whiten(k=2, eps=1e-3)", "dense(2)", "softmax_cross_entropy");
    const { folded } = await checkSpec(trainRun(spec, 10), { has: ["Mul", "Add", "Sub", "MatMul", "Softmax"] });
    expect(folded.inputShape).toEqual(["N", 2]);
  }, 30_000);

  it("ZCA and a binary classifier: probabilities are the Sigmoid of one logit", async () => {
    const spec = moons("moons_zca", "preprocess zca(eps=1e-2)", "dense(1)", "bce_with_logits");
    const { folded } = await checkSpec(trainRun(spec, 10), { has: ["Sub", "MatMul", "Sigmoid"], not: ["Softmax"] });
    expect(folded.outputs).toEqual(["logits", "probabilities"]);
  }, 30_000);

  it("standardize per feature, regression (mse): logits only", async () => {
    const spec = moons("moons_std", "preprocess standardize", "dense(1)", "mse");
    const t = await trainRun(spec, 10);
    const e = exportRun(t.dir);
    expect(e.outputs).toEqual(["logits"]);
    const session = await ort.InferenceSession.create(e.bytes);
    const res = await session.run({ input: new ort.Tensor("float32", t.raw, [ROWS, 2]) });
    expect(maxRelErr(res.logits.data as Float32Array, t.ours)).toBeLessThan(1e-4);
  }, 30_000);
});
