// Activations: elementwise ops fused into their producer's epilogue (fuse-elementwise.ts). Each
// is one entry below: its value and derivative as expressions of `v` (emitted into the
// producer's sweeps), its second derivative (the smoothness penalties), its PyTorch function and
// its ONNX ops. The runtime kernels with their references are runtime/kernels/activations.ts;
// the scalar helpers the expressions call (gelu, silu, ...) live there too, and the expressions
// are checked against PyTorch 1.13 values in test/ops-activations.test.ts.
import type { NodeOf, TailOf } from "../ir";
import type { Json } from "../spec";
import { float } from "../export/onnx-graph";
import { layer, lit, type LayerOp, type OnnxCtx, type SecondParts, type TailOp } from "./op";

interface ActivationDef {
  name: string;
  /** Conventions for docs/language.md. */
  notes?: string;
  positional?: string[];
  args?: Record<string, unknown>;
  doc: string;
  /** Runtime helpers the expressions call (imported by the trainer). */
  helpers?: string[];
  /** The value at `v`. */
  value(v: string, a: Record<string, number>): string;
  /** The derivative at the input `v`. */
  grad(v: string, a: Record<string, number>): string;
  /** The value, first and second derivative at `v` for the penalties; `k` makes names unique. */
  second(a: Record<string, number>, k: number): SecondParts;
  /** PyTorch: the functional form applied to `v`. */
  torch(v: string, a: Record<string, number>, py: (x: Json) => string): string;
  /** ONNX (opset 17): the ops applied to x. */
  onnx(x: string, id: string, a: Record<string, number>, c: OnnxCtx): string;
}

export type ActivationNode = NodeOf<(typeof NAMES)[number], Record<string, Json>>;
export type ActivationTail = TailOf<(typeof NAMES)[number]>;

function activation(d: ActivationDef): { layer: LayerOp; tail: TailOp } {
  // the runtime helpers an emitted expression calls
  const uses = (c: { uses: Set<string> }, ...code: string[]) => {
    for (const h of d.helpers ?? []) if (code.some((s) => new RegExp(`\\b${h}\\(`).test(s))) c.uses.add(h);
  };
  const attrs = (t: { attrs: Record<string, Json> }) => t.attrs as Record<string, number>;
  return {
    layer: layer({
      name: d.name,
      positional: d.positional ?? [],
      args: d.args ?? {},
      rank: "any",
      elementwise: true,
      doc: d.doc,
      shape: "same",
      ...(d.notes ? { notes: d.notes } : {}),
      lower(c, l, input, shape) {
        const n = c.node<ActivationNode>(d.name as ActivationNode["op"], input, shape, shape, l, { ...l.args });
        return [n.output, shape];
      },
    }),
    tail: {
      forward(t, _n, c) {
        const line = `v = ${d.value("v", attrs(t))};`;
        uses(c, line);
        return [line];
      },
      backward(t, _n, c) {
        const line = `d *= ${d.grad("v", attrs(t))}; v = ${d.value("v", attrs(t))};`;
        uses(c, line);
        return [line];
      },
      second(t, _n, c, k) {
        const p = d.second(attrs(t), k);
        uses(c, p.pre, p.a1, p.a2 ?? "", p.val);
        return p;
      },
      pytorch: (t, n, v, c) => ({ init: [], forward: [`${v} = ${d.torch(v, attrs(t), c.py)}`] }),
      onnx: (x, id, a, c) => d.onnx(x, id, a as Record<string, number>, c),
    },
  };
}

const sigmoidOf = (v: string) => `1 / (1 + Math.exp(-${v}))`;

const defs: ActivationDef[] = [
  {
    name: "relu",
    doc: "max(0, x)",
    notes: "relu(NaN) = NaN, as PyTorch",
    value: (v) => `Math.max(${v}, 0)`, // NaN stays NaN (as in PyTorch), so divergence is seen, not masked
    grad: (v) => `(${v} > 0 ? 1 : 0)`,
    second: () => ({ pre: "", a1: "(v > 0 ? 1 : 0)", a2: null, val: "(v > 0 ? v : 0)" }),
    torch: (v) => `F.relu(${v})`,
    onnx: (x, id, _a, c) => c.g.op("Relu", [x], id),
  },
  {
    name: "leaky_relu",
    positional: ["slope"],
    args: { slope: { type: "number", minimum: 0, default: 0.01 } },
    doc: "x if x > 0 else slope·x",
    value: (v, a) => `${v} > 0 ? ${v} : ${lit(a.slope)} * ${v}`,
    grad: (v, a) => `(${v} > 0 ? 1 : ${lit(a.slope)})`,
    second: (a) => ({ pre: "", a1: `(v > 0 ? 1 : ${lit(a.slope)})`, a2: null, val: `(v > 0 ? v : ${lit(a.slope)} * v)` }),
    torch: (v, a, py) => `F.leaky_relu(${v}, negative_slope=${py(a.slope)})`,
    onnx: (x, id, a, c) => c.g.op("LeakyRelu", [x], id, { alpha: float(a.slope ?? 0.01) }),
  },
  {
    name: "tanh",
    doc: "tanh(x)",
    value: (v) => `Math.tanh(${v})`,
    grad: (v) => `(1 - Math.tanh(${v}) ** 2)`,
    second: (_a, k) => ({ pre: `const t${k} = Math.tanh(v); const g${k} = 1 - t${k} * t${k};`, a1: `g${k}`, a2: `-2 * t${k} * g${k}`, val: `t${k}` }),
    torch: (v) => `torch.tanh(${v})`,
    onnx: (x, id, _a, c) => c.g.op("Tanh", [x], id),
  },
  {
    name: "sigmoid",
    doc: "1/(1+e^-x)",
    value: (v) => sigmoidOf(v),
    grad: (v) => `((s) => s * (1 - s))(${sigmoidOf(v)})`,
    second: (_a, k) => ({
      pre: `const s${k} = 1 / (1 + Math.exp(-v)); const g${k} = s${k} * (1 - s${k});`,
      a1: `g${k}`,
      a2: `g${k} * (1 - 2 * s${k})`,
      val: `s${k}`,
    }),
    torch: (v) => `torch.sigmoid(${v})`,
    onnx: (x, id, _a, c) => c.g.op("Sigmoid", [x], id),
  },
  {
    name: "gelu",
    doc: "x·Φ(x), exact (erf)",
    notes: "exact (erf), PyTorch's default `nn.GELU()`",
    helpers: ["gelu", "geluGrad"],
    value: (v) => `gelu(${v})`,
    grad: (v) => `geluGrad(${v})`,
    // gelu'' = φ(v)·(2 − v²)
    second: () => ({ pre: "", a1: "geluGrad(v)", a2: "0.3989422804014327 * Math.exp(-0.5 * v * v) * (2 - v * v)", val: "gelu(v)" }),
    torch: (v) => `F.gelu(${v})  # exact (erf) form`,
    onnx(x, id, _a, c) {
      // x * 0.5 * (1 + erf(x / sqrt 2)), exact (erf) as the trainer
      const e = c.g.op("Erf", [c.g.op("Div", [x, c.g.scalar(`${id}/sqrt2`, Math.SQRT2)], `${id}/div`)], `${id}/erf`);
      const one = c.g.op("Add", [e, c.g.scalar(`${id}/one`, 1)], `${id}/add`);
      const half = c.g.op("Mul", [x, c.g.scalar(`${id}/half`, 0.5)], `${id}/half_x`);
      return c.g.op("Mul", [half, one], id);
    },
  },
  {
    name: "elu",
    positional: ["alpha"],
    args: { alpha: { type: "number", exclusiveMinimum: 0, default: 1 } },
    doc: "x if x > 0 else alpha·(e^x − 1)",
    value: (v, a) => `${v} > 0 ? ${v} : ${lit(a.alpha)} * (Math.exp(${v}) - 1)`,
    grad: (v, a) => `(${v} > 0 ? 1 : ${lit(a.alpha)} * Math.exp(${v}))`,
    // at 0: the first derivative of the negative side (alpha), the second of the positive (0), as PyTorch's autograd
    second: (a, k) => ({
      pre: `const e${k} = v > 0 ? 1 : ${lit(a.alpha)} * Math.exp(v);`,
      a1: `e${k}`,
      a2: `(v >= 0 ? 0 : e${k})`,
      val: `(v > 0 ? v : e${k} - ${lit(a.alpha)})`,
    }),
    torch: (v, a, py) => `F.elu(${v}, alpha=${py(a.alpha)})`,
    onnx: (x, id, a, c) => c.g.op("Elu", [x], id, { alpha: float(a.alpha ?? 1) }),
  },
  {
    name: "silu",
    doc: "x·σ(x) (swish)",
    notes: "PyTorch's `F.silu`",
    helpers: ["silu", "siluGrad", "siluGrad2"],
    value: (v) => `silu(${v})`,
    grad: (v) => `siluGrad(${v})`,
    second: () => ({ pre: "", a1: "siluGrad(v)", a2: "siluGrad2(v)", val: "silu(v)" }),
    torch: (v) => `F.silu(${v})`,
    // opset 17 has no SiLU: x * Sigmoid(x)
    onnx: (x, id, _a, c) => c.g.op("Mul", [x, c.g.op("Sigmoid", [x], `${id}/sigmoid`)], id),
  },
  {
    name: "softplus",
    doc: "log(1 + e^x) (beta 1; linear above 20, as PyTorch)",
    notes: "PyTorch's `F.softplus` (beta 1, threshold 20)",
    helpers: ["softplus", "softplusGrad", "softplusGrad2"],
    value: (v) => `softplus(${v})`,
    grad: (v) => `softplusGrad(${v})`,
    second: () => ({ pre: "", a1: "softplusGrad(v)", a2: "softplusGrad2(v)", val: "softplus(v)" }),
    torch: (v) => `F.softplus(${v})`,
    onnx: (x, id, _a, c) => c.g.op("Softplus", [x], id),
  },
  {
    name: "mish",
    doc: "x·tanh(softplus(x))",
    notes: "PyTorch's `F.mish`",
    helpers: ["mish", "mishGrad", "mishGrad2"],
    value: (v) => `mish(${v})`,
    grad: (v) => `mishGrad(${v})`,
    second: () => ({ pre: "", a1: "mishGrad(v)", a2: "mishGrad2(v)", val: "mish(v)" }),
    torch: (v) => `F.mish(${v})`,
    // opset 17 has no Mish (18 does): x * Tanh(Softplus(x))
    onnx: (x, id, _a, c) => c.g.op("Mul", [x, c.g.op("Tanh", [c.g.op("Softplus", [x], `${id}/softplus`)], `${id}/tanh`)], id),
  },
];

const NAMES = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "silu", "softplus", "mish"] as const;
export type ActivationName = (typeof NAMES)[number];

const built = Object.fromEntries(defs.map((d) => [d.name, activation(d)])) as Record<ActivationName, { layer: LayerOp; tail: TailOp }>;
export const ACTIVATION_LAYERS = Object.fromEntries(NAMES.map((k) => [k, built[k].layer])) as Record<ActivationName, LayerOp>;
export const ACTIVATION_TAILS = Object.fromEntries(NAMES.map((k) => [k, built[k].tail])) as Record<ActivationName, TailOp>;
/** The activation names, in the language's order. */
export const ACTIVATIONS: readonly ActivationName[] = NAMES;
