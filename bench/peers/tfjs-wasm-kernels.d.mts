// Types of bench/peers/tfjs-wasm-kernels.mjs.
export const ADDED_KERNELS: string[];
export function conv2DBackpropFilterWasm(tf: unknown): (args: { inputs: Record<string, unknown>; backend: unknown; attrs: Record<string, unknown> }) => unknown;
export function registerMissingWasmKernels(tf: unknown): string[];
