// The WASM GEMM on one WebAssembly.Memory: memory layout, module instantiation, bounds checks.
// Memory layout (bytes): [0, 4*floats) is the trainer's heap H; then a 256-byte control block
// shared by the threads (wasm-backend.ts, worker-source.ts); then one packing scratch area per thread (the module's
// scratch_bytes() each, 64-byte aligned); then, with threads > 1, one im2col column area of
// CONV_COL_FLOATS floats per worker thread (the convolutions split between threads; the main
// thread uses the layer's own `col` region of H). The memory is sized once and never grows, so H (a
// Float32Array view of it) stays valid for the life of the trainer: zero copies.
import { GEMM_WASM, GEMM_WASM_RELAXED, GEMM_WASM_SHARED, GEMM_WASM_SHARED_RELAXED, RELAXED_PROBE_WASM } from "./gemm-module";
import { OPTIM_WASM, OPTIM_WASM_SHARED } from "./optim-module";
import { CONV_WASM, CONV_WASM_SHARED } from "./conv-module";
import type { ConvExports } from "./conv-kernels";

/** The module's exported GEMM: offsets in floats, restricted to rows [i0,i1) x columns [j0,j1) of C. */
export type WasmGemmExport = (
  tA: number,
  tB: number,
  M: number,
  N: number,
  K: number,
  a: number,
  b: number,
  c: number,
  beta: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  scratch: number,
) => void;

export interface WasmExports {
  gemm: WasmGemmExport;
  scratch_bytes: () => number;
}

export interface WasmLayout {
  floats: number;
  ctrlByte: number; // byte address of the 256-byte control block
  optimArgsByte: number; // byte address of the optimizer's argument block (OPTIM_ARGS_BYTES), after the control block
  scratchByte: number[]; // per-thread scratch byte address
  /** float offset of worker w's (w = 1..T-1) column area: colFloat0 + (w-1)*colFloats */
  colFloat0: number;
  /** floats of each worker's column area (CONV_COL_FLOATS or more, wasmLayout's argument) */
  colFloats: number;
  pages: number;
}

const PAGE = 65536;
const MAX_BYTES = 65535 * PAGE; // keep byte addresses below 2^32

const align64 = (x: number) => Math.ceil(x / 64) * 64;

/** Bytes of the optimizer kernels' argument block (f64 scalars; the most a kernel takes is 10). */
export const OPTIM_ARGS_BYTES = 256;

/**
 * Floats of each worker's im2col area: the largest per-sample column matrix a split conv may use
 * (at least; a trainer whose Winograd blocks need more asks for it: program meta.convColFloats).
 */
export const CONV_COL_FLOATS = 1 << 18;

export function wasmLayout(floats: number, threads: number, scratchBytes: number, colFloatsMin = CONV_COL_FLOATS): WasmLayout {
  const colFloats = Math.max(CONV_COL_FLOATS, Math.ceil(colFloatsMin / 16) * 16);
  if (!Number.isInteger(floats) || floats < 0) throw new Error(`wasm backend: bad heap size ${floats}`);
  const ctrlByte = align64(floats * 4);
  const scratchByte: number[] = [];
  const optimArgsByte = ctrlByte + 256;
  let top = optimArgsByte + OPTIM_ARGS_BYTES;
  for (let t = 0; t < threads; t++) {
    scratchByte.push(top);
    top += align64(scratchBytes);
  }
  const colFloat0 = top / 4;
  if (threads > 1) top += (threads - 1) * colFloats * 4;
  if (top > MAX_BYTES) {
    throw new Error(`wasm backend: heap of ${floats} floats does not fit in 4 GB of WebAssembly memory`);
  }
  return { floats, ctrlByte, optimArgsByte, scratchByte, colFloat0, colFloats, pages: Math.max(1, Math.ceil(top / PAGE)) };
}

export function base64Bytes(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** The compiled GEMM module (plain- or shared-memory, plain or relaxed SIMD), compiled once. */
export function gemmModule(shared: boolean, relaxed = false): Promise<WebAssembly.Module> {
  const key = `${shared}/${relaxed}`;
  let m = compiled.get(key);
  if (!m) {
    const src = relaxed ? (shared ? GEMM_WASM_SHARED_RELAXED : GEMM_WASM_RELAXED) : shared ? GEMM_WASM_SHARED : GEMM_WASM;
    m = WebAssembly.compile(base64Bytes(src));
    compiled.set(key, m);
  }
  return m;
}

/** True when this engine accepts relaxed SIMD now (Node 20: after enableRelaxedSimd()). */
export function relaxedSimdValid(): boolean {
  try {
    return WebAssembly.validate(base64Bytes(RELAXED_PROBE_WASM));
  } catch {
    return false;
  }
}

/** Throws if op(A), op(B) or C of this call would reach outside H (the module would not notice). */
export function checkGemmArgs(floats: number, M: number, N: number, K: number, a: number, b: number, c: number): void {
  // (x | 0) === x: an integer in [-2^31, 2^31), as the module's i32 parameters need
  const ints = (M | 0) === M && (N | 0) === N && (K | 0) === K && (a | 0) === a && (b | 0) === b && (c | 0) === c;
  if (!ints || M < 0 || N < 0 || K < 0 || a < 0 || b < 0 || c < 0 || a + M * K > floats || b + K * N > floats || c + M * N > floats) {
    throw new Error(`wasm gemm: M=${M} N=${N} K=${K} a=${a} b=${b} c=${c} reaches outside H[${floats}]`);
  }
}

/** Memory sized for `layout`, shared iff `shared` (needed by worker threads). */
export function createMemory(layout: WasmLayout, shared: boolean): WebAssembly.Memory {
  return shared
    ? new WebAssembly.Memory({ initial: layout.pages, maximum: layout.pages, shared: true })
    : new WebAssembly.Memory({ initial: layout.pages, maximum: layout.pages });
}

export async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WasmExports> {
  const inst = await WebAssembly.instantiate(module, { env: { mem: memory } });
  return inst.exports as unknown as WasmExports;
}

// --- the optimizer module (optim.wat, generated by optim-gen.mjs; used by runtime/optim-fast.ts) ---
// Arrays are float offsets into the memory, n a float count; the f64 scalars of a kernel are read at
// byte `args`, in the order of its `scalars` in optim-gen.mjs (no double crosses the JS-wasm boundary:
// each would be boxed per call).
type I = number;
export interface OptimExports {
  sgd(p: I, g: I, n: I, args: I): void;
  sgd_momentum(p: I, g: I, b: I, n: I, args: I): void;
  sgd_nesterov(p: I, g: I, b: I, n: I, args: I): void;
  sgd_momentum_general(p: I, g: I, b: I, n: I, args: I): void;
  sgd_nesterov_general(p: I, g: I, b: I, n: I, args: I): void;
  adagrad(p: I, g: I, s: I, n: I, args: I): void;
  rmsprop(p: I, g: I, sq: I, n: I, args: I): void;
  rmsprop_momentum(p: I, g: I, sq: I, b: I, n: I, args: I): void;
  rmsprop_centered(p: I, g: I, sq: I, ga: I, n: I, args: I): void;
  rmsprop_centered_momentum(p: I, g: I, sq: I, b: I, ga: I, n: I, args: I): void;
  adam(p: I, g: I, m: I, v: I, n: I, args: I): void;
  adam_amsgrad(p: I, g: I, m: I, v: I, vmax: I, n: I, args: I): void;
  /** x[0..n) *= c (in f64, rounded once); c is the f64 at byte `args`. */
  scale(x: I, n: I, args: I): void;
  /** sum of x[i]^2 in f64 (4 partial sums: not the sequential order), stored as an f64 at byte `out`. */
  sumsq(x: I, n: I, out: I): void;
  // dense epilogues (runtime/wasm-kernels.ts)
  bias_add(y: I, b: I, n: I, out: I): void;
  bias_add_relu(y: I, b: I, z: I, n: I, out: I): void;
  bias_grad(dy: I, db: I, n: I, out: I): void;
}

const optimCompiled = new Map<boolean, Promise<WebAssembly.Module>>();

/** The optimizer kernels with their argument block: `args` views OPTIM_ARGS_BYTES at byte `argsByte`. */
export type OptimKernels = OptimExports & { args: Float64Array; argsByte: number };

/** The optimizer module instantiated on `memory` (shared iff the memory is), its scalars at byte `argsByte`. */
export async function instantiateOptim(memory: WebAssembly.Memory, shared: boolean, argsByte: number): Promise<OptimKernels> {
  let m = optimCompiled.get(shared);
  if (!m) {
    m = WebAssembly.compile(base64Bytes(shared ? OPTIM_WASM_SHARED : OPTIM_WASM));
    optimCompiled.set(shared, m);
  }
  const inst = await WebAssembly.instantiate(await m, { env: { mem: memory } });
  if (argsByte % 8 !== 0 || argsByte + OPTIM_ARGS_BYTES > memory.buffer.byteLength) throw new Error(`wasm optimizer: bad argument block at byte ${argsByte}`);
  return { ...(inst.exports as unknown as OptimExports), args: new Float64Array(memory.buffer, argsByte, OPTIM_ARGS_BYTES / 8), argsByte };
}

const convCompiled = new Map<boolean, Promise<WebAssembly.Module>>();

/** The compiled conv loops module (conv.wat), plain- or shared-memory, compiled once. */
export function convModule(shared: boolean): Promise<WebAssembly.Module> {
  let m = convCompiled.get(shared);
  if (!m) {
    m = WebAssembly.compile(base64Bytes(shared ? CONV_WASM_SHARED : CONV_WASM));
    convCompiled.set(shared, m);
  }
  return m;
}

/** The conv loops module instantiated on `memory` (shared iff the memory is), calling `gemm`. */
export async function instantiateConv(memory: WebAssembly.Memory, shared: boolean, gemm: WasmGemmExport): Promise<ConvExports> {
  const inst = await WebAssembly.instantiate(await convModule(shared), { env: { mem: memory, gemm } });
  return inst.exports as unknown as ConvExports;
}
