// embedding: token ids [T] (the model's input, floats holding integer ids) → [T, dim], a row of the
// table weight [vocab, dim] per position, as nn.Embedding (initialized N(0, 1), as PyTorch). With
// `padding_idx`, that row starts at zero and gets no gradient (it stays zero). The gradient is
// scattered row by row (no one-hot GEMM); the optimizer's step is a sweep over the whole parameter
// arena, this table included. With padded data the layer zeroes its own padded positions and skips
// their ids (masksPadding). `embedding(auto, dim)`: the data source's vocabulary size (compiler/
// data-facts.ts), so the spec trains unchanged on another corpus. Kernel: runtime/kernels/embedding.ts.
// PyTorch: nn.Embedding on the ids checked as the kernel checks them (embedding_ids), its padded
// positions zeroed.
// ONNX: Gather of the table by Cast(x, int64).
import type { NodeOf } from "../ir";
import { tsJson } from "../escape";
import { shapeText } from "../shape";
import { int } from "../export/onnx-graph";
import type { EmbeddingConfig } from "../../runtime/kernels/embedding";
import { INITS, nonNeg, posInt } from "./args";
import { layer, unsupported, type EmitCtx, type NodeOp } from "./op";
import { lengthsArg } from "./sequence";

export type EmbeddingNode = NodeOf<"embedding", { vocab: number; dim: number; padding_idx: number }>;

export const embedding = layer({
  name: "embedding",
  positional: ["vocab", "dim"],
  args: {
    vocab: { anyOf: [posInt, { type: "string", enum: ["auto"] }] },
    dim: posInt,
    padding_idx: { type: "integer", minimum: 0 },
    weight_decay: nonNeg,
    l1: nonNeg,
    init: { type: "string", enum: [...INITS] },
  },
  required: ["vocab", "dim"],
  // (checked in lower, with a hint of its own: the token ids are the model's input [T])
  rank: "any",
  doc: "A learned vector per token id: ids [T] → [T, dim], weight [vocab, dim] as nn.Embedding.",
  shape: "`[T] → [T, dim]`",
  notes:
    "takes the model's input of token ids (floats holding integers; an id outside `[0, vocab)` stops training with an error naming it); initialized N(0, 1) as PyTorch; `padding_idx`'s row starts at zero and gets no gradient; the gradient scatters rows, the optimizer then sweeps the whole table; `embedding(auto, dim)`: the data source's vocabulary size (text, text_classes, tokens), so the spec trains unchanged on another corpus given with `--data`",
  docDefaults: { init: "normal(0, 1)" },
  lower(c, l, input, shape) {
    const vocab = l.args.vocab === "auto" ? c.fact("vocab", l.span, "embedding(auto)") : (l.args.vocab as number);
    if (vocab === undefined) return undefined;
    const dim = l.args.dim as number;
    const pad = l.args.padding_idx as number | undefined;
    if (shape.length !== 1)
      return c.error(
        "E0302",
        l.span,
        { name: "embedding", expected: "1 ([T]: token ids)", shape: shapeText(shape) },
        "a sample of token ids is `input [T]`; `embedding` comes first",
      );
    if (input !== "x")
      return c.error(
        "E0301",
        l.span,
        { detail: "`embedding` looks up the token ids of the model's input; here its input is the output of another layer" },
        "put `embedding` first, on `input [T]`",
      );
    if (pad !== undefined && pad >= vocab)
      return c.error("E0205", l.span, {
        arg: "padding_idx",
        name: "embedding",
        detail: `${pad} is not a token id of a vocabulary of ${vocab} (0 to ${vocab - 1})`,
      });
    const out = [shape[0], dim];
    const n = c.node<EmbeddingNode>("embedding", input, shape, out, l, { vocab, dim, padding_idx: pad ?? -1 });
    const given = l.args.init as string | undefined;
    const init = given === undefined || given === "torch_default" ? { kind: "normal", mean: 0, std: 1 } : c.weightInit(l, [vocab, dim]).w;
    n.params.push(c.param(`${n.id}.weight`, [vocab, dim], pad === undefined ? init : { ...init, zeroRow: pad }, "weight", l));
    return [n.output, out];
  },
});

function cfg(n: EmbeddingNode): EmbeddingConfig {
  return { T: n.inShape[0], vocab: n.attrs.vocab, dim: n.attrs.dim, pad: n.attrs.padding_idx, what: `${n.id} (spec line ${n.line})` };
}

const cfgConst = (n: EmbeddingNode, c: EmitCtx) => {
  const line = `const CFG_${n.id} = ${tsJson(cfg(n))};`;
  if (!c.consts.includes(line)) c.consts.push(line);
  return `CFG_${n.id}`;
};

/** Whether a dense layer uses this table as its weight (`tie=`): its backward, earlier, wrote the table's gradient first. */
const tiedTo = (n: EmbeddingNode, c: EmitCtx) => c.ir.nodes.some((m) => m.op === "dense" && m.attrs.tie === `${n.id}.weight`);

export const embeddingNode: NodeOp<EmbeddingNode> = {
  causal: () => true,
  masksPadding: true,
  readsInputInBackward: true,
  forward(n, c) {
    c.uses.add("embeddingForward");
    const call = `embeddingForward(H, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`${n.id}.weight`)}, ${c.off(`z:${n.id}`)}, n, ${lengthsArg(c)});`;
    return [call, ...c.tailForward(n, n.outShape[0] * n.outShape[1])];
  },
  backward(n, c) {
    c.uses.add("embeddingBackward");
    return [
      `embeddingBackward(H, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`grad:${n.output}`)}, ${c.off(`grad:${n.id}.weight`)}, n, ${lengthsArg(c)}${tiedTo(n, c) ? ", true" : ""});`,
    ];
  },
  penalty: unsupported("sequence layers are not differentiated twice yet"),
  pytorchPadded: true,
  pytorch(n, c) {
    c.expectParams(n, ["weight"]);
    const pad = n.attrs.padding_idx >= 0 ? `, padding_idx=${n.attrs.padding_idx}` : "";
    // the ids checked as the kernel checks them; padded data: the positions past each length are zeros
    const valid = c.mask(n.inputs[0]);
    const ids = `embedding_ids(${n.inputs[0]}, ${n.attrs.vocab}, ${c.py(`${n.id} (spec line ${n.line})`)}${valid ? `, ${valid}` : ""})`;
    return {
      init: [`self.${n.id} = nn.Embedding(${n.attrs.vocab}, ${n.attrs.dim}${pad})`],
      forward: [valid ? `${n.output} = self.${n.id}(${ids}).masked_fill(~${valid}.unsqueeze(-1), 0)` : `${n.output} = self.${n.id}(${ids})`],
      preamble: EMBEDDING_IDS_PY,
    };
  },
  onnx(n, c) {
    const ids = c.g.op("Cast", [c.inp(n)], `${n.id}/ids`, { to: int(7) });
    return c.g.op("Gather", [c.g.init(`${n.id}.weight`, [n.attrs.vocab, n.attrs.dim], c.get(`${n.id}.weight`)), ids], n.id, { axis: int(0) });
  },
};

/** The token ids of the PyTorch target's nn.Embedding, checked as runtime/kernels/embedding.ts checks them. Python source. */
const EMBEDDING_IDS_PY = String.raw`
def embedding_ids(x, vocab, what, valid=None):
    """Token ids x (n, T) (floats holding integers) as int64. An id outside [0, vocab) or not an integer is an
    error naming it, as runtime/kernels/embedding.ts; with valid (padded data) only the valid positions are
    read (the others look up row 0, and the layer zeroes them)."""
    ids = x if valid is None else torch.where(valid, x, torch.zeros_like(x))
    bad = ~((ids >= 0) & (ids < vocab) & (ids == torch.floor(ids)))
    if bool(bad.any()):
        b, t = (int(v) for v in bad.nonzero()[0])
        v = float(ids[b, t])
        shown = "NaN" if v != v else ("-" if v < 0 else "") + "Infinity" if abs(v) == math.inf else str(int(v)) if v == int(v) else repr(v)
        fail(f"{what}: token id {shown} (sample {b} of the batch, position {t}) is not an integer in [0, {vocab}); the vocabulary has {vocab} tokens")
    return ids.long()
`.trim();
