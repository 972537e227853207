// Elementwise epilogues of a dense layer in WebAssembly SIMD (f32x4), with the TypeScript loops
// the compiler emits today as their references and as the fallback on the ts backend. Each wasm
// kernel writes the same bytes as its reference (float32 add and multiply are correctly rounded;
// relu is v & ~(v <= 0), which is `v <= 0 ? 0 : v`: +0 for -0, NaN stays NaN as in PyTorch):
// test/wasm-optim-kernels.test.ts.
// Offsets are float offsets into H; y, z, dy, dz are (n, out) row-major, b and db are (out).
import type { Backend } from "./backend";
import { wasmOptimExports } from "./optim-fast";
import { convExportsOf, convParallelOf } from "./wasm/conv-kernels";
import { batchNormNodeForward, type BatchNormNodeConfig } from "./kernels/norm";

/** Below this many floats a ReLU backward stays on the calling thread. */
export const RELU_SPLIT_MIN = 1 << 16;

export interface DenseEpilogues {
  /** y[r, j] += b[j]. */
  biasAdd(y: number, b: number, n: number, out: number): void;
  /** y[r, j] += b[j]; z[r, j] = y[r, j] <= 0 ? 0 : y[r, j] (NaN stays NaN; y keeps the pre-activation). */
  biasAddRelu(y: number, b: number, z: number, n: number, out: number): void;
  /** db[j] += dy[r, j] for r = 0 .. n-1 in order (the caller zeroes db first, as today). */
  biasGrad(dy: number, db: number, n: number, out: number): void;
  /** dz[i] *= v[i] > 0 ? 1 : 0 for i < len (v the pre-activation). */
  reluBackward(v: number, dz: number, len: number): void;
  /** y[i] = Math.max(z[i], 0) for i < len (NaN stays NaN; the lone-ReLU tail of any producer). */
  relu(z: number, y: number, len: number): void;
  /** z[i] = a[i] + b[i], and y[i] = Math.max(z[i], 0) when y >= 0 (a residual join and its lone ReLU). */
  add(a: number, b: number, z: number, y: number, len: number): void;
  /** d[i] += s[i] for i < len (a gradient accumulated into a tensor that is used twice). */
  accumulate(d: number, s: number, len: number): void;
  /**
   * A batch-norm node with no tail or a lone ReLU (runtime/kernels/norm.ts batchNormNodeForward:
   * statistics, running statistics, one normalizing sweep; wasm on the wasm backend).
   */
  bnForward(
    cfg: BatchNormNodeConfig,
    x: number,
    z: number,
    y: number,
    g: number,
    b: number,
    mean: number,
    invstd: number,
    rm: number,
    rv: number,
    relu: boolean,
    train: boolean,
    n: number,
  ): void;
}

// ---- references: the loops of the generated trainer -------------------------------------------

/** y is (n, out), b is (out): y += b per row. */
export function biasAddRef(H: Float32Array, y: number, b: number, n: number, out: number): void {
  for (let r = 0; r < n; r++) {
    const o = y + r * out;
    for (let j = 0; j < out; j++) H[o + j] += H[b + j];
  }
}

/** y, z are (n, out), b is (out): y += b, then z = relu(y). */
export function biasAddReluRef(H: Float32Array, y: number, b: number, z: number, n: number, out: number): void {
  biasAddRef(H, y, b, n, out);
  for (let i = 0, e = n * out; i < e; i++) {
    const v = H[y + i];
    H[z + i] = v <= 0 ? 0 : v; // Math.max(v, 0): -0 gives +0, NaN stays NaN (PyTorch's relu propagates it)
  }
}

/** dy is (n, out), db is (out): db += column sums of dy, rows in order. */
export function biasGradRef(H: Float32Array, dy: number, db: number, n: number, out: number): void {
  for (let r = 0; r < n; r++) {
    const o = dy + r * out;
    for (let j = 0; j < out; j++) H[db + j] += H[o + j];
  }
}

/** v, dz are (len): dz *= relu'(v). */
export function reluBackwardRef(H: Float32Array, v: number, dz: number, len: number): void {
  for (let i = 0; i < len; i++) H[dz + i] *= H[v + i] > 0 ? 1 : 0;
}

/** z, y are (len): y = Math.max(z, 0) (the loop the compiler emitted for a ReLU tail). */
export function reluRef(H: Float32Array, z: number, y: number, len: number): void {
  for (let i = 0; i < len; i++) H[y + i] = Math.max(H[z + i], 0);
}

/** z = a + b, then (y >= 0) y = relu(z): the loops the compiler emitted for an add and its ReLU tail. */
export function addRef(H: Float32Array, a: number, b: number, z: number, y: number, len: number): void {
  for (let i = 0; i < len; i++) H[z + i] = H[a + i] + H[b + i];
  if (y >= 0) reluRef(H, z, y, len);
}

/** d += s (the loop the compiler emitted to accumulate a gradient). */
export function accumulateRef(H: Float32Array, d: number, s: number, len: number): void {
  for (let i = 0; i < len; i++) H[d + i] += H[s + i];
}

// ---- choice ---------------------------------------------------------------------------------------

/** Offsets and sizes are non-negative integers and [start, end) lies in H (no allocation: called every step). */
function check(H: Float32Array, a: number, aEnd: number, b: number, bEnd: number, c = 0, cEnd = 0): void {
  if (!((a | 0) === a && a >= 0 && (b | 0) === b && b >= 0 && (c | 0) === c && c >= 0 && aEnd >= a && bEnd >= b && cEnd >= c))
    throw new RangeError(`dense epilogue: bad offset or size (${a}, ${b}, ${c})`);
  if (!(aEnd <= H.length && bEnd <= H.length && cEnd <= H.length)) throw new RangeError(`dense epilogue reaches outside H[${H.length}]`);
}

/** The epilogues on `be`'s heap: wasm SIMD on the wasm backend, the references otherwise. */
export function makeDenseEpilogues(be: Backend): DenseEpilogues {
  const H = be.H;
  const k = wasmOptimExports(be);
  if (!k) {
    return {
      biasAdd: (y, b, n, out) => biasAddRef(H, y, b, n, out),
      biasAddRelu: (y, b, z, n, out) => biasAddReluRef(H, y, b, z, n, out),
      biasGrad: (dy, db, n, out) => biasGradRef(H, dy, db, n, out),
      reluBackward: (v, dz, len) => reluBackwardRef(H, v, dz, len),
      relu: (z, y, len) => reluRef(H, z, y, len),
      add: (a, b, z, y, len) => addRef(H, a, b, z, y, len),
      accumulate: (d, s, len) => accumulateRef(H, d, s, len),
      bnForward: (cfg, x, z, y, g, b, mean, invstd, rm, rv, relu, train, n) =>
        batchNormNodeForward(H, cfg, x, z, y, g, b, mean, invstd, rm, rv, relu, train, n),
    };
  }
  const cv = convExportsOf(H);
  // bounds are checked here, once per call (O(1)): the module would write past H unnoticed
  return {
    biasAdd(y, b, n, out) {
      check(H, y, y + n * out, b, b + out);
      k.bias_add(y, b, n, out);
    },
    biasAddRelu(y, b, z, n, out) {
      check(H, y, y + n * out, b, b + out, z, z + n * out);
      k.bias_add_relu(y, b, z, n, out);
    },
    biasGrad(dy, db, n, out) {
      check(H, dy, dy + n * out, db, db + out);
      k.bias_grad(dy, db, n, out);
    },
    reluBackward(v, dz, len) {
      if (!cv) return reluBackwardRef(H, v, dz, len);
      check(H, v, v + len, dz, dz + len);
      // large sweeps (a conv layer's) split between the threads: after a conv split by samples,
      // half of dz sits in the other core's cache (conv.wat conv_chunk kind 6, the same loop)
      const par = convParallelOf(H);
      if (par && par.threads > 1 && len >= RELU_SPLIT_MIN) {
        const size = Math.ceil(len / (2 * par.threads) / 4) * 4;
        const g = par.args;
        g[0] = 6;
        g[1] = len;
        g[2] = v;
        g[3] = dz;
        g[22] = size;
        par.run(Math.ceil(len / size), 0);
        return;
      }
      cv.relu_backward(v, dz, len);
    },
    relu(z, y, len) {
      if (!cv) return reluRef(H, z, y, len);
      check(H, z, z + len, y, y + len);
      cv.relu(z, y, len);
    },
    add(a, b, z, y, len) {
      if (!cv) return addRef(H, a, b, z, y, len);
      check(H, a, a + len, b, b + len, z, z + len);
      if (y >= 0) check(H, y, y + len, 0, 0);
      cv.add(a, b, z, y, len);
    },
    accumulate(d, s, len) {
      if (!cv) return accumulateRef(H, d, s, len);
      check(H, d, d + len, s, s + len);
      cv.accumulate(d, s, len);
    },
    bnForward(cfg, x, z, y, g, b, mean, invstd, rm, rv, relu, train, n) {
      batchNormNodeForward(H, cfg, x, z, y, g, b, mean, invstd, rm, rv, relu, train, n);
    },
  };
}
