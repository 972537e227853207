// Normalization: bn (batch norm over the batch per feature, or over N·H·W per channel), iternorm
// (decorrelated batch norm by Newton iterations), layernorm, groupnorm and instancenorm.
// Kernels: runtime/kernels/norm.ts and runtime/kernels/iternorm.ts (references beside them; bn's
// forward sweep has a wasm twin). PyTorch: nn.BatchNorm1d/2d, a small IterNorm module,
// nn.LayerNorm, nn.GroupNorm. ONNX: folded into the producer or Mul + Add, LayerNormalization,
// InstanceNormalization (with reshapes for groups), Sub + Conv/Gemm for IterNorm.
import type { NodeOf } from "../ir";
import { float, channelDims, int, ints } from "../export/onnx-graph";
import { prod } from "../shape";
import { normArgs, posInt } from "./args";
import { layer, lit, unsupported, type EmitCtx, type LayerOp, type LowerCtx, type NodeOp, type PyCtx } from "./op";
import type { LayerSpec } from "../spec";

interface NormAttrs {
  eps: number;
  affine: boolean;
}
export type BnNode = NodeOf<"bn", NormAttrs & { momentum: number }>;
export type IterNormNode = NodeOf<"iternorm", NormAttrs & { groups: number; iters: number; momentum: number }>;
/** perPosition: a sequence [T, F] normalized over F at each position (nn.LayerNorm(F)); else over every feature of the sample. */
export type LayerNormNode = NodeOf<"layernorm", NormAttrs & { perPosition?: true }>;
export type GroupNormNode = NodeOf<"groupnorm" | "instancenorm", NormAttrs & { groups: number }>;
type NormNode = BnNode | IterNormNode | LayerNormNode | GroupNormNode;

const momentum = { type: "number", minimum: 0, maximum: 1, default: 0.1 } as const;

/** gamma and beta of shape `shape` (per channel, or per element for layer norm). */
function affineParams(c: LowerCtx, n: NormNode, l: LayerSpec, shape: number[]): void {
  if (!n.attrs.affine) return;
  n.params.push(c.param(`${n.id}.weight`, shape, { kind: "ones" }, "norm", l));
  n.params.push(c.param(`${n.id}.bias`, shape, { kind: "zeros" }, "norm", l));
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i * i <= n && i <= 1e6; i++) if (n % i === 0) out.push(i, n / i); // not 1..n: C can be 2^53
  return [...new Set(out)].sort((a, b) => a - b);
}

export const bn = layer({
  name: "bn",
  positional: [],
  args: { momentum, ...normArgs },
  rank: "any",
  batchStatistics: true,
  doc: "Batch norm over the batch (per feature) or over N·H·W (per channel).",
  shape: "same",
  notes: "per feature over the batch (`[F]`) or per channel over N·H·W (`[C,H,W]`); see conventions",
  lower(c, l, input, shape) {
    const C = shape[0];
    const n = c.node<BnNode>("bn", input, shape, shape, l, {
      momentum: l.args.momentum as number,
      eps: l.args.eps as number,
      affine: l.args.affine as boolean,
    });
    affineParams(c, n, l, [C]);
    n.stats.push(c.stat(`${n.id}.running_mean`, [C], 0), c.stat(`${n.id}.running_var`, [C], 1));
    return [n.output, shape];
  },
});

export const iternorm = layer({
  name: "iternorm",
  positional: ["groups"],
  args: {
    groups: { type: "integer", minimum: 1, maximum: 4096, default: 1 },
    iters: { type: "integer", minimum: 1, maximum: 64, default: 5 },
    momentum,
    ...normArgs,
  },
  rank: "any",
  batchStatistics: true,
  shape: "same",
  notes:
    "each group of C/G channels whitened over the batch (N, or N·H·W for images) with Σ^−½ from `iters` Newton iterations; per-channel affine; running mean and whitening matrix for evaluation (see tricks.md §2)",
  doc: "Decorrelated batch norm by iterative normalization (IterNorm, Huang et al. 2019): each group of C/G channels is ZCA-whitened over the batch with Σ^-1/2 approximated by `iters` Newton iterations; per-channel affine; running mean and whitening matrix for eval.",
  lower(c, l, input, shape) {
    const a = l.args;
    const C = shape[0];
    const G = a.groups as number;
    if (C % G !== 0)
      return c.error(
        "E0301",
        l.span,
        { detail: `iternorm(${G}) needs the group count to divide the ${C} channels` },
        `divisors of ${C}: ${divisors(C).join(", ")}`,
      );
    const g = C / G;
    const n = c.node<IterNormNode>("iternorm", input, shape, shape, l, {
      groups: G,
      iters: a.iters as number,
      momentum: a.momentum as number,
      eps: a.eps as number,
      affine: a.affine as boolean,
    });
    affineParams(c, n, l, [C]);
    n.stats.push(c.stat(`${n.id}.running_mean`, [C], 0), c.stat(`${n.id}.running_wm`, [G, g, g], 0, g));
    return [n.output, shape];
  },
});

export const layernorm = layer({
  name: "layernorm",
  positional: [],
  args: { ...normArgs },
  rank: "any",
  doc: "Layer norm over all features of one sample (of each position of a sequence [T, F]), per-element affine.",
  shape: "same",
  notes:
    "over all features of a sample, per-element affine (as `nn.LayerNorm(shape)`); on a sequence `[T, F]`, over F at each position (as `nn.LayerNorm(F)`, transformers' convention)",
  lower(c, l, input, shape) {
    const perPosition = shape.length === 2;
    const attrs = { eps: l.args.eps as number, affine: l.args.affine as boolean, ...(perPosition ? { perPosition: true as const } : {}) };
    const n = c.node<LayerNormNode>("layernorm", input, shape, shape, l, attrs);
    affineParams(c, n, l, perPosition ? [shape[1]] : shape);
    return [n.output, shape];
  },
});

function groupNormLower(name: "groupnorm" | "instancenorm"): LayerOp["lower"] {
  return (c, l, input, shape) => {
    const C = shape[0];
    const G = name === "instancenorm" ? C : (l.args.groups as number);
    if (C % G !== 0)
      return c.error(
        "E0301",
        l.span,
        { detail: `groupnorm(${G}) needs the group count to divide the ${C} channels` },
        `divisors of ${C}: ${divisors(C).join(", ")}`,
      );
    const n = c.node<GroupNormNode>(name, input, shape, shape, l, { groups: G, eps: l.args.eps as number, affine: l.args.affine as boolean });
    affineParams(c, n, l, [C]);
    return [n.output, shape];
  };
}

export const groupnorm = layer({
  name: "groupnorm",
  positional: ["groups"],
  args: { groups: posInt, ...normArgs },
  required: ["groups"],
  rank: 3,
  doc: "Group norm over C/G channels × H × W per sample, per-channel affine.",
  shape: "same",
  notes: "per sample over C/G channels × H × W; per-channel affine",
  lower: groupNormLower("groupnorm"),
});

export const instancenorm = layer({
  name: "instancenorm",
  positional: [],
  args: { ...normArgs },
  rank: 3,
  doc: "Instance norm: group norm with one group per channel.",
  shape: "same",
  notes: "group norm with G = C",
  lower: groupNormLower("instancenorm"),
});

// ---- the trainer ----------------------------------------------------------------------------------

const gammaBeta = (n: NormNode, c: EmitCtx) => ({
  g: n.attrs.affine ? c.off(`${n.id}.weight`) : -1,
  b: n.attrs.affine ? c.off(`${n.id}.bias`) : -1,
});

/** The backward of bn, layernorm, groupnorm and instancenorm: one kernel call that always writes dx. */
function normBackward(fn: string, rowsExpr: (n: never) => string = () => "n") {
  return (n: BnNode | LayerNormNode | GroupNormNode, c: EmitCtx): string[] => {
    c.uses.add(fn);
    const a = n.attrs;
    const src = n.inputs[0];
    const g = a.affine ? c.off(`${n.id}.weight`) : -1;
    const dg = a.affine ? c.off(`grad:${n.id}.weight`) : -1;
    const dbeta = a.affine ? c.off(`grad:${n.id}.bias`) : -1;
    const t = c.dxTarget(src, prod(n.inShape));
    if (t.dx < 0 && !a.affine) return [];
    const dx = t.dx < 0 ? c.off("scratch:grad") : t.dx; // kernels always write dx; discard it
    return [
      `${fn}(H, CFG_${n.id}, ${c.off(src)}, ${g}, ${c.off(`mean:${n.id}`)}, ${c.off(`invstd:${n.id}`)}, ${c.off(`grad:${n.output}`)}, ${dx}, ${dg}, ${dbeta}, ${rowsExpr(n as never)});`,
      ...t.post,
    ];
  };
}

/**
 * The backward of a frozen batch norm (fine-tuning: evaluation mode, its parameters not trained)
 * that a gradient reaches from trained layers before it: y = x·s + t per channel with constant
 * s = gamma / sqrt(running_var + eps), so dx = dy·s, as the forward's evaluation branch computes s.
 */
function bnEvalBackward(n: BnNode, c: EmitCtx): string[] {
  const src = n.inputs[0];
  const C = n.inShape[0];
  const S = prod(n.inShape) / C;
  const t = c.dxTarget(src, prod(n.inShape));
  if (t.dx < 0) return [];
  const g = gammaBeta(n, c).g;
  const rv = c.off(`${n.id}.running_var`);
  const dy = c.off(`grad:${n.output}`);
  return [
    `for (let c = 0; c < ${C}; c++) {`,
    `  const s = ${g >= 0 ? `(1 / Math.sqrt(H[${rv} + c] + ${lit(n.attrs.eps)})) * H[${g} + c]` : `1 / Math.sqrt(H[${rv} + c] + ${lit(n.attrs.eps)})`};`,
    `  for (let r = 0; r < n; r++) { const o = r * ${C * S} + c * ${S}; for (let k = 0; k < ${S}; k++) H[${t.dx} + o + k] = H[${dy} + o + k] * s; }`,
    `}`,
    ...t.post,
  ];
}

const noPenalty = unsupported("it has no second derivative here (the penalties differentiate every op twice)");

const meanInvstd = (size: number) => [
  { kind: "mean" as const, size },
  { kind: "invstd" as const, size },
];

export const bnNode: NodeOp<BnNode> = {
  causal: () => true,
  buffers: (n) => meanInvstd(n.inShape[0]),
  foldsIntoProducer: true,
  readsInputInBackward: true,
  alwaysWritesDx: true,
  forward(n, c) {
    // per channel: batch statistics (two passes, float64), running statistics, then ONE sweep
    // that normalizes, applies gamma/beta and the fused tail (activation, dropout)
    const a = n.attrs;
    const size = prod(n.outShape);
    const X = c.off(n.inputs[0]);
    const Z = c.off(`z:${n.id}`);
    const C = n.inShape[0];
    const S = prod(n.inShape) / C;
    c.consts.push(`const CFG_${n.id} = { C: ${C}, S: ${S}, eps: ${lit(a.eps)}, momentum: ${lit(a.momentum)} };`);
    const { g, b } = gammaBeta(n, c);
    const mean = c.off(`mean:${n.id}`);
    const invstd = c.off(`invstd:${n.id}`);
    const rm = c.off(`${n.id}.running_mean`);
    const rv = c.off(`${n.id}.running_var`);
    const eta = a.momentum;
    const CS = C * S;
    const onlyRelu = n.tail.length === 1 && n.tail[0].op === "relu";
    // frozen (fine-tuning): evaluation mode in training too, the running statistics used and kept (PyTorch's bn.eval())
    const mode = n.frozen ? "false" : "train";
    if (n.tail.length === 0 || onlyRelu) {
      // the same loop as below in runtime/kernels/norm.ts batchNormNodeForward (wasm SIMD on
      // the wasm backend, the same bytes)
      c.uses.add("makeDenseEpilogues");
      return [`E.bnForward(CFG_${n.id}, ${X}, ${Z}, ${c.off(n.output)}, ${g}, ${b}, ${mean}, ${invstd}, ${rm}, ${rv}, ${onlyRelu}, ${mode}, n);`];
    }
    const prelude = c.tailPrelude(n);
    const sweepBody = c.tailBody(n, size, "i").join(" ");
    return [
      ...prelude,
      `for (let c = 0; c < ${C}; c++) {`,
      `  let scale: number, shift: number;`,
      `  if (${mode}) {`,
      `    const m = n * ${S};`,
      `    let s = 0;`,
      `    for (let r = 0; r < n; r++) { const o = ${X} + r * ${CS} + c * ${S}; for (let k = 0; k < ${S}; k++) s += H[o + k]; }`,
      `    const mu = s / m;`,
      `    let q = 0;`,
      `    for (let r = 0; r < n; r++) { const o = ${X} + r * ${CS} + c * ${S}; for (let k = 0; k < ${S}; k++) { const d = H[o + k] - mu; q += d * d; } }`,
      `    const is = 1 / Math.sqrt(q / m + ${lit(a.eps)});`,
      `    H[${mean} + c] = mu;`,
      `    H[${invstd} + c] = is;`,
      `    H[${rm} + c] = ${lit(1 - eta)} * H[${rm} + c] + ${lit(eta)} * mu;`,
      `    H[${rv} + c] = ${lit(1 - eta)} * H[${rv} + c] + ${lit(eta)} * (m > 1 ? q / (m - 1) : q / m); // unbiased, as PyTorch`,
      `    scale = ${g >= 0 ? `is * H[${g} + c]` : "is"};`,
      `    shift = ${b >= 0 ? `H[${b} + c]` : "0"} - mu * scale;`,
      `  } else {`,
      `    const is = 1 / Math.sqrt(H[${rv} + c] + ${lit(a.eps)});`,
      `    scale = ${g >= 0 ? `is * H[${g} + c]` : "is"};`,
      `    shift = ${b >= 0 ? `H[${b} + c]` : "0"} - H[${rm} + c] * scale;`,
      `  }`,
      `  for (let r = 0; r < n; r++) {`,
      `    for (let k = 0; k < ${S}; k++) { const i = r * ${CS} + c * ${S} + k; let v = H[${X} + i] * scale + shift; H[${Z} + i] = v; ${sweepBody} }`,
      `  }`,
      `}`,
    ];
  },
  backward(n, c) {
    return n.frozen ? bnEvalBackward(n, c) : normBackward("batchNormBackward")(n, c);
  },
  penalty: noPenalty,
  pytorch(n, c) {
    const a = n.attrs;
    if (n.inShape.length !== 1 && n.inShape.length !== 3) c.unsupported(`bn on a rank-${n.inShape.length} input`, n);
    c.expectParams(n, a.affine ? ["weight", "bias"] : []);
    const cls = n.inShape.length === 1 ? "BatchNorm1d" : "BatchNorm2d";
    return {
      init: [`self.${n.id} = nn.${cls}(${n.inShape[0]}, eps=${c.py(a.eps)}, momentum=${c.py(a.momentum)}, affine=${c.py(a.affine)})`],
      forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`],
      batchNorm: true,
    };
  },
  onnx(n, c) {
    if (c.isFolded(n)) return c.inp(n); // already in the producer's weights
    const a = n.attrs;
    const C = n.outShape[0];
    if (!c.fold) {
      const gamma = a.affine ? c.get(`${n.id}.weight`) : new Float32Array(C).fill(1);
      const beta = a.affine ? c.get(`${n.id}.bias`) : new Float32Array(C);
      return c.g.op(
        "BatchNormalization",
        [
          c.inp(n),
          c.g.init(`${n.id}.weight`, [C], gamma),
          c.g.init(`${n.id}.bias`, [C], beta),
          c.g.init(`${n.id}.running_mean`, [C], c.get(`${n.id}.running_mean`)),
          c.g.init(`${n.id}.running_var`, [C], c.get(`${n.id}.running_var`)),
        ],
        n.id,
        { epsilon: float(a.eps) },
      );
    }
    const { scale, shift } = bnAffine(n, c.get);
    const dims = channelDims(n.outShape);
    const m = c.g.op("Mul", [c.inp(n), c.g.init(`${n.id}.scale`, dims, Float32Array.from(scale))], `${n.id}/scale`);
    return c.g.op("Add", [m, c.g.init(`${n.id}.shift`, dims, Float32Array.from(shift))], n.id);
  },
};

export const iterNormNode: NodeOp<IterNormNode> = {
  buffers(n) {
    const C = n.inShape[0];
    const G = n.attrs.groups;
    const T = n.attrs.iters;
    const g = C / G;
    // see runtime/kernels/iternorm.ts: iterNormSaveSize / iterNormTmpSize
    return [
      { kind: "save", size: C + G + G * g * g * (T + 2) },
      { kind: "tmp", size: 8 * g * g },
    ];
  },
  readsInputInBackward: true,
  forward(n, c) {
    // decorrelated batch norm (runtime/kernels/iternorm.ts): batch whitening in training,
    // the running mean and whitening matrix in evaluation
    const a = n.attrs;
    const size = prod(n.outShape);
    if (!n.frozen) c.uses.add("iterNormForwardTrain");
    c.uses.add("iterNormForwardEval");
    const C = n.inShape[0];
    c.consts.push(`const CFG_${n.id} = { C: ${C}, S: ${size / C}, G: ${a.groups}, T: ${a.iters}, eps: ${lit(a.eps)}, momentum: ${lit(a.momentum)} };`);
    const { g, b } = gammaBeta(n, c);
    const X = c.off(n.inputs[0]);
    const Z = c.off(`z:${n.id}`);
    const rm = c.off(`${n.id}.running_mean`);
    const rw = c.off(`${n.id}.running_wm`);
    // frozen (fine-tuning): evaluation mode in training too (the running mean and whitening matrix, kept)
    if (n.frozen) return [`iterNormForwardEval(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${rm}, ${rw}, n);`, ...c.tailForward(n, size)];
    return [
      `if (train) iterNormForwardTrain(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${c.off(`save:${n.id}`)}, ${c.off(`tmp:${n.id}`)}, ${rm}, ${rw}, n);`,
      `else iterNormForwardEval(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${rm}, ${rw}, n);`,
      ...c.tailForward(n, size),
    ];
  },
  backward(n, c) {
    c.uses.add("iterNormBackward");
    const a = n.attrs;
    const src = n.inputs[0];
    const g = a.affine ? c.off(`${n.id}.weight`) : -1;
    const dg = a.affine ? c.off(`grad:${n.id}.weight`) : -1;
    const dbeta = a.affine ? c.off(`grad:${n.id}.bias`) : -1;
    const needDx = c.grad(src) && !c.isViewOfX(src) && src !== "x";
    if (!needDx && !a.affine) return [];
    const call = (dx: number) => [
      `iterNormBackward(H, CFG_${n.id}, ${c.off(src)}, ${g}, ${c.off(`grad:${n.output}`)}, ${c.off(`save:${n.id}`)}, ${c.off(`tmp:${n.id}`)}, ${dx}, ${dg}, ${dbeta}, n);`,
    ];
    return needDx ? c.gradInto(src, prod(n.inShape), call) : call(-1);
  },
  penalty: noPenalty,
  pytorch(n, c) {
    const a = n.attrs;
    c.expectParams(n, a.affine ? ["weight", "bias"] : []);
    return {
      init: [
        `self.${n.id} = IterNorm(${n.inShape[0]}, groups=${a.groups}, iters=${a.iters}, eps=${c.py(a.eps)}, momentum=${c.py(a.momentum)}, affine=${c.py(a.affine)})`,
      ],
      forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`],
      batchNorm: true, // running statistics: a one-sample batch cannot train (as batch norm)
      preamble: ITER_NORM_PY.trim(),
    };
  },
  onnx(n, c) {
    // eval: gamma * W_run (x - running_mean) + beta, per group of C/G channels
    const s = n.outShape;
    const C = s[0];
    const { weight, bias } = iterNormLinear(n, c.get);
    const centered = c.g.op("Sub", [c.inp(n), c.g.init(`${n.id}.running_mean`, channelDims(s), c.get(`${n.id}.running_mean`))], `${n.id}/center`);
    return s.length === 1
      ? c.g.op("Gemm", [centered, c.g.init(`${n.id}.whiten`, [C, C], weight), c.g.init(`${n.id}.bias`, [C], bias)], n.id, { transB: int(1) })
      : c.g.op("Conv", [centered, c.g.init(`${n.id}.whiten`, [C, C, 1, 1], weight), c.g.init(`${n.id}.bias`, [C], bias)], n.id, { kernel_shape: ints([1, 1]) });
  },
};

/** Rows layer norm normalizes (per sample, or per position of a sequence) and their size. */
const lnRows = (n: LayerNormNode) => (n.attrs.perPosition ? { T: n.inShape[0], D: n.inShape[1] } : { T: 1, D: prod(n.inShape) });
const lnN = (n: LayerNormNode) => (lnRows(n).T === 1 ? "n" : `n * ${lnRows(n).T}`);

export const layerNormNode: NodeOp<LayerNormNode> = {
  causal: () => true,
  buffers: (n, B) => meanInvstd(B * lnRows(n).T),
  readsInputInBackward: true,
  alwaysWritesDx: true,
  forward(n, c) {
    c.uses.add("layerNormForward");
    const size = prod(n.outShape);
    c.consts.push(`const CFG_${n.id} = { D: ${lnRows(n).D}, eps: ${lit(n.attrs.eps)} };`);
    const { g, b } = gammaBeta(n, c);
    return [
      `layerNormForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${g}, ${b}, ${c.off(`z:${n.id}`)}, ${c.off(`mean:${n.id}`)}, ${c.off(`invstd:${n.id}`)}, ${lnN(n)});`,
      ...c.tailForward(n, size),
    ];
  },
  backward: normBackward("layerNormBackward", lnN as (n: never) => string),
  penalty: noPenalty,
  pytorch(n, c) {
    c.expectParams(n, n.attrs.affine ? ["weight", "bias"] : []);
    return {
      init: [
        `self.${n.id} = nn.LayerNorm(${c.py(n.attrs.perPosition ? [lnRows(n).D] : n.inShape)}, eps=${c.py(n.attrs.eps)}, elementwise_affine=${c.py(n.attrs.affine)})`,
      ],
      forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`],
    };
  },
  onnx(n, c) {
    // over every feature after the batch axis, or over the last axis at each position of a sequence
    const s = n.attrs.perPosition ? [lnRows(n).D] : n.outShape;
    const size = prod(s);
    const gamma = n.attrs.affine ? c.get(`${n.id}.weight`) : new Float32Array(size).fill(1);
    const beta = n.attrs.affine ? c.get(`${n.id}.bias`) : new Float32Array(size);
    return c.g.op("LayerNormalization", [c.inp(n), c.g.init(`${n.id}.weight`, s, gamma), c.g.init(`${n.id}.bias`, s, beta)], n.id, {
      axis: int(n.attrs.perPosition ? -1 : 1),
      epsilon: float(n.attrs.eps),
    });
  },
};

export const groupNormNode: NodeOp<GroupNormNode> = {
  buffers: (n, B) => meanInvstd(B * n.attrs.groups),
  readsInputInBackward: true,
  alwaysWritesDx: true,
  forward(n, c) {
    c.uses.add("groupNormForward");
    const size = prod(n.outShape);
    const C = n.inShape[0];
    c.consts.push(`const CFG_${n.id} = { C: ${C}, S: ${size / C}, G: ${n.attrs.groups}, eps: ${lit(n.attrs.eps)} };`);
    const { g, b } = gammaBeta(n, c);
    return [
      `groupNormForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${g}, ${b}, ${c.off(`z:${n.id}`)}, ${c.off(`mean:${n.id}`)}, ${c.off(`invstd:${n.id}`)}, n);`,
      ...c.tailForward(n, size),
    ];
  },
  backward: normBackward("groupNormBackward"),
  penalty: noPenalty,
  pytorch(n, c: PyCtx) {
    // instance norm is group norm with one group per channel (no running statistics)
    c.expectParams(n, n.attrs.affine ? ["weight", "bias"] : []);
    return {
      init: [`self.${n.id} = nn.GroupNorm(${n.attrs.groups}, ${n.inShape[0]}, eps=${c.py(n.attrs.eps)}, affine=${c.py(n.attrs.affine)})`],
      forward: [`${n.output} = self.${n.id}(${n.inputs[0]})`],
    };
  },
  onnx(n, c) {
    const s = n.outShape;
    const C = s[0];
    const G = n.attrs.groups;
    const gamma = n.attrs.affine ? c.get(`${n.id}.weight`) : new Float32Array(C).fill(1);
    const beta = n.attrs.affine ? c.get(`${n.id}.bias`) : new Float32Array(C);
    const eps = float(n.attrs.eps);
    if (G === C)
      return c.g.op("InstanceNormalization", [c.inp(n), c.g.init(`${n.id}.weight`, [C], gamma), c.g.init(`${n.id}.bias`, [C], beta)], n.id, { epsilon: eps });
    // (N, C, H, W) -> (N, G, C/G*H*W), normalize per (sample, group), back, per-channel affine
    const r = c.g.op("Reshape", [c.inp(n), c.g.shape(`${n.id}/groups_shape`, [0, G, -1])], `${n.id}/groups`);
    const ones = c.g.init(`${n.id}/ones`, [G], new Float32Array(G).fill(1));
    const zeros = c.g.init(`${n.id}/zeros`, [G], new Float32Array(G));
    const norm = c.g.op("InstanceNormalization", [r, ones, zeros], `${n.id}/norm`, { epsilon: eps });
    const back = c.g.op("Reshape", [norm, c.g.shape(`${n.id}/shape`, [0, ...s])], `${n.id}/reshape`);
    const dims = channelDims(s);
    const m = c.g.op("Mul", [back, c.g.init(`${n.id}.weight`, dims, gamma)], `${n.id}/scale`);
    return c.g.op("Add", [m, c.g.init(`${n.id}.bias`, dims, beta)], n.id);
  },
};

/** Decorrelated batch norm (runtime/kernels/iternorm.ts); torch has no module for it. Python source. */
const ITER_NORM_PY = String.raw`
class IterNorm(nn.Module):
    """Iterative normalization (Huang et al. 2019), as runtime/kernels/iternorm.ts: per group of g = C/G
    channels, over the m = n*H*W samples of the batch: xc = x - mu, Sigma = xc xc^T / m + eps I,
    SigmaN = Sigma / tr(Sigma), P_0 = I, P_k = 1.5 P_(k-1) - 0.5 P_(k-1)^3 SigmaN, W = P_T / sqrt(tr(Sigma)),
    y = weight * (W xc) + bias. Running mean and running_wm (G, g, g) move by momentum (no unbiased
    correction); evaluation uses them. The backward is autograd's, the exact gradient of this forward.
    Computed in float64 and rounded once, as the TypeScript kernel accumulates in double (the Newton
    iteration amplifies rounding)."""

    def __init__(self, channels, groups, iters, eps, momentum, affine):
        super().__init__()
        self.groups, self.iters, self.eps, self.momentum = groups, iters, eps, momentum
        g = channels // groups
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_wm", torch.eye(g).repeat(groups, 1, 1))

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        G = self.groups
        g = c // G
        xg = x.reshape(n, c, -1).transpose(0, 1).reshape(G, g, -1).to(torch.float64)  # (G, g, m)
        if self.training:
            m = xg.shape[2]
            mu = xg.mean(2, keepdim=True)
            xc = xg - mu
            eye = torch.eye(g, dtype=torch.float64, device=x.device).expand(G, g, g)
            sigma = xc @ xc.transpose(1, 2) / m + self.eps * eye
            tr = sigma.diagonal(dim1=1, dim2=2).sum(1).reshape(G, 1, 1)
            sn = sigma / tr
            p = eye
            for _ in range(self.iters):
                p = 1.5 * p - 0.5 * (p @ p @ p) @ sn
            w = p / tr.sqrt()
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(mu.reshape(c), alpha=self.momentum)
                self.running_wm.mul_(1 - self.momentum).add_(w, alpha=self.momentum)
        else:
            xc = xg - self.running_mean.reshape(G, g, 1).to(torch.float64)
            w = self.running_wm.to(torch.float64)
        y = (w @ xc).to(x.dtype).reshape(c, n, -1).transpose(0, 1).reshape(x.shape)
        if self.weight is not None:
            shape = [1, c] + [1] * (x.dim() - 2)
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y
`;

// ---- eval-mode weights for the ONNX exporter (float64, rounded to float32 once) -----------------

export type TensorLookup = (name: string) => Float32Array;

/** Eval-mode batch norm as a per-channel affine map y = x * scale + shift (float64). */
export interface Affine {
  scale: Float64Array;
  shift: Float64Array;
}

// bn node: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta
export function bnAffine(bn: BnNode, get: TensorLookup): Affine {
  const C = bn.outShape[0];
  const eps = bn.attrs.eps;
  const mean = get(`${bn.id}.running_mean`);
  const variance = get(`${bn.id}.running_var`);
  const gamma = bn.attrs.affine ? get(`${bn.id}.weight`) : undefined;
  const beta = bn.attrs.affine ? get(`${bn.id}.bias`) : undefined;
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/**
 * Eval-mode IterNorm (runtime/kernels/iternorm.ts) applied after centering: y = A (x - running_mean)
 * + beta with A the block-diagonal (C, C) matrix gamma_c * W_run[group](c, j) (zero across groups).
 * Exported as Sub + a 1x1 Conv (images) or a Gemm (features).
 */
export function iterNormLinear(n: IterNormNode, get: TensorLookup): { weight: Float32Array; bias: Float32Array } {
  const C = n.outShape[0];
  const G = n.attrs.groups;
  const g = C / G;
  const wm = get(`${n.id}.running_wm`);
  const gamma = n.attrs.affine ? get(`${n.id}.weight`) : undefined;
  const beta = n.attrs.affine ? get(`${n.id}.bias`) : undefined;
  const weight = new Float32Array(C * C);
  for (let grp = 0; grp < G; grp++)
    for (let a = 0; a < g; a++) {
      const row = grp * g + a;
      const s = gamma ? gamma[row] : 1;
      for (let b = 0; b < g; b++) weight[row * C + grp * g + b] = s * wm[grp * g * g + a * g + b];
    }
  return { weight, bias: beta ? Float32Array.from(beta) : new Float32Array(C) };
}
