// The WASM GEMM on one WebAssembly.Memory: memory layout, module instantiation, bounds checks.
// Memory layout (bytes): [0, 4*floats) is the trainer's heap H; then a 128-byte control block
// shared by the threads (wasm-backend.ts, worker-source.ts); then one packing scratch area per thread (the module's
// scratch_bytes() each, 64-byte aligned). The memory is sized once and never grows, so H (a
// Float32Array view of it) stays valid for the life of the trainer: zero copies.
import {
  GEMM_WASM, GEMM_WASM_RELAXED, GEMM_WASM_SHARED, GEMM_WASM_SHARED_RELAXED, RELAXED_PROBE_WASM,
} from "./gemm-module";

/** The module's exported GEMM: offsets in floats, restricted to rows [i0,i1) x columns [j0,j1) of C. */
export type WasmGemmExport = (
  tA: number, tB: number, M: number, N: number, K: number,
  a: number, b: number, c: number, beta: number,
  i0: number, i1: number, j0: number, j1: number, scratch: number,
) => void;

export interface WasmExports {
  gemm: WasmGemmExport;
  scratch_bytes: () => number;
}

export interface WasmLayout {
  floats: number;
  ctrlByte: number; // byte address of the 128-byte control block
  scratchByte: number[]; // per-thread scratch byte address
  pages: number;
}

const PAGE = 65536;
const MAX_BYTES = 65535 * PAGE; // keep byte addresses below 2^32

const align64 = (x: number) => Math.ceil(x / 64) * 64;

export function wasmLayout(floats: number, threads: number, scratchBytes: number): WasmLayout {
  if (!Number.isInteger(floats) || floats < 0) throw new Error(`wasm backend: bad heap size ${floats}`);
  const ctrlByte = align64(floats * 4);
  const scratchByte: number[] = [];
  let top = ctrlByte + 128;
  for (let t = 0; t < threads; t++) {
    scratchByte.push(top);
    top += align64(scratchBytes);
  }
  if (top > MAX_BYTES) {
    throw new Error(`wasm backend: heap of ${floats} floats does not fit in 4 GB of WebAssembly memory`);
  }
  return { floats, ctrlByte, scratchByte, pages: Math.max(1, Math.ceil(top / PAGE)) };
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
    const src = relaxed
      ? (shared ? GEMM_WASM_SHARED_RELAXED : GEMM_WASM_RELAXED)
      : (shared ? GEMM_WASM_SHARED : GEMM_WASM);
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
export function checkGemmArgs(
  floats: number, M: number, N: number, K: number, a: number, b: number, c: number,
): void {
  // (x | 0) === x: an integer in [-2^31, 2^31), as the module's i32 parameters need
  const ints = (M | 0) === M && (N | 0) === N && (K | 0) === K && (a | 0) === a && (b | 0) === b && (c | 0) === c;
  if (
    !ints || M < 0 || N < 0 || K < 0 || a < 0 || b < 0 || c < 0 ||
    a + M * K > floats || b + K * N > floats || c + M * N > floats
  ) {
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
