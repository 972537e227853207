// 1-D pooling over time: maxpool1d and avgpool1d on a sequence [T, C] → [T', C] (channels-last,
// count_include_pad=True as PyTorch's default). With padded data, the positions past each sample's
// length count as padding (−inf for the maximum, zeros for the average) and the output's valid
// length follows the window (attrs.timeMap, compiler/ops/sequence.ts). Kernels:
// runtime/kernels/pool1d.ts. PyTorch: nn.MaxPool1d / nn.AvgPool1d between transposes (they are
// channels-first). ONNX: Transpose, MaxPool / AveragePool, Transpose.
import type { NodeOf } from "../ir";
import { int, ints } from "../export/onnx-graph";
import { pool1dLength, type Pool1dConfig } from "../../runtime/kernels/pool1d";
import { prod, shapeText } from "../shape";
import { tsJson } from "../escape";
import { posInt } from "./args";
import { layer, unsupported, type EmitCtx, type LayerOp, type NodeOp, type OnnxCtx, type PyCtx } from "./op";
import { lengthMaps, lengthsArg } from "./sequence";

export interface Pool1dAttrs {
  k: number;
  s: number;
  p: number;
  /** [add, stride]: how a valid length maps through the window (compiler/ops/sequence.ts) */
  timeMap?: [number, number];
}
export type MaxPool1dNode = NodeOf<"maxpool1d", Pool1dAttrs>;
export type AvgPool1dNode = NodeOf<"avgpool1d", Pool1dAttrs>;
type Pool1dNode = MaxPool1dNode | AvgPool1dNode;

function pool1dLayer(name: "maxpool1d" | "avgpool1d", doc: string, notes: string): LayerOp {
  return layer({
    name,
    shape: "`[T, C] → [T', C]`",
    notes,
    docDefaults: { stride: "kernel" },
    positional: ["kernel", "stride"],
    args: { kernel: posInt, stride: posInt, padding: { type: "integer", minimum: 0, default: 0 } },
    required: ["kernel"],
    rank: 2,
    doc,
    lower(c, l, input, shape) {
      const [T, C] = shape;
      const k = l.args.kernel as number;
      const s = (l.args.stride as number | undefined) ?? k;
      const p = l.args.padding as number;
      if (p > k / 2) return c.error("E0205", l.span, { arg: "padding", name, detail: "padding must be at most half the kernel size" });
      const OT = pool1dLength(T, k, s, p);
      if (OT < 1) return c.error("E0301", l.span, { detail: `a pool of ${k} does not fit input ${shapeText(shape)}` });
      const out = [OT, C];
      // the identity on lengths (stride 1, T' = T) needs no map
      const timeMap: [number, number] | undefined = s === 1 && 2 * p - k === -1 ? undefined : [2 * p - k, s];
      const n = c.node<Pool1dNode>(name, input, shape, out, l, { k, s, p, ...(timeMap ? { timeMap } : {}) });
      return [n.output, out];
    },
  });
}

export const maxpool1d = pool1dLayer(
  "maxpool1d",
  "Max pooling over time on [T, C]; stride defaults to the kernel size.",
  "`T' = ⌊(T + 2p − k)/s⌋ + 1`; ties: the first maximum; padding and padded positions count as −∞",
);
export const avgpool1d = pool1dLayer(
  "avgpool1d",
  "Average pooling over time on [T, C] (padding counts as zeros, as PyTorch's count_include_pad=True).",
  "`T' = ⌊(T + 2p − k)/s⌋ + 1`; divides by k (PyTorch `count_include_pad=True`); padded positions count as zeros",
);

function cfg(n: Pool1dNode, c: EmitCtx): Pool1dConfig {
  const [T, C] = n.inShape;
  return { T, C, k: n.attrs.k, s: n.attrs.s, p: n.attrs.p, OT: n.outShape[0], maps: lengthMaps(c.ir, n.inputs[0]) };
}

const inSize = (n: Pool1dNode) => prod(n.inShape);

// padded data: the maximum reads the positions past each sample's length as −∞ (the average reads
// them as the zeros the layer before left there); the outputs past the new length are zeroed after
const pytorch = (module: string) => (n: Pool1dNode, c: PyCtx) => {
  const valid = module === "nn.MaxPool1d" ? c.mask(n.inputs[0]) : undefined;
  const x = valid ? `${n.inputs[0]}.masked_fill(~${valid}.unsqueeze(-1), float("-inf"))` : n.inputs[0];
  return {
    init: [`self.${n.id} = ${module}(${n.attrs.k}, stride=${n.attrs.s}, padding=${n.attrs.p}${module === "nn.AvgPool1d" ? ", count_include_pad=True" : ""})`],
    forward: [`${n.output} = self.${n.id}(${x}.transpose(1, 2)).transpose(1, 2)`],
  };
};

const onnx = (opType: string, extra: Record<string, ReturnType<typeof int>>) => (n: Pool1dNode, c: OnnxCtx) => {
  const perm = { perm: ints([0, 2, 1]) };
  const x = c.g.op("Transpose", [c.inp(n)], `${n.id}/ncw`, perm);
  const y = c.g.op(opType, [x], `${n.id}/pool`, { kernel_shape: ints([n.attrs.k]), strides: ints([n.attrs.s]), pads: ints([n.attrs.p, n.attrs.p]), ...extra });
  return c.g.op("Transpose", [y], n.id, perm);
};

export const maxpool1dNode: NodeOp<MaxPool1dNode> = {
  buffers: (n, B) => [{ kind: "idx", size: B * prod(n.outShape) }],
  readsInputInBackward: false,
  forward(n, c) {
    c.uses.add("maxPool1dForward");
    c.consts.push(`const CFG_${n.id} = ${tsJson(cfg(n, c))};`);
    return [
      `maxPool1dForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, ${c.off(`idx:${n.id}`)}, n, ${lengthsArg(c)});`,
      ...c.tailForward(n, prod(n.outShape)),
    ];
  },
  backward(n, c) {
    c.uses.add("maxPool1dBackward");
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [
      `maxPool1dBackward(H, CFG_${n.id}, ${c.off(`grad:${n.output}`)}, ${c.off(`idx:${n.id}`)}, ${dst}, n);`,
    ]);
  },
  penalty: unsupported("sequence layers are not differentiated twice yet"),
  pytorch: pytorch("nn.MaxPool1d"),
  onnx: onnx("MaxPool", {}),
};

export const avgpool1dNode: NodeOp<AvgPool1dNode> = {
  readsInputInBackward: false,
  forward(n, c) {
    c.uses.add("avgPool1dForward");
    c.consts.push(`const CFG_${n.id} = ${tsJson(cfg(n, c))};`);
    return [`avgPool1dForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n, ${lengthsArg(c)});`, ...c.tailForward(n, prod(n.outShape))];
  },
  backward(n, c) {
    c.uses.add("avgPool1dBackward");
    return c.gradInto(n.inputs[0], inSize(n), (dst) => [`avgPool1dBackward(H, CFG_${n.id}, ${c.off(`grad:${n.output}`)}, ${dst}, n, ${lengthsArg(c)});`]);
  },
  penalty: unsupported("sequence layers are not differentiated twice yet"),
  pytorch: pytorch("nn.AvgPool1d"),
  onnx: onnx("AveragePool", { count_include_pad: int(1) }),
};
