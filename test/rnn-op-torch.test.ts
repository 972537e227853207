// The recurrent layers of the language against PyTorch 1.13 (test/reference/rnnop/make_cases.py):
// lstm and gru, layers=2, bidirectional, bias=false, return_sequences=false, padded batches (PyTorch
// ran each sample cut at its length alone: a padded position changes nothing), lengths through a
// strided conv1d's time map, and small language models (embedding -> recurrent -> dense, cross-
// entropy at every position, padded and not). Each case is compiled once through the real pipeline
// and run on both backends: from the same weights, the output, the loss, every parameter's gradient
// and the gradient at the recurrent layer's input; then three steps of the compiled trainer's own
// loop (AdamW with decoupled decay, clip_norm) on the same batch: each step's loss and the final
// parameters.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { seqProgram } from "./seqops-helpers";
import { checkTorchCase, type TorchCase } from "./torch-case-helpers";

type Case = TorchCase;

const ref = JSON.parse(readFileSync(new URL("./reference/rnnop/cases.json", import.meta.url), "utf8")) as {
  torch: string;
  lr: number;
  decay: number;
  clip: number;
  steps: number;
  cases: Case[];
};

const spec = (c: Case) => `model rnnop {
  input [${c.shape.join(", ")}]
  ${c.spec}
  loss ${c.loss === "ce" ? "softmax_cross_entropy" : "mse"}
}
data { source csv("d.csv"); validation 0 }
train { batch ${c.n}; epochs ${ref.steps}; optimizer adamw(lr=${ref.lr}, weight_decay=${ref.decay}); clip_norm ${ref.clip} }
`;

describe("lstm and gru against PyTorch", () => {
  it("the reference holds every variant", () => {
    expect(ref.torch).toMatch(/^1\.13/);
    const names = ref.cases.map((c) => c.name).join(" | ");
    for (const v of ["lstm", "gru", "layers=2", "bidirectional", "bias=false", "return_sequences=false", "padded", "conv1d stride 2", "lm lstm", "lm gru"])
      expect(names).toContain(v);
    expect(ref.cases.filter((c) => c.lengths).length).toBeGreaterThanOrEqual(5);
  });

  // each case compiled once, run on both backends
  const compiled = new Map<Case, ReturnType<typeof seqProgram>>();
  const compile = (c: Case) => {
    if (!compiled.has(c)) compiled.set(c, seqProgram(spec(c), { lengths: c.lengths !== null }));
    return compiled.get(c)!;
  };
  for (const c of ref.cases)
    for (const backend of ["ts", "wasm"] as const)
      it(`${c.name} (${c.spec.replace(/\s+/g, " ")}), ${backend}`, async () => {
        await checkTorchCase(c, ref, await compile(c), backend, {
          // the gradient at the recurrent layer's input
          dxAt: (ir) => ir.nodes.find((m) => m.op === "lstm" || m.op === "gru")!.inputs[0],
        });
      });
});
