// The op registry and the targets: every op declares its PyTorch and ONNX mapping and its
// penalty pieces, or says `unsupported(...)` (a forgotten one fails here, beside the type error);
// an unsupported mapping becomes the uniform diagnostic E0405 at the layer; and the mappings of
// the activations run: ONNX through onnxruntime-node against the runtime kernel, PyTorch by one
// epoch of the generated trainer against ours from the same weights.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { ACTIVATIONS, NODES, OPS, TAILS, findNodeOp, findTailOp } from "../compiler/ops";
import { isUnsupported, unsupported, type NodeOp } from "../compiler/ops/op";
import { checkTarget, findUnsupported } from "../compiler/check-targets";
import { compileToIr } from "../compiler/pipeline";
import { exportOnnx } from "../compiler/export/onnx";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { activationForward, type ActivationKind } from "../runtime/kernels/activations";
import { decodeSafetensors } from "../runtime/safetensors";
import { NETWORKS_DIR, ourInitialTensors, runOurs, safetensorsOf } from "./reference/networks/harness";
import type { IR } from "../compiler/ir";

const declared = (m: unknown) => typeof m === "function" || isUnsupported(m);

describe("the op registry", () => {
  it("every IR node kind declares its trainer code, PyTorch and ONNX mappings and penalty pieces (or unsupported)", () => {
    for (const [name, op] of Object.entries(NODES) as [string, NodeOp<never>][]) {
      expect(typeof op.forward, name).toBe("function");
      expect(typeof op.backward, name).toBe("function");
      expect(declared(op.pytorch), `${name}: pytorch`).toBe(true);
      expect(declared(op.onnx), `${name}: onnx`).toBe(true);
      expect(
        isUnsupported(op.penalty) ||
          (typeof op.penalty.primalBackward === "function" &&
            typeof op.penalty.tangentForward === "function" &&
            typeof op.penalty.tangentBackward === "function"),
        `${name}: penalty`,
      ).toBe(true);
    }
    for (const [name, t] of Object.entries(TAILS)) {
      for (const k of ["pytorch", "onnx", "second"] as const) expect(declared(t[k]), `${name}: ${k}`).toBe(true);
      expect(typeof t.forward, name).toBe("function");
      expect(typeof t.backward, name).toBe("function");
    }
  });

  it("every layer of the language lowers to node kinds the registry knows", () => {
    // one spec with every layer (images where they need them), lowered: each node has a module
    const layers = Object.keys(OPS);
    const src = `model m {
  input [8, 6, 6]
  conv2d(8, 3, padding=1) -> bn -> relu -> spatial_dropout(0.1)
  residual { conv2d(8, 3, padding=1) -> groupnorm(2) -> leaky_relu }
  repeat(2) { conv2d(8, 1) -> instancenorm -> elu }
  iternorm(2) -> maxpool2d(2) -> avgpool2d(1) -> tanh -> sigmoid
  global_avgpool
  dense(8) -> layernorm -> gelu -> silu -> softplus -> mish -> dropout(0.2)
  flatten
  dense(3)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4 }`;
    // and one with the sequence layers (token ids [T] first)
    const seq = `model s {
  input [16]
  embedding(10, 8, padding_idx=0)
  conv1d(8, 3, padding=same) -> relu -> maxpool1d(2) -> avgpool1d(2)
  residual { conv1d(8, 1) -> tanh }
  lstm(6, layers=2, bidirectional=true) -> gru(8)
  pos_embedding -> attention(2, causal=true)
  pos_embedding(kind=sinusoidal)
  transformer(2, norm=pre, activation=gelu)
  last
  dense(3)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4 }`;
    const seqPools = seq.replace("last", "global_maxpool");
    const irs = [src, seq, seqPools].map((t) => compileToIr(t, "all.dnn", { passes: "lower" }));
    for (const r of irs) expect(r.diagnostics).toEqual([]);
    const nodes = irs.flatMap((r) => r.ir!.nodes);
    const used = new Set(nodes.map((n) => n.op));
    // (repeat, residual and transformer lower to the nodes of the layers they are made of)
    for (const l of layers) if (l !== "repeat" && l !== "residual" && l !== "transformer") expect(used.has(l as never), l).toBe(true);
    for (const n of nodes) expect(!!findNodeOp(n.op) || !!findTailOp(n.op), n.op).toBe(true);
  });
});

describe("an op a target cannot map: one diagnostic, E0405, at its layer", () => {
  const original = { ...NODES.add };
  afterEach(() => Object.assign(NODES.add, original));
  const src = `model m {
  input [4]
  dense(4) -> relu
  residual { dense(4) -> tanh }
  dense(2)
  loss mse
}
data { source idx("d") }
train { batch 4 }`;

  for (const target of ["pytorch", "onnx"] as const) {
    it(target, () => {
      const ir = compileToIr(src, "r.dnn", { passes: target === "onnx" ? "lower" : "all" });
      expect(checkTarget(ir.ir!, target, ir.spec)).toEqual([]);
      NODES.add[target] = unsupported("a reason given by the op module");
      const d = checkTarget(ir.ir!, target, ir.spec);
      expect(d).toHaveLength(1);
      expect(d[0]).toMatchObject({ code: "E0405", span: { file: "r.dnn", line: 4, col: 3 } });
      expect(d[0].message).toBe(
        `\`add\` (residual_0) is not supported by ${target === "pytorch" ? "the PyTorch target" : "the ONNX exporter"}: a reason given by the op module`,
      );
      expect(d[0].hint).not.toContain("residual");
      expect(findUnsupported(ir.ir!, target)?.node.id).toBe("residual_0");
    });
  }
});

describe("ONNX: each activation on its own, run by onnxruntime-node, equals the runtime kernel", () => {
  const shape = [64];
  const x = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 3 + 0.01);
  for (const op of ACTIVATIONS) {
    it(op, async () => {
      const node = {
        id: `${op}_0`,
        op,
        inputs: ["x"],
        output: `${op}_0`,
        inShape: shape,
        outShape: shape,
        attrs: op === "leaky_relu" ? { slope: 0.1 } : op === "elu" ? { alpha: 0.7 } : {},
        params: [],
        stats: [],
        line: 1,
        col: 1,
        tail: [],
        kernel: op,
      };
      const ir = {
        version: 1,
        name: "one",
        file: "one.dnn",
        specHash: "",
        batch: 1,
        input: { shape, size: 64 },
        output: { shape, size: 64 },
        nodes: [node],
        params: [],
        stats: [],
        loss: { kind: "mse", labelSmoothing: 0, delta: 1 },
        train: {},
        data: { source: { kind: "idx", path: "." }, preprocess: [], augment: [], scale: 1, shift: 0, validation: 0 },
      } as unknown as IR;
      const ex = exportOnnx(ir, [], {});
      const session = await ort.InferenceSession.create(ex.bytes);
      const out = await session.run({ input: new ort.Tensor("float32", x, [1, 64]) });
      const got = out.logits.data as Float32Array;
      const H = new Float32Array(128);
      H.set(x);
      activationForward(
        op as ActivationKind,
        H,
        0,
        64,
        64,
        (node.attrs as { slope?: number; alpha?: number }).slope ?? (node.attrs as { alpha?: number }).alpha,
      );
      for (let i = 0; i < 64; i++) expect(Math.abs(got[i] - H[64 + i]), `${op}(${x[i]})`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(H[64 + i])));
    });
  }
});

const PY = "/usr/bin/python3";
const hasTorch = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
if (!hasTorch) console.warn("ops-targets: the PyTorch run is skipped: /usr/bin/python3 -c 'import torch' failed");

describe.skipIf(!hasTorch)("PyTorch target: the new activations train as our trainer does", () => {
  it("one epoch of silu, softplus and mish from our initial weights: the same metrics and weights", async () => {
    const BLOBS = join(NETWORKS_DIR, "data", "blobs");
    const text = `model acts {
  input [4]
  dense(12) -> silu
  dense(12) -> softplus
  dense(12) -> mish
  dense(3)
  loss softmax_cross_entropy
}
data {
  source csv("${BLOBS}", label="label")
  validation 0.25
}
train { seed 3; batch 8; epochs 1; optimizer adam(lr=0.01) }
`;
    const dir = mkdtempSync(join(tmpdir(), "dnnc-acts-"));
    const spec = join(dir, "acts.dnn");
    writeFileSync(spec, text);
    const fe = compileToIr(text, spec);
    expect(fe.diagnostics).toEqual([]);
    const ir = fe.ir!;
    const trainer = join(dir, "acts.trainer.py");
    writeFileSync(trainer, generatePytorchTrainer(ir, { dataPath: BLOBS }));
    const { program, tensors } = await ourInitialTensors(spec);
    writeFileSync(join(dir, "init.safetensors"), safetensorsOf(program, tensors));
    const r = spawnSync(PY, [trainer, "--init-from", join(dir, "init.safetensors"), "--epochs", "1", "--out", join(dir, "py"), "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    expect(r.status, r.stderr).toBe(0);
    const ours = await runOurs(spec, { epochs: 1 });
    const pm = readFileSync(join(dir, "py", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const om = ours.result.epochs[0] as unknown as Record<string, number>;
    for (const k of ["train_loss", "val_loss"]) expect(Math.abs(pm[0][k] - om[k]) / Math.max(1, Math.abs(om[k])), k).toBeLessThan(1e-4);
    const st = decodeSafetensors(readFileSync(join(dir, "py", "model.safetensors")), "model.safetensors");
    for (const t of st.tensors) {
      const want = ours.final[t.name];
      let worst = 0;
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - want[i]));
      expect(worst, t.name).toBeLessThan(1e-4);
    }
  }, 60_000);
});
