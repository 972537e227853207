// The only Node-specific piece of the WASM backend, imported lazily (dynamic import) by
// wasm-backend.ts under Node: starts a worker_threads Worker from a source string, and turns on
// relaxed SIMD (a V8 flag in Node 20; NODE_OPTIONS refuses it, setFlagsFromString works).
import type { WorkerHandle } from "./wasm-backend";

export async function startNodeWorker(source: string, data: unknown): Promise<WorkerHandle> {
  const { Worker } = await import("node:worker_threads");
  const w = new Worker(source, { eval: true, workerData: data });
  await new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`wasm gemm worker exited (code ${code}) before starting`)));
  });
  w.removeAllListeners();
  w.on("error", () => {}); // errors inside a job are reported through the control slots
  w.unref(); // an idle worker never keeps the process alive
  return { terminate: () => void w.terminate() };
}

/** Sets --experimental-wasm-relaxed-simd (process-wide, workers included) before compiling. */
export async function enableNodeRelaxedSimd(): Promise<void> {
  const v8 = await import("node:v8");
  v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
}
