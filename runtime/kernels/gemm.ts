// Single-precision GEMM on the heap H: C[M,N] = beta*C + op(A)[M,K] · op(B)[K,N].
// tA=1: A is stored [K,M] (so op(A) = Aᵀ); tB=1: B is stored [N,K]. beta is 0 or 1; with beta=0
// C is overwritten (its old contents, even NaN, are ignored). a, b, c are element offsets into H;
// C must not overlap A or B.
// A training step uses three layouts (docs/architecture.md):
//   forward          gemm(0,1, n,out,in, x,W,y,0)     x is (n, in),  W is (out, in), y is (n, out)
//   input gradient   gemm(0,0, n,in,out, dy,W,dx,0)   dy is (n, out), W is (out, in), dx is (n, in)
//   weight gradient  gemm(1,0, out,in,n, dy,x,dW,b)   dy is (n, out), x is (n, in),  dW is (out, in)
//
// gemmNaive is the oracle; gemmBlocked is the fast plain-TypeScript version (Goto-style: blocks
// of KC x NC of B and MC x KC of A are packed into contiguous panels, whatever the layout, and a
// 4x2 register-tiled micro-kernel walks the panels). Both accumulate in double precision;
// gemmBlocked rounds to float32 once per KC-deep block, gemmNaive once per element.
import type { GemmFn } from "../backend";

/** The oracle: a plain triple loop, any layout. */
export function gemmNaive(H: Float32Array, tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, a: number, b: number, c: number, beta: 0 | 1): void {
  // element (i, k) of op(A) is at a + i*sAi + k*sAk; element (k, j) of op(B) at b + k*sBk + j*sBj
  const sAi = tA ? 1 : K;
  const sAk = tA ? M : 1;
  const sBk = tB ? 1 : N;
  const sBj = tB ? K : 1;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += H[a + i * sAi + k * sAk] * H[b + k * sBk + j * sBj];
      const o = c + i * N + j;
      H[o] = beta ? H[o] + s : s;
    }
  }
}

// Register tile and cache blocks. MR x NR is the micro-tile of C held in locals: 4x2 measured
// fastest in V8 (4x4 and 4x3 spill: 16 or 12 accumulators plus operands exceed the 16 XMM
// registers). MC x KC of A (256 KB as float64) stays in L2, KC x NR of B (4 KB) in L1.
// Panels are packed as Float64Array: the micro-kernel then loads doubles directly instead of
// converting a float32 on every load (+20% measured). Index arithmetic is written `(x + y) | 0`
// so V8 drops the overflow checks (+25% measured).
export const MR = 4;
export const NR = 2;
export const KC = 256;
export const MC = 128;
export const NC = 1024;

export type GemmKernel = (H: Float32Array, tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, a: number, b: number, c: number, beta: 0 | 1) => void;

/**
 * The blocked GEMM with its pack buffers (float64, sized for the largest blocks: MC*KC for A,
 * NC*KC for B, 2.25 MB together); same contract as gemmNaive. V8 11.3 facts behind the form,
 * measured on 128x256x784 (GFLOP/s): the same code as module-level functions runs at 5.6, in
 * this closure at 7.4, and only while the buffers are `const` (growing them by reassignment
 * costs the 1.8 again) and while a single closure of it exists (a second instance makes the
 * inner calls polymorphic: 5.5). Hence one instance, created at the first call.
 */
function createGemmBlocked(): GemmKernel {
  const packA = new Float64Array(MC * KC);
  const packB = new Float64Array(NC * KC);

  // Pack op(A)[i0:i0+mc, k0:k0+kc] into ceil(mc/MR) panels; panel p holds, for each k, MR
  // consecutive rows (zero-padded past mc).
  function packPanelsA(H: Float32Array, tA: 0 | 1, M: number, K: number, a: number, i0: number, k0: number, mc: number, kc: number, P: Float64Array): void {
    let o = 0;
    for (let ip = 0; ip < mc; ip += MR) {
      const rows = Math.min(MR, mc - ip);
      const i = i0 + ip;
      if (tA === 0) {
        // A is [M, K]: row i at a + i*K
        const r0 = a + i * K + k0;
        if (rows === MR) {
          const r1 = r0 + K,
            r2 = r1 + K,
            r3 = r2 + K;
          for (let k = 0; k < kc; k++) {
            P[o] = H[r0 + k];
            P[o + 1] = H[r1 + k];
            P[o + 2] = H[r2 + k];
            P[o + 3] = H[r3 + k];
            o += MR;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            for (let r = 0; r < MR; r++) P[o + r] = r < rows ? H[r0 + r * K + k] : 0;
            o += MR;
          }
        }
      } else {
        // A is [K, M]: op(A)(i, k) at a + k*M + i, so the MR rows of one k are contiguous
        let s = a + k0 * M + i;
        if (rows === MR) {
          for (let k = 0; k < kc; k++) {
            P[o] = H[s];
            P[o + 1] = H[s + 1];
            P[o + 2] = H[s + 2];
            P[o + 3] = H[s + 3];
            o += MR;
            s += M;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            for (let r = 0; r < MR; r++) P[o + r] = r < rows ? H[s + r] : 0;
            o += MR;
            s += M;
          }
        }
      }
    }
  }

  // Pack op(B)[k0:k0+kc, j0:j0+nc] into ceil(nc/NR) panels; panel q holds, for each k, NR
  // consecutive columns (zero-padded past nc).
  function packPanelsB(H: Float32Array, tB: 0 | 1, N: number, K: number, b: number, k0: number, j0: number, kc: number, nc: number, P: Float64Array): void {
    let o = 0;
    for (let jp = 0; jp < nc; jp += NR) {
      const cols = Math.min(NR, nc - jp);
      const j = j0 + jp;
      if (tB === 1) {
        // B is [N, K]: op(B)(k, j) at b + j*K + k, column j is a contiguous row of storage
        const r0 = b + j * K + k0;
        if (cols === NR) {
          const r1 = r0 + K;
          for (let k = 0; k < kc; k++) {
            P[o] = H[r0 + k];
            P[o + 1] = H[r1 + k];
            o += NR;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            P[o] = H[r0 + k];
            P[o + 1] = 0;
            o += NR;
          }
        }
      } else {
        // B is [K, N]: the NR columns of one k are contiguous
        let s = b + k0 * N + j;
        if (cols === NR) {
          for (let k = 0; k < kc; k++) {
            P[o] = H[s];
            P[o + 1] = H[s + 1];
            o += NR;
            s += N;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            P[o] = H[s];
            P[o + 1] = 0;
            o += NR;
            s += N;
          }
        }
      }
    }
  }

  // The micro-kernel: a (MR x kc) panel at pa of A times a (kc x NR) panel at pb of B, added into
  // the full MR x NR tile of C at c (row stride ldc). Kept small (no edge logic) so that V8
  // inlines it into the block loop.
  function micro(A: Float64Array, pa: number, B: Float64Array, pb: number, kc: number, H: Float32Array, c: number, ldc: number): void {
    let c00 = 0,
      c01 = 0,
      c10 = 0,
      c11 = 0,
      c20 = 0,
      c21 = 0,
      c30 = 0,
      c31 = 0;
    const end = (pa + kc * 4) | 0; // literals, not MR/NR: module bindings cost a check each
    while (pa < end) {
      const b0 = B[pb],
        b1 = B[(pb + 1) | 0];
      const a0 = A[pa];
      c00 += a0 * b0;
      c01 += a0 * b1;
      const a1 = A[(pa + 1) | 0];
      c10 += a1 * b0;
      c11 += a1 * b1;
      const a2 = A[(pa + 2) | 0];
      c20 += a2 * b0;
      c21 += a2 * b1;
      const a3 = A[(pa + 3) | 0];
      c30 += a3 * b0;
      c31 += a3 * b1;
      pa = (pa + 4) | 0;
      pb = (pb + 2) | 0;
    }
    const o1 = c + ldc,
      o2 = o1 + ldc,
      o3 = o2 + ldc;
    H[c] += c00;
    H[c + 1] += c01;
    H[o1] += c10;
    H[o1 + 1] += c11;
    H[o2] += c20;
    H[o2 + 1] += c21;
    H[o3] += c30;
    H[o3 + 1] += c31;
  }

  // Edge tiles (the last rows or column of a block): same product, only `rows` x `cols` stored.
  function microEdge(
    A: Float64Array,
    pa: number,
    B: Float64Array,
    pb: number,
    kc: number,
    H: Float32Array,
    c: number,
    ldc: number,
    rows: number,
    cols: number,
  ): void {
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        let s = 0;
        for (let k = 0; k < kc; k++) s += A[pa + k * MR + r] * B[pb + k * NR + q];
        const o = c + r * ldc + q;
        H[o] += s;
      }
    }
  }

  function gemmBlocked(H: Float32Array, tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, a: number, b: number, c: number, beta: 0 | 1): void {
    if (M <= 0 || N <= 0) return;
    if (!beta) H.fill(0, c, c + M * N); // the micro-kernels accumulate into C
    if (K <= 0) return; // op(A)·op(B) is the zero matrix
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const kc = Math.min(KC, K - k0);
        packPanelsB(H, tB, N, K, b, k0, j0, kc, nc, packB);
        for (let i0 = 0; i0 < M; i0 += MC) {
          const mc = Math.min(MC, M - i0);
          packPanelsA(H, tA, M, K, a, i0, k0, mc, kc, packA);
          // full tiles: this loop stays in the driver (V8 inlines micro here; moving it into a
          // helper function of its own measured 25% slower), the partial ones go to microEdge
          const mFull = mc - (mc % MR);
          const nFull = nc - (nc % NR);
          const c0 = c + i0 * N + j0;
          for (let jp = 0; jp < nFull; jp += NR) {
            for (let ip = 0; ip < mFull; ip += MR) micro(packA, ip * kc, packB, jp * kc, kc, H, c0 + ip * N + jp, N);
          }
          if (mFull < mc) {
            for (let jp = 0; jp < nc; jp += NR) {
              microEdge(packA, mFull * kc, packB, jp * kc, kc, H, c0 + mFull * N + jp, N, mc - mFull, Math.min(NR, nc - jp));
            }
          }
          if (nFull < nc) {
            for (let ip = 0; ip < mFull; ip += MR) {
              microEdge(packA, ip * kc, packB, nFull * kc, kc, H, c0 + ip * N + nFull, N, MR, nc - nFull);
            }
          }
        }
      }
    }
  }

  return gemmBlocked;
}

let kernel: GemmKernel | null = null;

/** Cache-blocked, packed, 4x2 register-tiled GEMM; same contract as gemmNaive. */
export function gemmBlocked(H: Float32Array, tA: 0 | 1, tB: 0 | 1, M: number, N: number, K: number, a: number, b: number, c: number, beta: 0 | 1): void {
  if (kernel === null) kernel = createGemmBlocked();
  kernel(H, tA, tB, M, N, K, a, b, c, beta);
}

export type GemmImpl = "naive" | "blocked";

/** A GemmFn bound to H (the contract of runtime/backend.ts). */
export function makeGemm(H: Float32Array, impl: GemmImpl = "blocked"): GemmFn {
  const f = impl === "naive" ? gemmNaive : gemmBlocked;
  return (tA, tB, M, N, K, a, b, c, beta) => f(H, tA, tB, M, N, K, a, b, c, beta);
}
