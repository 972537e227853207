// conv2d: 2-D convolution over NCHW input; weight [filters, C/groups, kh, kw] as in PyTorch.
// Kernels: runtime/kernels/conv.ts (im2col + GEMM, naive reference beside it) and
// runtime/kernels/winograd.ts (F(2x2, 3x3), with its wasm transforms). The schedule below chooses
// the algorithm per layer and sizes its scratch; every consumer reads n.sched.conv.
// PyTorch: nn.Conv2d. ONNX: Conv.
import type { NodeOf } from "../ir";
import type { ConvConfig } from "../../runtime/kernels/conv";
import { WINO_BLOCK, WINO_SCRATCH_LIMIT, WINO_SCRATCH_MAX, winogradApplies, winogradScratchSize } from "../../runtime/kernels/winograd";
import { pair, shapeText } from "../shape";
import { tsJson } from "../escape";
import { decayArgs, intOrPair, nonNegIntOrPair, posInt } from "./args";
import { layer, type NodeOp } from "./op";
import { int, ints, linearParams, onnxLinear, pyLinear, refuseWeightNorm, weightNormBackward, weightNormBuffers, weightNormForward, weightOf } from "./linear";

export interface ConvAttrs {
  K: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
  bias: boolean;
  weight_norm: boolean;
}
export type Conv2dNode = NodeOf<"conv2d", ConvAttrs>;

export const conv2d = layer({
  name: "conv2d",
  positional: ["filters", "kernel"],
  args: {
    filters: posInt,
    kernel: intOrPair,
    stride: { ...intOrPair, default: 1 },
    padding: { anyOf: [...nonNegIntOrPair.anyOf, { type: "string", enum: ["same", "valid"] }], default: 0 },
    dilation: { ...intOrPair, default: 1 },
    groups: { ...posInt, default: 1 },
    bias: { type: "boolean", default: true },
    ...decayArgs,
  },
  required: ["filters", "kernel"],
  rank: 3,
  doc: "2-D convolution over NCHW input; weight [filters, C/groups, kh, kw].",
  shape: "`[C,H,W] → [filters,OH,OW]`",
  notes:
    "`OH = ⌊(H + 2ph − d(k−1) − 1)/s⌋ + 1`; `padding` is an int, `[ph, pw]`, `same` (stride 1 and an odd effective kernel) or `valid`; 3×3 stride-1 convs with ≥ 8 channels in and out are computed by Winograd F(2,3) (the same function; sums rounded differently, ~1e-6 relative; [architecture](architecture.md#runtime-conventions-every-kernel-follows-these))",
  docDefaults: { init: "torch_default" },
  lower(c, l, input, shape) {
    const a = l.args;
    const [C, Hh, W] = shape;
    const K = a.filters as number;
    const [kh, kw] = pair(a.kernel, 1);
    const [sh, sw] = pair(a.stride, 1);
    const [dh, dw] = pair(a.dilation, 1);
    const groups = a.groups as number;
    let ph: number;
    let pw: number;
    if (a.padding === "same") {
      if (sh !== 1 || sw !== 1) return c.error("E0205", l.span, { arg: "padding", name: "conv2d", detail: "`same` padding needs stride 1 (as in PyTorch)" });
      ph = Math.floor((dh * (kh - 1)) / 2);
      pw = Math.floor((dw * (kw - 1)) / 2);
      if ((dh * (kh - 1)) % 2 !== 0 || (dw * (kw - 1)) % 2 !== 0)
        return c.error(
          "E0205",
          l.span,
          { arg: "padding", name: "conv2d", detail: "`same` with an even kernel needs asymmetric padding, which dnnc does not support yet" },
          "use an odd kernel size",
        );
    } else if (a.padding === "valid") [ph, pw] = [0, 0];
    else [ph, pw] = pair(a.padding, 0);
    if (C % groups !== 0 || K % groups !== 0)
      return c.error("E0301", l.span, { detail: `groups=${groups} must divide both the input channels (${C}) and filters (${K})` });
    const OH = Math.floor((Hh + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
    const OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
    if (OH < 1 || OW < 1) return c.error("E0301", l.span, { detail: `a ${kh}x${kw} kernel does not fit input ${shapeText(shape)}` });
    const out = [K, OH, OW];
    const n = c.node<Conv2dNode>("conv2d", input, shape, out, l, {
      K,
      kh,
      kw,
      sh,
      sw,
      ph,
      pw,
      dh,
      dw,
      groups,
      bias: a.bias as boolean,
      weight_norm: a.weight_norm === true,
    });
    linearParams(c, n, l, [K, C / groups, kh, kw]);
    return [n.output, out];
  },
});

/** The runtime's ConvConfig of a conv node (without colFloats and wino). */
export function convNodeConfig(n: Conv2dNode): ConvConfig {
  const a = n.attrs;
  const [C, H, W] = n.inShape;
  return {
    C,
    H,
    W,
    K: a.K,
    kh: a.kh,
    kw: a.kw,
    sh: a.sh,
    sw: a.sw,
    ph: a.ph,
    pw: a.pw,
    dh: a.dh,
    dw: a.dw,
    groups: a.groups,
    OH: n.outShape[1],
    OW: n.outShape[2],
  };
}

/**
 * Whether Winograd should run c: it applies, and the GEMMs are deep enough to gain from 2.25x
 * fewer multiply-adds (a 1-channel input would make K=1 GEMMs; measured on M2: conv 1->16 stays
 * on im2col, 16->32 runs 1.6x faster forward and backward).
 */
export function winogradPays(c: ConvConfig): boolean {
  return winogradApplies(c) && c.C >= 8 && c.K >= 8;
}

/**
 * Samples per Winograd block for c (cfg.wino): WINO_BLOCK, halved until the scratch fits a
 * worker's default column area (so that two threads can split it); 1 when even one sample needs
 * more, up to WINO_SCRATCH_LIMIT (the trainer then asks for larger worker areas); 0 when Winograd
 * does not pay or the layer is larger still (the conv stays on im2col + GEMM).
 */
export function winogradPlanBlock(c: ConvConfig): number {
  if (!winogradPays(c)) return 0;
  for (let nb = WINO_BLOCK; nb >= 1; nb >>= 1) if (winogradScratchSize(c, nb) <= WINO_SCRATCH_MAX) return nb;
  return winogradScratchSize(c, 1) <= WINO_SCRATCH_LIMIT ? 1 : 0;
}

/**
 * The conv's schedule: Winograd or im2col, the block, and the floats of its `col` scratch: one
 * sample's im2col columns (C/g*kh*kw, OH*OW); when its input gradient is computed (dx, as the
 * stride-1 correlation of dy with the rotated weights), also room for the rotated weights and one
 * sample's dy columns, as runtime/kernels/conv.ts convScratchSizeFast (passed to the kernel as
 * cfg.colFloats), so that the input gradient runs as one GEMM per sample, split between threads,
 * instead of GEMMs over chunks of channels on the calling thread; a Winograd conv gets room for
 * its blocks too.
 */
export function convSchedule(n: Conv2dNode, dx: boolean): NonNullable<NonNullable<Conv2dNode["sched"]>["conv"]> {
  const a = n.attrs;
  const [C, H, W] = n.inShape;
  const KK = a.kh * a.kw;
  const base = (C / a.groups) * KK * n.outShape[1] * n.outShape[2];
  const cfg = convNodeConfig(n);
  const block = winogradPlanBlock(cfg);
  const winoFloats = block > 0 ? winogradScratchSize(cfg, block) : 0;
  const algo = block > 0 ? ("winograd" as const) : ("im2col" as const);
  const pointwise = KK === 1 && a.sh === 1 && a.sw === 1 && a.ph === 0 && a.pw === 0 && n.outShape[1] === H && n.outShape[2] === W;
  if (!dx || pointwise || a.sh !== 1 || a.sw !== 1) return { algo, block, colFloats: Math.max(base, winoFloats), winoFloats, dx };
  const rotated = Math.ceil((a.K * (C / a.groups) * KK) / 16) * 16;
  return { algo, block, colFloats: Math.max(base, winoFloats, rotated + (a.K / a.groups) * KK * H * W), winoFloats, dx };
}

/**
 * The runtime's ConvConfig of a conv node as its kernels get it: with `colFloats` (its planned col
 * scratch) when that exceeds one sample's columns, and `wino` (samples per Winograd block) when the
 * conv runs by Winograd F(2,3).
 */
export function convCfg(n: Conv2dNode): ConvConfig {
  const a = n.attrs;
  const cfg = convNodeConfig(n);
  const s = n.sched?.conv ?? convSchedule(n, true);
  const base = (cfg.C / a.groups) * a.kh * a.kw * n.outShape[1] * n.outShape[2];
  const out: ConvConfig = s.colFloats > base ? { ...cfg, colFloats: s.colFloats } : cfg;
  return s.block > 0 ? { ...out, wino: s.block } : out;
}

export const conv2dNode: NodeOp<Conv2dNode> = {
  schedule: (n, c) => ({ conv: convSchedule(n, c.dx) }),
  reluOutputOptional: true,
  defersBiasToPool: (n) => n.attrs.bias,
  // (before scheduleKernels, the resource estimate sizes col as when dx is computed: an upper bound)
  buffers: (n) => [
    { kind: "col", size: (n.sched?.conv ?? convSchedule(n, true)).colFloats, scratch: true },
    ...weightNormBuffers(n, [n.attrs.K, n.inShape[0] / n.attrs.groups, n.attrs.kh, n.attrs.kw]),
  ],
  absorbsAffine: true,
  readsInputInBackward: true,
  gemmMacs(n, B) {
    const a = n.attrs;
    const perSample = (a.K / a.groups) * n.outShape[1] * n.outShape[2] * (n.inShape[0] / a.groups) * a.kh * a.kw;
    // groups = 1: split over the batch (by samples or input channels); grouped: per sample and group
    return a.groups === 1 ? B * perSample : perSample;
  },

  forward(n, c) {
    const a = n.attrs;
    const cfg = convCfg(n);
    c.uses.add("conv2dForward");
    c.consts.push(`const CFG_${n.id} = ${tsJson(cfg)};`);
    const lines: string[] = [];
    if (a.weight_norm) lines.push(weightNormForward(n, c, cfg.K, (cfg.C / cfg.groups) * cfg.kh * cfg.kw));
    // a lone ReLU tail is applied by the conv to each sample's output while it is in cache
    // (the same Math.max(v, 0) as E.relu)
    // (none when the max pool after it applies the ReLU: sched.reluByPool.forward; that pool also
    // adds the bias when the conv leaves it, conv2dForward's deferBias, returning where it is)
    const reluTail = n.tail.length === 1 && n.tail[0].op === "relu";
    const reluInPool = n.sched?.reluByPool?.forward === true;
    const ry = reluTail && !reluInPool;
    const call = `conv2dForward(H, gemm, CFG_${n.id}, ${c.off(n.inputs[0])}, ${weightOf(n, c)}, ${a.bias ? c.off(`${n.id}.bias`) : -1}, ${c.off(`z:${n.id}`)}, ${c.off(`col:${n.id}`)}, n`;
    if (reluInPool && a.bias) lines.push(`const bias_${n.id} = ${call}, -1, true);`);
    else lines.push(`${call}${ry ? `, ${c.off(n.output)}` : ""});`);
    if (reluTail) return lines;
    return [...lines, ...c.tailForward(n, n.outShape[0] * n.outShape[1] * n.outShape[2])];
  },

  backward(n, c) {
    const a = n.attrs;
    c.uses.add("conv2dBackward");
    const db = a.bias ? c.off(`grad:${n.id}.bias`) : -1;
    const cfg = convCfg(n);
    const wsize = cfg.K * (cfg.C / cfg.groups) * cfg.kh * cfg.kw;
    const src = n.inputs[0];
    const X = c.off(src);
    const D = c.off(`grad:${n.output}`);
    const { dx, post } = c.dxTarget(src, cfg.C * cfg.H * cfg.W);
    const lines: string[] = [];
    if (a.weight_norm) {
      // dW of the effective weight goes to the scratch sized for it
      const wgrad = c.off(`scratch:wn:${n.id}`);
      lines.push(`conv2dBackward(H, gemm, CFG_${n.id}, ${X}, ${weightOf(n, c)}, ${D}, ${dx}, ${wgrad}, ${db}, ${c.off(`col:${n.id}`)}, n);`);
      lines.push(weightNormBackward(n, c, cfg.K, wsize / cfg.K, wgrad));
    } else {
      lines.push(
        `conv2dBackward(H, gemm, CFG_${n.id}, ${X}, ${weightOf(n, c)}, ${D}, ${dx}, ${c.off(`grad:${n.id}.weight`)}, ${db}, ${c.off(`col:${n.id}`)}, n);`,
      );
    }
    return [...lines, ...post];
  },

  penalty: {
    refuse: refuseWeightNorm,
    dwFloats: (n) => n.attrs.K * (n.inShape[0] / n.attrs.groups) * n.attrs.kh * n.attrs.kw + n.attrs.K,
    consts: (n) => [`const PCFG_${n.id} = ${tsJson(convCfg(n))};`],
    primalBackward(n, c, dz) {
      c.uses.add("conv2dBackward");
      const src = n.inputs[0];
      return c.primalInto(
        c.D(src),
        n.inShape[0] * n.inShape[1] * n.inShape[2],
        (dst) => `conv2dBackward(H, gemm, PCFG_${n.id}, ${c.off(src)}, ${c.off(`${n.id}.weight`)}, ${dz}, ${dst}, -1, -1, ${c.off(`col:${n.id}`)}, n);`,
        false,
      );
    },
    tangentForward(n, c, tz) {
      c.uses.add("conv2dForward");
      return [`conv2dForward(H, gemm, PCFG_${n.id}, ${c.T(n.inputs[0])}, ${c.off(`${n.id}.weight`)}, -1, ${tz}, ${c.off(`col:${n.id}`)}, n);`];
    },
    tangentBackward(n, c, dz, tdz) {
      c.uses.add("conv2dBackward");
      const cf = convCfg(n);
      const src = n.inputs[0];
      const wsize = cf.K * (cf.C / cf.groups) * cf.kh * cf.kw;
      const W1 = c.off("pen:dw");
      const W2 = W1 + wsize + cf.K;
      const gW = c.off(`grad:${n.id}.weight`);
      const bias = n.attrs.bias ? W1 + wsize : -1;
      const w = c.off(`${n.id}.weight`);
      const col = c.off(`col:${n.id}`);
      // d(dW) = conv weight-gradient of (x, d(dz)) + of (ẋ, dz); d(db) = Σ d(dz); d(dx) from d(dz)
      const { dx, post } = c.tangentDx(src, n.inShape[0] * n.inShape[1] * n.inShape[2]);
      const lines = [`conv2dBackward(H, gemm, PCFG_${n.id}, ${c.off(src)}, ${w}, ${tdz}, ${dx}, ${W1}, ${bias}, ${col}, n);`, ...post];
      lines.push(`conv2dBackward(H, gemm, PCFG_${n.id}, ${c.T(src)}, ${w}, ${dz}, -1, ${W2}, -1, ${col}, n);`);
      lines.push(`for (let i = 0; i < ${wsize}; i++) H[${gW} + i] += H[${W1} + i] + H[${W2} + i];`);
      if (n.attrs.bias) lines.push(`for (let i = 0; i < ${cf.K}; i++) H[${c.off(`grad:${n.id}.bias`)} + i] += H[${bias} + i];`);
      return lines;
    },
  },

  pytorch(n, c) {
    const a = n.attrs;
    const m =
      `nn.Conv2d(${n.inShape[0]}, ${a.K}, kernel_size=(${a.kh}, ${a.kw}), stride=(${a.sh}, ${a.sw}), ` +
      `padding=(${a.ph}, ${a.pw}), dilation=(${a.dh}, ${a.dw}), groups=${a.groups}, bias=${c.py(a.bias)})`;
    return { init: [`self.${n.id} = ${pyLinear(n, c, m)}`], forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`] };
  },

  onnx: (n, c) =>
    onnxLinear(n, c, "Conv", {
      kernel_shape: ints([n.attrs.kh, n.attrs.kw]),
      strides: ints([n.attrs.sh, n.attrs.sw]),
      pads: ints([n.attrs.ph, n.attrs.pw, n.attrs.ph, n.attrs.pw]),
      dilations: ints([n.attrs.dh, n.attrs.dw]),
      group: int(n.attrs.groups),
    }),
};
