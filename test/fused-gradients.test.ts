// The generated forward/backward code (fused epilogues included) against central finite
// differences of the loss, in float64, on networks that use every layer kind; and the fused
// forward of the example MLP against the unfused composition of the runtime's naive kernels.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compileProgram, float64Backend } from "./helpers/compile";
import { lossForward } from "../runtime/loss";
import { Rng, hash3, streamId } from "../runtime/rng";
import { gemmNaive } from "../runtime/kernels/gemm";
import { batchNormForwardTrain } from "../runtime/kernels/norm";
import { activationForward } from "../runtime/kernels/activations";
import { dropoutForward } from "../runtime/kernels/dropout";
import type { Program } from "../runtime/program";

const wrap = (input: string, body: string, loss = "softmax_cross_entropy", batch = 4) => `
model t {
  input ${input}
${body}
  loss ${loss}
}
data { source idx("x") }
train { seed 3  ; batch ${batch} ; optimizer sgd(lr=0.1) }
`;

/** Max relative error between analytic and central-difference gradients over sampled entries. */
async function gradCheck(program: Program, samples = 40): Promise<number> {
  const be = float64Backend(program.meta.heapFloats);
  const H = be.H;
  const model = program.create(be, 5);
  model.init();
  const n = program.meta.batch;
  const rng = new Rng(1, 2);
  for (let i = 0; i < n * program.meta.inputSize; i++) H[program.layout.x + i] = rng.normal();
  const k = program.meta.outputSize;
  const setTargets = () => {
    for (let i = 0; i < n; i++) {
      if (program.loss.kind === "softmax_cross_entropy") H[program.layout.labels + i] = i % k;
      else for (let j = 0; j < k; j++) H[program.layout.labels + i * k + j] = program.loss.kind === "bce_with_logits" ? (i + j) % 2 : Math.sin(i + j);
    }
  };
  setTargets();
  const lossAt = () => {
    model.forward(n, true, 7);
    return lossForward(H, program, n, true).loss;
  };
  lossAt();
  model.backward(n, 7);
  const G = program.layout.G;
  const P = program.layout.P;
  const grads = Float64Array.from(H.subarray(G, G + program.layout.N));
  let worst = 0;
  const pick = new Rng(9, 9);
  for (const t of program.tensors.filter((t) => t.kind === "param")) {
    for (let s = 0; s < Math.min(samples, t.size); s++) {
      const idx = t.offset + pick.int(t.size);
      const orig = H[idx];
      const h = 1e-6;
      H[idx] = orig + h;
      const lp = lossAt();
      H[idx] = orig - h;
      const lm = lossAt();
      H[idx] = orig;
      const num = (lp - lm) / (2 * h);
      const ana = grads[idx - P];
      const err = Math.abs(num - ana) / Math.max(1e-4, Math.abs(num) + Math.abs(ana));
      worst = Math.max(worst, err);
    }
  }
  return worst;
}

const cases: [string, string, string, string?][] = [
  ["dense + bn + relu + dropout", "[12]", "  dense(8) -> bn -> relu -> dropout(0.3)\n  dense(8) -> tanh\n  dense(3)"],
  ["activations chained", "[6]", "  dense(7) -> leaky_relu(0.1) -> sigmoid\n  dense(5) -> gelu -> elu(0.7)\n  dense(3)"],
  ["layernorm and weight norm", "[6]", "  dense(8, weight_norm=true) -> layernorm -> relu\n  dense(3, bias=false)"],
  [
    "conv + groupnorm + pools",
    "[2, 6, 6]",
    "  conv2d(4, 3, padding=same) -> groupnorm(2) -> relu\n  maxpool2d(2)\n  conv2d(4, 3, padding=1, stride=1, dilation=1, groups=2) -> instancenorm -> spatial_dropout(0.25)\n  avgpool2d(3)\n  flatten\n  dense(3)",
  ],
  [
    "conv bn, strided, dilated, global pooling",
    "[3, 7, 7]",
    "  conv2d(4, 3, stride=2, padding=1) -> bn -> relu\n  conv2d(6, [3, 2], dilation=[1, 2], weight_norm=true) -> relu\n  global_avgpool\n  dense(3)",
  ],
  [
    "residual blocks with and without projection",
    "[2, 6, 6]",
    "  conv2d(4, 3, padding=same) -> relu\n  residual { conv2d(4, 3, padding=same) -> bn -> relu\n conv2d(4, 3, padding=same) }\n  residual { conv2d(6, 3, stride=2, padding=1) -> relu }\n  flatten\n  residual { dense(5) -> tanh }\n  dense(3)",
  ],
  ["mse on one-hot-free targets", "[5]", "  dense(6) -> relu\n  dense(2)", "mse"],
  ["huber and l1", "[5]", "  dense(6) -> tanh\n  dense(2)", "huber(delta=0.5)"],
  ["bce with logits", "[5]", "  dense(6) -> relu\n  dense(3)", "bce_with_logits"],
];

describe("generated backward equals central finite differences (float64)", () => {
  for (const [name, input, body, loss] of cases) {
    it(name, async () => {
      const { program } = await compileProgram(wrap(input, body, loss));
      expect(await gradCheck(program)).toBeLessThan(1e-5);
    });
  }
  it("on random dense widths and activations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom("relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu"),
        fc.constantFrom("", " -> bn", " -> dropout(0.5)", " -> layernorm"),
        async (a, b, act, extra) => {
          const { program } = await compileProgram(wrap(`[${a}]`, `  dense(${b})${extra} -> ${act}\n  dense(2)`));
          expect(await gradCheck(program, 10)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 12, seed: 42 },
    );
  });
});

describe("fused forward equals the unfused composition of the naive kernels", () => {
  it("dense -> bn -> relu -> dropout(0.5) of the example", async () => {
    const { program } = await compileProgram(wrap("[10]", "  dense(6) -> bn -> relu -> dropout(0.5)\n  dense(3)", "softmax_cross_entropy", 5));
    const be = float64Backend(program.meta.heapFloats);
    const H = be.H;
    const model = program.create(be, 11);
    model.init();
    const n = 5;
    const rng = new Rng(4, 4);
    for (let i = 0; i < n * 10; i++) H[program.layout.x + i] = rng.normal();
    model.forward(n, true, 2);
    const fused = Float64Array.from(H.subarray(program.layout.out, program.layout.out + n * 3));
    // the same with naive kernels, step by step, in a scratch heap
    const S = new Float64Array(4096) as unknown as Float32Array;
    const t = Object.fromEntries(program.tensors.map((x) => [x.name, x]));
    const copy = (name: string, at: number) => S.set(H.subarray(t[name].offset, t[name].offset + t[name].size), at);
    S.set(H.subarray(program.layout.x, program.layout.x + n * 10), 0);
    copy("dense_0.weight", 100);
    copy("dense_0.bias", 200);
    copy("bn_0.weight", 210);
    copy("bn_0.bias", 220);
    copy("dense_1.weight", 230);
    copy("dense_1.bias", 260);
    gemmNaive(S, 0, 1, n, 6, 10, 0, 100, 300, 0);
    for (let r = 0; r < n; r++) for (let j = 0; j < 6; j++) S[300 + r * 6 + j] += S[200 + j];
    S.fill(0, 500, 506);
    S.fill(1, 506, 512);
    batchNormForwardTrain(S, { C: 6, S: 1, eps: 1e-5, momentum: 0.1 }, 300, 210, 220, 400, 520, 530, 500, 506, n);
    activationForward("relu", S, 400, 400, n * 6);
    const stream = streamId("dropout:dropout_0");
    dropoutForward(S, 0.5, 400, 600, 700, n * 6, hash3(11, stream, 2), stream, 0);
    gemmNaive(S, 0, 1, n, 3, 6, 600, 230, 800, 0);
    for (let r = 0; r < n; r++) for (let j = 0; j < 3; j++) S[800 + r * 3 + j] += S[260 + j];
    for (let i = 0; i < n * 3; i++) expect(fused[i]).toBeCloseTo(S[800 + i], 12);
  });
});
