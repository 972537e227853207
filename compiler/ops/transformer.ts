// transformer: one encoder block over a sequence [T, F] → [T, F], equal to
// nn.TransformerEncoderLayer(F, heads, dim_feedforward=ff, dropout, activation, batch_first=True,
// norm_first=(norm == "pre")) called with src_mask = the causal mask when `causal=true`:
//   post-norm (PyTorch's default):  x = norm1(x + drop(self_attn(x)));  x = norm2(x + drop(linear2(drop(act(linear1(x))))))
//   pre-norm:                       x = x + drop(self_attn(norm1(x)));  x = x + drop(linear2(drop(act(linear1(norm2(x))))))
// with self_attn's own dropout on its weights (the block's `dropout`, as PyTorch passes it).
// It has no kernel of its own: it lowers to the nodes of the layers it is made of (attention,
// dense, layernorm, the activation, dropout, add), named after the block and PyTorch's submodules:
// `transformer_k_self_attn`, `_linear1`, `_linear2`, `_norm1`, `_norm2` (and `_add1`, `_add2`), so
// its parameters are `transformer_k_self_attn.in_proj_weight`, `transformer_k_linear1.weight`, ...:
// nn.TransformerEncoder(layer, N)'s `layers.k.self_attn.in_proj_weight`, `layers.k.linear1.weight`
// under the rename `transformer_k_` ↔ `layers.k.` (the k-th block of the model; `repeat(N) {
// transformer(...) }` numbers them 0..N−1). Every target takes it as it takes those layers.
import type { LayerSpec } from "../spec";
import type { LowerCtx } from "./op";
import type { AddNode } from "./structure";
import { attention } from "./attention";
import { dense } from "./dense";
import { layernorm } from "./norm";
import { posInt, prob } from "./args";
import { layer } from "./op";
import { shapeText } from "../shape";

/** A context whose next node gets this id (the block's submodule names). */
function named(c: LowerCtx, id: string): LowerCtx {
  const sub = Object.create(c) as LowerCtx;
  sub.node = ((op: never, input: string, inShape: number[], outShape: number[], l: LayerSpec, attrs: never) =>
    c.node(op, input, inShape, outShape, l, attrs, id)) as LowerCtx["node"];
  return sub;
}

export const transformer = layer({
  name: "transformer",
  positional: ["heads"],
  args: {
    heads: posInt,
    ff: posInt,
    dropout: { ...prob, default: 0.1, maximum: 0.99 },
    norm: { type: "string", enum: ["pre", "post"], default: "post" },
    activation: { type: "string", enum: ["relu", "gelu"], default: "relu" },
    causal: { type: "boolean", default: false },
    eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 },
  },
  required: ["heads"],
  rank: "any",
  doc: "A transformer encoder block over a sequence [T, F], as nn.TransformerEncoderLayer(F, heads, ff, dropout, activation, batch_first=True, norm_first).",
  shape: "`[T, F] → [T, F]` (F divisible by `heads`)",
  notes:
    "nn.TransformerEncoderLayer(batch_first=True): self-attention then a feed-forward of `ff` units (default 4·F) with `activation` (`relu` or `gelu`, the exact erf form), each with dropout and a residual, " +
    "`norm=post` (PyTorch's default: `x = norm1(x + sa(x))`) or `norm=pre` (`norm_first=True`: `x = x + sa(norm1(x))`); `causal=true` passes the causal mask; " +
    "parameters `transformer_k_self_attn.in_proj_weight`, `transformer_k_linear1.weight`, `transformer_k_norm1.weight`, ...: nn.TransformerEncoder's `layers.k.…` under the rename `transformer_k_` ↔ `layers.k.`",
  docDefaults: { ff: "4·F" },
  lower(c, l, input, shape) {
    const a = l.args;
    if (shape.length !== 2)
      return c.error(
        "E0302",
        l.span,
        { name: "transformer", expected: "2 ([T, F]: a sequence)", shape: shapeText(shape) },
        shape.length === 1
          ? "a transformer block reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]`"
          : "a transformer block reads a sequence [T, F]: use a sequence source (text, tokens, timeseries) and `input [T]` or `[T, F]`",
      );
    const F = shape[1];
    const tid = c.id("transformer");
    const p = (a.dropout as number | undefined) ?? 0.1;
    const pre = a.norm === "pre";
    const span = l.span;
    const eps = (a.eps as number | undefined) ?? 1e-5;
    const spec = (op: string, args: LayerSpec["args"]): LayerSpec => ({ op, args, span });
    const norm = (k: number, x: string) => layernorm.lower(named(c, `${tid}_norm${k}`), spec("layernorm", { eps, affine: true }), x, shape);
    const drop = (x: string, s: number[]): string | undefined => (p > 0 ? c.layer(spec("dropout", { p }), x, s)?.[0] : x);
    const add = (k: number, x: string, skip: string) => {
      const n = c.node<AddNode>("add", x, shape, shape, l, {}, `${tid}_add${k}`);
      n.inputs = [x, skip];
      return n.output;
    };
    // self-attention
    let x = input;
    let h: string | undefined = pre ? norm(1, x)?.[0] : x;
    if (h === undefined) return undefined;
    const attn = attention.lower(
      named(c, `${tid}_self_attn`),
      spec("attention", { heads: a.heads as number, causal: a.causal === true, dropout: p, bias: true }),
      h,
      shape,
    );
    if (!attn) return undefined;
    h = drop(attn[0], shape);
    if (h === undefined) return undefined;
    x = add(1, h, x);
    if (!pre) {
      const r = norm(1, x);
      if (!r) return undefined;
      x = r[0];
    }
    // feed-forward
    const ff = (a.ff as number | undefined) ?? 4 * F;
    h = pre ? norm(2, x)?.[0] : x;
    if (h === undefined) return undefined;
    const l1 = dense.lower(named(c, `${tid}_linear1`), spec("dense", { units: ff, bias: true }), h, shape);
    if (!l1) return undefined;
    const act = c.layer(spec((a.activation as string | undefined) ?? "relu", {}), l1[0], l1[1]);
    if (!act) return undefined;
    h = drop(act[0], act[1]);
    if (h === undefined) return undefined;
    const l2 = dense.lower(named(c, `${tid}_linear2`), spec("dense", { units: F, bias: true }), h, act[1]);
    if (!l2) return undefined;
    h = drop(l2[0], shape);
    if (h === undefined) return undefined;
    x = add(2, h, x);
    if (!pre) {
      const r = norm(2, x);
      if (!r) return undefined;
      x = r[0];
    }
    return [x, shape];
  },
});
