// pos_embedding: positional information added to a sequence [T, F] → [T, F]: y[t] = x[t] + P[t], P a
// learned table [T, F] (`kind=learned`, the parameter `<id>.weight`, nn.Embedding(T, F)'s weight and
// initialization N(0, 1), added as `x + pe.weight`: GPT's learned positions) or the fixed sinusoidal
// table (`kind=sinusoidal`: P[t, 2i] = sin(t·10000^(−2i/F)), P[t, 2i+1] = cos(...), no parameter).
// Written `pos_embedding(T, dim)` (both optional; when given they must be the input's). Padded data:
// its seqmask tail zeroes the padded positions (and their gradient). Kernel:
// runtime/kernels/positional.ts. PyTorch: nn.Embedding's weight added, or a non-persistent buffer of
// the sinusoidal table built in float64 and rounded once, as ours. ONNX: Add of the table.
import type { NodeOf } from "../ir";
import { shapeText } from "../shape";
import { sinusoid } from "../../runtime/kernels/positional";
import { posInt } from "./args";
import { layer, unsupported, type NodeOp } from "./op";

export type PosEmbeddingNode = NodeOf<"pos_embedding", { learned: boolean }>;

export const pos_embedding = layer({
  name: "pos_embedding",
  positional: ["T", "dim"],
  args: { T: posInt, dim: posInt, kind: { type: "string", enum: ["learned", "sinusoidal"], default: "learned" } },
  rank: "any",
  doc: "Positional information added to a sequence [T, F]: a learned table [T, F] (as nn.Embedding(T, F)'s weight) or the fixed sinusoidal one.",
  shape: "same (`[T, F]`)",
  notes:
    "`y[t] = x[t] + P[t]`; `kind=learned` (default): P is the parameter `weight` [T, F], initialized N(0, 1) as nn.Embedding; `kind=sinusoidal`: P[t, 2i] = sin(t·10000^(−2i/F)), P[t, 2i+1] = cos(t·10000^(−2i/F)), no parameter; `T` and `dim`, when given, must be the input's",
  lower(c, l, input, shape) {
    if (shape.length !== 2)
      return c.error(
        "E0302",
        l.span,
        { name: "pos_embedding", expected: "2 ([T, F]: a sequence)", shape: shapeText(shape) },
        "positions are added to a sequence: put `embedding(vocab, dim)` before it for token ids [T]",
      );
    for (const [arg, k] of [
      ["T", 0],
      ["dim", 1],
    ] as const) {
      const v = l.args[arg] as number | undefined;
      if (v !== undefined && v !== shape[k])
        return c.error(
          "E0205",
          l.span,
          { arg, name: "pos_embedding", detail: `${v} is not the ${k === 0 ? "length" : "width"} of its input ${shapeText(shape)}` },
          `write pos_embedding(${shape[0]}, ${shape[1]}), or leave the sizes out`,
        );
    }
    const learned = l.args.kind !== "sinusoidal";
    const n = c.node<PosEmbeddingNode>("pos_embedding", input, shape, shape, l, { learned });
    if (learned) n.params.push(c.param(`${n.id}.weight`, shape, { kind: "normal", mean: 0, std: 1 }, "weight", l));
    return [n.output, shape];
  },
});

/** The sinusoidal table as a Python expression (float64 then float32, as runtime/kernels/positional.ts). */
const SINUSOID_PY = String.raw`
def sinusoid_table(T, F):
    """The fixed sinusoidal positions [T, F] in float64, rounded once to float32 (as runtime/kernels/positional.ts)."""
    t = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(F, dtype=torch.float64).unsqueeze(0)
    a = t * torch.pow(torch.tensor(10000.0, dtype=torch.float64), -2 * torch.div(i, 2, rounding_mode="floor") / F)
    return torch.where(i.long() % 2 == 0, torch.sin(a), torch.cos(a)).float()
`.trim();

export const posEmbeddingNode: NodeOp<PosEmbeddingNode> = {
  causal: () => true,
  readsInputInBackward: false,
  forward(n, c) {
    const [T, F] = n.inShape;
    const x = c.off(n.inputs[0]);
    const z = c.off(`z:${n.id}`);
    if (n.attrs.learned) {
      c.uses.add("posEmbeddingForward");
      return [`posEmbeddingForward(H, ${T}, ${F}, ${x}, ${c.off(`${n.id}.weight`)}, ${z}, n);`, ...c.tailForward(n, T * F)];
    }
    c.uses.add("sinusoidForward");
    return [`sinusoidForward(H, ${T}, ${F}, ${x}, ${z}, n);`, ...c.tailForward(n, T * F)];
  },
  backward(n, c) {
    const [T, F] = n.inShape;
    const D = c.off(`grad:${n.output}`);
    const lines: string[] = [];
    if (n.attrs.learned) {
      c.uses.add("posEmbeddingBackward");
      lines.push(`posEmbeddingBackward(H, ${T}, ${F}, ${D}, ${c.off(`grad:${n.id}.weight`)}, n);`);
    }
    const size = T * F;
    return [
      ...lines,
      ...c.gradInto(n.inputs[0], size, (dst, acc) => [
        acc ? `for (let i = 0, e = n * ${size}; i < e; i++) H[${dst} + i] += H[${D} + i];` : `H.copyWithin(${dst}, ${D}, ${D} + n * ${size});`,
      ]),
    ];
  },
  penalty: unsupported("sequence layers are not differentiated twice yet"),
  pytorch(n, c) {
    const [T, F] = n.inShape;
    if (n.attrs.learned) {
      c.expectParams(n, ["weight"]);
      return { init: [`self.${n.id} = nn.Embedding(${T}, ${F})`], forward: [`${n.output} = ${n.inputs[0]} + self.${n.id}.weight`] };
    }
    c.expectParams(n, []);
    return {
      init: [`self.register_buffer("${n.id}_table", sinusoid_table(${T}, ${F}), persistent=False)`],
      forward: [`${n.output} = ${n.inputs[0]} + self.${n.id}_table`],
      preamble: SINUSOID_PY,
    };
  },
  onnx(n, c) {
    const [T, F] = n.inShape;
    let table: Float32Array;
    if (n.attrs.learned) table = c.get(`${n.id}.weight`);
    else {
      table = new Float32Array(T * F);
      for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) table[t * F + f] = sinusoid(t, f, F);
    }
    return c.g.op("Add", [c.inp(n), c.g.init(`${n.id}.table`, [T, F], table)], n.id);
  },
};
