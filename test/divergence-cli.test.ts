// Issue 16, item 3, through the command line: a spec whose inputs overflow float32 (scale 1e38)
// used to train with a ReLU turning every NaN into 0 and save a NaN model with exit 0. Now
// `dnnc train` stops at the first step with exit 1 and a one-line message on both backends, and
// writes no model; a trainer refuses to resume from a checkpoint that holds a NaN (the "last good
// checkpoint" is finite) and leaves the run's files as they were.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";

const data = resolve("specs/data/fashion-mnist-small");
const tmp = mkdtempSync(join(tmpdir(), "dnnc-nan-"));
const spec = (scale: string) => `model tiny {
  input [1, 28, 28]
  flatten
  dense(32) -> relu
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("${data}")
  scale ${scale}
}
train {
  seed 1
  batch 64
  epochs 1
  optimizer sgd(lr=0.05, momentum=0.9)
}
`;
const node = (args: string[]) => spawnSync(process.execPath, args, { encoding: "utf8" });

describe("dnnc train with scale 1e38", () => {
  writeFileSync(join(tmp, "overflow.dnn"), spec("1e38"));
  for (const backend of ["ts", "wasm"]) {
    it(`--backend ${backend}: exit 1 at step 1 naming the input, no model written`, () => {
      const out = join(tmp, `run-${backend}`);
      const r = node(["bin/dnnc.mjs", "train", join(tmp, "overflow.dnn"), "--backend", backend, "-o", out]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /^error: training diverged at step 1 \(epoch 1\): the loss is NaN; the input is Infinity \(training sample \d+, feature \d+\); fix the data: with its scale \(1e\+38\), shift \(0\) and preprocessing, every input must stay within float32's range/m,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
      for (const f of ["model.safetensors", "checkpoint.safetensors", "best.safetensors", "run.json"]) expect(existsSync(join(out, f)), f).toBe(false);
    });
  }
});

describe("resuming a poisoned checkpoint", () => {
  it("is refused with exit 1, naming the checkpoint and the tensor; the run's files are untouched", () => {
    writeFileSync(join(tmp, "tiny.dnn"), spec("1/255"));
    const out = join(tmp, "run");
    const first = node(["bin/dnnc.mjs", "train", join(tmp, "tiny.dnn"), "--backend", "wasm", "-o", out, "--quiet"]);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const ckpt = join(out, "checkpoint.safetensors");
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(ckpt)), ckpt);
    const params = tensors.find((t) => t.name === "params")!;
    const poisoned = Float32Array.from(params.data);
    poisoned[40] = NaN; // dense_0.weight, row 0, column 40
    writeFileSync(
      ckpt,
      encodeSafetensors(
        tensors.map((t) => (t === params ? { ...t, data: poisoned } : t)),
        metadata,
      ),
    );
    const before = ["model.safetensors", "metrics.jsonl", "checkpoint.safetensors"].map((f) => readFileSync(join(out, f)));
    const r = node([join(out, "tiny.trainer.mjs"), "--resume", out, "--epochs", "2", "--backend", "wasm"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `error: ${ckpt}: parameter dense_0.weight is NaN at element 40; refusing to resume from a checkpoint that holds a non-finite value\n`,
    );
    ["model.safetensors", "metrics.jsonl", "checkpoint.safetensors"].forEach((f, i) =>
      expect(Buffer.compare(readFileSync(join(out, f)), before[i]), f).toBe(0),
    );
  });
});
