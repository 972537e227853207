// The browser build's stand-in for runtime/wasm/node-adapter.ts (swapped in by
// compiler/codegen/bundle-browser.ts), so that no node:* module enters a browser trainer.
// wasm-backend.ts imports the adapter only when it runs under Node: these never run in a browser.
import type { WorkerHandle } from "../wasm/wasm-backend";

export async function startNodeWorker(_source: string, _data: unknown): Promise<WorkerHandle> {
  throw new Error("dnnc: Node worker threads are not available in a browser build");
}

export async function enableNodeRelaxedSimd(): Promise<void> {
  throw new Error("dnnc: V8 flags cannot be set in a browser build");
}
