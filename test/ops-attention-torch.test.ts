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
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { train } from "../runtime/train-loop";
import type { Dataset } from "../runtime/data/dataset";
import { closeTo, seqProgram } from "./seqops-helpers";

interface Case {
  name: string;
  spec: string;
  loss: "mse" | "ce";
  shape: number[];
  n: number;
  x: number[];
  lengths: number[] | null;
  y: number[];
  out: number[];
  outShape: number[];
  value: number;
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
  dx: number[];
  losses: number[];
  final: Record<string, number[]>;
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
        const padded = c.lengths !== null;
        const { program: p, ir } = await compile(c);
        expect(p.meta.outputShape).toEqual(c.outShape);
        const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
        try {
          const H = be.H;
          const model = p.create(be, 0);
          model.init();
          const setParams = () => {
            for (const t of p.tensors) if (t.kind === "param") H.set(c.params[t.name], t.offset);
          };
          setParams();
          H.set(c.x, p.layout.x);
          H.set(c.y, p.layout.labels);
          if (padded) H.set(c.lengths!, p.layout.lengths!);
          else expect(p.layout.lengths).toBeUndefined();
          model.forward(c.n, true, 0);
          const outSize = c.outShape.reduce((a, b) => a * b, 1);
          expect(closeTo(H.subarray(p.layout.out, p.layout.out + c.n * outSize), c.out, 2e-5), "output").toBeUndefined();
          H.fill(0, p.layout.G, p.layout.G + p.layout.N);
          const r = lossForward(H, p, c.n, true);
          expect(Math.abs(r.loss - c.value)).toBeLessThanOrEqual(2e-5 * Math.max(1, c.value));
          model.backward(c.n, 0);
          for (const t of p.tensors.filter((t) => t.kind === "param")) {
            const g = H.subarray(p.layout.G + (t.offset - p.layout.P), p.layout.G + (t.offset - p.layout.P) + t.size);
            expect(closeTo(g, c.grads[t.name], 1e-4), `grad ${t.name}`).toBeUndefined();
          }
          // the gradient at the attention layer's input, or at the output of the dense or embedding before the blocks
          const at = c.dx_at === "attention" ? ir.nodes.find((m) => m.op === "attention")!.inputs[0] : ir.nodes.find((m) => m.op === c.dx_at)!.output;
          const o = ir.layout!.offsets[`grad:${at}`];
          expect(closeTo(H.subarray(o, o + c.dx.length), c.dx, 1e-4), "dx").toBeUndefined();

          // three optimizer steps of the trainer's loop on this batch
          setParams();
          H.fill(0, p.layout.S, p.layout.S + p.layout.slots * p.layout.N);
          const T = c.shape[0];
          const data: Dataset = {
            x: Float32Array.from(c.x),
            y: Float32Array.from(c.y),
            n: c.n,
            shape: c.shape,
            targetShape: c.loss === "ce" ? [T] : c.outShape,
            ...(c.loss === "ce" ? { classes: c.outShape[1] } : {}),
            ...(padded ? { lengths: Int32Array.from(c.lengths!) } : {}),
          };
          const res = train(p, be, model, { train: data }, { maxSteps: ref.steps });
          expect(res.steps).toBe(ref.steps);
          expect(closeTo(res.lossTrace, c.losses, 1e-4), "losses").toBeUndefined();
          for (const t of p.tensors.filter((t) => t.kind === "param")) {
            let got = Array.from(H.subarray(t.offset, t.offset + t.size));
            let want = c.final[t.name];
            if (t.name.endsWith("in_proj_bias")) {
              // the key bias adds the same q·b_k to every score of a row, which softmax ignores: its gradient
              // is zero up to rounding (checked above), and Adam scales that rounding noise to steps of ±lr,
              // differently in each implementation; its q and v thirds are compared
              const F = t.size / 3;
              got = [...got.slice(0, F), ...got.slice(2 * F)];
              want = [...want.slice(0, F), ...want.slice(2 * F)];
            }
            expect(closeTo(got, want, 1e-4), `after ${ref.steps} steps: ${t.name}`).toBeUndefined();
          }
        } finally {
          be.close();
        }
      });
});
