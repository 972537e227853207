// The WASM backend: H in WebAssembly memory, GEMM by the SIMD128 module, on 1 or more threads.
// With T > 1 threads, T-1 workers share the memory (and the compiled module); a GEMM large enough
// (>= PARALLEL_MIN_MACS multiply-adds) is split into T column ranges (multiples of 8 columns), or
// row ranges (multiples of 4) when C is too narrow; the main thread runs the first range. Every
// element of C is computed by one thread with the module's fixed summation order, so the result
// is the same bytes for any thread count. Hand-off: the main thread writes the job into the
// worker's control slots and bumps its job number; the worker spins briefly, then sleeps in
// Atomics.wait (PERF_NOTES.md: a pure spin collapses when another process takes the core).
import type { Backend, GemmFn } from "../backend";
import {
  checkGemmArgs, createMemory, gemmModule, instantiate, relaxedSimdValid, wasmLayout,
} from "./instance";
import {
  CTRL_ARGS, CTRL_DONE, CTRL_ERROR, CTRL_INTS, CTRL_QUIT, CTRL_SEQ, NODE_WORKER_SOURCE, WEB_WORKER_SOURCE,
} from "./worker-source";

export interface WorkerHandle {
  terminate(): void;
}

export type WasmBackend = Backend & { memory: WebAssembly.Memory; relaxed: boolean; close(): void };

/** Below this many multiply-adds (M*N*K) a GEMM stays on the calling thread (bench/gemm-wasm.mjs). */
export const PARALLEL_MIN_MACS = 1 << 18;
const SPIN = 20000; // Atomics.load polls before sleeping (~20-50 us)

const isNode = () =>
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

async function startWorker(data: Record<string, unknown>): Promise<WorkerHandle> {
  if (isNode()) {
    const { startNodeWorker } = await import("./node-adapter");
    return startNodeWorker(NODE_WORKER_SOURCE, data);
  }
  // Browser (bonus, needs cross-origin isolation for SharedArrayBuffer): a Blob-URL Web Worker.
  const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: "text/javascript" }));
  const w = new Worker(url);
  await new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`wasm gemm worker failed: ${e.message}`));
    w.postMessage(data);
  });
  URL.revokeObjectURL(url);
  return { terminate: () => w.terminate() };
}

export interface WasmBackendOptions {
  /** GEMMs with fewer multiply-adds stay on the calling thread (default PARALLEL_MIN_MACS). */
  minParallelMacs?: number;
  /**
   * Use f32x4.relaxed_madd (fused multiply-add on x86 FMA) when the engine has relaxed SIMD,
   * enabling it in Node 20. Results stay deterministic on one machine but differ in the last
   * bits from the plain build (and may differ between machines). Default false.
   */
  relaxed?: boolean;
}

/** Whether relaxed SIMD is usable, after trying to enable it (Node 20 keeps it behind a flag). */
export async function enableRelaxedSimd(): Promise<boolean> {
  if (relaxedSimdValid()) return true;
  if (isNode()) {
    const { enableNodeRelaxedSimd } = await import("./node-adapter");
    await enableNodeRelaxedSimd();
  }
  return relaxedSimdValid();
}

/** The WASM SIMD backend with a heap of `floats` floats, on `threads` threads (>= 1). */
export async function createWasmBackend(
  floats: number,
  threads = 1,
  opts: WasmBackendOptions = {},
): Promise<WasmBackend> {
  const T = Math.max(1, Math.floor(threads));
  const minMacs = opts.minParallelMacs ?? PARALLEL_MIN_MACS;
  const shared = T > 1;
  const relaxed = opts.relaxed === true && (await enableRelaxedSimd());
  const module = await gemmModule(shared, relaxed);
  // the scratch size is a constant of the module; instantiate once on a 1-page memory to read it
  const probe = await instantiate(module, createMemory({ floats: 0, ctrlByte: 0, scratchByte: [], pages: 1 }, shared));
  const layout = wasmLayout(floats, T, probe.scratch_bytes());
  const memory = createMemory(layout, shared);
  const ex = await instantiate(module, memory);
  const H = new Float32Array(memory.buffer, 0, floats);
  const wasmGemm = ex.gemm;
  const scratch0 = layout.scratchByte[0];

  const ctls: Int32Array[] = [];
  const workers: WorkerHandle[] = [];
  let canBlock = isNode(); // browsers forbid Atomics.wait on the main thread: spin there
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (let w = 0; w < ctls.length; w++) {
      Atomics.store(ctls[w], CTRL_QUIT, 1);
      Atomics.add(ctls[w], CTRL_SEQ, 1);
      Atomics.notify(ctls[w], CTRL_SEQ);
    }
    for (const w of workers) w.terminate();
  };
  try {
    for (let w = 1; w < T; w++) {
      const ctrlByte = layout.ctrlByte + 128 * w;
      ctls.push(new Int32Array(memory.buffer, ctrlByte, CTRL_INTS));
      workers.push(
        await startWorker({ module, memory, ctrlByte, scratchByte: layout.scratchByte[w], spin: SPIN }),
      );
    }
  } catch (e) {
    close();
    throw e;
  }

  let seq = 0;
  const post = (ctl: Int32Array, tA: number, tB: number, M: number, N: number, K: number,
    a: number, b: number, c: number, beta: number, i0: number, i1: number, j0: number, j1: number) => {
    ctl[CTRL_ARGS] = tA; ctl[CTRL_ARGS + 1] = tB; ctl[CTRL_ARGS + 2] = M; ctl[CTRL_ARGS + 3] = N;
    ctl[CTRL_ARGS + 4] = K; ctl[CTRL_ARGS + 5] = a; ctl[CTRL_ARGS + 6] = b; ctl[CTRL_ARGS + 7] = c;
    ctl[CTRL_ARGS + 8] = beta; ctl[CTRL_ARGS + 9] = i0; ctl[CTRL_ARGS + 10] = i1;
    ctl[CTRL_ARGS + 11] = j0; ctl[CTRL_ARGS + 12] = j1;
    Atomics.store(ctl, CTRL_SEQ, seq);
    Atomics.notify(ctl, CTRL_SEQ, 1);
  };
  const join = (ctl: Int32Array) => {
    let d = Atomics.load(ctl, CTRL_DONE);
    for (let i = 0; d !== seq && i < SPIN; i++) d = Atomics.load(ctl, CTRL_DONE);
    while (d !== seq) {
      if (canBlock) Atomics.wait(ctl, CTRL_DONE, d);
      d = Atomics.load(ctl, CTRL_DONE);
    }
    if (Atomics.load(ctl, CTRL_ERROR) !== 0) throw new Error("wasm gemm: a worker thread failed");
  };

  const gemm: GemmFn = (tA, tB, M, N, K, a, b, c, beta) => {
    checkGemmArgs(floats, M, N, K, a, b, c);
    if (T === 1 || M * N * K < minMacs || closed) {
      wasmGemm(tA, tB, M, N, K, a, b, c, beta, 0, M, 0, N, scratch0);
      return;
    }
    seq = (seq + 1) | 0;
    // split columns into T ranges of whole 8-column panels, or else rows into 4-row panels
    const byCols = N >= 8 * T || N >= M;
    const len = byCols ? N : M;
    const unit = byCols ? 8 : 4;
    const step = Math.ceil(len / T / unit) * unit;
    for (let w = 1; w < T; w++) {
      const lo = Math.min(len, w * step), hi = Math.min(len, (w + 1) * step);
      if (byCols) post(ctls[w - 1], tA, tB, M, N, K, a, b, c, beta, 0, M, lo, hi);
      else post(ctls[w - 1], tA, tB, M, N, K, a, b, c, beta, lo, hi, 0, N);
    }
    const hi0 = Math.min(len, step);
    if (byCols) wasmGemm(tA, tB, M, N, K, a, b, c, beta, 0, M, 0, hi0, scratch0);
    else wasmGemm(tA, tB, M, N, K, a, b, c, beta, 0, hi0, 0, N, scratch0);
    for (let w = 0; w < ctls.length; w++) join(ctls[w]);
  };

  const name = (relaxed ? "wasm-relaxed-simd" : "wasm-simd128") + (T > 1 ? ` x${T}` : "");
  return { H, gemm, name, threads: T, relaxed, memory, close };
}
