// createBackend: the heap H and the GEMM a trainer runs on (types in runtime/backend.ts).
//   "wasm": H is a view of a WebAssembly.Memory and the GEMM is the SIMD128 module
//           (runtime/wasm/), on `threads` threads (workers sharing the memory when > 1);
//   "ts":   H is a plain Float32Array and the GEMM is gemmBlocked (runtime/kernels/gemm.ts);
//   "auto" (default): "wasm" when this engine validates a tiny SIMD128 module, else "ts".
// Call close() when done: it stops the worker threads (they never keep a Node process alive,
// but a browser page keeps them until closed).
import type { Backend } from "./backend";
import { DnncError } from "./errors";
import { makeGemm } from "./kernels/gemm";
import { base64Bytes } from "./wasm/instance";
import { SIMD_PROBE_WASM } from "./wasm/gemm-module";
import { createWasmBackend } from "./wasm/wasm-backend";

export type BackendKind = "auto" | "wasm" | "ts";
export interface BackendOptions {
  backend?: BackendKind;
  /** GEMM threads for the wasm backend (1 or 2 are the measured cases); the ts backend uses 1. */
  threads?: number;
  /** wasm only: use relaxed SIMD's fused multiply-add when available (runtime/wasm/wasm-backend.ts). */
  relaxed?: boolean;
  /** wasm with 2+ threads: floats of each worker's conv column area (program meta.convColFloats). */
  convColFloats?: number;
}
export type ClosableBackend = Backend & { close(): void };

/** True when this engine has WebAssembly with SIMD128. */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(base64Bytes(SIMD_PROBE_WASM));
  } catch {
    return false;
  }
}

/** True when worker threads can share a WebAssembly.Memory here (Node, or an isolated page). */
export function sharedMemorySupported(): boolean {
  try {
    return typeof SharedArrayBuffer === "function" && new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

export async function createBackend(floats: number, opts: BackendOptions = {}): Promise<ClosableBackend> {
  const kind = opts.backend ?? "auto";
  const threads = opts.threads ?? 1;
  if (kind !== "auto" && kind !== "wasm" && kind !== "ts") {
    throw new DnncError(`unknown backend "${kind}" (expected auto, wasm or ts)`);
  }
  if (!Number.isInteger(threads) || threads < 1) {
    throw new DnncError(`threads must be a positive integer, got ${threads}`);
  }
  const useWasm = kind === "wasm" || (kind === "auto" && wasmSimdSupported());
  if (useWasm) {
    if (!wasmSimdSupported()) {
      throw new DnncError("the wasm backend needs WebAssembly SIMD128, which this engine lacks; use --backend ts");
    }
    if (threads > 1 && !sharedMemorySupported()) {
      if (kind === "wasm") {
        throw new DnncError("wasm threads need shared WebAssembly memory (SharedArrayBuffer); use --threads 1");
      }
      return createWasmBackend(floats, 1, { relaxed: opts.relaxed });
    }
    return createWasmBackend(floats, threads, { relaxed: opts.relaxed, convColFloats: opts.convColFloats });
  }
  const H = new Float32Array(floats);
  return { H, gemm: makeGemm(H, "blocked"), name: "ts-blocked", threads: 1, close: () => {} };
}
