// Argument schemas shared by several op modules (JSON-schema fragments), and the weight
// initializers a layer may ask for.

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

export const posInt = { type: "integer", minimum: 1 } as const;
export const prob = { type: "number", minimum: 0, maximum: 1, exclusiveMaximum: undefined } as const;
export const nonNeg = { type: "number", minimum: 0 } as const;
export const intOrPair = {
  anyOf: [posInt, { type: "array", items: posInt, minItems: 2, maxItems: 2 }],
} as const;
export const nonNegIntOrPair = {
  anyOf: [
    { type: "integer", minimum: 0 },
    { type: "array", items: { type: "integer", minimum: 0 }, minItems: 2, maxItems: 2 },
  ],
} as const;
const initArg = { type: "string", enum: [...INITS] } as const;

/** The per-layer regularization and initialization arguments of dense and conv2d. */
export const decayArgs = {
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

/** eps and affine of the norms. */
export const normArgs = {
  eps: { type: "number", exclusiveMinimum: 0, default: 1e-5 },
  affine: { type: "boolean", default: true },
} as const;
