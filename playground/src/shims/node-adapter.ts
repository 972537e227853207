// Browser stand-in for runtime/wasm/node-adapter.ts (which imports node:worker_threads and
// node:v8), swapped in by playground/vite.config.ts so that no node:* module enters the bundle.
// wasm-backend.ts only imports the adapter when it runs under Node, so these never run here.
import type { WorkerHandle } from "../../../runtime/wasm/wasm-backend";

export async function startNodeWorker(_source: string, _data: unknown): Promise<WorkerHandle> {
  throw new Error("dnnc playground: Node worker threads are not available in the browser");
}

export async function enableNodeRelaxedSimd(): Promise<void> {
  throw new Error("dnnc playground: V8 flags cannot be set in the browser");
}
