// Whole-network parity with PyTorch 1.13: for each spec in test/reference/networks/, PyTorch trained
// the network for 20 steps from OUR initial weights on the same batches (method in
// test/reference/networks/make_reference.py). Here our TypeScript trainer (the real pipeline:
// compileToIr → generateTrainer → bundleTrainer, run in-process with the runtime's training loop)
// starts from the same recorded tensors and must give the same loss trace (relative 1e-4) and the
// same final parameters and running statistics (1e-3).
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { NETWORKS_DIR, runOurs, type Tensors } from "./reference/networks/harness";

interface Reference {
  spec: string;
  steps: number;
  init: Tensors;
  loss: number[];
  final: Tensors;
  /** The fitted input standardization (mean, std), for specs with `preprocess standardize`. */
  preprocess?: Tensors;
}

const cases = readdirSync(NETWORKS_DIR)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(join(NETWORKS_DIR, f), "utf8")) as Reference);

describe("whole-network parity with PyTorch (20 steps from the same weights and batches)", () => {
  it("has the four reference networks", () => {
    expect(cases.map((c) => c.spec.replace(/^.*\//, "")).sort()).toEqual(["cnn-gn.dnn", "mlp-bn.dnn", "res-wn.dnn", "sched-clip.dnn"]);
  });

  for (const ref of cases) {
    it(`${ref.spec}: loss trace within 1e-4 (relative), final tensors within 1e-3`, async () => {
      const ours = await runOurs(join(NETWORKS_DIR, basename(ref.spec)), { maxSteps: ref.steps, init: ref.init });
      expect(ours.result.steps).toBe(ref.steps);
      const trace = ours.result.lossTrace;
      expect(trace.length).toBe(ref.loss.length);
      const badLoss = trace
        .map((l, i) => ({ step: i + 1, ours: l, torch: ref.loss[i] }))
        .filter((r) => !(Math.abs(r.ours - r.torch) <= 1e-4 * Math.abs(r.torch)));
      expect(badLoss).toEqual([]);
      // the same tensor names, shapes (sizes) and order as the PyTorch model's state
      expect(Object.keys(ours.final)).toEqual(Object.keys(ref.final));
      const badTensors: string[] = [];
      for (const [name, want] of Object.entries(ref.final)) {
        const got = ours.final[name];
        expect(got.length, name).toBe(want.length);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
        if (!(worst <= 1e-3)) badTensors.push(`${name}: max difference ${worst}`);
      }
      expect(badTensors).toEqual([]);
      if (ref.preprocess) {
        const fitted = ours.result.preprocess!;
        for (const [k, want] of Object.entries(ref.preprocess))
          want.forEach((v, i) => expect(Math.abs(fitted.tensors[k][i] - v), `preprocess.${k}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
      }
      // the training moved the weights (the comparison is not between two untouched copies)
      const moved = Object.keys(ref.init).some((k) => ref.init[k].some((v, i) => Math.abs(v - ref.final[k][i]) > 1e-2));
      expect(moved).toBe(true);
    });
  }
});
