// The WASM backend: H in WebAssembly memory, GEMM by the SIMD128 module, on 1 or more threads.
// With T > 1 threads, T-1 workers share the memory (and the compiled module). A GEMM large enough
// (>= minParallelMacs multiply-adds) is cut into chunksPerThread*T chunks: column ranges of C
// (whole 8-column panels), or row ranges (4-row panels) when C is narrow. The main thread posts the
// job and then claims chunks itself, like the workers (worker-source.ts), so that a worker that is
// slow to wake, or whose core another process took, delays nothing: the main thread does its
// share. Every element of C is computed by one thread with the module's fixed summation order
// (its K slicing depends on K alone), so the result is the same bytes for any thread count and
// any claiming order. Waiting: spin briefly, then sleep in Atomics.wait (PERF_NOTES.md: a pure
// spin collapses when another process takes the core).
import type { Backend, GemmFn } from "../backend";
import {
  checkGemmArgs,
  convModule,
  createMemory,
  gemmModule,
  instantiate,
  instantiateConv,
  instantiateOptim,
  relaxedSimdValid,
  wasmLayout,
  type OptimKernels,
} from "./instance";
import { registerConvExports } from "./conv-kernels";
import { instantiateRnn, registerRnnExports } from "./rnn-kernels";
import {
  CTRL_ARGS,
  CTRL_CONV,
  CTRL_ERROR,
  CTRL_FIN,
  CTRL_INTS,
  CTRL_KIND,
  CTRL_LEFT,
  CTRL_QUIT,
  CTRL_SEQ,
  NODE_WORKER_SOURCE,
  WEB_WORKER_SOURCE,
} from "./worker-source";

export interface WorkerHandle {
  terminate(): void;
}

/** Counters of the thread split: GEMMs split, chunks in them, chunks the main thread ran. */
export interface SplitStats {
  splitCalls: number;
  chunks: number;
  chunksOnMain: number;
}

export type WasmBackend = Backend & {
  memory: WebAssembly.Memory;
  relaxed: boolean;
  stats: SplitStats;
  /** The optimizer sweep on this memory (runtime/optim-fast.ts picks it up). */
  optim: OptimKernels;
  close(): void;
};

/**
 * Below this many multiply-adds (M*N*K) a GEMM stays on the calling thread. Measured with
 * `bench/gemm-wasm.mjs --sweep --short` (NT, best 1 ms windows, on a busy 2-core machine): a
 * forced split lost at 0.26M and 0.52M (34 vs 39, 37 vs 40 GFLOP/s) and won from 1M-3M on
 * (70-78 vs 41-43) when the second core was free.
 */
export const PARALLEL_MIN_MACS = 1 << 20;
const SPIN = 20000; // Atomics.load polls before sleeping (~0.1-0.3 ms)
const CHUNKS_PER_THREAD = 2;

const isNode = () => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

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
  /** Chunks per thread a split GEMM is cut into (default CHUNKS_PER_THREAD = 2). */
  chunksPerThread?: number;
  /**
   * Use f32x4.relaxed_madd (fused multiply-add on x86 FMA) when the engine has relaxed SIMD,
   * enabling it in Node 20. Results stay deterministic on one machine but differ in the last
   * bits from the plain build (and may differ between machines). Default false.
   */
  relaxed?: boolean;
  /**
   * Floats of each worker thread's column area for the convolutions split between threads
   * (default and minimum CONV_COL_FLOATS): a trainer asks for its Winograd blocks' scratch
   * (program meta.convColFloats).
   */
  convColFloats?: number;
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
export async function createWasmBackend(floats: number, threads = 1, opts: WasmBackendOptions = {}): Promise<WasmBackend> {
  const T = Math.max(1, Math.floor(threads));
  const minMacs = opts.minParallelMacs ?? PARALLEL_MIN_MACS;
  const chunksPerThread = Math.max(1, Math.floor(opts.chunksPerThread ?? CHUNKS_PER_THREAD));
  const shared = T > 1;
  const relaxed = opts.relaxed === true && (await enableRelaxedSimd());
  const module = await gemmModule(shared, relaxed);
  // the scratch size is a constant of the module; instantiate once on a 1-page memory to read it
  const probe = await instantiate(
    module,
    createMemory({ floats: 0, ctrlByte: 0, optimArgsByte: 0, scratchByte: [], colFloat0: 0, colFloats: 0, pages: 1 }, shared),
  );
  const layout = wasmLayout(floats, T, probe.scratch_bytes(), opts.convColFloats);
  const memory = createMemory(layout, shared);
  const ex = await instantiate(module, memory);
  const H = new Float32Array(memory.buffer, 0, floats);
  const optim = await instantiateOptim(memory, shared, layout.optimArgsByte);
  // the loops around the conv GEMMs (im2col, ReLU, max pool) run in wasm on this heap
  const convEx = await instantiateConv(memory, shared, ex.gemm);
  // the gate sweeps of the recurrent layers (runtime/kernels/rnn.ts) run in wasm on this heap
  registerRnnExports(H, await instantiateRnn(memory, shared));
  const wasmGemm = ex.gemm;
  const scratch0 = layout.scratchByte[0];

  const ctl = new Int32Array(memory.buffer, layout.ctrlByte, CTRL_INTS);
  const workers: WorkerHandle[] = [];
  const canBlock = isNode(); // browsers forbid Atomics.wait on the main thread: spin there
  let closed = false;
  const stats: SplitStats = { splitCalls: 0, chunks: 0, chunksOnMain: 0 };
  const close = () => {
    if (closed) return;
    closed = true;
    Atomics.store(ctl, CTRL_QUIT, 1);
    Atomics.add(ctl, CTRL_SEQ, 1);
    Atomics.notify(ctl, CTRL_SEQ);
    for (const w of workers) w.terminate();
  };
  try {
    for (let w = 1; w < T; w++) {
      workers.push(
        await startWorker({
          module,
          memory,
          ctrlByte: layout.ctrlByte,
          scratchByte: layout.scratchByte[w],
          spin: SPIN,
          convModule: await convModule(shared),
          colFloat: layout.colFloat0 + (w - 1) * layout.colFloats,
        }),
      );
    }
  } catch (e) {
    close();
    throw e;
  }

  const gemm: GemmFn = (tA, tB, M, N, K, a, b, c, beta) => {
    checkGemmArgs(floats, M, N, K, a, b, c);
    if (T === 1 || M * N * K < minMacs || closed) {
      wasmGemm(tA, tB, M, N, K, a, b, c, beta, 0, M, 0, N, scratch0);
      return;
    }
    // chunks of whole 8-column panels of C, or of 4-row panels: cut the longer side (each chunk
    // packs all of op(A) when cutting columns, all of op(B) when cutting rows)
    const byCols = (N >= M ? N >= 8 * T : M < 4 * T) ? 1 : 0;
    const len = byCols ? N : M;
    const unit = byCols ? 8 : 4;
    const size = Math.ceil(len / (chunksPerThread * T) / unit) * unit;
    const n = Math.ceil(len / size);
    const A = CTRL_ARGS;
    ctl[A] = tA;
    ctl[A + 1] = tB;
    ctl[A + 2] = M;
    ctl[A + 3] = N;
    ctl[A + 4] = K;
    ctl[A + 5] = a;
    ctl[A + 6] = b;
    ctl[A + 7] = c;
    ctl[A + 8] = beta;
    ctl[A + 9] = byCols;
    ctl[A + 10] = size;
    ctl[A + 11] = n;
    ctl[CTRL_KIND] = 0;
    gemmJob.byCols = byCols;
    gemmJob.size = size;
    gemmJob.len = len;
    runJob(n, 0, 0);
  };
  // the GEMM job of the call in flight (read by runChunk on the main thread; no allocation per call)
  const gemmJob = { byCols: 0, size: 0, len: 0 };
  const runChunk = (kind: number, id: number, mainCol: number) => {
    if (kind === 1) {
      convEx.conv_chunk(convArgsByte, id, mainCol, scratch0);
      return;
    }
    const A = CTRL_ARGS;
    const lo = id * gemmJob.size,
      hi = Math.min(gemmJob.len, lo + gemmJob.size);
    if (gemmJob.byCols)
      wasmGemm(ctl[A], ctl[A + 1], ctl[A + 2], ctl[A + 3], ctl[A + 4], ctl[A + 5], ctl[A + 6], ctl[A + 7], ctl[A + 8], 0, ctl[A + 2], lo, hi, scratch0);
    else wasmGemm(ctl[A], ctl[A + 1], ctl[A + 2], ctl[A + 3], ctl[A + 4], ctl[A + 5], ctl[A + 6], ctl[A + 7], ctl[A + 8], lo, hi, 0, ctl[A + 3], scratch0);
  };
  // Posts the job whose arguments are in the control block (n chunks), claims chunks like the
  // workers, waits until all are finished.
  const runJob = (n: number, kind: number, mainCol: number) => {
    Atomics.store(ctl, CTRL_FIN, 0);
    Atomics.store(ctl, CTRL_LEFT, n);
    Atomics.add(ctl, CTRL_SEQ, 1);
    Atomics.notify(ctl, CTRL_SEQ);
    let mine = 0;
    for (;;) {
      const v = Atomics.load(ctl, CTRL_LEFT);
      if (v <= 0) break;
      if (Atomics.compareExchange(ctl, CTRL_LEFT, v, v - 1) !== v) continue;
      runChunk(kind, v - 1, mainCol);
      mine++;
    }
    stats.splitCalls++;
    stats.chunks += n;
    stats.chunksOnMain += mine;
    let f = Atomics.add(ctl, CTRL_FIN, mine) + mine;
    for (let i = 0; f < n && i < SPIN; i++) f = Atomics.load(ctl, CTRL_FIN);
    while (f < n) {
      if (canBlock) Atomics.wait(ctl, CTRL_FIN, f);
      f = Atomics.load(ctl, CTRL_FIN);
    }
    if (Atomics.load(ctl, CTRL_ERROR) !== 0) throw new Error("wasm backend: a worker thread failed");
  };
  const convArgsByte = layout.ctrlByte + CTRL_CONV * 4;
  if (T > 1) {
    const convArgs = ctl.subarray(CTRL_CONV, CTRL_CONV + 24);
    registerConvExports(H, convEx, {
      threads: T,
      colFloats: layout.colFloats,
      args: convArgs,
      run(nChunks: number, mainCol: number) {
        if (closed) throw new Error("wasm backend: closed");
        ctl[CTRL_ARGS + 11] = nChunks;
        ctl[CTRL_KIND] = 1;
        runJob(nChunks, 1, mainCol);
      },
    });
  } else {
    // one thread: the per-sample conv loops (im2col, GEMM, bias, ReLU tail) run as one chunk of
    // conv_chunk, in wasm, instead of a JavaScript loop calling into wasm per sample and group
    const convArgs = ctl.subarray(CTRL_CONV, CTRL_CONV + 24);
    registerConvExports(H, convEx, {
      threads: 1,
      colFloats: Number.MAX_SAFE_INTEGER, // no worker areas: the caller's col is used
      args: convArgs,
      run(nChunks: number, mainCol: number) {
        if (closed) throw new Error("wasm backend: closed");
        for (let id = 0; id < nChunks; id++) convEx.conv_chunk(convArgsByte, id, mainCol, scratch0);
      },
    });
  }

  const name = (relaxed ? "wasm-relaxed-simd" : "wasm-simd128") + (T > 1 ? ` x${T}` : "");
  return { H, gemm, name, threads: T, relaxed, memory, stats, optim, close };
}
