// The PyTorch target trains the attention models as our trainer does (needs /usr/bin/python3 with
// torch; skipped with one line otherwise). One Python process for the file.
// - specs/char-transformer.dnn shrunk (context 16, width 16, 2 heads, 2 blocks, feed-forward 32, its
//   dropout 0 as the two sides draw different masks; everything else as committed: pre-norm gelu
//   causal blocks, learned positions, final layernorm, AdamW with decay_embedding false, warm-up then
//   cosine per step, clip_norm) on the bundled fortunes, and a post-norm relu twin with sinusoidal
//   positions, label smoothing and the output layer tied to the embedding (tie=embedding_0): 20 steps from our initial weights on the same batches give the same
//   loss trace (relative 1e-4) and the same final tensors (1e-3, relative to max(1, |v|)), which moved.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { hasTorch, noTorchReason, ourProgram, seqSpecIr, startPyWorker, trainOurs, worstRel, writePyTrainer } from "./pytorch-target-seq-helpers";

if (!hasTorch) console.warn(`pytorch-target-attention: the PyTorch runs are skipped: /usr/bin/python3 -c "import torch" failed (${noTorchReason})`);

const STEPS = 20;
const DATA = resolve("specs/data/fortunes-small");

/** The committed example spec, shrunk (see the header); each substitution must apply. */
function shrunk(): string {
  let s = readFileSync("specs/char-transformer.dnn", "utf8");
  for (const [a, b] of [
    ["input [128]", "input [16]"],
    ["embedding(auto, 128)", "embedding(auto, 16)"],
    ["pos_embedding(128, 128)", "pos_embedding(16, 16)"],
    ["repeat(4) { transformer(4, ff=512, dropout=0.1,", "repeat(2) { transformer(2, ff=32, dropout=0,"],
    ['text("data/fortunes-small", context=128,', `text("${DATA}", context=16,`],
    ["batch 16", "batch 8"],
  ]) {
    expect(s, a).toContain(a);
    s = s.replace(a, b);
  }
  return s;
}

const SPECS: Record<string, () => string> = {
  "char-transformer (shrunk)": shrunk,
  "post-norm relu, sinusoidal, label smoothing, tied": () =>
    shrunk()
      .replace("pos_embedding(16, 16)", "pos_embedding(kind=sinusoidal)")
      .replace("norm=pre, activation=gelu", "norm=post, activation=relu")
      .replace("loss softmax_cross_entropy", "loss softmax_cross_entropy(label_smoothing=0.1)")
      .replace("dense(auto)", "dense(auto, tie=embedding_0)"),
};

const dir = mkdtempSync(join(tmpdir(), "dnnc-attnpt-"));
let worker: ReturnType<typeof startPyWorker> | undefined;
afterAll(() => worker?.close());

describe.skipIf(!hasTorch)("the PyTorch target trains the attention models as our trainer does", () => {
  Object.entries(SPECS).forEach(([name, text], k) =>
    it(`${name}: ${STEPS} steps from our initial weights: the same loss trace (1e-4) and tensors (1e-3)`, async () => {
      const d = join(dir, `s${k}`);
      mkdirSync(d, { recursive: true });
      const ir = seqSpecIr(text(), join(d, "spec.dnn"));
      const program = await ourProgram(ir, DATA);
      const ours = await trainOurs(program, DATA, { maxSteps: STEPS, epochs: 100 });
      const init = join(d, "init.safetensors");
      writeFileSync(init, encodeSafetensors(program.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(ours.initial[t.name]) }))));
      const trainer = writePyTrainer(ir, d, DATA);
      worker ??= startPyWorker();
      await worker.main(trainer, [
        "--init-from",
        init,
        "--out",
        join(d, "py"),
        "--quiet",
        "--trace",
        join(d, "trace.json"),
        "--epochs",
        "100",
        "--max-steps",
        String(STEPS),
      ]);
      const trace = JSON.parse(readFileSync(join(d, "trace.json"), "utf8")) as { loss: number[]; steps: number };
      expect(ours.result.steps).toBe(STEPS);
      expect(trace.steps).toBe(STEPS);
      const bad = ours.result.lossTrace.map((l, i) => [i + 1, l, trace.loss[i]]).filter(([, a, b]) => !(Math.abs(a - b) <= 1e-4 * Math.abs(a)));
      expect(bad).toEqual([]);
      const st = decodeSafetensors(readFileSync(join(d, "py", "model.safetensors")), "model.safetensors");
      const tensors = program.tensors.map((t) => {
        const got = st.tensors.find((x) => x.name === t.name);
        return [t.name, got ? worstRel(got.data, ours.final[t.name]) : Infinity] as const;
      });
      expect(tensors.filter(([, w]) => !(w <= 1e-3))).toEqual([]);
      expect(Object.keys(ours.initial).some((key) => ours.initial[key].some((v, i) => Math.abs(v - ours.final[key][i]) > 1e-3))).toBe(true);
    }, 120_000),
  );
});
