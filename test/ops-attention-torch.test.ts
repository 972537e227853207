// The attention layer of the language against PyTorch 1.13's nn.MultiheadAttention
// (test/reference/attention/make_cases.py): one and several heads, causal, bias=false, padded batches
// with and without causal (PyTorch ran each sample cut at its length alone: a padded position changes
// nothing), a pre-norm residual block, transformer blocks (nn.TransformerEncoder of
// nn.TransformerEncoderLayer(batch_first=True), pre- and post-norm, relu and gelu, causal, padded, two
// blocks by repeat(2), dnnc's names its state-dict names under `layers.k.` -> `transformer_k_`), and small language models (embedding -> attention -> dense, embedding -> pos_embedding (learned,
// sinusoidal) -> transformer -> dense, the dense tied to the embedding's table (tie=embedding_0: one
// parameter, its gradient summed),
// cross-entropy at every position, padded and not). Each case is compiled once through the real
// pipeline and run on both backends: from the same weights, the output, the loss, every parameter's
// gradient and the gradient at the attention layer's input; then three steps of the compiled
// trainer's own loop (AdamW with decoupled decay, clip_norm) on the same batch: each step's loss and
// the final parameters.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { seqProgram } from "./seqops-helpers";
import { checkTorchCase, type TorchCase } from "./torch-case-helpers";

interface Case extends TorchCase {
  dx_at: "attention" | "dense" | "embedding";
}

const ref = JSON.parse(readFileSync(new URL("./reference/attention/cases.json", import.meta.url), "utf8")) as {
  torch: string;
  lr: number;
  decay: number;
  clip: number;
  steps: number;
  cases: Case[];
};

const spec = (c: Case) => `model attn {
  input [${c.shape.join(", ")}]
  ${c.spec}
  loss ${c.loss === "ce" ? "softmax_cross_entropy" : "mse"}
}
data { source csv("d.csv"); validation 0 }
train { batch ${c.n}; epochs ${ref.steps}; optimizer adamw(lr=${ref.lr}, weight_decay=${ref.decay}); clip_norm ${ref.clip} }
`;

describe("attention against PyTorch", () => {
  it("the reference holds every variant", () => {
    expect(ref.torch).toMatch(/^1\.13/);
    const names = ref.cases.map((c) => c.name).join(" | ");
    for (const v of [
      "one head",
      "heads=2",
      "causal",
      "bias=false",
      "padded",
      "padded causal",
      "residual pre-norm",
      "lm causal",
      "lm causal padded",
      "transformer post-norm",
      "pre-norm gelu causal repeat(2)",
      "post-norm gelu causal padded",
      "pre-norm relu padded repeat(2)",
    ])
      expect(names).toContain(v);
    expect(ref.cases.filter((c) => c.lengths).length).toBeGreaterThanOrEqual(3);
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
          // the gradient at the attention layer's input, or at the output of the dense or embedding before the blocks
          dxAt: (ir) => (c.dx_at === "attention" ? ir.nodes.find((m) => m.op === "attention")!.inputs[0] : ir.nodes.find((m) => m.op === c.dx_at)!.output),
          // the key bias adds the same q·b_k to every score of a row, which softmax ignores: its gradient
          // is zero up to rounding (checked), and Adam scales that rounding noise to steps of ±lr,
          // differently in each implementation; its q and v thirds are compared
          finalView: (name, v) => (name.endsWith("in_proj_bias") ? [...v.slice(0, v.length / 3), ...v.slice((2 * v.length) / 3)] : v),
        });
      });
});
