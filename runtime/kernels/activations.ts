// Elementwise activations, forward and backward, over `len` contiguous elements of H.
// x is (len), y is (len): y = f(x).  dy is (len), dx is (len): dx = dy * f'(x).
// `alpha` is the one hyperparameter: leaky_relu's negative slope (PyTorch default 0.01) and
// elu's alpha (default 1); the others ignore it.
//
// In place: forward may run with y === x, backward with dx === dy. Backward reads y for relu,
// tanh, sigmoid and elu (so their forward may overwrite x) and x for leaky_relu, gelu, silu,
// softplus and mish; `backwardReadsInput(kind)` tells which, so that x is kept alive.
// Scalar helpers (`sigmoid`, `gelu`, `geluGrad`, `silu`, `softplus`, `mish`, their first and
// second derivatives, `erf`, `erfc`) are exported for generated code that fuses an activation
// into another loop (compiler/ops/activations.ts emits calls to them).

export type ActivationKind = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu" | "elu" | "silu" | "softplus" | "mish";

export const ACTIVATION_KINDS: readonly ActivationKind[] = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "silu", "softplus", "mish"];

/** The default of `alpha` per kind, as in PyTorch (LeakyReLU 0.01, ELU 1). */
export function defaultAlpha(kind: ActivationKind): number {
  return kind === "leaky_relu" ? 0.01 : kind === "elu" ? 1 : 0;
}

/** True when activationBackward reads x (else it reads only y and dy). */
export function backwardReadsInput(kind: ActivationKind): boolean {
  return kind === "leaky_relu" || kind === "gelu" || kind === "silu" || kind === "softplus" || kind === "mish";
}

// erfc(z) for z >= 0 as t·exp(-z² + P(t)), t = 1/(1 + z/2), P a degree-10 polynomial fitted
// (Chebyshev least squares against mpmath, t in [1/7, 1], by test/reference/dense/fit_erfc.py) to
// ln(erfc(z)/t) + z²: the form of Numerical Recipes' erfcc with a fit of our own. On [-12, 12]
// the error of erf stays below 5.3e-9 and the relative error of erfc below 1.2e-8, so the
// Gaussian tail of gelu keeps its precision.
const E0 = -1.2655568989880366,
  E1 = 1.0013224543962393,
  E2 = 0.3581843267845206;
const E3 = 0.2045939096410629,
  E4 = -0.6349578797797767,
  E5 = 1.4826450768301238;
const E6 = -3.2559623009853706,
  E7 = 3.92501975445982,
  E8 = -2.5785703588376547;
const E9 = 0.891727871840118,
  E10 = -0.12844595012544427;

function erfcPos(z: number): number {
  if (z > 26) return 0; // below the smallest double
  const t = 1 / (1 + 0.5 * z);
  const p = E0 + t * (E1 + t * (E2 + t * (E3 + t * (E4 + t * (E5 + t * (E6 + t * (E7 + t * (E8 + t * (E9 + t * E10)))))))));
  return t * Math.exp(-z * z + p);
}

/** Complementary error function, |relative error| < 1.2e-8 (checked on [-12, 12]). */
export function erfc(x: number): number {
  return x >= 0 ? erfcPos(x) : 2 - erfcPos(-x);
}

/** Error function, |error| < 1e-8. */
export function erf(x: number): number {
  return x >= 0 ? 1 - erfcPos(x) : erfcPos(-x) - 1;
}

export function sigmoid(x: number): number {
  // both branches avoid exp overflow
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/** Exact GELU (PyTorch's default nn.GELU()): x·Φ(x) with Φ(x) = erfc(-x/√2)/2. */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x * SQRT1_2);
}

/** d gelu / dx = Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** softplus with PyTorch's defaults (beta 1, threshold 20: linear above). */
export function softplus(x: number): number {
  return x > 20 ? x : x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** d softplus / dx = σ(x) (1 above the threshold, as PyTorch's backward). */
export function softplusGrad(x: number): number {
  return x > 20 ? 1 : sigmoid(x);
}

/** d² softplus / dx² = σ(x)(1 − σ(x)) (0 above the threshold). */
export function softplusGrad2(x: number): number {
  if (x > 20) return 0;
  const s = sigmoid(x);
  return s * (1 - s);
}

/** SiLU (swish): x·σ(x). */
export function silu(x: number): number {
  return x * sigmoid(x);
}

/** d silu / dx = σ(x)(1 + x(1 − σ(x))). */
export function siluGrad(x: number): number {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
}

/** d² silu / dx² = σ(x)(1 − σ(x))(2 + x(1 − 2σ(x))). */
export function siluGrad2(x: number): number {
  const s = sigmoid(x);
  return s * (1 - s) * (2 + x * (1 - 2 * s));
}

/** Mish: x·tanh(softplus(x)). */
export function mish(x: number): number {
  return x * Math.tanh(softplus(x));
}

/** d mish / dx = t + x·σ(x)(1 − t²), t = tanh(softplus(x)) (PyTorch's formula). */
export function mishGrad(x: number): number {
  const t = Math.tanh(softplus(x));
  return t + x * sigmoid(x) * (1 - t * t);
}

/** d² mish / dx² = σ(x)(1 − t²)(2 + x(1 − σ(x)) − 2x·t·σ(x)). */
export function mishGrad2(x: number): number {
  const t = Math.tanh(softplus(x));
  const s = sigmoid(x);
  return s * (1 - t * t) * (2 + x * (1 - s) - 2 * x * t * s);
}

// x is (len), y is (len)
export function activationForward(kind: ActivationKind, H: Float32Array, x: number, y: number, len: number, alpha = defaultAlpha(kind)): void {
  switch (kind) {
    case "relu":
      for (let i = 0; i < len; i++) {
        const v = H[x + i];
        H[y + i] = v <= 0 ? 0 : v; // NaN stays NaN, as in PyTorch (-0 gives +0, as Math.max(v, 0))
      }
      return;
    case "leaky_relu":
      for (let i = 0; i < len; i++) {
        const v = H[x + i];
        H[y + i] = v > 0 ? v : alpha * v;
      }
      return;
    case "tanh":
      for (let i = 0; i < len; i++) H[y + i] = Math.tanh(H[x + i]);
      return;
    case "sigmoid":
      for (let i = 0; i < len; i++) H[y + i] = sigmoid(H[x + i]);
      return;
    case "gelu":
      for (let i = 0; i < len; i++) H[y + i] = gelu(H[x + i]);
      return;
    case "elu":
      for (let i = 0; i < len; i++) {
        const v = H[x + i];
        H[y + i] = v > 0 ? v : alpha * Math.expm1(v);
      }
      return;
    case "silu":
      for (let i = 0; i < len; i++) H[y + i] = silu(H[x + i]);
      return;
    case "softplus":
      for (let i = 0; i < len; i++) H[y + i] = softplus(H[x + i]);
      return;
    case "mish":
      for (let i = 0; i < len; i++) H[y + i] = mish(H[x + i]);
      return;
  }
}

// x, y, dy, dx are (len); dx may alias dy
export function activationBackward(
  kind: ActivationKind,
  H: Float32Array,
  x: number,
  y: number,
  dy: number,
  dx: number,
  len: number,
  alpha = defaultAlpha(kind),
): void {
  switch (kind) {
    case "relu": // reads y: y > 0 exactly when x > 0 (gradient 0 at x = 0, as PyTorch)
      for (let i = 0; i < len; i++) H[dx + i] = H[y + i] > 0 ? H[dy + i] : 0;
      return;
    case "leaky_relu": // reads x (a negative slope would break the sign test on y)
      for (let i = 0; i < len; i++) H[dx + i] = H[x + i] > 0 ? H[dy + i] : alpha * H[dy + i];
      return;
    case "tanh":
      for (let i = 0; i < len; i++) {
        const t = H[y + i];
        H[dx + i] = H[dy + i] * (1 - t * t);
      }
      return;
    case "sigmoid":
      for (let i = 0; i < len; i++) {
        const s = H[y + i];
        H[dx + i] = H[dy + i] * s * (1 - s);
      }
      return;
    case "gelu":
      for (let i = 0; i < len; i++) H[dx + i] = H[dy + i] * geluGrad(H[x + i]);
      return;
    case "elu": // reads y (alpha > 0): for x <= 0, dy/dx = alpha·e^x = y + alpha
      for (let i = 0; i < len; i++) {
        const v = H[y + i];
        H[dx + i] = v > 0 ? H[dy + i] : H[dy + i] * (v + alpha);
      }
      return;
    case "silu":
      for (let i = 0; i < len; i++) H[dx + i] = H[dy + i] * siluGrad(H[x + i]);
      return;
    case "softplus":
      for (let i = 0; i < len; i++) {
        const v = H[x + i];
        H[dx + i] = v > 20 ? H[dy + i] : H[dy + i] * sigmoid(v);
      }
      return;
    case "mish":
      for (let i = 0; i < len; i++) H[dx + i] = H[dy + i] * mishGrad(H[x + i]);
      return;
  }
}
