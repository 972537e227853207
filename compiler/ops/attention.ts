// attention: multi-head self-attention over a sequence [T, F] → [T, F], as
// nn.MultiheadAttention(F, heads, dropout=p, bias=bias, batch_first=True) called on (x, x, x) with
// PyTorch's state-dict names: `<id>.in_proj_weight` (3F, F: q, k, v rows packed), `<id>.in_proj_bias`
// (3F), `<id>.out_proj.weight` (F, F), `<id>.out_proj.bias` (F), initialized as PyTorch does
// (in_proj_weight xavier_uniform, out_proj.weight U(−1/√F, 1/√F), both biases zero). Scores scaled
// by 1/√(F/heads); `causal=true` masks the keys after each query (attn_mask = triu(ones, 1)); padded
// data mask the keys past each sample's length (key_padding_mask), so a padded position changes
// nothing; the layer's seqmask tail then zeroes its padded outputs; `dropout` drops attention
// weights in training.
// Kernels: runtime/kernels/attention.ts (GEMM-based, one head's T x T scores at a time), its oracle
// runtime/kernels/attention-reference.ts; areas `save` (q, k, v, the head outputs, each score
// row's maximum and inverse sum) and `tmp` (scratch). PyTorch: nn.MultiheadAttention with boolean masks.
// ONNX: MatMul/Softmax over (N, heads, T, dh) (causal mask as an added constant); padded models are
// refused as a whole (compiler/check-targets.ts).
import type { IR, NodeOf } from "../ir";
import { tsJson } from "../escape";
import { shapeText } from "../shape";
import { int, ints } from "../export/onnx-graph";
import { attentionPlan, type AttentionConfig, type AttentionShape } from "../../runtime/kernels/attention";
import { streamId } from "../../runtime/rng";
import { nonNeg, posInt, prob } from "./args";
import { layer, unsupported, type EmitCtx, type NodeOp, type OnnxCtx } from "./op";
import { lengthMaps, lengthsArg } from "./sequence";

export interface AttentionAttrs {
  heads: number;
  causal: boolean;
  dropout: number;
  bias: boolean;
}
export type AttentionNode = NodeOf<"attention", AttentionAttrs>;

export const attention = layer({
  name: "attention",
  positional: ["heads"],
  args: {
    heads: posInt,
    causal: { type: "boolean", default: false },
    dropout: { ...prob, default: 0, maximum: 0.99 },
    bias: { type: "boolean", default: true },
    weight_decay: nonNeg,
    l1: nonNeg,
  },
  required: ["heads"],
  // (checked in lower, with a hint of its own)
  rank: "any",
  doc: "Multi-head self-attention over a sequence [T, F], as nn.MultiheadAttention(F, heads, batch_first=True) on (x, x, x): packed in_proj, out_proj.",
  shape: "`[T, F] → [T, F]` (F divisible by `heads`)",
  notes:
    "nn.MultiheadAttention's parameters and state-dict names (`in_proj_weight` [3F, F] with the q, k, v rows packed, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) and initialization (xavier_uniform, U(−1/√F, 1/√F), zero biases); " +
    "scores scaled by 1/√(F/heads); `causal=true`: each position attends to itself and the positions before (a language model); " +
    "padded data: the keys past each sample's length are masked (`key_padding_mask`), so a padded position changes nothing; " +
    "`dropout` drops attention weights in training; scores are computed one head's T × T at a time",
  lower(c, l, input, shape) {
    const a = l.args;
    if (shape.length !== 2)
      return c.error(
        "E0302",
        l.span,
        { name: "attention", expected: "2 ([T, F]: a sequence)", shape: shapeText(shape) },
        shape.length === 1
          ? "attention reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]`"
          : "attention reads a sequence [T, F]: use a sequence source (text, tokens, timeseries) and `input [T]` or `[T, F]`",
      );
    const heads = a.heads as number;
    const F = shape[1];
    if (F % heads !== 0)
      return c.error(
        "E0205",
        l.span,
        {
          arg: "heads",
          name: "attention",
          detail: `${heads} heads do not divide the ${F} features of its input ${shapeText(shape)} (each head takes F / heads of them)`,
        },
        `use a number of heads that divides ${F}, or change the width before it`,
      );
    const bias = a.bias !== false;
    const n = c.node<AttentionNode>("attention", input, shape, shape, l, { heads, causal: a.causal === true, dropout: (a.dropout as number) ?? 0, bias });
    n.params.push(c.param(`${n.id}.in_proj_weight`, [3 * F, F], { kind: "xavier_uniform" }, "weight", l));
    if (bias) n.params.push(c.param(`${n.id}.in_proj_bias`, [3 * F], { kind: "zeros" }, "bias", l));
    n.params.push(c.param(`${n.id}.out_proj.weight`, [F, F], { kind: "torch_default_linear" }, "weight", l));
    if (bias) n.params.push(c.param(`${n.id}.out_proj.bias`, [F], { kind: "zeros" }, "bias", l));
    return [n.output, shape];
  },
});

/** The runtime's shape of a node. */
function shapeOf(n: AttentionNode): AttentionShape {
  const a = n.attrs;
  return { T: n.inShape[0], F: n.inShape[1], heads: a.heads, causal: a.causal, p: a.dropout, bias: a.bias };
}

/** The runtime's AttentionConfig of a node in a planned IR. */
export function attentionConfig(n: AttentionNode, ir: IR, off: (name: string) => number): AttentionConfig {
  const s = shapeOf(n);
  const { saveFloats: _s, tmpFloats: _t, ...areas } = attentionPlan(s, ir.batch, { save: off(`save:${n.id}`), tmp: off(`tmp:${n.id}`) });
  const p = (name: string) => off(`${n.id}.${name}`);
  const g = (name: string) => off(`grad:${n.id}.${name}`);
  return {
    ...s,
    maps: lengthMaps(ir, n.inputs[0]),
    stream: streamId(`dropout:${n.id}`),
    win: p("in_proj_weight"),
    bin: s.bias ? p("in_proj_bias") : -1,
    wout: p("out_proj.weight"),
    bout: s.bias ? p("out_proj.bias") : -1,
    gwin: g("in_proj_weight"),
    gbin: s.bias ? g("in_proj_bias") : -1,
    gwout: g("out_proj.weight"),
    gbout: s.bias ? g("out_proj.bias") : -1,
    ...areas,
  };
}

const cfgConst = (n: AttentionNode, c: EmitCtx) => {
  const line = `const CFG_${n.id} = ${tsJson(attentionConfig(n, c.ir, c.off) as never)};`;
  if (!c.consts.includes(line)) c.consts.push(line);
  return `CFG_${n.id}`;
};

const size = (n: AttentionNode) => n.inShape[0] * n.inShape[1];

// ---- ONNX ----------------------------------------------------------------------------------------

function onnxAttention(n: AttentionNode, c: OnnxCtx): string {
  const { T, F, heads, causal, bias } = shapeOf(n);
  const dh = F / heads;
  const g = c.g;
  const tr = (name: string, rows: number, cols: number) => {
    // W (rows, cols) → Wᵀ (cols, rows) for MatMul
    const w = c.get(`${n.id}.${name}`);
    const t = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) t[k * rows + r] = w[r * cols + k];
    return g.init(`${n.id}.${name}_t`, [cols, rows], t);
  };
  let qkv = g.op("MatMul", [c.inp(n), tr("in_proj_weight", 3 * F, F)], `${n.id}/in_proj`);
  if (bias) qkv = g.op("Add", [qkv, g.init(`${n.id}.in_proj_bias`, [3 * F], c.get(`${n.id}.in_proj_bias`))], `${n.id}/in_proj_b`);
  // (N, T, 3F) → (N, T, 3, heads, dh) → (3, N, heads, T, dh)
  const r5 = g.op("Reshape", [qkv, g.shape(`${n.id}/qkv_shape`, [0, 0, 3, heads, dh])], `${n.id}/qkv5`);
  const t5 = g.op("Transpose", [r5], `${n.id}/qkvT`, { perm: ints([2, 0, 3, 1, 4]) });
  // q, k, v: (N, heads, T, dh) each
  const part = (i: number, name: string) => g.op("Gather", [t5, g.init(`${n.id}/${name}_index`, [], [i])], `${n.id}/${name}`, { axis: int(0) });
  const q = part(0, "q");
  const k = part(1, "k");
  const v = part(2, "v");
  const kt = g.op("Transpose", [k], `${n.id}/kT`, { perm: ints([0, 1, 3, 2]) });
  let s = g.op("Mul", [g.op("MatMul", [q, kt], `${n.id}/qk`), g.scalar(`${n.id}/scale`, 1 / Math.sqrt(dh))], `${n.id}/scores`);
  if (causal) {
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -Infinity;
    s = g.op("Add", [s, g.init(`${n.id}/causal`, [T, T], m)], `${n.id}/masked`);
  }
  const p = g.op("Softmax", [s], `${n.id}/weights`, { axis: int(-1) });
  const o = g.op("MatMul", [p, v], `${n.id}/o`);
  // (N, heads, T, dh) → (N, T, heads, dh) → (N, T, F)
  const ot = g.op("Transpose", [o], `${n.id}/oT`, { perm: ints([0, 2, 1, 3]) });
  const att = g.op("Reshape", [ot, g.shape(`${n.id}/att_shape`, [0, 0, F])], `${n.id}/att`);
  const y = g.op("MatMul", [att, tr("out_proj.weight", F, F)], bias ? `${n.id}/out_proj` : n.id);
  return bias ? g.op("Add", [y, g.init(`${n.id}.out_proj.bias`, [F], c.get(`${n.id}.out_proj.bias`))], n.id) : y;
}

// ---- the node op -----------------------------------------------------------------------------

export const attentionNode: NodeOp<AttentionNode> = {
  causal: (n) => n.attrs.causal,
  readsInputInBackward: true,
  buffers(n, B) {
    const p = attentionPlan(shapeOf(n), B, { save: 0, tmp: 0 });
    return [
      { kind: "save", size: p.saveFloats },
      { kind: "tmp", size: p.tmpFloats, scratch: true },
    ];
  },
  gemmMacs: (n, B) => B * n.inShape[0] * 3 * n.inShape[1] * n.inShape[1],

  forward(n, c) {
    c.uses.add("attentionForward");
    return [
      `attentionForward(H, gemm, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n, ${lengthsArg(c)}, train, seed, step);`,
      ...c.tailForward(n, size(n)),
    ];
  },

  backward(n, c) {
    c.uses.add("attentionBackward");
    const { dx, post } = c.dxTarget(n.inputs[0], size(n));
    return [
      `attentionBackward(H, gemm, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`grad:${n.output}`)}, ${dx}, n, ${lengthsArg(c)}, seed, step);`,
      ...post,
    ];
  },

  penalty: unsupported("sequence layers are not differentiated twice yet"),

  pytorchPadded: true,

  pytorch(n, c) {
    const a = n.attrs;
    c.expectParams(n, a.bias ? ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"] : ["in_proj_weight", "out_proj.weight"]);
    const T = n.inShape[0];
    const init = [`self.${n.id} = nn.MultiheadAttention(${n.inShape[1]}, ${a.heads}, dropout=${c.py(a.dropout)}, bias=${c.py(a.bias)}, batch_first=True)`];
    if (a.causal) init.push(`self.register_buffer("${n.id}_causal", torch.ones(${T}, ${T}, dtype=torch.bool).triu(1), persistent=False)`);
    const valid = c.mask(n.inputs[0]);
    const x = n.inputs[0];
    const args = [x, x, x, "need_weights=False"];
    if (a.causal) args.push(`attn_mask=self.${n.id}_causal`);
    const forward: string[] = [];
    if (valid) {
      // the keys past each sample's length masked; key 0 kept for an empty sample (whose outputs are zeroed after), so no row is all masked
      forward.push(`${n.id}_pad = ~${valid}`, `${n.id}_pad[:, 0] = False`);
      args.push(`key_padding_mask=${n.id}_pad`);
    }
    forward.push(`${n.output}, _ = self.${n.id}(${args.join(", ")})`);
    return { init, forward };
  },

  onnx: onnxAttention,
};
