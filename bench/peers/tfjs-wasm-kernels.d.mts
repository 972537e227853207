// Types of bench/peers/tfjs-wasm-kernels.mjs.
type KernelArgs = { inputs: Record<string, unknown>; backend: unknown; attrs: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => unknown;
export const ADDED_KERNELS: string[];
export function matmulGrid(info: unknown): { Hg: number; Wg: number; cells: number; tail: number; R: number } | null;
export function conv2DBackpropFilterRoute(tf: unknown, xShape: number[], attrs: Record<string, unknown>): "matmul" | "loop";
export function conv2DBackpropFilterMatMul(tf: unknown): KernelFn;
export function conv2DBackpropFilterLoop(tf: unknown): KernelFn;
export function registerMissingWasmKernels(tf: unknown, opts?: { filterGrad?: "matmul" | "js" }): string[];
