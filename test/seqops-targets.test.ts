// The sequence layers on the targets: specs that use every new layer (embedding, conv1d with
// stride, same/valid/int padding, dilation, groups, weight norm, maxpool1d, avgpool1d,
// global_avgpool and global_maxpool over time and images, last), from random weights:
// - the PyTorch target: the generated trainer's Net (imported by /usr/bin/python3, state_dict
//   loaded by dnnc's tensor names) gives our forward's output, and one epoch of the generated
//   trainer from our initial weights gives our metrics and weights (backward and AdamW included);
// - the ONNX exporter (on the unfused IR) run by onnxruntime-node gives our forward's output;
// - padded data: the PyTorch target takes it (test/pytorch-target-seq.test.ts checks its masking).
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
import { Rng } from "../runtime/rng";
import { caseText, closeTo, hasTorch, netAndOurs, ourForward, PY, seqIr, weightsAndInput, type LayerCase } from "./seqops-helpers";
import { ourInitialTensors, runOurs, safetensorsOf } from "./reference/networks/harness";
import { decodeSafetensors } from "../runtime/safetensors";

const specs: LayerCase[] = [
  {
    name: "text-max",
    input: [12],
    vocab: 11,
    body: `embedding(11, 6, padding_idx=0)
  conv1d(8, 3, padding=same) -> relu
  maxpool1d(2)
  conv1d(6, 3, stride=2, padding=1)
  global_maxpool
  dense(3)`,
    loss: "softmax_cross_entropy",
  },
  {
    name: "text-avg",
    input: [10],
    vocab: 7,
    body: `embedding(7, 4)
  conv1d(8, 4, padding=same, groups=2, bias=false) -> tanh
  avgpool1d(3, 2, padding=1)
  conv1d(4, 2, dilation=2, padding=valid, weight_norm=true)
  global_avgpool
  dense(2)`,
    loss: "softmax_cross_entropy",
  },
  {
    name: "series-last",
    input: [9, 3],
    body: `conv1d(5, 1)
  avgpool1d(2)
  dense(4) -> tanh
  maxpool1d(3, 1, padding=1)
  last
  dense(2)`,
    loss: "mse",
  },
  {
    name: "image-max",
    input: [2, 5, 5],
    body: `conv2d(3, 3)
  global_maxpool
  dense(2)`,
    loss: "mse",
  },
];

const text = caseText;

const N = 3;

describe("ONNX export of the sequence layers, run by onnxruntime-node, equals our forward", () => {
  for (const s of specs)
    it(s.name, async () => {
      const r = compileToIr(text(s), `${s.name}.dnn`, { passes: "lower" });
      expect(r.diagnostics).toEqual([]);
      expect(checkTarget(r.ir!, "onnx")).toEqual([]);
      const { tensors, x } = weightsAndInput(r.ir!, s, 5, N);
      const e = exportOnnx(r.ir!, tensors, {});
      const session = await ort.InferenceSession.create(e.bytes);
      const got = (await session.run({ input: new ort.Tensor("float32", x, [N, ...s.input]) })).logits.data as Float32Array;
      expect(closeTo(got, await ourForward(s, tensors, x, N), 1e-5)).toBeUndefined();
    });
});

if (!hasTorch) console.warn("seqops-targets: the PyTorch runs are skipped: /usr/bin/python3 -c 'import torch' failed");

describe.skipIf(!hasTorch)("the PyTorch target's Net on the sequence layers equals our forward", () => {
  it("every spec, one Python run", async () => {
    const got = await netAndOurs(specs, N, 6);
    for (const s of specs) expect(closeTo(got[s.name].y, got[s.name].want, 1e-5), s.name).toBeUndefined();
  }, 60_000);
});

describe.skipIf(!hasTorch)("the PyTorch target trains the sequence layers as our trainer does", () => {
  it("one epoch from our initial weights (embedding with padding_idx, conv1d, pools over time, AdamW with decay): the same metrics and weights", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-seqops-epoch-"));
    const data = join(dir, "data");
    mkdirSync(data);
    const rng = new Rng(12, 1);
    const lines = ["t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11,label"];
    for (let i = 0; i < 96; i++) {
      const ids = Array.from({ length: 12 }, () => Math.floor(rng.range(0, 8)));
      lines.push([...ids, ids.filter((v) => v === 2).length % 3].join(","));
    }
    writeFileSync(join(data, "train.csv"), lines.join("\n") + "\n");
    const text = `model seq_epoch {
  input [12]
  embedding(8, 6, padding_idx=0)
  conv1d(8, 3, padding=same) -> relu
  maxpool1d(2)
  conv1d(6, 2, stride=2, groups=2) -> tanh
  global_avgpool
  dense(3)
  loss softmax_cross_entropy
}
data {
  source csv("${data}", label="label")
  validation 0.25
}
train { seed 5; batch 8; epochs 1; optimizer adamw(lr=0.01, weight_decay=0.05) }
`;
    const spec = join(dir, "seq.dnn");
    writeFileSync(spec, text);
    const fe = compileToIr(text, spec);
    expect(fe.diagnostics).toEqual([]);
    const trainer = join(dir, "seq.trainer.py");
    writeFileSync(trainer, generatePytorchTrainer(fe.ir!, { dataPath: data }));
    const { program, tensors } = await ourInitialTensors(spec);
    expect(tensors["embedding_0.weight"].slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    writeFileSync(join(dir, "init.safetensors"), safetensorsOf(program, tensors));
    const r = spawnSync(PY, [trainer, "--init-from", join(dir, "init.safetensors"), "--epochs", "1", "--out", join(dir, "py"), "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    expect(r.status, r.stderr).toBe(0);
    const ours = await runOurs(spec, { epochs: 1 });
    const pm = JSON.parse(
      readFileSync(join(dir, "py", "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")[0],
    ) as Record<string, number>;
    const om = ours.result.epochs[0] as unknown as Record<string, number>;
    for (const k of ["train_loss", "val_loss", "train_acc", "val_acc"]) expect(Math.abs(pm[k] - om[k]) / Math.max(1, Math.abs(om[k])), k).toBeLessThan(1e-4);
    const st = decodeSafetensors(readFileSync(join(dir, "py", "model.safetensors")), "model.safetensors");
    expect(st.tensors.map((t) => t.name).sort()).toEqual(Object.keys(ours.final).sort());
    for (const t of st.tensors) expect(closeTo(t.data, ours.final[t.name], 1e-4), t.name).toBeUndefined();
    expect(ours.final["embedding_0.weight"].slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
  }, 60_000);
});

describe("padded data: the PyTorch target takes it (its masking is checked in test/pytorch-target-seq.test.ts)", () => {
  it("PyTorch (no E0405 at the masked layers)", () => {
    const ir = seqIr(text(specs[0]), { lengths: true });
    expect(ir.nodes.some((n) => n.tail.some((t) => t.op === "seqmask"))).toBe(true);
    expect(checkTarget(ir, "pytorch")).toEqual([]);
  });
});
