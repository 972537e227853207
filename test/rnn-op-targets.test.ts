// lstm and gru on the targets, from random weights:
// - the ONNX exporter (LSTM / GRU nodes, gates reordered, GRU linear_before_reset=1, one node per
//   stacked layer, Transposes around them) run by onnxruntime-node gives our forward's output;
// - the PyTorch target's Net (nn.LSTM / nn.GRU, imported by /usr/bin/python3) loads our tensors by
//   their names (state_dict, strict) and gives our forward's output; its state_dict names are ours;
//   one epoch of the generated trainer from our initial weights gives our metrics and weights;
// - padded data: the ONNX exporter refuses it with E0405 at the first layer (its graph takes no
//   lengths), return_sequences or not; the PyTorch target takes it (packed by each sample's length:
//   test/rnn-op-pytorch-padded.test.ts compares its numbers with ours).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compileToIr } from "../compiler/pipeline";
import { exportOnnx } from "../compiler/export/onnx";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { checkTarget } from "../compiler/check-targets";
import { createBackend } from "../runtime/backend-create";
import { Rng } from "../runtime/rng";
import { decodeSafetensors } from "../runtime/safetensors";
import { caseText, closeTo, hasTorch, netAndOurs, ourForward, PY, seqIr, weightsAndInput, type LayerCase } from "./seqops-helpers";
import { safetensorsOf, tsProgram } from "./reference/networks/harness";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";

const specs: LayerCase[] = [
  { name: "lstm-seq", input: [6, 3], body: "lstm(5)\n  dense(2)", loss: "mse" },
  { name: "gru-stack-bi", input: [5, 4], body: "gru(3, layers=2, bidirectional=true)", loss: "mse" },
  { name: "lstm-final-bi", input: [7, 2], body: "dense(3) -> tanh\n  lstm(4, layers=2, bidirectional=true, return_sequences=false)\n  dense(2)", loss: "mse" },
  { name: "gru-final-nobias", input: [4, 3], body: "gru(6, bias=false, return_sequences=false)", loss: "mse" },
  { name: "lm", input: [8], vocab: 9, body: "embedding(9, 4)\n  lstm(6, layers=2, dropout=0.3)\n  dense(9)", loss: "softmax_cross_entropy" },
];

const text = caseText;

const N = 3;

describe("ONNX export of lstm and gru, run by onnxruntime-node, equals our forward", () => {
  for (const s of specs)
    it(s.name, async () => {
      const r = compileToIr(text(s), `${s.name}.dnn`, { passes: "lower" });
      expect(r.diagnostics).toEqual([]);
      expect(checkTarget(r.ir!, "onnx")).toEqual([]);
      const { tensors, x } = weightsAndInput(r.ir!, s, 5, N);
      const e = exportOnnx(r.ir!, tensors, {});
      const kinds = e.model.graph.nodes.map((n) => n.opType);
      const layers = /layers=2/.test(s.body) ? 2 : 1;
      expect(kinds.filter((k) => k === "LSTM" || k === "GRU")).toHaveLength(layers);
      const session = await ort.InferenceSession.create(e.bytes);
      const got = (await session.run({ input: new ort.Tensor("float32", x, [N, ...s.input]) })).logits.data as Float32Array;
      expect(closeTo(got, await ourForward(s, tensors, x, N), 2e-5)).toBeUndefined();
    });
});

if (!hasTorch) console.warn("rnn-op-targets: the PyTorch runs are skipped: /usr/bin/python3 -c 'import torch' failed");

describe.skipIf(!hasTorch)("the PyTorch target's Net (nn.LSTM / nn.GRU) equals our forward", () => {
  it("every spec, one Python run: our tensors load by name, the same outputs", async () => {
    const got = await netAndOurs(specs, N, 6);
    for (const s of specs) {
      expect(closeTo(got[s.name].y, got[s.name].want, 2e-5), s.name).toBeUndefined();
      // the same names in the same order: PyTorch's named_parameters order is ours
      expect(got[s.name].names, s.name).toEqual(got[s.name].ourNames);
    }
  }, 60_000);

  it("one epoch from our initial weights (embedding -> lstm(return_sequences=false) -> dense, AdamW with decay, clip_norm): the same metrics and weights", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-rnnop-epoch-"));
    const data = join(dir, "data");
    mkdirSync(data);
    const rng = new Rng(18, 1);
    const lines = ["t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,label"];
    for (let i = 0; i < 64; i++) {
      const ids = Array.from({ length: 10 }, () => Math.floor(rng.range(0, 6)));
      lines.push([...ids, ids.filter((v) => v === 2).length % 3].join(","));
    }
    writeFileSync(join(data, "train.csv"), lines.join("\n") + "\n");
    const src = `model rnn_epoch {
  input [10]
  embedding(6, 5)
  gru(4, bidirectional=true) -> tanh
  lstm(6, return_sequences=false)
  dense(3)
  loss softmax_cross_entropy
}
data {
  source csv("${data}", label="label")
  validation 0.25
}
train { seed 5; batch 8; epochs 1; optimizer adamw(lr=0.01, weight_decay=0.05); clip_norm 1 }
`;
    const spec = join(dir, "rnn.dnn");
    writeFileSync(spec, src);
    const fe = compileToIr(src, spec);
    expect(fe.diagnostics).toEqual([]);
    const trainer = join(dir, "rnn.trainer.py");
    writeFileSync(trainer, generatePytorchTrainer(fe.ir!, { dataPath: data }));
    // our trainer, compiled once: its seeded initial weights, then one epoch from them
    const { program } = await tsProgram(spec);
    const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
    const read = () => Object.fromEntries(program.tensors.map((t) => [t.name, Array.from(be.H.subarray(t.offset, t.offset + t.size))]));
    const model = program.create(be, program.train.seed);
    model.init();
    writeFileSync(join(dir, "init.safetensors"), safetensorsOf(program, read()));
    const ours = train(program, be, model, loadData(program, data), { epochs: 1 });
    const final = read();
    be.close();
    const r = spawnSync(PY, [trainer, "--init-from", join(dir, "init.safetensors"), "--epochs", "1", "--out", join(dir, "py"), "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    expect(r.status, r.stderr).toBe(0);
    const pm = JSON.parse(
      readFileSync(join(dir, "py", "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")[0],
    ) as Record<string, number>;
    const om = ours.epochs[0] as unknown as Record<string, number>;
    for (const k of ["train_loss", "val_loss", "train_acc", "val_acc"]) expect(Math.abs(pm[k] - om[k]) / Math.max(1, Math.abs(om[k])), k).toBeLessThan(1e-4);
    const st = decodeSafetensors(readFileSync(join(dir, "py", "model.safetensors")), "model.safetensors");
    expect(st.tensors.map((t) => t.name)).toEqual(Object.keys(final));
    for (const t of st.tensors) expect(closeTo(t.data, final[t.name], 1e-4), t.name).toBeUndefined();
  }, 60_000);
});

describe("padded data: the ONNX exporter refuses it at the first layer, the PyTorch target takes it", () => {
  for (const [what, body] of [
    ["return_sequences", "embedding(9, 4)\n  gru(5)\n  dense(9)"],
    ["return_sequences=false (no masked layer anywhere)", "embedding(9, 4)\n  lstm(5, return_sequences=false)\n  dense(3)"],
  ])
    it(what, () => {
      const s = { name: "padded", input: [8], body, loss: "mse" };
      const ir = seqIr(text(s), { lengths: true });
      expect(checkTarget(ir, "pytorch")).toEqual([]);
      expect(generatePytorchTrainer(ir, { dataPath: "data" })).toContain("nn.utils.rnn.pack_padded_sequence(embedding_0, lengths.clamp(min=1).cpu()");
      const o = checkTarget(ir, "onnx");
      expect(o).toHaveLength(1);
      expect(o[0].code).toBe("E0405");
      expect(o[0].span.line).toBe(3);
      expect(o[0].message).toMatch(/^`embedding` \(embedding_0\) is not supported by the ONNX exporter: on padded sequences/);
      // the same spec unpadded is taken
      const plain = seqIr(text(s));
      for (const target of ["pytorch", "onnx"] as const) expect(checkTarget(plain, target)).toEqual([]);
    });
});
