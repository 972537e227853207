// Dropout (inverted; p is the DROP probability, as PyTorch and Keras) and spatial dropout (whole
// channels of a [C,H,W] map). Fused into the producer's epilogue: the mask is drawn from the
// counter-based RNG (runtime/rng.ts, stream "dropout:<id>", keyed by the seed and the step), kept
// for backward, and applied in the same sweep as the activations. Reference kernels:
// runtime/kernels/dropout.ts. PyTorch: nn.Dropout / nn.Dropout2d. ONNX: removed (inference).
import type { Json } from "../spec";
import type { NodeOf, TailOf } from "../ir";
import { prob } from "./args";
import { tsJson } from "../escape";
import { layer, lit, type LayerOp, type TailOp } from "./op";

export type DropoutNode = NodeOf<"dropout" | "spatial_dropout", Record<string, Json>>;
export type DropoutTail = TailOf<"dropout" | "spatial_dropout">;

const pOf = (t: { attrs: Record<string, Json> }) => t.attrs.p as number;

function dropoutLayer(name: "dropout" | "spatial_dropout", rank: "any" | 3, doc: string, notes: string): LayerOp {
  return layer({
    name,
    shape: rank === 3 ? "`[C,H,W]`, same" : "same",
    notes,
    positional: ["p"],
    args: { p: { ...prob, default: 0.5, maximum: 0.99 } },
    rank,
    elementwise: true,
    dropsValues: true,
    doc,
    lower(c, l, input, shape) {
      const n = c.node<DropoutNode>(name, input, shape, shape, l, { ...l.args });
      return [n.output, shape];
    },
  });
}

export const dropout = dropoutLayer(
  "dropout",
  "any",
  "Inverted dropout; p is the DROP probability (PyTorch/Keras convention).",
  "**p is the DROP probability**, `0 ≤ p ≤ 0.99`; kept values are scaled by 1/(1−p) in training",
);
export const spatial_dropout = dropoutLayer(
  "spatial_dropout",
  3,
  "Drops whole channels of a [C,H,W] feature map; p is the drop probability.",
  "drops whole channels",
);

/** This step's key of the tail op's stream (shared by both kinds). */
const seed: TailOp["seed"] = (t, _n, c) => {
  c.uses.add("hash3").add("uniformAt").add("streamId");
  c.consts.push(`const S_${t.id} = streamId(${tsJson("dropout:" + t.id)});`);
  return [`const ds_${t.id} = hash3(seed, S_${t.id}, step);`];
};

export const dropoutTail: TailOp = {
  seed,
  mask: (n, B) => B * n.outShape.reduce((a, b) => a * b, 1),
  forward(t, _n, c, i) {
    const p = pOf(t);
    if (p === 0) return []; // p = 0 is exactly the identity
    const M = c.off(`mask:${t.id}`);
    return [`if (train) { const m = uniformAt(ds_${t.id}, S_${t.id}, ${i}) >= ${lit(p)} ? ${lit(1 / (1 - p))} : 0; H[${M} + ${i}] = m; v *= m; }`];
  },
  backward(t, _n, c) {
    if (pOf(t) === 0) return [];
    return [`const m_${t.id} = H[${c.off(`mask:${t.id}`)} + i]; d *= m_${t.id}; v *= m_${t.id};`];
  },
  second(t, _n, c, k) {
    if (pOf(t) === 0) return null;
    return { pre: `const m${k} = H[${c.off(`mask:${t.id}`)} + i];`, a1: `m${k}`, a2: null, val: `v * m${k}` };
  },
  pytorch: (t, _n, v, c) => ({ init: [`self.${t.id} = nn.Dropout(p=${c.py(t.attrs.p)})`], forward: [`${v} = self.${t.id}(${v})`] }),
  onnx: (x) => x,
};

const hwOf = (n: { outShape: number[] }) => n.outShape.reduce((a, b) => a * b, 1) / n.outShape[0];

export const spatialDropoutTail: TailOp = {
  seed,
  /** spatial dropout draws once per (sample, channel): precompute the channel masks */
  prelude(t, n, c) {
    const p = pOf(t);
    const C = n.outShape[0];
    const M = c.off(`mask:${t.id}`);
    return [`if (train) for (let c = 0; c < n * ${C}; c++) H[${M} + c] = uniformAt(ds_${t.id}, S_${t.id}, c) >= ${lit(p)} ? ${lit(1 / (1 - p))} : 0;`];
  },
  mask: (n, B) => B * n.outShape[0],
  forward(t, n, c, i) {
    if (pOf(t) === 0) return [];
    return [`if (train) v *= H[${c.off(`mask:${t.id}`)} + ((${i} / ${hwOf(n)}) | 0)];`];
  },
  backward(t, n, c) {
    if (pOf(t) === 0) return [];
    return [`const m_${t.id} = H[${c.off(`mask:${t.id}`)} + ((i / ${hwOf(n)}) | 0)]; d *= m_${t.id}; v *= m_${t.id};`];
  },
  second(t, n, c, k) {
    if (pOf(t) === 0) return null;
    return { pre: `const m${k} = H[${c.off(`mask:${t.id}`)} + ((i / ${hwOf(n)}) | 0)];`, a1: `m${k}`, a2: null, val: `v * m${k}` };
  },
  pytorch(t, n, v, c) {
    // Dropout2d drops whole channels of (n, C, H, W)
    if (n.outShape.length !== 3) c.unsupported(`spatial_dropout on a rank-${n.outShape.length} input`, n);
    return { init: [`self.${t.id} = nn.Dropout2d(p=${c.py(t.attrs.p)})`], forward: [`${v} = self.${t.id}(${v})`] };
  },
  onnx: (x) => x,
};
