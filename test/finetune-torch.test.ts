// Fine-tuning against PyTorch 1.13 (test/reference/finetune/make_reference.py), 6 steps from the
// same tensors: ft-mlp freezes the first block (its batch norm in evaluation mode) and trains the
// second at lr_scale 0.1 with SGD, momentum and coupled weight decay; ft-mid freezes the middle block,
// so the gradient crosses an evaluation-mode batch norm to reach the first block (lr_scale 0.5),
// with AdamW. PyTorch written by hand (requires_grad_(False), bn.eval(), param groups with scaled lr)
// and the PyTorch target's own trainer for the spec ("twin", checked against the hand-written one by
// make_reference.py) recorded the loss trace and the final tensors; our TypeScript trainer must give
// the same.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOurs, type Tensors } from "./reference/networks/harness";

const DIR = "test/reference/finetune";
interface Reference {
  steps: number;
  frozen: string[];
  init: Tensors;
  loss: number[];
  final: Tensors;
  twin: { loss: number[]; final: Tensors };
}

const worst = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);

for (const stem of ["ft-mlp", "ft-mid"]) {
  describe(`fine-tuning equals PyTorch's: ${stem}`, async () => {
    const ref = JSON.parse(readFileSync(join(DIR, `${stem}.json`), "utf8")) as Reference;
    const ours = await runOurs(join(DIR, `${stem}.dnn`), { maxSteps: ref.steps, init: ref.init });

    it("gives the same loss at every step (relative 1e-5)", () => {
      expect(ours.result.lossTrace.length).toBe(ref.steps);
      for (const want of [ref.loss, ref.twin.loss]) expect(worst(ours.result.lossTrace, want)).toBeLessThanOrEqual(1e-5);
    });

    it("gives the same final tensors (1e-5), the frozen block untouched, bit for bit, the rest moved", () => {
      expect(Object.keys(ours.final).sort()).toEqual(Object.keys(ref.final).sort());
      for (const [name, want] of Object.entries(ref.final)) {
        expect(worst(ours.final[name], want), name).toBeLessThanOrEqual(1e-5);
        expect(worst(ours.final[name], ref.twin.final[name]), `${name} (twin)`).toBeLessThanOrEqual(1e-5);
      }
      const frozen = Object.keys(ref.final).filter((k) => ref.frozen.includes(k.split(".")[0]));
      expect(frozen.length).toBeGreaterThanOrEqual(4);
      for (const name of frozen) expect(ours.final[name], name).toEqual(ours.initial[name]);
      // (weights: a bias right before a training-mode batch norm has a zero gradient and stays)
      for (const name of Object.keys(ref.final).filter((k) => !frozen.includes(k) && k.endsWith(".weight")))
        expect(worst(ours.final[name], ref.init[name]), name).toBeGreaterThan(1e-4);
    });
  });
}
