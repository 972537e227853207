// Fine-tuning against PyTorch 1.13 (test/reference/finetune/make_reference.py): a frozen block
// whose batch norm runs in evaluation mode, a block at lr_scale 0.1 and a trained head, 6 SGD steps
// with momentum and weight decay from the same tensors. PyTorch written by hand (requires_grad_(False),
// bn.eval(), param groups with scaled lr) and the PyTorch target's own trainer for the spec ("twin",
// which make_reference.py checked against the hand-written one) recorded the loss trace and the final
// tensors; our TypeScript trainer must give the same.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOurs, type Tensors } from "./reference/networks/harness";

const DIR = "test/reference/finetune";
const ref = JSON.parse(readFileSync(join(DIR, "ft-mlp.json"), "utf8")) as {
  steps: number;
  init: Tensors;
  loss: number[];
  final: Tensors;
  twin: { loss: number[]; final: Tensors };
};

const worst = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);

describe("fine-tuning equals PyTorch's (frozen block in eval mode, lr_scale, weight decay)", async () => {
  const ours = await runOurs(join(DIR, "ft-mlp.dnn"), { maxSteps: ref.steps, init: ref.init });

  it("gives the same loss at every step (relative 1e-5)", () => {
    expect(ours.result.lossTrace.length).toBe(ref.steps);
    for (const want of [ref.loss, ref.twin.loss]) expect(worst(ours.result.lossTrace, want)).toBeLessThanOrEqual(1e-5);
  });

  it("gives the same final tensors (1e-5), the frozen block untouched, bit for bit", () => {
    for (const [name, want] of Object.entries(ref.final)) {
      expect(worst(ours.final[name], want), name).toBeLessThanOrEqual(1e-5);
      expect(worst(ours.final[name], ref.twin.final[name]), `${name} (twin)`).toBeLessThanOrEqual(1e-5);
    }
    for (const name of ["dense_0.weight", "dense_0.bias", "bn_0.weight", "bn_0.bias", "bn_0.running_mean", "bn_0.running_var"])
      expect(ours.final[name], name).toEqual(ours.initial[name]);
    // the rest moved (bn_1's running statistics too: it trains in training mode)
    for (const name of ["dense_1.weight", "bn_1.weight", "bn_1.running_mean", "dense_2.weight"])
      expect(worst(ours.final[name], ref.init[name]), name).toBeGreaterThan(1e-4);
  });
});
