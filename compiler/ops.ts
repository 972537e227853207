// The layer catalogue: for each op, its arguments (as a JSON schema that ajv compiles on first
// use, or at build time for the bundled CLI: generated/), which arguments may be given by
// position, and its shape rule. The checker uses it to validate a spec; lowering uses it to infer
// shapes and to create parameters.
import type { ErrorObject, ValidateFunction } from "ajv";
import { compileValidator, type SchemaFlavour } from "./generated/runtime-ajv";

export type ArgSchema = Record<string, unknown> & { description?: string };

export const INITS = [
  "torch_default",
  "xavier_normal",
  "xavier_uniform",
  "kaiming_normal",
  "kaiming_uniform",
  "orthogonal",
  "zeros",
  "ones",
  "normal",
  "uniform",
] as const;

export const ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "elu"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

const posInt = { type: "integer", minimum: 1 } as const;
const prob = { type: "number", minimum: 0, maximum: 1, exclusiveMaximum: undefined } as const;
const nonNeg = { type: "number", minimum: 0 } as const;
const intOrPair = {
  anyOf: [posInt, { type: "array", items: posInt, minItems: 2, maxItems: 2 }],
} as const;
const nonNegIntOrPair = {
  anyOf: [
    { type: "integer", minimum: 0 },
    { type: "array", items: { type: "integer", minimum: 0 }, minItems: 2, maxItems: 2 },
  ],
} as const;
const initArg = { type: "string", enum: [...INITS] } as const;
const decayArgs = {
  weight_decay: nonNeg,
  l1: nonNeg,
  max_norm: { type: "number", exclusiveMinimum: 0 },
  weight_norm: { type: "boolean" },
  init: initArg,
  /** fan_in (default) or fan_out for kaiming_*; the nonlinearity that follows, for its gain; an explicit gain. */
  init_mode: { type: "string", enum: ["fan_in", "fan_out"] },
  init_nonlinearity: { type: "string", enum: ["relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu"] },
  init_gain: { type: "number", exclusiveMinimum: 0 },
} as const;

export interface OpDef {
  name: string;
  /** Argument names that may be given by position, in order. */
  positional: string[];
  /** JSON schema of the argument object (properties, required, defaults). */
  schema: { type: "object"; properties: Record<string, unknown>; required?: string[] };
  /** Which input ranks are accepted: "any", 1 (features), 3 (C,H,W). */
  rank: "any" | 1 | 3;
  /** An elementwise op: may be fused into its producer's epilogue. */
  elementwise?: boolean;
  /** Takes a `{ ... }` body (residual). */
  body?: boolean;
  doc: string;
}

function op(def: Omit<OpDef, "schema"> & { args: Record<string, unknown>; required?: string[] }): OpDef {
  const { args, required, ...rest } = def;
  return { ...rest, schema: { type: "object", properties: args, ...(required ? { required } : {}) } };
}

export const OPS: Record<string, OpDef> = {
  dense: op({
    name: "dense",
    positional: ["units"],
    args: { units: posInt, bias: { type: "boolean", default: true }, ...decayArgs },
    required: ["units"],
    rank: 1,
    doc: "Fully connected layer y = x Wᵀ + b, W stored [units, in] as in PyTorch.",
  }),
  conv2d: op({
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
  }),
  maxpool2d: op({
    name: "maxpool2d",
    positional: ["kernel", "stride"],
    args: { kernel: intOrPair, stride: intOrPair, padding: { ...nonNegIntOrPair, default: 0 } },
    required: ["kernel"],
    rank: 3,
    doc: "Max pooling; stride defaults to the kernel size.",
  }),
  avgpool2d: op({
    name: "avgpool2d",
    positional: ["kernel", "stride"],
    args: { kernel: intOrPair, stride: intOrPair, padding: { ...nonNegIntOrPair, default: 0 } },
    required: ["kernel"],
    rank: 3,
    doc: "Average pooling (padding counts as zeros, as PyTorch's count_include_pad=True).",
  }),
  global_avgpool: op({ name: "global_avgpool", positional: [], args: {}, rank: 3, doc: "Mean over H×W per channel: [C,H,W] → [C]." }),
  flatten: op({ name: "flatten", positional: [], args: {}, rank: "any", doc: "Reshape [C,H,W] → [C·H·W] (no copy)." }),
  bn: op({
    name: "bn",
    positional: [],
    args: {
      momentum: { type: "number", minimum: 0, maximum: 1, default: 0.1 },
      eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 },
      affine: { type: "boolean", default: true },
    },
    rank: "any",
    doc: "Batch norm over the batch (per feature) or over N·H·W (per channel).",
  }),
  iternorm: op({
    name: "iternorm",
    positional: ["groups"],
    args: {
      groups: { type: "integer", minimum: 1, maximum: 4096, default: 1 },
      iters: { type: "integer", minimum: 1, maximum: 64, default: 5 },
      momentum: { type: "number", minimum: 0, maximum: 1, default: 0.1 },
      eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 },
      affine: { type: "boolean", default: true },
    },
    rank: "any",
    doc: "Decorrelated batch norm by iterative normalization (IterNorm, Huang et al. 2019): each group of C/G channels is ZCA-whitened over the batch with Σ^-1/2 approximated by `iters` Newton iterations; per-channel affine; running mean and whitening matrix for eval.",
  }),
  layernorm: op({
    name: "layernorm",
    positional: [],
    args: { eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 }, affine: { type: "boolean", default: true } },
    rank: "any",
    doc: "Layer norm over all features of one sample, per-element affine.",
  }),
  groupnorm: op({
    name: "groupnorm",
    positional: ["groups"],
    args: {
      groups: posInt,
      eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 },
      affine: { type: "boolean", default: true },
    },
    required: ["groups"],
    rank: 3,
    doc: "Group norm over C/G channels × H × W per sample, per-channel affine.",
  }),
  instancenorm: op({
    name: "instancenorm",
    positional: [],
    args: { eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 }, affine: { type: "boolean", default: true } },
    rank: 3,
    doc: "Instance norm: group norm with one group per channel.",
  }),
  relu: op({ name: "relu", positional: [], args: {}, rank: "any", elementwise: true, doc: "max(0, x)" }),
  leaky_relu: op({
    name: "leaky_relu",
    positional: ["slope"],
    args: { slope: { type: "number", minimum: 0, default: 0.01 } },
    rank: "any",
    elementwise: true,
    doc: "x if x > 0 else slope·x",
  }),
  tanh: op({ name: "tanh", positional: [], args: {}, rank: "any", elementwise: true, doc: "tanh(x)" }),
  sigmoid: op({ name: "sigmoid", positional: [], args: {}, rank: "any", elementwise: true, doc: "1/(1+e^-x)" }),
  gelu: op({ name: "gelu", positional: [], args: {}, rank: "any", elementwise: true, doc: "x·Φ(x), exact (erf)" }),
  elu: op({
    name: "elu",
    positional: ["alpha"],
    args: { alpha: { type: "number", exclusiveMinimum: 0, default: 1 } },
    rank: "any",
    elementwise: true,
    doc: "x if x > 0 else alpha·(e^x − 1)",
  }),
  dropout: op({
    name: "dropout",
    positional: ["p"],
    args: { p: { ...prob, default: 0.5, maximum: 0.99 } },
    rank: "any",
    elementwise: true,
    doc: "Inverted dropout; p is the DROP probability (PyTorch/Keras convention).",
  }),
  spatial_dropout: op({
    name: "spatial_dropout",
    positional: ["p"],
    args: { p: { ...prob, default: 0.5, maximum: 0.99 } },
    rank: 3,
    elementwise: true,
    doc: "Drops whole channels of a [C,H,W] feature map; p is the drop probability.",
  }),
  repeat: op({
    name: "repeat",
    positional: ["n"],
    args: { n: { type: "integer", minimum: 1, maximum: 1000 } },
    required: ["n"],
    rank: "any",
    body: true,
    doc: "The body chain repeated n times (each repetition has its own parameters): depth as a number.",
  }),
  residual: op({
    name: "residual",
    positional: [],
    args: { proj: { type: "string", enum: ["auto", "none", "dense", "conv"], default: "auto" } },
    rank: "any",
    body: true,
    doc: "y = body(x) + x, or + proj(x) when the shapes differ (1×1 conv or dense projection).",
  }),
};

for (const o of Object.values(OPS)) {
  for (const p of Object.values(o.schema.properties) as Record<string, unknown>[]) {
    if (p.exclusiveMaximum === undefined) delete p.exclusiveMaximum;
  }
  (o.schema as Record<string, unknown>).additionalProperties = false;
}

/** Every schema given to lazyValidator, in order: the build compiles them all ahead of time. */
export const SCHEMA_REGISTRY: { schema: object; flavour: SchemaFlavour }[] = [];

/** The identity of a schema for the precompiled table (its JSON text, computed on first use). */
export function schemaKey(schema: object, flavour: SchemaFlavour): string {
  return flavour + ":" + JSON.stringify(schema);
}

/**
 * A validator compiled once, on first use (compiling every schema at start-up cost `dnnc check`
 * ~250 ms; a spec uses a handful of them). In the bundled CLI it is looked up among the validators
 * compiled at build time instead. `flavour`: "args" fills defaults and is strict, "ir" is not.
 */
export function lazyValidator(schema: object, flavour: SchemaFlavour = "args"): ValidateFunction {
  SCHEMA_REGISTRY.push({ schema, flavour });
  let compiled: ValidateFunction | undefined;
  const v = ((data: unknown) => {
    compiled ??= compileValidator(schema, flavour);
    const ok = compiled(data) as boolean;
    v.errors = compiled.errors;
    return ok;
  }) as ValidateFunction;
  return v;
}

/** ajv's `errorsText` with its defaults, without an ajv instance. */
export function errorsText(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "No errors";
  return errors.map((e) => `data${e.instancePath} ${e.message}`).join(", ");
}

/** Argument validators, each compiled once (lazily). */
export const OP_VALIDATORS = Object.fromEntries(Object.entries(OPS).map(([k, o]) => [k, lazyValidator(o.schema)]));
