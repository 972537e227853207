// dense: y = x Wᵀ + b over [features], W stored [units, in] as in PyTorch; on a sequence [T, F]
// the same map at every position ([T, F] → [T, units]: one GEMM over the n·T rows, as nn.Linear on
// the last dimension). Kernels: the GEMM (runtime/kernels/gemm.ts, wasm twin
// runtime/wasm/gemm.wat) and the bias epilogues (runtime/wasm-kernels.ts makeDenseEpilogues).
// PyTorch: nn.Linear. ONNX: Gemm (MatMul + Add on sequences).
import type { NodeOf } from "../ir";
import { decayArgs, posInt } from "./args";
import { layer, type NodeOp } from "./op";
import {
  linearParams,
  onnxLinear,
  pyLinear,
  refuseWeightNorm,
  weightName,
  weightNormBackward,
  weightNormBuffers,
  weightNormForward,
  weightOf,
  int,
} from "./linear";

export type DenseNode = NodeOf<
  "dense",
  { units: number; bias: boolean; weight_norm: boolean; /** weight tying: the embedding table used as W (its name) */ tie?: string }
>;

export const dense = layer({
  name: "dense",
  positional: ["units"],
  args: {
    units: { anyOf: [posInt, { type: "string", enum: ["auto"] }] },
    bias: { type: "boolean", default: true },
    ...decayArgs,
    tie: { type: "string", pattern: "^embedding_[0-9]+$", description: "an embedding layer's id (embedding_0): its table [vocab, dim] is this layer's weight" },
  },
  required: ["units"],
  rank: [1, 2],
  doc: "Fully connected layer y = x Wᵀ + b, W stored [units, in] as in PyTorch; on a sequence [T, F], at every position.",
  shape: "`[F] → [units]`, `[T, F] → [T, units]`",
  notes:
    "`y = x Wᵀ + b`, W stored `[units, F]` as PyTorch; `weight_norm` reparameterizes each row as g·v/‖v‖ (PyTorch's `weight_norm(dim=0)`); `dense(auto)`: as many units as the data source has classes (a text source: its vocabulary); " +
    "`tie=embedding_0`: W is that embedding's table [vocab, dim] (weight tying, as small language models do: one parameter, its gradient the sum of both uses)",
  docDefaults: { init: "torch_default" },
  lower(c, l, input, shape) {
    // auto: the data's classes (a language model's: its vocabulary)
    const units = l.args.units === "auto" ? c.fact("classes", l.span, "dense(auto)") : (l.args.units as number);
    if (units === undefined) return undefined;
    const out = [...shape.slice(0, -1), units];
    const tie = l.args.tie as string | undefined;
    const wShape = [units, shape[shape.length - 1]];
    if (tie !== undefined) {
      const name = `${tie}.weight`;
      const ts = c.paramShape(name);
      const bad = (detail: string, hint?: string) => c.error("E0205", l.span, { arg: "tie", name: "dense", detail }, hint);
      if (ts === undefined)
        return bad(`no embedding layer \`${tie}\` comes before this layer`, "tie to an embedding earlier in the model: the first one is `embedding_0`");
      if (l.args.weight_norm === true) return bad("a tied weight cannot be weight-normalized", "drop weight_norm=true or tie");
      if (ts[0] !== wShape[0] || ts[1] !== wShape[1])
        return bad(
          `${tie}'s table is [${ts.join(", ")}] but this layer's weight is [${wShape.join(", ")}] (units, input features)`,
          `the embedding's vocabulary must be the units and its dim the input's features`,
        );
      const n = c.node<DenseNode>("dense", input, shape, out, l, { units, bias: l.args.bias as boolean, weight_norm: false, tie: name });
      if (n.attrs.bias) n.params.push(c.param(`${n.id}.bias`, [units], c.weightInit(l, wShape).b, "bias", l));
      return [n.output, out];
    }
    const n = c.node<DenseNode>("dense", input, shape, out, l, { units, bias: l.args.bias as boolean, weight_norm: l.args.weight_norm === true });
    linearParams(c, n, l, wShape);
    return [n.output, out];
  },
});

/** Positions per sample: 1 for features, T for a sequence [T, F]. */
const positions = (n: DenseNode) => (n.inShape.length === 2 ? n.inShape[0] : 1);
/** The GEMM's rows as an expression of the batch's n: `n`, or `n * T` on sequences. */
const rows = (n: DenseNode) => (positions(n) === 1 ? "n" : `n * ${positions(n)}`);
const inFeatures = (n: DenseNode) => n.inShape[n.inShape.length - 1];

export const denseNode: NodeOp<DenseNode> = {
  causal: () => true,
  buffers: (n) => weightNormBuffers(n, [n.attrs.units, inFeatures(n)]),
  absorbsAffine: true,
  readsInputInBackward: true,
  gemmMacs: (n, B) => B * positions(n) * n.attrs.units * inFeatures(n),

  forward(n, c) {
    const a = n.attrs;
    const out = a.units;
    const inn = inFeatures(n);
    const R = rows(n);
    const X = c.off(n.inputs[0]);
    const Z = c.off(`z:${n.id}`);
    const size = positions(n) * out;
    const lines: string[] = [];
    if (a.weight_norm) lines.push(weightNormForward(n, c, out, inn));
    lines.push(`gemm(0, 1, ${R}, ${out}, ${inn}, ${X}, ${weightOf(n, c)}, ${Z}, 0);`);
    const onlyRelu = n.tail.length === 1 && n.tail[0].op === "relu";
    if (a.bias && onlyRelu) {
      // bias + ReLU in one SIMD sweep (the pre-activation stays in Z for backward)
      c.uses.add("makeDenseEpilogues");
      lines.push(`E.biasAddRelu(${Z}, ${c.off(`${n.id}.bias`)}, ${c.off(n.output)}, ${R}, ${out});`);
      return lines;
    }
    if (a.bias && n.tail.length > 0) {
      // the GEMM's epilogue in one sweep: bias, then the tail (the pre-activation stays in Z for backward)
      const b = c.off(`${n.id}.bias`);
      lines.push(...c.tailPrelude(n));
      lines.push(
        `for (let r = 0; r < ${R}; r++) { for (let j = 0; j < ${out}; j++) { const i = r * ${out} + j; let v = H[${Z} + i] + H[${b} + j]; H[${Z} + i] = v; ${c.tailBody(n, size, "i").join(" ")} } }`,
      );
      return lines;
    }
    if (a.bias) {
      c.uses.add("makeDenseEpilogues");
      lines.push(`E.biasAdd(${Z}, ${c.off(`${n.id}.bias`)}, ${R}, ${out});`);
    }
    return [...lines, ...c.tailForward(n, size)];
  },

  backward(n, c) {
    const a = n.attrs;
    const out = a.units;
    const inn = inFeatures(n);
    const R = rows(n);
    const src = n.inputs[0];
    const X = c.off(src);
    const D = c.off(`grad:${n.output}`);
    // (tied: the table's gradient, written first here; the embedding's backward, later, adds its own)
    const dW = a.weight_norm ? c.off(`scratch:wn:${n.id}`) : c.off(`grad:${weightName(n)}`);
    const lines: string[] = [];
    if (a.bias) {
      const db = c.off(`grad:${n.id}.bias`);
      c.uses.add("makeDenseEpilogues");
      lines.push(`H.fill(0, ${db}, ${db + out});`);
      lines.push(`E.biasGrad(${D}, ${db}, ${R}, ${out});`);
    }
    const dx = (dst: number, acc: boolean) => [`gemm(0, 0, ${R}, ${inn}, ${out}, ${D}, ${weightOf(n, c)}, ${dst}, ${acc ? 1 : 0});`];
    if (a.weight_norm) {
      // dW lands in scratch first, then flows into g and v (the input gradient is computed first,
      // so the scratch is free again)
      lines.push(...c.gradInto(src, positions(n) * inn, dx));
      lines.push(`gemm(1, 0, ${out}, ${inn}, ${R}, ${D}, ${X}, ${dW}, 0);`);
      lines.push(weightNormBackward(n, c, out, inn, dW));
    } else {
      lines.push(`gemm(1, 0, ${out}, ${inn}, ${R}, ${D}, ${X}, ${dW}, 0);`);
      lines.push(...c.gradInto(src, positions(n) * inn, dx));
    }
    return lines;
  },

  penalty: {
    refuse: (n) => refuseWeightNorm(n) ?? (positions(n) > 1 ? "a sequence input" : n.attrs.tie ? "a tied weight" : undefined),
    primalBackward(n, c, dz) {
      const src = n.inputs[0];
      return c.primalInto(
        c.D(src),
        n.inShape[0],
        (dst, acc) => `gemm(0, 0, n, ${n.inShape[0]}, ${n.attrs.units}, ${dz}, ${c.off(`${n.id}.weight`)}, ${dst}, ${acc ? 1 : 0});`,
        true,
      );
    },
    tangentForward(n, c, tz) {
      return [`gemm(0, 1, n, ${n.attrs.units}, ${n.inShape[0]}, ${c.T(n.inputs[0])}, ${c.off(`${n.id}.weight`)}, ${tz}, 0);`];
    },
    tangentBackward(n, c, dz, tdz) {
      const src = n.inputs[0];
      const out = n.attrs.units;
      const inn = n.inShape[0];
      const gW = c.off(`grad:${n.id}.weight`);
      const lines = [`gemm(1, 0, ${out}, ${inn}, n, ${tdz}, ${c.off(src)}, ${gW}, 1);`, `gemm(1, 0, ${out}, ${inn}, n, ${dz}, ${c.T(src)}, ${gW}, 1);`];
      if (n.attrs.bias) {
        const gb = c.off(`grad:${n.id}.bias`);
        lines.push(`for (let r = 0; r < n; r++) { const o = ${tdz} + r * ${out}; for (let j = 0; j < ${out}; j++) H[${gb} + j] += H[o + j]; }`);
      }
      lines.push(...c.tangentInto(src, inn, (dst, acc) => `gemm(0, 0, n, ${inn}, ${out}, ${tdz}, ${c.off(`${n.id}.weight`)}, ${dst}, ${acc ? 1 : 0});`, true));
      return lines;
    },
  },

  pytorch(n, c) {
    if (n.attrs.tie) {
      // the embedding's own Parameter as the weight (one tensor, no second state-dict entry); the bias in a module of its own
      c.expectParams(n, n.attrs.bias ? ["bias"] : []);
      const inn = inFeatures(n);
      const init = [`self.${n.id} = nn.Module()  # tied to ${n.attrs.tie}`];
      if (n.attrs.bias) init.push(`self.${n.id}.bias = nn.Parameter(torch.empty(${n.attrs.units}).uniform_(-1 / math.sqrt(${inn}), 1 / math.sqrt(${inn})))`);
      const w = `self.${n.attrs.tie.replace(/\.weight$/, "")}.weight`;
      return { init, forward: [`${n.output} = F.linear(${n.inputs[0]}, ${w}, ${n.attrs.bias ? `self.${n.id}.bias` : "None"})`] };
    }
    return {
      init: [`self.${n.id} = ${pyLinear(n, c, `nn.Linear(${inFeatures(n)}, ${n.attrs.units}, bias=${c.py(n.attrs.bias)})`)}`],
      forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`],
    };
  },

  // on a sequence (N, T, F) Gemm, which takes matrices, becomes MatMul with Wᵀ and an Add
  onnx: (n, c) => (positions(n) === 1 ? onnxLinear(n, c, "Gemm", { transB: int(1) }) : onnxLinear(n, c, "MatMul", {})),
};
