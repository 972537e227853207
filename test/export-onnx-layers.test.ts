// Single layers exported on their own and run with onnxruntime-node, against our eval-mode kernel
// on random inputs and statistics, for layers that no spec in specs/ uses yet (IterNorm); and
// batch norm folding on random weights and statistics, folded against unfolded (BatchNormalization).
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import fc from "fast-check";
import { exportOnnx } from "../compiler/export/onnx";
import type { IR, IRNode } from "../compiler/ir";
import { iterNormForwardEval } from "../runtime/kernels/iternorm";
import { compileToIr } from "../compiler/pipeline";

/** A one-node IR (regression loss: the graph outputs `logits` only). */
function oneNodeIr(node: IRNode, tensors: { name: string; data: Float32Array; shape: number[] }[]): IR {
  return {
    version: 1,
    name: "one",
    file: "one.dnn",
    specHash: "",
    batch: 8,
    input: { shape: node.inShape, size: node.inShape.reduce((a, b) => a * b, 1) },
    output: { shape: node.outShape, size: node.outShape.reduce((a, b) => a * b, 1) },
    nodes: [node],
    params: tensors
      .filter((t) => !t.name.includes("running"))
      .map((t) => ({ name: t.name, shape: t.shape, size: t.data.length, init: {}, group: "norm", weightDecay: 0, l1: 0, maxNorm: 0, decoupledDecay: 0 })),
    stats: tensors.filter((t) => t.name.includes("running")).map((t) => ({ name: t.name, shape: t.shape, size: t.data.length, fill: 0 })),
    loss: { kind: "mse", labelSmoothing: 0, delta: 1 },
    train: {} as IR["train"],
    data: { source: { kind: "idx", path: "." }, preprocess: [], augment: [], scale: 1, shift: 0, validation: 0 } as unknown as IR["data"],
  };
}

const floats = (n: number, min = -2, max = 2) =>
  fc
    .array(fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n })
    .map((a) => Float32Array.from(a));

describe("IterNorm (eval): Sub + block-diagonal 1x1 Conv / Gemm", () => {
  for (const shape of [[4, 3, 3], [6]]) {
    it(`shape [${shape}], random running statistics and affine`, async () => {
      const C = shape[0];
      const S = shape.length === 1 ? 1 : shape[1] * shape[2];
      const G = C / 2;
      const g = 2;
      const n = 3;
      await fc.assert(
        fc.asyncProperty(
          floats(n * C * S),
          floats(C),
          floats(G * g * g),
          floats(C, 0.5, 2),
          floats(C),
          fc.boolean(),
          async (x, mean, wm, gamma, beta, affine) => {
            const node: IRNode = {
              id: "iternorm_0",
              op: "iternorm",
              inputs: ["x"],
              output: "iternorm_0",
              inShape: shape,
              outShape: shape,
              attrs: { groups: G, iters: 5, momentum: 0.1, eps: 1e-5, affine },
              params: [],
              stats: [],
              line: 3,
              col: 3,
              tail: [],
              kernel: "iternorm",
            };
            const tensors = [
              { name: "iternorm_0.running_mean", shape: [C], data: mean },
              { name: "iternorm_0.running_wm", shape: [G, g, g], data: wm },
              ...(affine
                ? [
                    { name: "iternorm_0.weight", shape: [C], data: gamma },
                    { name: "iternorm_0.bias", shape: [C], data: beta },
                  ]
                : []),
            ];
            const e = exportOnnx(oneNodeIr(node, tensors), tensors, {});
            const session = await ort.InferenceSession.create(e.bytes);
            const got = (await session.run({ input: new ort.Tensor("float32", x, [n, ...shape]) })).logits.data as Float32Array;
            // our kernel on a heap: x | gamma | beta | mean | wm | y
            const L = n * C * S;
            const H = new Float32Array(2 * L + 4 * C + G * g * g);
            H.set(x, 0);
            H.set(gamma, L);
            H.set(beta, L + C);
            H.set(mean, L + 2 * C);
            H.set(wm, L + 3 * C);
            const y = L + 3 * C + G * g * g;
            iterNormForwardEval(H, { C, S, G, T: 5, eps: 1e-5, momentum: 0.1 }, 0, affine ? L : -1, affine ? L + C : -1, y, L + 2 * C, L + 3 * C, n);
            for (let i = 0; i < L; i++) expect(Math.abs(got[i] - H[y + i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(H[y + i])));
          },
        ),
        { numRuns: 15 },
      );
    });
  }
});

describe("batch norm folding: folded and unfolded graphs agree (random weights and statistics)", () => {
  for (const [bias, wn, affine] of [
    [true, false, true],
    [false, true, false],
    [true, true, true],
  ] as const) {
    // (5 runs take ~0.4 s; twice in full-suite runs on a loaded machine one of these hung until the
    // 60 s timeout, inside onnxruntime as far as we can tell: 900 runs alone never failed. A hung
    // attempt now costs 15 s and is retried instead of failing the suite.)
    it(`conv2d and dense (bias=${bias}, weight_norm=${wn}) followed by bn(affine=${affine})`, { timeout: 15_000, retry: 2 }, async () => {
      const src = `model fold {
  input [2, 5, 5]
  conv2d(3, 3, padding=1, bias=${bias}, weight_norm=${wn}) -> bn(affine=${affine})
  flatten
  dense(4, bias=${bias}, weight_norm=${wn}) -> dropout(0.3) -> bn(affine=${affine})
  loss mse
}
data { source csv("x.csv") }
train { batch 4 }
`;
      const r = compileToIr(src, "fold.dnn", { passes: "lower" });
      expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const ir = r.ir!;
      const all = [...ir.params, ...ir.stats];
      const n = 3;
      await fc.assert(
        fc.asyncProperty(
          fc.tuple(...all.map((p) => floats(p.size, p.name.endsWith("running_var") || p.name.endsWith("weight_g") ? 0.05 : -2, 2))),
          floats(n * 50),
          async (values, x) => {
            const tensors = all.map((p, i) => ({ name: p.name, shape: p.shape, data: values[i] }));
            const run = async (fold: boolean) => {
              const e = exportOnnx(ir, tensors, {}, { fold });
              const s = await ort.InferenceSession.create(e.bytes);
              return { e, y: (await s.run({ input: new ort.Tensor("float32", x, [n, 2, 5, 5]) })).logits.data as Float32Array };
            };
            const f = await run(true);
            const u = await run(false);
            expect(f.e.model.graph.nodes.map((q) => q.opType)).not.toContain("BatchNormalization");
            expect(u.e.model.graph.nodes.filter((q) => q.opType === "BatchNormalization")).toHaveLength(2);
            for (let i = 0; i < u.y.length; i++) expect(Math.abs(f.y[i] - u.y[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(u.y[i])));
          },
        ),
        { numRuns: 5 },
      );
    });
  }
});
