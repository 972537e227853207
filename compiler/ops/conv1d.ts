// conv1d: 1-D convolution over time on a sequence [T, C] → [T', filters], channels-last in the heap
// (n, T, C); weight [filters, C/groups, k] and bias as nn.Conv1d (PyTorch is channels-first: its
// target transposes around the module). Kernel: runtime/kernels/conv1d.ts (im2col + one GEMM per
// chunk of samples, naive reference beside it). With padded data the positions past each sample's
// length read as zeros, and the output's valid length follows the window (attrs.timeMap,
// compiler/ops/sequence.ts). PyTorch: nn.Conv1d between transposes. ONNX: Transpose, Conv, Transpose.
import type { NodeOf } from "../ir";
import { conv1dChunk, conv1dLength, conv1dScratchSize, type Conv1dConfig } from "../../runtime/kernels/conv1d";
import { shapeText } from "../shape";
import { tsJson } from "../escape";
import { decayArgs, posInt } from "./args";
import { layer, unsupported, type EmitCtx, type NodeOp } from "./op";
import { int, ints, linearParams, linearWeights, pyLinear, weightNormBackward, weightNormBuffers, weightNormForward, weightOf } from "./linear";
import { lengthMaps, lengthsArg } from "./sequence";

export interface Conv1dAttrs {
  /** filters, kernel, stride, left and right padding, dilation, groups */
  K: number;
  k: number;
  s: number;
  p: number;
  pr: number;
  d: number;
  groups: number;
  bias: boolean;
  weight_norm: boolean;
  /** [add, stride]: how a valid length maps through the window (absent: unchanged, as with `same`) */
  timeMap?: [number, number];
}
export type Conv1dNode = NodeOf<"conv1d", Conv1dAttrs>;

export const conv1d = layer({
  name: "conv1d",
  positional: ["filters", "kernel"],
  args: {
    filters: posInt,
    kernel: posInt,
    stride: { ...posInt, default: 1 },
    padding: {
      anyOf: [
        { type: "integer", minimum: 0 },
        { type: "string", enum: ["same", "valid"] },
      ],
      default: 0,
    },
    dilation: { ...posInt, default: 1 },
    groups: { ...posInt, default: 1 },
    bias: { type: "boolean", default: true },
    ...decayArgs,
  },
  required: ["filters", "kernel"],
  rank: 2,
  doc: "1-D convolution over time on [T, C]; weight [filters, C/groups, k] as nn.Conv1d.",
  shape: "`[T, C] → [T', filters]`",
  notes:
    "`T' = ⌊(T + 2p − d(k−1) − 1)/s⌋ + 1`; `padding` is an int, `same` (stride 1; an even effective kernel pads one more on the right, as PyTorch) or `valid`; channels-last in the heap, so the PyTorch target transposes around `nn.Conv1d`",
  docDefaults: { init: "torch_default" },
  lower(c, l, input, shape) {
    const a = l.args;
    const [T, C] = shape;
    const K = a.filters as number;
    const k = a.kernel as number;
    const s = a.stride as number;
    const d = a.dilation as number;
    const groups = a.groups as number;
    let p: number;
    let pr: number;
    if (a.padding === "same") {
      if (s !== 1) return c.error("E0205", l.span, { arg: "padding", name: "conv1d", detail: "`same` padding needs stride 1 (as in PyTorch)" });
      p = Math.floor((d * (k - 1)) / 2);
      pr = d * (k - 1) - p;
    } else p = pr = a.padding === "valid" ? 0 : (a.padding as number);
    if (C % groups !== 0 || K % groups !== 0)
      return c.error("E0301", l.span, { detail: `groups=${groups} must divide both the input channels (${C}) and filters (${K})` });
    const OT = conv1dLength(T + pr - p, k, s, p, d);
    if (OT < 1) return c.error("E0301", l.span, { detail: `a kernel of ${k} (dilation ${d}) does not fit input ${shapeText(shape)}` });
    const add = 2 * p - d * (k - 1) - 1;
    const same = p !== pr || (s === 1 && add === -1);
    const out = [OT, K];
    const n = c.node<Conv1dNode>("conv1d", input, shape, out, l, {
      K,
      k,
      s,
      p,
      pr,
      d,
      groups,
      bias: a.bias as boolean,
      weight_norm: a.weight_norm === true,
      ...(same ? {} : { timeMap: [add, s] as [number, number] }),
    });
    linearParams(c, n, l, [K, C / groups, k]);
    return [n.output, out];
  },
});

/** The runtime's Conv1dConfig of a node, for a batch of B. */
export function conv1dCfg(n: Conv1dNode, B: number, maps: number[]): Conv1dConfig {
  const a = n.attrs;
  const [T, C] = n.inShape;
  const base = { T, C, K: a.K, k: a.k, s: a.s, p: a.p, d: a.d, groups: a.groups, OT: n.outShape[0], maps };
  return { ...base, chunk: conv1dChunk(base, B) };
}

const cfgOf = (n: Conv1dNode, c: EmitCtx) => conv1dCfg(n, c.ir.batch, lengthMaps(c.ir, n.inputs[0]));
const wShape = (n: Conv1dNode) => [n.attrs.K, n.inShape[1] / n.attrs.groups, n.attrs.k];

export const conv1dNode: NodeOp<Conv1dNode> = {
  // only a pointwise conv: PyTorch's padding is on both sides, so a wider kernel reads later positions
  causal: (n) => n.attrs.k === 1 && n.attrs.s === 1 && n.attrs.p === 0 && n.attrs.pr === 0,
  buffers: (n, B) => [{ kind: "col", size: conv1dScratchSize(conv1dCfg(n, B, [])), scratch: true }, ...weightNormBuffers(n, wShape(n))],
  readsInputInBackward: true,
  gemmMacs: (n, B) => (B * n.outShape[0] * n.attrs.K * n.attrs.k * n.inShape[1]) / n.attrs.groups,

  forward(n, c) {
    const a = n.attrs;
    c.uses.add("conv1dForward");
    c.consts.push(`const CFG_${n.id} = ${tsJson(cfgOf(n, c))};`);
    const lines: string[] = [];
    const [K, Cg, k] = wShape(n);
    if (a.weight_norm) lines.push(weightNormForward(n, c, K, Cg * k));
    lines.push(
      `conv1dForward(H, gemm, CFG_${n.id}, ${c.off(n.inputs[0])}, ${weightOf(n, c)}, ${a.bias ? c.off(`${n.id}.bias`) : -1}, ${c.off(`z:${n.id}`)}, ${c.off(`col:${n.id}`)}, n, ${lengthsArg(c)});`,
    );
    return [...lines, ...c.tailForward(n, n.outShape[0] * n.outShape[1])];
  },

  backward(n, c) {
    const a = n.attrs;
    c.uses.add("conv1dBackward");
    const [K, Cg, k] = wShape(n);
    const src = n.inputs[0];
    const { dx, post } = c.dxTarget(src, n.inShape[0] * n.inShape[1]);
    const dW = a.weight_norm ? c.off(`scratch:wn:${n.id}`) : c.off(`grad:${n.id}.weight`);
    const db = a.bias ? c.off(`grad:${n.id}.bias`) : -1;
    const lines = [
      `conv1dBackward(H, gemm, CFG_${n.id}, ${c.off(src)}, ${weightOf(n, c)}, ${c.off(`grad:${n.output}`)}, ${dx}, ${dW}, ${db}, ${c.off(`col:${n.id}`)}, n, ${lengthsArg(c)});`,
      ...post,
    ];
    if (a.weight_norm) lines.push(weightNormBackward(n, c, K, Cg * k, dW));
    return lines;
  },

  penalty: unsupported("sequence layers are not differentiated twice yet"),

  pytorch(n, c) {
    const a = n.attrs;
    const padding = a.p !== a.pr ? `"same"` : String(a.p);
    const m =
      `nn.Conv1d(${n.inShape[1]}, ${a.K}, kernel_size=${a.k}, stride=${a.s}, padding=${padding}, dilation=${a.d}, ` +
      `groups=${a.groups}, bias=${c.py(a.bias)})`;
    return { init: [`self.${n.id} = ${pyLinear(n, c, m)}`], forward: [`${n.output} = self.${n.id}(${n.inputs[0]}.transpose(1, 2)).transpose(1, 2)`] };
  },

  onnx(n, c) {
    const a = n.attrs;
    const { weight, bias } = linearWeights(n, c.get);
    const perm = { perm: ints([0, 2, 1]) };
    const x = c.g.op("Transpose", [c.inp(n)], `${n.id}/ncw`, perm);
    const ins = [x, c.g.init(`${n.id}.weight`, wShape(n), weight)];
    if (bias) ins.push(c.g.init(`${n.id}.bias`, [bias.length], bias));
    const y = c.g.op("Conv", ins, `${n.id}/conv`, {
      kernel_shape: ints([a.k]),
      strides: ints([a.s]),
      pads: ints([a.p, a.pr]),
      dilations: ints([a.d]),
      group: int(a.groups),
    });
    return c.g.op("Transpose", [y], n.id, perm);
  },
};
