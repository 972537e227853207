// The smoothness penalties and the new layers: global_maxpool over images is differentiated twice
// (linear along its argmax), checked against central finite differences of the penalty in float64
// as test/penalty-fd.test.ts does for the other layers; the sequence layers are refused by name.
import { describe, expect, it } from "vitest";
import { float64Backend } from "./helpers/compile";
import { compileWithPenalty, fillBatch, spec, type PenaltyProgram } from "./reference/penalty/helpers";
import { compileToIr } from "../compiler/pipeline";
import { Rng } from "../runtime/rng";

/** Worst relative error of the penalty's analytic gradient against central differences (as penalty-fd.test.ts). */
function penaltyGradCheck(program: PenaltyProgram, samples = 12): { worst: number; value: number } {
  const be = float64Backend(program.meta.heapFloats);
  const H = be.H;
  const model = program.create(be, 9);
  model.init();
  const n = program.meta.batch;
  fillBatch(program, H, n);
  const { G, P, N } = program.layout;
  const value = () => {
    model.forward(n, true, 5);
    return model.penalty(n, 5);
  };
  H.fill(0, G, G + N);
  const v0 = value();
  const grads = Float64Array.from(H.subarray(G, G + N));
  const floor = 1e-3 * grads.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
  let worst = 0;
  const pick = new Rng(4, 4);
  for (const t of program.tensors.filter((t) => t.kind === "param")) {
    for (let s = 0; s < Math.min(samples, t.size); s++) {
      const idx = t.offset + pick.int(t.size);
      const orig = H[idx];
      const h = 1e-5;
      H[idx] = orig + h;
      const up = value();
      H[idx] = orig - h;
      const down = value();
      H[idx] = orig;
      const num = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(num - grads[idx - P]) / Math.max(floor, Math.abs(num) + Math.abs(grads[idx - P])));
    }
  }
  return { worst, value: v0 };
}

describe("global_maxpool over images under the smoothness penalties", () => {
  for (const pen of ["input_grad_penalty 0.3", "jacobian_penalty(0.2, projections=3)"])
    it(pen, async () => {
      const body = "  conv2d(3, 3, padding=1) -> tanh\n  global_maxpool\n  dense(3)";
      const { program } = await compileWithPenalty(spec("[2, 5, 5]", body, "softmax_cross_entropy", pen));
      const r = penaltyGradCheck(program);
      expect(r.value).toBeGreaterThan(0);
      expect(r.worst).toBeLessThan(1e-6);
    });
});

describe("the sequence layers are refused by the penalties, by name", () => {
  for (const [body, input, name, why] of [
    ["conv1d(4, 3)\n  global_maxpool", "8, 3", "`conv1d` (conv1d_0)", "sequence layers are not differentiated twice yet"],
    ["global_avgpool", "8, 3", "`global_avgpool` (global_avgpool_0)", "a sequence input is not differentiated twice"],
    ["embedding(5, 4)\n  last", "8", "`embedding` (embedding_0)", "sequence layers are not differentiated twice yet"],
  ])
    it(name, () => {
      const r = compileToIr(spec(`[${input}]`, `  ${body}\n  dense(2)`, "mse", "input_grad_penalty 0.1"), "p.dnn");
      expect(r.ir).toBeUndefined();
      expect(r.diagnostics.map((d) => d.message)).toEqual([`${name} is not supported by the smoothness penalties: ${why}`]);
    });
});
