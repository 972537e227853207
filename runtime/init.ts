// Parameter initializers, as torch.nn.init defines them, writing into H[off, off + prod(shape)).
// Runs once per tensor before training (never inside a step), so it may allocate (orthogonal
// does, for its QR). Randomness comes only from the `rng` passed in (one stream per tensor).
//
// fan_in / fan_out as PyTorch's _calculate_fan_in_and_fan_out: for a weight [out, in, ...k],
// receptive = prod(k), fan_in = in·receptive, fan_out = out·receptive. Dense [out, in] gives
// (in, out); conv [K, C/g, kh, kw] gives (C/g·kh·kw, K·kh·kw).
import { DnncError } from "./errors";
import type { Rng } from "./rng";

export type InitKind =
  | "xavier_normal"
  | "xavier_uniform"
  | "kaiming_normal"
  | "kaiming_uniform"
  | "orthogonal"
  | "normal"
  | "uniform"
  | "constant"
  | "zeros"
  | "ones"
  | "torch_default_linear"
  | "torch_default_bias";

export type Nonlinearity = "linear" | "conv" | "sigmoid" | "tanh" | "relu" | "leaky_relu" | "selu";

export interface InitSpec {
  kind: InitKind;
  /** kaiming: which fan keeps the variance (default fan_in). */
  mode?: "fan_in" | "fan_out";
  /** kaiming: the nonlinearity that follows (default leaky_relu, with a = 0 that is relu's gain). */
  nonlinearity?: Nonlinearity;
  /** kaiming: negative slope of the leaky_relu that follows (default 0). */
  a?: number;
  /** xavier, orthogonal: gain (default 1). */
  gain?: number;
  /** constant: the value. */
  value?: number;
  /** normal: mean (default 0) and std (default 1). */
  mean?: number;
  std?: number;
  /** uniform: bounds (default 0 and 1). */
  low?: number;
  high?: number;
  /** torch_default_bias: fan_in of the layer's weight (the bias shape [out] does not carry it). */
  fanIn?: number;
  /** Any kind: this row (of the first dimension) is then set to zero (an embedding's padding_idx, as nn.Embedding). */
  zeroRow?: number;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** [fan_in, fan_out] as PyTorch computes them; needs at least 2 dimensions. */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new DnncError(`fan_in and fan_out need a tensor of at least 2 dimensions, got [${shape.join(", ")}]`);
  }
  const receptive = numel(shape.slice(2));
  return [shape[1] * receptive, shape[0] * receptive];
}

/** torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const s = param ?? 0.01;
      return Math.sqrt(2 / (1 + s * s));
    }
    case "selu":
      return 3 / 4;
  }
}

function fillUniform(H: Float32Array, off: number, len: number, lo: number, hi: number, rng: Rng): void {
  for (let i = 0; i < len; i++) H[off + i] = rng.range(lo, hi);
}

function fillNormal(H: Float32Array, off: number, len: number, mean: number, std: number, rng: Rng): void {
  for (let i = 0; i < len; i++) H[off + i] = mean + std * rng.normal();
}

export function initTensor(H: Float32Array, off: number, shape: readonly number[], spec: InitSpec, rng: Rng): void {
  const len = numel(shape);
  if (spec.zeroRow !== undefined) {
    const { zeroRow, ...rest } = spec;
    initTensor(H, off, shape, rest, rng);
    const cols = len / shape[0];
    H.fill(0, off + zeroRow * cols, off + (zeroRow + 1) * cols);
    return;
  }
  switch (spec.kind) {
    case "zeros":
      H.fill(0, off, off + len);
      return;
    case "ones":
      H.fill(1, off, off + len);
      return;
    case "constant":
      H.fill(spec.value ?? 0, off, off + len);
      return;
    case "normal":
      fillNormal(H, off, len, spec.mean ?? 0, spec.std ?? 1, rng);
      return;
    case "uniform":
      fillUniform(H, off, len, spec.low ?? 0, spec.high ?? 1, rng);
      return;
    case "xavier_normal": {
      const [fi, fo] = fans(shape);
      fillNormal(H, off, len, 0, (spec.gain ?? 1) * Math.sqrt(2 / (fi + fo)), rng);
      return;
    }
    case "xavier_uniform": {
      const [fi, fo] = fans(shape);
      const bound = (spec.gain ?? 1) * Math.sqrt(6 / (fi + fo));
      fillUniform(H, off, len, -bound, bound, rng);
      return;
    }
    case "kaiming_normal":
    case "kaiming_uniform": {
      const [fi, fo] = fans(shape);
      const fan = (spec.mode ?? "fan_in") === "fan_in" ? fi : fo;
      const std = calculateGain(spec.nonlinearity ?? "leaky_relu", spec.a ?? 0) / Math.sqrt(fan);
      if (spec.kind === "kaiming_normal") fillNormal(H, off, len, 0, std, rng);
      else fillUniform(H, off, len, -Math.sqrt(3) * std, Math.sqrt(3) * std, rng);
      return;
    }
    case "torch_default_linear": {
      // kaiming_uniform(a=√5): gain √(2/6), bound √3·gain/√fan_in = 1/√fan_in
      const bound = 1 / Math.sqrt(fans(shape)[0]);
      fillUniform(H, off, len, -bound, bound, rng);
      return;
    }
    case "torch_default_bias": {
      const fi = spec.fanIn;
      if (fi === undefined || !(fi > 0)) {
        throw new DnncError("torch_default_bias needs the fan_in of its layer's weight (spec.fanIn)");
      }
      const bound = 1 / Math.sqrt(fi);
      fillUniform(H, off, len, -bound, bound, rng);
      return;
    }
    case "orthogonal":
      orthogonal(H, off, shape, spec.gain ?? 1, rng);
      return;
  }
}

// torch.nn.init.orthogonal_: W (rows = shape[0], cols = prod(rest)) from the QR of a normal matrix
// (transposed when rows < cols), Q's columns multiplied by sign(diag R), times gain. That Q is
// exactly what Gram-Schmidt gives (its R has a positive diagonal), so we orthonormalize the
// columns of the tall m x n normal matrix by modified Gram-Schmidt, twice for full precision.
// Result: W Wᵀ = gain² I when rows <= cols, Wᵀ W = gain² I when rows >= cols.
function orthogonal(H: Float32Array, off: number, shape: readonly number[], gain: number, rng: Rng): void {
  if (shape.length < 2) throw new DnncError(`orthogonal init needs at least 2 dimensions, got [${shape.join(", ")}]`);
  const rows = shape[0];
  const cols = numel(shape) / rows;
  const m = Math.max(rows, cols);
  const n = Math.min(rows, cols);
  // A is m x n, column j at A[j*m, (j+1)*m)
  const A = new Float64Array(m * n);
  // draw in the row-major order of the rows x cols matrix, as torch fills `flattened`
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = rng.normal();
      if (rows >= cols) A[c * m + r] = v;
      else A[r * m + c] = v; // transposed: the matrix's row r is column r of A
    }
  }
  for (let j = 0; j < n; j++) {
    const cj = j * m;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        const cp = p * m;
        let dot = 0;
        for (let i = 0; i < m; i++) dot += A[cp + i] * A[cj + i];
        for (let i = 0; i < m; i++) A[cj + i] -= dot * A[cp + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += A[cj + i] * A[cj + i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) A[cj + i] /= norm;
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      H[off + r * cols + c] = gain * (rows >= cols ? A[c * m + r] : A[r * m + c]);
    }
  }
}
