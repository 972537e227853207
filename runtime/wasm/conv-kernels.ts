// The wasm loops around the convolution GEMMs (conv.wat), found by heap: the wasm backend
// registers its H with the module instantiated on its memory, and the kernels in
// runtime/kernels/conv.ts and pool.ts look H up on each call (a WeakMap lookup, no allocation).
// On the ts backend (or any other Float32Array) nothing is registered and the TypeScript loops
// run: they are the references, and the wasm loops write the same bytes
// (test/wasm-conv-kernels.test.ts). Offsets and lengths are in floats.
export interface ConvExports {
  im2col(
    xs: number,
    Cg: number,
    IH: number,
    IW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    ph: number,
    pw: number,
    dh: number,
    dw: number,
    OH: number,
    OW: number,
    col: number,
    ld: number,
  ): void;
  relu(z: number, y: number, len: number): void;
  /** dz *= v > 0 ? 1 : 0 */
  relu_backward(v: number, dz: number, len: number): void;
  /** z = a + b, and y = max(z, 0) when y >= 0 */
  add(a: number, b: number, z: number, y: number, len: number): void;
  /** d += s */
  accumulate(d: number, s: number, len: number): void;
  /** conv bias gradient db (K) = sum over n samples of dy_i (K, S) rows, S a multiple of 4 (convBiasGrad) */
  bias_grad(dy: number, n: number, K: number, S: number, db: number): void;
  maxpool2x2(
    x: number,
    y: number,
    idx: number,
    planes: number,
    IH: number,
    IW: number,
    OH: number,
    OW: number,
    relu: number,
    bias: number,
    C: number,
    c0: number,
  ): void;
  maxpool_backward(dy: number, idx: number, dx: number, planes: number, HW: number, OHW: number): void;
  /**
   * maxpool_backward for the windows of maxpool2x2 (which do not overlap): no zeroing pass; with
   * yp >= 0 (the pool's output) each window's gradient times (pooled > 0 ? 1 : 0): the ReLU
   * backward of the pool's input fused in
   */
  maxpool2x2_backward(dy: number, idx: number, dx: number, planes: number, IH: number, IW: number, OH: number, OW: number, yp: number): void;
  /** one chunk of a split convolution; parameters at byte `args` (layout in conv.wat) */
  conv_chunk(args: number, chunk: number, colT: number, scratch: number): void;
  /** batch norm forward with no tail or a lone ReLU (relu 0/1, train 0/1); conv.wat describes it */
  bn_forward(
    x: number,
    z: number,
    y: number,
    n: number,
    C: number,
    S: number,
    g: number,
    b: number,
    mean: number,
    invstd: number,
    rm: number,
    rv: number,
    eps: number,
    keep: number,
    eta: number,
    relu: number,
    train: number,
  ): void;
  /**
   * Winograd F(2,3) input transform (runtime/kernels/winograd.ts winoInputRef, the same bytes),
   * storing rows a0 <= a < a1 of each transformed tile (0, 4: all)
   */
  wino_in(
    x: number,
    m: number,
    C: number,
    IH: number,
    IW: number,
    ph: number,
    pw: number,
    TH: number,
    TW: number,
    v: number,
    T: number,
    plane: number,
    a0: number,
    a1: number,
  ): void;
  /** Winograd output transform, + bias, + ReLU into ry (winoOutputRef) */
  wino_out(mm: number, T: number, K: number, m: number, TH: number, TW: number, OH: number, OW: number, b: number, y: number, ry: number): void;
  /** Winograd transform of the output gradient (winoDyRef), rows a0 <= a < a1 */
  wino_dy(dy: number, m: number, K: number, TH: number, TW: number, OH: number, OW: number, dm: number, T: number, a0: number, a1: number): void;
  /** Winograd input gradient: dV back to dx over the overlapping tiles (winoDxRef) */
  wino_dx(dv: number, T: number, C: number, m: number, TH: number, TW: number, IH: number, IW: number, ph: number, pw: number, dx: number, plane: number): void;
  /** runtime/kernels/norm.ts batchNormBackward in wasm (the same bytes) */
  bn_backward(
    x: number,
    gamma: number,
    mean: number,
    invstd: number,
    dy: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    n: number,
    C: number,
    S: number,
  ): void;
}

/**
 * A convolution split between the backend's threads: write the 24 parameters of conv.wat's
 * conv_chunk into `args`, then run(nChunks, mainCol): every thread (the caller included, with
 * its column area at float offset mainCol) claims chunks until none is left; returns when all
 * are done. Each worker's column area holds `colFloats` floats. A one-thread backend registers
 * one too (threads 1): run() then runs the chunks on the caller, in wasm.
 */
export interface ConvParallel {
  threads: number;
  colFloats: number;
  args: Int32Array;
  run(nChunks: number, mainCol: number): void;
}

// Kept on globalThis (under a registered symbol) so that every copy of this module in a process
// (a bundled trainer next to the runtime sources, as in bench/conv.mjs) sees the same heaps.
type Registries = { exports: WeakMap<Float32Array, ConvExports>; parallel: WeakMap<Float32Array, ConvParallel> };
const KEY = Symbol.for("dnnc.wasm.conv-kernels");
const g = globalThis as unknown as Record<symbol, Registries | undefined>;
const regs: Registries = (g[KEY] ??= { exports: new WeakMap(), parallel: new WeakMap() });
const registry = regs.exports;
const parallel = regs.parallel;

/** Makes the kernels use `ex` (instantiated on the memory H views, H at byte 0) for H. */
export function registerConvExports(H: Float32Array, ex: ConvExports, par?: ConvParallel): void {
  registry.set(H, ex);
  if (par) parallel.set(H, par);
}

/** The wasm loops for H, or undefined (run the TypeScript ones). */
export function convExportsOf(H: Float32Array): ConvExports | undefined {
  return registry.get(H);
}

/** The conv loops in wasm, split between threads when there are 2 or more (a wasm backend), or undefined. */
export function convParallelOf(H: Float32Array): ConvParallel | undefined {
  return parallel.get(H);
}

/** Throws unless [a, end) is a range of integer float offsets inside H (the module would not notice). */
export function checkRange(H: Float32Array, a: number, end: number, what: string): void {
  if (!((a | 0) === a && a >= 0 && end >= a && end <= H.length)) throw new RangeError(`${what}: range [${a}, ${end}) reaches outside H[${H.length}]`);
}
