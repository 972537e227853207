// Test helpers for the conv / pool / norm / dropout kernel tests: a bump allocator over one heap
// (as a trainer lays tensors out), a tiny naive GemmFn (the oracle shape of runtime/kernels/gemm),
// the JSON cases written by make_cases.py, and a float32 closeness check.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { GemmFn } from "../../../runtime/backend";

/** Heap with a bump allocator. `double` backs it with a Float64Array (for finite differences),
 *  cast to the Float32Array type the kernels declare: they only index and do arithmetic. */
export class Heap {
  H: Float32Array;
  top = 0;
  constructor(size: number, double = false) {
    this.H = double ? (new Float64Array(size) as unknown as Float32Array) : new Float32Array(size);
  }
  alloc(n: number, fill = 0): number {
    const o = this.top;
    this.top += n;
    if (this.top > this.H.length) throw new Error(`heap overflow: ${this.top} > ${this.H.length}`);
    this.H.fill(fill, o, this.top);
    return o;
  }
  put(v: ArrayLike<number>): number {
    const o = this.alloc(v.length);
    for (let i = 0; i < v.length; i++) this.H[o + i] = v[i];
    return o;
  }
  get(o: number, n: number): number[] {
    return Array.from(this.H.subarray(o, o + n));
  }
}

/** C[M,N] = beta*C + op(A)[M,K] op(B)[K,N]; tA=1: A stored (K,M); tB=1: B stored (N,K). */
export function naiveGemm(H: Float32Array): GemmFn {
  return (tA, tB, M, N, K, a, b, c, beta) => {
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += H[a + (tA ? k * M + i : i * K + k)] * H[b + (tB ? j * K + k : k * N + j)];
        H[c + i * N + j] = beta ? H[c + i * N + j] + s : s;
      }
  };
}

export function loadCases<T>(file: string): T[] {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`./${file}`, import.meta.url)), "utf8")) as T[];
}

/** |got - want| <= rtol*|want| + atol*max(1, max|want|), element by element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 1e-4, atol = 1e-5): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) - (rtol * Math.abs(want[i]) + atol * scale);
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) expect.fail(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (of ${want.length})`);
}
