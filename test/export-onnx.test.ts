// ONNX export end to end: train a spec a few steps with the real pipeline, write a run directory
// (spec.dnn + model.safetensors as `dnnc train` does), export it, run the ONNX file with
// onnxruntime-node on 32 raw test inputs and compare with our own eval-mode forward pass (the
// path `dnnc predict` takes: x*scale+shift, fitted preprocessing, model.forward(n, false)).
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportRun, exportCommand } from "../compiler/export-command";
import { exportOnnx } from "../compiler/export/onnx";
import { compileToIr } from "../compiler/pipeline";
import { DnncError } from "../runtime/errors";
import { DATA, ROWS, Trained, argmax, checkSpec, head, maxRelErr, runOnnx, trainRun } from "./helpers/onnx";

// one trained MLP run, shared by the model test and the command test
let mlp: Promise<Trained> | undefined;
const mlpRun = () => (mlp ??= trainRun("specs/fashion-mlp.dnn", 5));

describe("ONNX export runs in onnxruntime-node and matches our predictions", () => {
  it("MLP with batch norm and dropout (specs/fashion-mlp.dnn): BN folded, dropout removed", async () => {
    const { folded, unfolded } = await checkSpec(mlpRun(), {
      has: ["Gemm", "Relu", "Softmax", "Flatten", "Mul"],
      not: ["BatchNormalization", "Dropout", "Add"],
    });
    expect(unfolded.model.graph.nodes.some((n) => n.opType === "BatchNormalization")).toBe(true);
    expect(folded.nodes).toBeLessThan(unfolded.nodes);
  }, 30_000);

  it("CNN with batch norm and per-channel standardization (specs/fashion-cnn.dnn)", async () => {
    await checkSpec(trainRun("specs/fashion-cnn.dnn", 1), { has: ["Conv", "MaxPool", "Sub", "Gemm"], not: ["BatchNormalization", "Dropout"] });
  }, 30_000);

  it("residual blocks with weight norm and a strided 1x1 projection (specs/trick-resnet-weightnorm.dnn)", async () => {
    await checkSpec(trainRun("specs/trick-resnet-weightnorm.dnn", 3), { has: ["Conv", "Add", "GlobalAveragePool"] });
  }, 30_000);

  it("every other layer: bn on the input, bn folded through dropout, groups, dilation, padded pools, norms, a dense projection", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-export-zoo-"));
    const spec = join(dir, "zoo.dnn");
    writeFileSync(
      spec,
      `model zoo {
  input [1, 28, 28]
  bn
  conv2d(4, 3, stride=2, padding=1) -> leaky_relu(0.1)
  avgpool2d(2, padding=1)
  conv2d(4, 3, padding=2, dilation=2, groups=2) -> elu(0.5)
  groupnorm(2, affine=false) -> tanh -> spatial_dropout(0.2)
  maxpool2d(3, stride=2, padding=1)
  instancenorm -> layernorm
  flatten
  dense(32) -> layernorm -> gelu -> dropout(0.2)
  dense(16, bias=false) -> dropout(0.1) -> bn -> sigmoid
  residual { dense(12) -> relu }
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("${DATA}")
  validation 0.1
  scale 1/255
  preprocess standardize
}
train {
  seed 3
  batch 32
  epochs 1
  optimizer sgd(lr=0.05, momentum=0.9)
}
`,
    );
    const { folded } = await checkSpec(trainRun(spec, 4), {
      has: ["LeakyRelu", "AveragePool", "Elu", "InstanceNormalization", "Reshape", "Tanh", "MaxPool", "LayerNormalization", "Erf", "Sigmoid", "Div"],
      not: ["Dropout"],
    });
    // bn_0 (on the input) is Mul + Add; bn_1 is folded into dense_1 through the dropout
    const names = folded.model.graph.nodes.map((n) => n.name);
    expect(names).toContain("bn_0");
    expect(names).toContain("dense_1+bn_1");
    expect(names.filter((n) => n.startsWith("bn_1"))).toEqual([]);
  }, 30_000);
});

describe("dnnc export command", () => {
  it("writes RUN/model.onnx and reports nodes and parameters; bad run directories are DnncErrors with one-line messages", async () => {
    const t = await mlpRun();
    const out: string[] = [];
    const w = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    const errors: string[] = [];
    const fails = async (o: Parameters<typeof exportCommand>[0]) => {
      try {
        await exportCommand(o);
        errors.push("(no error)");
      } catch (err) {
        expect(err).toBeInstanceOf(DnncError);
        errors.push((err as Error).message);
      }
    };
    let codes: number[];
    try {
      codes = [await exportCommand({ run: t.dir }), await exportCommand({ run: t.dir, out: join(t.dir, "m.onnx"), json: true })];
      await fails({ run: join(t.dir, "nope") });
      await fails({ run: mkdtempSync(join(tmpdir(), "dnnc-empty-")) });
      await fails({ run: t.dir, out: join(t.dir, "no", "such", "m.onnx") });
      await fails({ run: t.dir, format: "tflite" as "onnx" });
    } finally {
      process.stdout.write = w;
    }
    expect(codes).toEqual([0, 0]);
    // Mul(scale), Flatten, 3 x (Gemm, Relu) minus the last Relu, Identity(logits), Softmax;
    // 784*256 + 256 (folded bias) + 256*256 + 256 + 256*10 + 10 weights, plus the scale scalar
    const params = 784 * 256 + 256 + 256 * 256 + 256 + 2560 + 10 + 1;
    expect(out[0]).toBe(`wrote ${join(t.dir, "model.onnx")} (9 nodes, ${params} parameters)\n`);
    expect(existsSync(join(t.dir, "model.onnx"))).toBe(true);
    expect(JSON.parse(out[1])).toMatchObject({
      ok: true,
      file: join(t.dir, "m.onnx"),
      opset: 17,
      nodes: 9,
      parameters: params,
      input: ["N", 1, 28, 28],
      outputs: ["logits", "probabilities"],
    });
    expect(out).toHaveLength(2);
    expect(errors[0]).toMatch(/nope: no such run directory$/);
    expect(errors[1]).toMatch(/no spec\.dnn/);
    expect(errors[2]).toMatch(/m\.onnx: cannot write/);
    expect(errors[3]).toBe(`export: unknown format "tflite" (expected onnx)`);
    expect(errors.every((m) => !m.includes("\n"))).toBe(true);
  }, 30_000);

  it("an op the exporter does not know is a DnncError naming the op, its id and its line", () => {
    const ir = compileToIr(readFileSync("specs/fashion-mlp.dnn", "utf8"), "specs/fashion-mlp.dnn", { passes: "lower" }).ir!;
    const zeros = [...ir.params, ...ir.stats].map((p) => ({ name: p.name, shape: p.shape, data: new Float32Array(p.size) }));
    expect(exportOnnx(ir, zeros, {}).nodes).toBe(9);
    const relu = ir.nodes.find((n) => n.op === "relu")!;
    const bad = { ...ir, nodes: ir.nodes.map((n) => (n === relu ? ({ ...n, op: "swish" } as unknown as typeof n) : n)) };
    expect(() => exportOnnx(bad, zeros, {})).toThrow(DnncError);
    expect(() => exportOnnx(bad, zeros, {})).toThrow(`specs/fashion-mlp.dnn:${relu.line}:${relu.col}: cannot export layer \`swish\` (${relu.id}) to ONNX`);
    expect(() => exportOnnx(ir, zeros.slice(1), {})).toThrow(/tensor "dense_0.weight" is missing/);
  });
});
