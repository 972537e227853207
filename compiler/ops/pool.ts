// Pooling: maxpool2d, avgpool2d (count_include_pad=True, as PyTorch's default), and global_avgpool
// and global_maxpool over images ([C,H,W] -> [C]) or over time ([T, F] -> [F], over each sample's
// valid positions when the data are padded). Kernels: runtime/kernels/pool.ts (wasm twins in
// conv.wat) and runtime/kernels/global-pool.ts.
// A 2x2 max pool may apply the ReLU that ends its producer (schedule below: the same bytes, one
// sweep less). PyTorch: nn.MaxPool2d / nn.AvgPool2d / mean / max(dim) (padded: over the valid positions). ONNX: MaxPool /
// AveragePool / GlobalAveragePool or GlobalMaxPool + Flatten / ReduceMean or ReduceMax over time.
import type { IRNode, NodeOf } from "../ir";
import { int, ints } from "../export/onnx-graph";
import { pair, prod, shapeText } from "../shape";
import { tsJson } from "../escape";
import { intOrPair, nonNegIntOrPair } from "./args";
import { layer, type EmitCtx, type LayerOp, type NodeOp, type PenaltyCtx } from "./op";
import { lengthsArg, seqCfg } from "./sequence";

export interface PoolAttrs {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}
export type MaxPool2dNode = NodeOf<"maxpool2d", PoolAttrs>;
export type AvgPool2dNode = NodeOf<"avgpool2d", PoolAttrs>;
export type GlobalAvgPoolNode = NodeOf<"global_avgpool", Record<string, never>>;
export type GlobalMaxPoolNode = NodeOf<"global_maxpool", Record<string, never>>;
type Pool2dNode = MaxPool2dNode | AvgPool2dNode;

function pool2dLayer(name: "maxpool2d" | "avgpool2d", doc: string, notes: string): LayerOp {
  return layer({
    name,
    shape: "`[C,H,W] → [C,OH,OW]`",
    notes,
    docDefaults: { stride: "kernel" },
    positional: ["kernel", "stride"],
    args: { kernel: intOrPair, stride: intOrPair, padding: { ...nonNegIntOrPair, default: 0 } },
    required: ["kernel"],
    rank: 3,
    doc,
    lower(c, l, input, shape) {
      const a = l.args;
      const [C, Hh, W] = shape;
      const [kh, kw] = pair(a.kernel, 1);
      const [sh, sw] = a.stride === undefined ? [kh, kw] : pair(a.stride, 1);
      const [ph, pw] = pair(a.padding, 0);
      if (ph > kh / 2 || pw > kw / 2) return c.error("E0205", l.span, { arg: "padding", name, detail: "padding must be at most half the kernel size" });
      const OH = Math.floor((Hh + 2 * ph - kh) / sh) + 1;
      const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
      if (OH < 1 || OW < 1) return c.error("E0301", l.span, { detail: `a ${kh}x${kw} pool does not fit input ${shapeText(shape)}` });
      const out = [C, OH, OW];
      const n = c.node<Pool2dNode>(name, input, shape, out, l, { kh, kw, sh, sw, ph, pw });
      return [n.output, out];
    },
  });
}

export const maxpool2d = pool2dLayer(
  "maxpool2d",
  "Max pooling; stride defaults to the kernel size.",
  "ties: the first maximum; a window with a NaN gives NaN (as PyTorch)",
);
export const avgpool2d = pool2dLayer(
  "avgpool2d",
  "Average pooling (padding counts as zeros, as PyTorch's count_include_pad=True).",
  "padded cells count as zeros (PyTorch `count_include_pad=True`)",
);
export const global_avgpool = layer({
  name: "global_avgpool",
  positional: [],
  args: {},
  rank: [2, 3],
  doc: "Mean over H×W per channel ([C,H,W] → [C]), or over time ([T, F] → [F]).",
  shape: "`[C,H,W] → [C]`, `[T, F] → [F]`",
  notes: "over time: the mean of each sample's valid positions when the data are padded (divided by its length)",
  lower(c, l, input, shape) {
    const out = [shape.length === 2 ? shape[1] : shape[0]];
    const n = c.node<GlobalAvgPoolNode>("global_avgpool", input, shape, out, l, {});
    return [n.output, out];
  },
});
export const global_maxpool = layer({
  name: "global_maxpool",
  positional: [],
  args: {},
  rank: [2, 3],
  doc: "Maximum over H×W per channel ([C,H,W] → [C]), or over time ([T, F] → [F]).",
  shape: "`[C,H,W] → [C]`, `[T, F] → [F]`",
  notes:
    "over time: the maximum of each sample's valid positions when the data are padded; ties: the first maximum (the gradient goes there, as `torch.max(dim)`)",
  lower(c, l, input, shape) {
    const out = [shape.length === 2 ? shape[1] : shape[0]];
    const n = c.node<GlobalMaxPoolNode>("global_maxpool", input, shape, out, l, {});
    return [n.output, out];
  },
});

/** The runtime's PoolConfig of a pool node. */
export function poolCfg(n: Pool2dNode) {
  const a = n.attrs;
  const [C, Hh, W] = n.inShape;
  return { C, H: Hh, W, kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, ph: a.ph, pw: a.pw, OH: n.outShape[1], OW: n.outShape[2], countIncludePad: true };
}

const is2x2 = (a: PoolAttrs) => a.kh === 2 && a.kw === 2 && a.sh === 2 && a.sw === 2 && a.ph === 0 && a.pw === 0;
const inSize = (n: IRNode) => prod(n.inShape);
const pool2dConsts = (n: Pool2dNode, prefix: string) => [`const ${prefix}_${n.id} = ${tsJson(poolCfg(n))};`];
const pool2dPytorch = (module: string) => (n: Pool2dNode) => {
  const a = n.attrs;
  const k = `kernel_size=(${a.kh}, ${a.kw}), stride=(${a.sh}, ${a.sw}), padding=(${a.ph}, ${a.pw})`;
  return { init: [`self.${n.id} = ${module.replace("K", k)}`], forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`] };
};
const pool2dOnnx = (opType: string, extra: Record<string, ReturnType<typeof int>>) => (n: Pool2dNode, c: import("./op").OnnxCtx) =>
  c.g.op(opType, [c.inp(n)], n.id, {
    kernel_shape: ints([n.attrs.kh, n.attrs.kw]),
    strides: ints([n.attrs.sh, n.attrs.sw]),
    pads: ints([n.attrs.ph, n.attrs.pw, n.attrs.ph, n.attrs.pw]),
    ...extra,
  });

export const maxpool2dNode: NodeOp<MaxPool2dNode> = {
  /**
   * A 2x2, stride-2, unpadded max pool whose input is the output of a node whose tail is one ReLU
   * applies that ReLU's backward in its own (runtime/kernels/pool.ts maxPool2dBackward with the
   * pool's output as yp), when its backward is the only gradient written into that output: the
   * producer's backward then skips its ReLU backward (the same bytes), and the pool's output stays
   * live until the pool's backward. When the producer's kernel writes the ReLU's output only when
   * asked (conv2d, add), the pool is the only reader of it and no penalty re-reads forward
   * buffers, the pool applies the ReLU in its forward too: it reads the producer's pre-activation
   * z with max(v, 0) (maxPool2dForward's relu: the same bytes), and the ReLU's output is never
   * written (its buffer is never live). A conv that can leave its bias to the pool does.
   */
  schedule(n, c) {
    if (!c.grad(n.output) || !is2x2(n.attrs)) return {};
    const p = c.producer(n.inputs[0]);
    if (!p || p.op === "flatten" || p.tail.length !== 1 || p.tail[0].op !== "relu") return {};
    if (!c.grad(p.output) || c.gradWrites(p.output) !== 1) return {};
    const forward = c.reluOutputOptional(p) && c.readers(p.output) === 1 && !c.penalty;
    return { poolRelu: { of: p.id, forward, bias: forward && c.defersBias(p) } };
  },
  buffers: (n, B) => [{ kind: "idx", size: B * prod(n.outShape) }],
  readsInputInBackward: false,
  forward(n, c) {
    c.consts.push(...pool2dConsts(n, "CFG"));
    c.uses.add("maxPool2dForward");
    const Z = c.off(`z:${n.id}`);
    const r = n.sched?.poolRelu;
    const lines: string[] = [];
    if (r?.forward) {
      lines.push(`// the ReLU of ${n.inputs[0]} applied here, to its pre-activation`);
      lines.push(`maxPool2dForward(H, CFG_${n.id}, ${c.off(`z:${r.of}`)}, ${Z}, ${c.off(`idx:${n.id}`)}, n, true${r.bias ? `, bias_${r.of}` : ""});`);
    } else lines.push(`maxPool2dForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${Z}, ${c.off(`idx:${n.id}`)}, n);`);
    return [...lines, ...c.tailForward(n, prod(n.outShape))];
  },
  backward(n, c) {
    c.uses.add("maxPool2dBackward");
    const D = c.off(`grad:${n.output}`);
    const yp = n.sched?.poolRelu ? `, ${c.off(n.output)}` : "";
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [`maxPool2dBackward(H, CFG_${n.id}, ${D}, ${c.off(`idx:${n.id}`)}, ${dst}, n${yp});`]);
  },
  penalty: {
    consts: (n) => pool2dConsts(n, "PCFG"),
    primalBackward(n, c, dz) {
      c.uses.add("maxPool2dBackward");
      return c.primalInto(c.D(n.inputs[0]), inSize(n), (dst) => `maxPool2dBackward(H, PCFG_${n.id}, ${dz}, ${c.off(`idx:${n.id}`)}, ${dst}, n);`, false);
    },
    tangentForward(n, c, tz) {
      // linear along the forward's argmax
      const HW = n.inShape[1] * n.inShape[2];
      const OHW = n.outShape[1] * n.outShape[2];
      const I = c.off(`idx:${n.id}`);
      return [
        `for (let p = 0, e = n * ${n.inShape[0]}; p < e; p++) { const a = ${c.T(n.inputs[0])} + p * ${HW}, o = p * ${OHW}; for (let j = 0; j < ${OHW}; j++) H[${tz} + o + j] = H[a + H[${I} + o + j]]; }`,
      ];
    },
    tangentBackward(n, c, _dz, tdz) {
      c.uses.add("maxPool2dBackward");
      return c.tangentInto(n.inputs[0], inSize(n), (dst) => `maxPool2dBackward(H, PCFG_${n.id}, ${tdz}, ${c.off(`idx:${n.id}`)}, ${dst}, n);`, false);
    },
  },
  pytorch: pool2dPytorch("nn.MaxPool2d(K)"),
  onnx: pool2dOnnx("MaxPool", {}),
};

export const avgpool2dNode: NodeOp<AvgPool2dNode> = {
  readsInputInBackward: false,
  forward(n, c) {
    c.consts.push(...pool2dConsts(n, "CFG"));
    c.uses.add("avgPool2dForward");
    return [`avgPool2dForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n);`, ...c.tailForward(n, prod(n.outShape))];
  },
  backward(n, c) {
    c.uses.add("avgPool2dBackward");
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [`avgPool2dBackward(H, CFG_${n.id}, ${c.off(`grad:${n.output}`)}, ${dst}, n);`]);
  },
  penalty: {
    consts: (n) => pool2dConsts(n, "PCFG"),
    primalBackward(n, c, dz) {
      c.uses.add("avgPool2dBackward");
      return c.primalInto(c.D(n.inputs[0]), inSize(n), (dst) => `avgPool2dBackward(H, PCFG_${n.id}, ${dz}, ${dst}, n);`, false);
    },
    tangentForward(n, c, tz) {
      c.uses.add("avgPool2dForward");
      return [`avgPool2dForward(H, PCFG_${n.id}, ${c.T(n.inputs[0])}, ${tz}, n);`];
    },
    tangentBackward(n, c, _dz, tdz) {
      c.uses.add("avgPool2dBackward");
      return c.tangentInto(n.inputs[0], inSize(n), (dst) => `avgPool2dBackward(H, PCFG_${n.id}, ${tdz}, ${dst}, n);`, false);
    },
  },
  pytorch: pool2dPytorch("nn.AvgPool2d(K, count_include_pad=True)"),
  onnx: pool2dOnnx("AveragePool", { count_include_pad: int(1) }),
};

const chw = (n: GlobalAvgPoolNode | GlobalMaxPoolNode) => `{ C: ${n.inShape[0]}, H: ${n.inShape[1]}, W: ${n.inShape[2]} }`;
/** Over time: a sequence input [T, F] (the penalties do not take those). */
const overTime = (n: IRNode) => n.inShape.length === 2;

export const globalAvgPoolNode: NodeOp<GlobalAvgPoolNode> = {
  readsInputInBackward: false,
  forward(n, c) {
    if (overTime(n)) {
      c.uses.add("timeAvgPoolForward");
      c.consts.push(`const CFG_${n.id} = ${seqCfg(n, c)};`);
      return [`timeAvgPoolForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n, ${lengthsArg(c)});`, ...c.tailForward(n, prod(n.outShape))];
    }
    c.uses.add("globalAvgPoolForward");
    return [`globalAvgPoolForward(H, ${chw(n)}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n);`, ...c.tailForward(n, prod(n.outShape))];
  },
  backward(n, c) {
    if (overTime(n)) {
      c.uses.add("timeAvgPoolBackward");
      return c.gradInto(n.inputs[0], inSize(n), (dst) => [`timeAvgPoolBackward(H, CFG_${n.id}, ${c.off(`grad:${n.output}`)}, ${dst}, n, ${lengthsArg(c)});`]);
    }
    c.uses.add("globalAvgPoolBackward");
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [`globalAvgPoolBackward(H, ${chw(n)}, ${c.off(`grad:${n.output}`)}, ${dst}, n);`]);
  },
  penalty: {
    refuse: (n) => (overTime(n) ? "a sequence input" : undefined),
    consts: (n) => [`const PCFG_${n.id} = ${chw(n)};`],
    primalBackward(n, c, dz) {
      c.uses.add("globalAvgPoolBackward");
      return c.primalInto(c.D(n.inputs[0]), inSize(n), (dst) => `globalAvgPoolBackward(H, PCFG_${n.id}, ${dz}, ${dst}, n);`, false);
    },
    tangentForward(n, c, tz) {
      c.uses.add("globalAvgPoolForward");
      return [`globalAvgPoolForward(H, PCFG_${n.id}, ${c.T(n.inputs[0])}, ${tz}, n);`];
    },
    tangentBackward(n, c, _dz, tdz) {
      c.uses.add("globalAvgPoolBackward");
      return c.tangentInto(n.inputs[0], inSize(n), (dst) => `globalAvgPoolBackward(H, PCFG_${n.id}, ${tdz}, ${dst}, n);`, false);
    },
  },
  pytorch: (n, c) => {
    const len = overTime(n) ? c.lengths(n.inputs[0]) : undefined;
    return {
      init: [],
      forward: [len ? `${n.output} = mean_valid(${n.inputs[0]}, ${len})` : `${n.output} = ${n.inputs[0]}.mean(dim=${overTime(n) ? "1" : "(2, 3)"})`],
    };
  },
  onnx: (n, c) =>
    overTime(n)
      ? c.g.op("ReduceMean", [c.inp(n)], n.id, { axes: ints([1]), keepdims: int(0) })
      : c.g.op("Flatten", [c.g.op("GlobalAveragePool", [c.inp(n)], `${n.id}/pool`)], n.id, { axis: int(1) }),
};

export const globalMaxPoolNode: NodeOp<GlobalMaxPoolNode> = {
  buffers: (n, B) => [{ kind: "idx", size: B * prod(n.outShape) }],
  readsInputInBackward: false,
  forward(n, c) {
    const I = c.off(`idx:${n.id}`);
    if (overTime(n)) {
      c.uses.add("timeMaxPoolForward");
      c.consts.push(`const CFG_${n.id} = ${seqCfg(n, c)};`);
      return [
        `timeMaxPoolForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, ${I}, n, ${lengthsArg(c)});`,
        ...c.tailForward(n, prod(n.outShape)),
      ];
    }
    c.uses.add("globalMaxPoolForward");
    return [`globalMaxPoolForward(H, ${chw(n)}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, ${I}, n);`, ...c.tailForward(n, prod(n.outShape))];
  },
  backward(n, c) {
    const D = c.off(`grad:${n.output}`);
    const I = c.off(`idx:${n.id}`);
    if (overTime(n)) {
      c.uses.add("timeMaxPoolBackward");
      return c.gradInto(n.inputs[0], inSize(n), (dst) => [`timeMaxPoolBackward(H, CFG_${n.id}, ${D}, ${I}, ${dst}, n);`]);
    }
    c.uses.add("globalMaxPoolBackward");
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [`globalMaxPoolBackward(H, ${chw(n)}, ${D}, ${I}, ${dst}, n);`]);
  },
  penalty: {
    refuse: (n) => (overTime(n) ? "a sequence input" : undefined),
    consts: (n) => [`const PCFG_${n.id} = ${chw(n)};`],
    primalBackward(n, c, dz) {
      c.uses.add("globalMaxPoolBackward");
      return c.primalInto(c.D(n.inputs[0]), inSize(n), (dst) => `globalMaxPoolBackward(H, PCFG_${n.id}, ${dz}, ${c.off(`idx:${n.id}`)}, ${dst}, n);`, false);
    },
    tangentForward(n, c, tz) {
      // linear along the forward's argmax
      const S = n.inShape[1] * n.inShape[2];
      const I = c.off(`idx:${n.id}`);
      return [`for (let p = 0, e = n * ${n.inShape[0]}; p < e; p++) H[${tz} + p] = H[${c.T(n.inputs[0])} + p * ${S} + H[${I} + p]];`];
    },
    tangentBackward(n, c, _dz, tdz) {
      c.uses.add("globalMaxPoolBackward");
      return c.tangentInto(n.inputs[0], inSize(n), (dst) => `globalMaxPoolBackward(H, PCFG_${n.id}, ${tdz}, ${c.off(`idx:${n.id}`)}, ${dst}, n);`, false);
    },
  },
  pytorch: (n, c) => {
    const len = overTime(n) ? c.lengths(n.inputs[0]) : undefined;
    const over = overTime(n) ? `${n.inputs[0]}.max(dim=1).values` : `${n.inputs[0]}.flatten(2).max(dim=2).values`;
    return { init: [], forward: [len ? `${n.output} = max_valid(${n.inputs[0]}, ${len})` : `${n.output} = ${over}`] };
  },
  onnx: (n, c) =>
    overTime(n)
      ? c.g.op("ReduceMax", [c.inp(n)], n.id, { axes: ints([1]), keepdims: int(0) })
      : c.g.op("Flatten", [c.g.op("GlobalMaxPool", [c.inp(n)], `${n.id}/pool`)], n.id, { axis: int(1) }),
};

export type { EmitCtx, PenaltyCtx };
