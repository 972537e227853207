// The compute backend of a trainer: the heap H every tensor lives in, and the GEMM bound to it.
// createBackend picks the WASM SIMD backend when the module validates and the caller allows it,
// and falls back to the plain TypeScript blocked GEMM otherwise.
export type GemmFn = (tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, a: number, b: number, c: number, beta: 0 | 1) => void;

export interface Backend {
  H: Float32Array;
  gemm: GemmFn;
  name: string;
  threads: number;
}
