// attention, transformer blocks, pos_embedding (learned, sinusoidal) and weight tying on the targets, from random weights:
// - the ONNX exporter (MatMul / Softmax over (N, heads, T, dh), the causal mask an added constant)
//   run by onnxruntime-node gives our forward's output;
// - the PyTorch target's Net (nn.MultiheadAttention with boolean masks, imported by /usr/bin/python3)
//   loads our tensors by their names (state_dict, strict) and gives our forward's output; its
//   state_dict names are ours, in our order;
// - padded data: the Net (key_padding_mask from each sample's length) equals our forward, with
//   samples of length 0 and garbage at the padded positions; the ONNX exporter refuses it (E0405).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compileToIr } from "../compiler/pipeline";
import { exportOnnx } from "../compiler/export/onnx";
import { checkTarget } from "../compiler/check-targets";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { createBackend } from "../runtime/backend-create";
import { Rng } from "../runtime/rng";
import type { Program } from "../runtime/program";
import { caseText, closeTo, hasTorch, netAndOurs, ourForward, seqIr, seqProgram, weightsAndInput, type LayerCase } from "./seqops-helpers";
import { startPyWorker, worstRel, writePyTrainer } from "./pytorch-target-seq-helpers";

const specs: LayerCase[] = [
  { name: "attn", input: [6, 4], body: "attention(2)\n  dense(2)", loss: "mse" },
  { name: "attn-causal-nobias", input: [5, 6], body: "dense(6)\n  attention(3, causal=true, bias=false)", loss: "mse" },
  {
    name: "attn-block",
    input: [7, 4],
    body: "residual { layernorm\n  attention(4, causal=true, dropout=0.1) }\n  residual { layernorm\n  dense(8) -> gelu\n  dense(4) }",
    loss: "mse",
  },
  { name: "block-post-relu", input: [6, 4], body: "repeat(2) { transformer(2, ff=6) }", loss: "mse" },
  {
    name: "block-pre-gelu-lm",
    input: [7],
    vocab: 5,
    body: "embedding(5, 6)\n  pos_embedding(7, 6, kind=sinusoidal)\n  transformer(3, norm=pre, activation=gelu, causal=true, dropout=0.2)\n  layernorm\n  dense(5)",
    loss: "softmax_cross_entropy",
  },
  {
    name: "tied-lm",
    input: [8],
    vocab: 9,
    body: "embedding(9, 6)\n  pos_embedding\n  transformer(2, norm=pre, causal=true)\n  dense(9, tie=embedding_0)",
    loss: "softmax_cross_entropy",
  },
  { name: "attn-lm", input: [8], vocab: 9, body: "embedding(9, 4)\n  pos_embedding\n  attention(1, causal=true)\n  dense(9)", loss: "softmax_cross_entropy" },
];

const N = 3;

describe("ONNX export of attention, run by onnxruntime-node, equals our forward", () => {
  for (const s of specs)
    it(s.name, async () => {
      const r = compileToIr(caseText(s), `${s.name}.dnn`, { passes: "lower" });
      expect(r.diagnostics).toEqual([]);
      expect(checkTarget(r.ir!, "onnx")).toEqual([]);
      const { tensors, x } = weightsAndInput(r.ir!, s, 5, N);
      const e = exportOnnx(r.ir!, tensors, {});
      expect(e.model.graph.nodes.map((n) => n.opType)).toContain("Softmax");
      const session = await ort.InferenceSession.create(e.bytes);
      const got = (await session.run({ input: new ort.Tensor("float32", x, [N, ...s.input]) })).logits.data as Float32Array;
      expect(closeTo(got, await ourForward(s, tensors, x, N), 2e-5)).toBeUndefined();
    });
});

if (!hasTorch) console.warn("ops-attention-targets: the PyTorch runs are skipped: /usr/bin/python3 -c 'import torch' failed");

describe.skipIf(!hasTorch)("the PyTorch target's Net (nn.MultiheadAttention) equals our forward", () => {
  it("every spec, one Python run: our tensors load by name, the same outputs", async () => {
    const got = await netAndOurs(specs, N, 6);
    for (const s of specs) {
      expect(closeTo(got[s.name].y, got[s.name].want, 2e-5), s.name).toBeUndefined();
      expect(got[s.name].names, s.name).toEqual(got[s.name].ourNames);
    }
  }, 60_000);
});

// ---- padded data --------------------------------------------------------------------------------

let worker: ReturnType<typeof startPyWorker> | undefined;
afterAll(() => worker?.close());

async function ourPadded(p: Program, params: { name: string; data: Float32Array }[], x: Float32Array, lens: number[], out: number): Promise<number[]> {
  const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
  try {
    const model = p.create(be, 0);
    model.init();
    for (const q of params) be.H.set(q.data, p.tensors.find((t) => t.name === q.name)!.offset);
    be.H.set(x, p.layout.x);
    lens.forEach((l, i) => (be.H[p.layout.lengths! + i] = l));
    model.forward(lens.length, false, 0);
    return Array.from(be.H.subarray(p.layout.out, p.layout.out + lens.length * out));
  } finally {
    be.close();
  }
}

describe.skipIf(!hasTorch)("padded data: the Net (key_padding_mask) equals our forward; the ONNX exporter refuses it", () => {
  for (const [name, body, T, vocab, out] of [
    ["lm_causal", "embedding(7, 4)\n  attention(2, causal=true)\n  dense(7)", 8, 7, 56],
    ["block_pool", "embedding(9, 6)\n  residual { layernorm\n  attention(3) }\n  global_avgpool\n  dense(2)", 7, 9, 2],
  ] as const)
    it(
      name,
      async () => {
        const text = `model ${name} {\n  input [${T}]\n  ${body}\n  loss mse\n}\ndata { source csv("d.csv") }\ntrain { batch 9 }\n`;
        const { program: p, ir } = await seqProgram(text, { lengths: true });
        expect(checkTarget(ir, "pytorch")).toEqual([]);
        const o = checkTarget(ir, "onnx");
        expect(o.length).toBeGreaterThan(0);
        expect(o[0].code).toBe("E0405");
        const d = mkdtempSync(join(tmpdir(), "dnnc-attn-net-"));
        const path = writePyTrainer(ir, d, ".");
        expect(generatePytorchTrainer(ir, { dataPath: "." })).toContain("key_padding_mask=attention_0_pad");
        const lens = [0, 1, 2, 3, T - 1, T, 0, T, 4];
        const rng = new Rng(41, 3);
        const params = ir.params.map((q) => ({ name: q.name, shape: q.shape, data: Float32Array.from({ length: q.size }, () => rng.range(-0.8, 0.8)) }));
        const x = Float32Array.from({ length: lens.length * T }, () => Math.floor(rng.range(0, vocab)));
        const tensors = Object.fromEntries(params.map((q) => [q.name, { shape: q.shape, data: Array.from(q.data) }]));
        const want = await ourPadded(p, params, x, lens, out);
        worker ??= startPyWorker();
        const got = await worker.net(path, tensors, Array.from(x), lens);
        expect(got.length).toBe(want.length);
        expect(worstRel(got, want)).toBeLessThan(2e-5);
        expect(want.some((v) => v !== 0)).toBe(true);
        // other ids at the padded positions: the same output, here and in ours
        const other = Array.from(x, (v, i) => (i % T >= lens[Math.floor(i / T)] ? Math.floor(rng.range(0, vocab)) : v));
        expect(await worker.net(path, tensors, other, lens)).toEqual(got);
        expect(await ourPadded(p, params, Float32Array.from(other), lens, out)).toEqual(want);
        // the same spec unpadded is taken by both
        const plain = seqIr(text);
        for (const target of ["pytorch", "onnx"] as const) expect(checkTarget(plain, target)).toEqual([]);
      },
      60_000,
    );
});
