// The gate sweeps of the recurrent kernels in wasm (rnn.wat), found by heap as the conv loops are
// (conv-kernels.ts): the wasm backend instantiates the module on its memory and registers its H;
// runtime/kernels/rnn.ts looks H up on each call (a WeakMap lookup, no allocation). On any other
// heap nothing is registered and the TypeScript sweeps run: they are the references, and the
// wasm sweeps write the same bytes (test/wasm-rnn-kernels.test.ts). Offsets in floats.
import { base64Bytes } from "./instance";
import { RNN_WASM, RNN_WASM_SHARED } from "./rnn-module";

export interface RnnExports {
  /** LSTM gate sweep of one (sample, step), lanes [0, u4) (rnn.ts lstmRowF32) */
  lstm_row(g: number, r: number, b: number, c: number, h: number, tc: number, U: number, u4: number): void;
  /** LSTM backward sweep of one (sample, step), lanes [0, u2) (rnn.ts lstmBackRow); dy -1: none */
  lstm_bwd_row(gi: number, cp: number, tco: number, dh: number, dc: number, dy: number, dr: number, U: number, u2: number): void;
  /** GRU gate sweep of one (sample, step), lanes [0, u4) (rnn.ts gruRowF32) */
  gru_row(g: number, r: number, b: number, hn: number, h: number, U: number, u4: number): void;
}

// On globalThis (under a registered symbol), so that every copy of this module in a process sees
// the same heaps (as conv-kernels.ts).
const KEY = Symbol.for("dnnc.wasm.rnn-kernels");
const g = globalThis as unknown as Record<symbol, WeakMap<Float32Array, RnnExports> | undefined>;
const registry: WeakMap<Float32Array, RnnExports> = (g[KEY] ??= new WeakMap());

/** Makes the recurrent kernels use `ex` (instantiated on the memory H views, H at byte 0) for H. */
export function registerRnnExports(H: Float32Array, ex: RnnExports): void {
  registry.set(H, ex);
}

/** The wasm sweeps for H, or undefined (run the TypeScript ones). */
export function rnnExportsOf(H: Float32Array): RnnExports | undefined {
  return registry.get(H);
}

const compiled = new Map<boolean, Promise<WebAssembly.Module>>();

/** The rnn module instantiated on `memory` (shared iff the memory is), compiled once. */
export async function instantiateRnn(memory: WebAssembly.Memory, shared: boolean): Promise<RnnExports> {
  let m = compiled.get(shared);
  if (!m) {
    m = WebAssembly.compile(base64Bytes(shared ? RNN_WASM_SHARED : RNN_WASM));
    compiled.set(shared, m);
  }
  const inst = await WebAssembly.instantiate(await m, { env: { mem: memory } });
  return inst.exports as unknown as RnnExports;
}
