// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2015) for 3x3, stride-1, dilation-1, ungrouped
// convs: each 2x2 output tile of each output channel is
//   Y = A^T [ sum_c (G g_kc G^T) . (B^T d_c B) ] A          (. elementwise, d_c the 4x4 input tile)
// so the 3x3 x C multiply-adds per output become 16 x C per 4 outputs (2.25x fewer), as 16
// independent GEMMs (one per tile position) over all tiles of a block of samples:
//   M_pos (K, T) = U_pos (K, C) . V_pos (C, T)
// The transforms (matrices below) are additions and halvings only.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Backward (the adjoints of the same linear maps), both from dM = A dY A^T per output tile:
//   weight gradient: dU_pos (K, C) = sum_t dM_pos (K, T) . V_pos^T, dW = G^T dU G;
//   input gradient: dV_pos (C, T) = U_pos^T . dM_pos, dx = B dV B^T summed over the overlapping
//     4x4 tile windows (so dy is transformed once for both, and dx needs no transform of its own).
// The results differ from im2col + GEMM in the last bits (other sums, in another order); the tests
// compare them with the naive direct convolution (test/winograd.test.ts) and PyTorch's.
//
// The transforms of the input (x -> V), of the output (M -> y, + bias, + ReLU), of dy (dy -> dM)
// and back to dx (dV -> dx) run in wasm on the wasm backend (conv.wat wino_in / wino_out / wino_dy
// / wino_dx, four tiles per SIMD vector); the TypeScript loops here are their references and write
// the same bytes: each value is the same expression tree of float32 operations (every intermediate
// rounded with Math.fround).
// The weight transforms (K x C small matrices per call) are computed in float64 and rounded once,
// here, for every backend.
//
// An odd output size is covered by ceil(OH/2) x ceil(OW/2) tiles, the last tile row or column
// computing one row or column that is not stored (and whose dy is read as zeros).
// Layouts (float offsets): a block of m samples has T = m*TH*TW tiles, TH = ceil(OH/2), TW = ceil(OW/2), tile
// t = i*TH*TW + r*TW + s; pos = 4*row + col of the 4x4 transformed tile; V[pos*(C*T+4) + c*T + t],
// M (and dM) [pos*(K*T+4) + k*T + t] (each position's matrix followed by 4 floats of slack, where
// the wasm stores of a last group of fewer than 4 tiles put their unused lanes),
// U[(pos*K + k)*C + c]. Scratch (`col`, cfg.colFloats floats, see winogradScratchSize): U, the
// weight gradient's dU, V (or dV), M (or dM), an input plane with a zero border, each rounded up to
// 4 floats, with 8 floats after V, M and the plane (the wasm loops read, never use, up to 8 floats
// past them).
import type { GemmFn } from "../backend";
import type { ConvConfig } from "./conv";
import { checkRange, convExportsOf, convParallelOf, type ConvParallel } from "../wasm/conv-kernels";

/**
 * Samples per block the compiler plans for: at M2's conv2 (batch 64, one thread) 4 runs as fast as
 * 16 (7.6 ms forward + backward) and 64 much slower (its V and M leave the cache).
 */
export const WINO_BLOCK = 4;
/** A worker thread's default column area (runtime/wasm/instance.ts CONV_COL_FLOATS; a test checks they agree). */
export const WINO_SCRATCH_MAX = 1 << 18;
/**
 * The most scratch one block of one sample may take (16 MB): larger layers stay on im2col. Between
 * WINO_SCRATCH_MAX and this, the trainer asks the backend for worker areas that large
 * (program meta.convColFloats), so that two threads still split the blocks.
 */
export const WINO_SCRATCH_LIMIT = 1 << 22;

const up4 = (v: number): number => (v + 3) & ~3;

/** True when Winograd F(2,3) applies to the forward convolution of c. */
export function winogradApplies(c: ConvConfig): boolean {
  return c.kh === 3 && c.kw === 3 && c.sh === 1 && c.sw === 1 && c.dh === 1 && c.dw === 1 && c.groups === 1 && c.ph >= 0 && c.ph <= 2 && c.pw >= 0 && c.pw <= 2;
}

interface Areas {
  u: number;
  du: number;
  v: number;
  m: number;
  plane: number;
  end: number;
}

// The scratch areas of a Winograd forward of c with nb samples per block (relative to col).
function areas(c: ConvConfig, nb: number): Areas {
  const TH = (c.OH + 1) >> 1;
  const TW = (c.OW + 1) >> 1;
  const T = nb * TH * TW;
  const u = 0;
  const du = up4(16 * c.K * c.C);
  const v = du + up4(16 * c.K * c.C);
  const m = v + up4(16 * (c.C * T + 4)) + 8;
  const plane = m + up4(16 * (c.K * T + 4)) + 8;
  const end = plane + up4((2 * TH + 2) * (2 * TW + 2)) + 8;
  return { u, du, v, m, plane, end };
}

/**
 * Floats of scratch the Winograd kernels of c need with nb samples per block (the forward and both
 * gradients use the same areas).
 */
export function winogradScratchSize(c: ConvConfig, nb: number): number {
  return areas(c, nb).end;
}

// ---- the transforms: TypeScript references (conv.wat's wino_* write the same bytes) -------------

const f = Math.fround;
// the transforms' per-tile scratch (nothing is allocated in a training step; kernels do not run
// concurrently in one thread)
const sc = {
  q: new Float64Array(16),
  g: new Float64Array(9),
  t: new Float64Array(12),
  dd: new Float64Array(16),
  prev: new Float64Array(8),
};

/**
 * V = B^T d B for every tile of m samples of x (C, IH, IW), tiles of output rows 2r, 2r+1 and
 * columns 2s, 2s+1 reading input rows 2r-ph .. 2r-ph+3 (zeros outside), into V (layout above).
 */
export function winoInputRef(
  H: Float32Array,
  x: number,
  m: number,
  C: number,
  IH: number,
  IW: number,
  ph: number,
  pw: number,
  TH: number,
  TW: number,
  v: number,
  T: number,
): void {
  const d = sc.q;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < m; i++) {
      const xs = x + (i * C + c) * IH * IW;
      for (let r = 0; r < TH; r++)
        for (let s = 0; s < TW; s++) {
          for (let a = 0; a < 4; a++)
            for (let b = 0; b < 4; b++) {
              // zeros outside the input (wino_in's plane holds rows h with h + ph < 2TH+2 and
              // columns w with w + pw < 2TW+2, all a tile reads)
              const h = 2 * r + a - ph;
              const w = 2 * s + b - pw;
              d[a * 4 + b] = h >= 0 && h < IH && w >= 0 && w < IW ? H[xs + h * IW + w] : 0;
            }
          const t = (i * TH + r) * TW + s;
          for (let b = 0; b < 4; b++) {
            const d0 = d[b],
              d1 = d[4 + b],
              d2 = d[8 + b],
              d3 = d[12 + b];
            d[b] = f(d0 - d2);
            d[4 + b] = f(d1 + d2);
            d[8 + b] = f(d2 - d1);
            d[12 + b] = f(d1 - d3);
          }
          for (let a = 0; a < 4; a++) {
            const r0 = d[a * 4],
              r1 = d[a * 4 + 1],
              r2 = d[a * 4 + 2],
              r3 = d[a * 4 + 3];
            const ps = C * T + 4;
            const o = v + a * 4 * ps + c * T + t;
            H[o] = r0 - r2;
            H[o + ps] = r1 + r2;
            H[o + 2 * ps] = r2 - r1;
            H[o + 3 * ps] = r1 - r3;
          }
        }
    }
}

/**
 * y (m, K, OH, OW) = A^T M A per tile (+ bias[k] when b >= 0), rows and columns beyond OH, OW
 * not stored; when ry >= 0 also ry = max(y, 0) (f32.max, as conv.wat's relu).
 */
export function winoOutputRef(
  H: Float32Array,
  mm: number,
  T: number,
  K: number,
  m: number,
  TH: number,
  TW: number,
  OH: number,
  OW: number,
  b: number,
  y: number,
  ry: number,
): void {
  const q = sc.q;
  for (let k = 0; k < K; k++)
    for (let i = 0; i < m; i++)
      for (let r = 0; r < TH; r++)
        for (let s = 0; s < TW; s++) {
          const t = (i * TH + r) * TW + s;
          for (let p = 0; p < 16; p++) q[p] = H[mm + p * (K * T + 4) + k * T + t];
          // rows: s0 = (m0 + m1) + m2, s1 = (m1 - m2) - m3 (per column j)
          for (let j = 0; j < 4; j++) {
            const m0 = q[j],
              m1 = q[4 + j],
              m2 = q[8 + j],
              m3 = q[12 + j];
            q[j] = f(f(m0 + m1) + m2);
            q[4 + j] = f(f(m1 - m2) - m3);
          }
          for (let e = 0; e < 2; e++) {
            const s0 = q[e * 4],
              s1 = q[e * 4 + 1],
              s2 = q[e * 4 + 2],
              s3 = q[e * 4 + 3];
            let y0 = f(f(s0 + s1) + s2);
            let y1 = f(f(s1 - s2) - s3);
            if (b >= 0) {
              y0 = f(y0 + H[b + k]);
              y1 = f(y1 + H[b + k]);
            }
            if (2 * r + e >= OH) continue;
            const o = ((i * K + k) * OH + 2 * r + e) * OW + 2 * s;
            H[y + o] = y0;
            if (ry >= 0) H[ry + o] = Math.max(y0, 0);
            if (2 * s + 1 >= OW) continue;
            H[y + o + 1] = y1;
            if (ry >= 0) H[ry + o + 1] = Math.max(y1, 0);
          }
        }
}

/** dM = A dY A^T for every 2x2 tile of dy (m, K, OH, OW), zeros beyond OH, OW. */
export function winoDyRef(H: Float32Array, dy: number, m: number, K: number, TH: number, TW: number, OH: number, OW: number, dm: number, T: number): void {
  for (let k = 0; k < K; k++)
    for (let i = 0; i < m; i++)
      for (let r = 0; r < TH; r++)
        for (let s = 0; s < TW; s++) {
          const t = (i * TH + r) * TW + s;
          const o = dy + ((i * K + k) * OH + 2 * r) * OW + 2 * s;
          const row1 = 2 * r + 1 < OH;
          const col1 = 2 * s + 1 < OW;
          const g00 = H[o],
            g01 = col1 ? H[o + 1] : 0;
          const g10 = row1 ? H[o + OW] : 0,
            g11 = row1 && col1 ? H[o + OW + 1] : 0;
          // rows of A g: (g0, g0 + g1, g0 - g1, -g1) per column; then the same along the columns
          const rows = sc.t;
          rows[0] = g00;
          rows[1] = g01;
          rows[2] = f(g00 + g10);
          rows[3] = f(g01 + g11);
          rows[4] = f(g00 - g10);
          rows[5] = f(g01 - g11);
          rows[6] = -g10;
          rows[7] = -g11;
          for (let a = 0; a < 4; a++) {
            const t0 = rows[2 * a],
              t1 = rows[2 * a + 1];
            const ps = K * T + 4;
            const p = dm + a * 4 * ps + k * T + t;
            H[p] = t0;
            H[p + ps] = t0 + t1;
            H[p + 2 * ps] = t0 - t1;
            H[p + 3 * ps] = -t1;
          }
        }
}

/**
 * The input gradient's transform, the adjoint of winoInputRef: dd = B dV B^T per tile of dV
 * (layout of V: C channels, T tiles of m samples), summed where the 4x4 tiles overlap into a plane
 * of (2TH+2) x (2TW+2) per sample and channel (plane row h + ph, column w + pw is input row h,
 * column w), whose window is dx (m, C, IH, IW) (overwritten; what falls outside is dropped).
 *   B = [1 0 0 0; 0 1 -1 1; -1 1 1 0; 0 0 0 -1]
 * Summation order (conv.wat wino_dx, four tiles per vector, writes the same bytes): plane row
 * 2r+a, column 2s+e (a in 0..3 of tile row r, e in 0..1) gets E = dd_s[a][e] + dd_{s-1}[a][e+2]
 * (s from 0 to TW; tiles -1 and TW are zeros, transformed like the others), rows a = 0, 1 as
 * plane + E (the plane's rows 0 and 1 start at zero), rows a = 2, 3 as E (overwritten). `plane`:
 * (2TH+2) * (2TW+2) + 8 floats of scratch.
 */
export function winoDxRef(
  H: Float32Array,
  dv: number,
  T: number,
  C: number,
  m: number,
  TH: number,
  TW: number,
  IH: number,
  IW: number,
  ph: number,
  pw: number,
  dx: number,
  plane: number,
): void {
  const PW = 2 * TW + 2;
  const ps = C * T + 4;
  const q = sc.q;
  const dd = sc.dd;
  for (let c = 0; c < C; c++)
    for (let i = 0; i < m; i++) {
      H.fill(0, plane, plane + 2 * PW);
      for (let r = 0; r < TH; r++) {
        sc.prev.fill(0); // dd[a][2], dd[a][3] of tile s - 1 (a*2 + e)
        for (let s = 0; s <= TW; s++) {
          const t = (i * TH + r) * TW + s;
          for (let p = 0; p < 16; p++) q[p] = s < TW ? H[dv + p * ps + c * T + t] : 0;
          // rows: t0 = X0, t1 = (X1 - X2) + X3, t2 = (X1 + X2) - X0, t3 = -X3 (per column b)
          for (let b = 0; b < 4; b++) {
            const x0 = q[b],
              x1 = q[4 + b],
              x2 = q[8 + b],
              x3 = q[12 + b];
            q[4 + b] = f(f(x1 - x2) + x3);
            q[8 + b] = f(f(x1 + x2) - x0);
            q[12 + b] = -x3;
          }
          for (let a = 0; a < 4; a++) {
            const y0 = q[a * 4],
              y1 = q[a * 4 + 1],
              y2 = q[a * 4 + 2],
              y3 = q[a * 4 + 3];
            dd[a * 4] = y0;
            dd[a * 4 + 1] = f(f(y1 - y2) + y3);
            dd[a * 4 + 2] = f(f(y1 + y2) - y0);
            dd[a * 4 + 3] = -y3;
          }
          for (let a = 0; a < 4; a++) {
            const o = plane + (2 * r + a) * PW + 2 * s;
            for (let e = 0; e < 2; e++) {
              const E = f(dd[a * 4 + e] + sc.prev[a * 2 + e]);
              H[o + e] = a < 2 ? f(H[o + e] + E) : E;
              sc.prev[a * 2 + e] = dd[a * 4 + e + 2];
            }
          }
        }
      }
      const xs = dx + (i * C + c) * IH * IW;
      for (let h = 0; h < IH; h++) for (let w = 0; w < IW; w++) H[xs + h * IW + w] = H[plane + (h + ph) * PW + w + pw];
    }
}

// ---- weight transforms (float64, rounded once) --------------------------------------------------

// U[(pos*K + k)*C + c] = (G g G^T)[pos], g the 3x3 kernel at w + (k*C + c)*9 (or, rotated, of the
// input gradient: g[a][b] = w[(c*Kw + k)*9 + (2-a)*3 + (2-b)] with the layer's K = C here).
function winoWeights(H: Float32Array, w: number, K: number, C: number, u: number, rotated: boolean): void {
  const g = sc.g;
  const t = sc.t;
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < 9; p++) g[p] = rotated ? H[w + (c * K + k) * 9 + 8 - p] : H[w + (k * C + c) * 9 + p];
      for (let b = 0; b < 3; b++) {
        const g0 = g[b],
          g1 = g[3 + b],
          g2 = g[6 + b];
        t[b] = g0;
        t[3 + b] = (g0 + g1 + g2) * 0.5;
        t[6 + b] = (g0 - g1 + g2) * 0.5;
        t[9 + b] = g2;
      }
      for (let a = 0; a < 4; a++) {
        const t0 = t[a * 3],
          t1 = t[a * 3 + 1],
          t2 = t[a * 3 + 2];
        const o = u + (a * 4 * K + k) * C + c;
        H[o] = t0;
        H[o + K * C] = (t0 + t1 + t2) * 0.5;
        H[o + 2 * K * C] = (t0 - t1 + t2) * 0.5;
        H[o + 3 * K * C] = t2;
      }
    }
}

// dw[(k*C + c)*9 + a*3 + b] = (G^T dU G)[a][b] of dU[(pos*K + k)*C + c].
function winoWeightGrad(H: Float32Array, du: number, K: number, C: number, dw: number): void {
  const q = sc.q;
  const t = sc.t;
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < 16; p++) q[p] = H[du + (p * K + k) * C + c];
      // G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]
      for (let j = 0; j < 4; j++) {
        const x0 = q[j],
          x1 = q[4 + j],
          x2 = q[8 + j],
          x3 = q[12 + j];
        t[j] = x0 + (x1 + x2) * 0.5;
        t[4 + j] = (x1 - x2) * 0.5;
        t[8 + j] = (x1 + x2) * 0.5 + x3;
      }
      for (let a = 0; a < 3; a++) {
        const x0 = t[a * 4],
          x1 = t[a * 4 + 1],
          x2 = t[a * 4 + 2],
          x3 = t[a * 4 + 3];
        const o = dw + (k * C + c) * 9 + a * 3;
        H[o] = x0 + (x1 + x2) * 0.5;
        H[o + 1] = (x1 - x2) * 0.5;
        H[o + 2] = (x1 + x2) * 0.5 + x3;
      }
    }
}

// ---- the convolution ------------------------------------------------------------------------

// The thread-split runner of a wasm backend whose worker areas hold the scratch of c at nb (a
// one-thread backend registers one too: the blocks then run in one wasm call), or undefined.
function parallelFor(H: Float32Array, ar: Areas): ConvParallel | undefined {
  const par = convParallelOf(H);
  return par && par.colFloats >= ar.end ? par : undefined;
}

// conv.wat conv_chunk's parameters for kinds 7 and 8 (runtime/wasm/conv.wat lists them).
function setWinoArgs(
  a: Int32Array,
  kind: 7 | 8 | 9,
  c: ConvConfig,
  nb: number,
  n: number,
  x: number,
  u: number,
  b: number,
  y: number,
  ry: number,
  ar: Areas,
  rows: number,
  dx = -1,
  du = -1,
): void {
  a[0] = kind;
  a[1] = n;
  a[2] = x;
  a[3] = u;
  a[4] = b;
  a[5] = y;
  a[6] = ry;
  a[7] = c.C;
  a[8] = c.H;
  a[9] = c.W;
  a[10] = c.K;
  a[11] = c.ph;
  a[12] = c.pw;
  a[13] = c.OH;
  a[14] = c.OW;
  a[15] = nb;
  a[16] = ar.v;
  a[17] = ar.m;
  a[18] = ar.plane;
  a[19] = rows;
  a[20] = dx;
  a[21] = du;
}

// The forward convolution y = conv(x, U) (+ b, + ReLU into ry) with the transformed weights
// already at col + ar.u; blocks of nb samples (split between threads on a wasm backend: each
// block is the same computation on whichever thread claims it, in that thread's areas).
function winoCore(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  nb: number,
  ar: Areas,
  x: number,
  b: number,
  y: number,
  col: number,
  n: number,
  ry: number,
): void {
  const { C, K, OH, OW } = c;
  const TH = (OH + 1) >> 1;
  const TW = (OW + 1) >> 1;
  // the wasm loops do not check their addresses: check the ranges once (a split runner implies them)
  const k = convExportsOf(H);
  if (k) {
    checkRange(H, x, x + n * C * c.H * c.W, "conv input");
    checkRange(H, y, y + n * K * OH * OW, "conv output");
    if (ry >= 0) checkRange(H, ry, ry + n * K * OH * OW, "conv ReLU output");
    if (b >= 0) checkRange(H, b, b + K, "conv bias");
    checkRange(H, col, col + ar.end, "Winograd scratch");
  }
  const par = parallelFor(H, ar);
  if (par) {
    if (n === 0) return;
    setWinoArgs(par.args, 7, c, nb, n, x, col + ar.u, b, y, ry, ar, 4);
    par.run(Math.ceil(n / nb), col);
    return;
  }
  // the ts backend, or worker areas too small for these blocks: one thread (wasm transforms when
  // the backend has them; the same bytes)
  for (let i0 = 0; i0 < n; i0 += nb) {
    const m = Math.min(nb, n - i0);
    const T = m * TH * TW;
    const xs = x + i0 * C * c.H * c.W;
    if (k) k.wino_in(xs, m, C, c.H, c.W, c.ph, c.pw, TH, TW, col + ar.v, T, col + ar.plane, 0, 4);
    else winoInputRef(H, xs, m, C, c.H, c.W, c.ph, c.pw, TH, TW, col + ar.v, T);
    for (let p = 0; p < 16; p++) gemm(0, 0, K, T, C, col + ar.u + p * K * C, col + ar.v + p * (C * T + 4), col + ar.m + p * (K * T + 4), 0);
    const ys = y + i0 * K * OH * OW;
    const rys = ry >= 0 ? ry + i0 * K * OH * OW : -1;
    if (k) k.wino_out(col + ar.m, T, K, m, TH, TW, OH, OW, b, ys, rys);
    else winoOutputRef(H, col + ar.m, T, K, m, TH, TW, OH, OW, b, ys, rys);
  }
}

/** How a conv runs by Winograd with `room` floats of scratch: its blocks and their areas. */
export interface WinogradPlan {
  room: number;
  nbMax: number;
  /** samples per block: the largest nb <= nbMax whose forward and backward scratch fits the room */
  nb: number;
  areas: Areas;
}

// Plans by configuration object (the trainer's CFG constants): made on the first call, so that a
// training step allocates nothing.
const plans = new WeakMap<ConvConfig, WinogradPlan>();

/**
 * The Winograd plan of c (cfg.wino samples per block at most) with `room` floats at col, or
 * undefined when not even one sample fits (the caller runs im2col + GEMM).
 */
export function winogradPlan(c: ConvConfig, room: number): WinogradPlan | undefined {
  const nbMax = Math.max(1, c.wino ?? 1);
  let p = plans.get(c);
  if (!p || p.room !== room || p.nbMax !== nbMax) {
    let nb = nbMax;
    while (nb > 0 && winogradScratchSize(c, nb) > room) nb >>= 1;
    p = { room, nbMax, nb, areas: areas(c, Math.max(nb, 1)) };
    plans.set(c, p);
  }
  return p.nb > 0 ? p : undefined;
}

/** The forward convolution by Winograd (conv2dForward's arguments, its plan for the room at col). */
export function winogradForward(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  wp: WinogradPlan,
  x: number,
  w: number,
  b: number,
  y: number,
  col: number,
  n: number,
  ry: number,
): void {
  winoWeights(H, w, c.K, c.C, col, false);
  winoCore(H, gemm, c, wp.nb, wp.areas, x, b, y, col, n, ry);
}

/**
 * The gradients by Winograd (conv2dBackward's arguments, after the bias gradient), both from
 * dM = A dY A^T of each block: dw (when dw >= 0) from dU_pos = sum over blocks of dM_pos . V_pos^T,
 * dx (when dx >= 0) as dV_pos = U_pos^T . dM_pos transformed back by winoDxRef (the adjoint of the
 * forward; V's area holds dV once dU has used V). dx and dw are overwritten.
 */
export function winogradBackward(
  H: Float32Array,
  gemm: GemmFn,
  c: ConvConfig,
  wp: WinogradPlan,
  x: number,
  w: number,
  dy: number,
  dx: number,
  dw: number,
  col: number,
  n: number,
): void {
  const { C, K, OH, OW } = c;
  const nb = wp.nb;
  const ar = wp.areas;
  const TH = (OH + 1) >> 1;
  const TW = (OW + 1) >> 1;
  if (dx < 0 && dw < 0) return;
  const k = convExportsOf(H);
  if (k) {
    checkRange(H, x, x + n * C * c.H * c.W, "conv input");
    checkRange(H, dy, dy + n * K * OH * OW, "conv output gradient");
    if (dx >= 0) checkRange(H, dx, dx + n * C * c.H * c.W, "conv input gradient");
    checkRange(H, col, col + ar.end, "Winograd scratch");
  }
  if (dx >= 0) winoWeights(H, w, K, C, col + ar.u, false);
  const par = parallelFor(H, ar);
  if (n === 0) H.fill(0, col + ar.du, col + ar.du + 16 * K * C);
  else if (par && par.threads > 1) {
    // two threads: the input gradient by blocks, then the weight gradient by tile rows (each
    // position's dU summed over the blocks in order, as on one thread)
    if (dx >= 0) {
      setWinoArgs(par.args, 9, c, nb, n, x, col + ar.u, -1, dy, -1, ar, 4, dx, col + ar.du);
      par.run(Math.ceil(n / nb), col);
    }
    if (dw >= 0) {
      setWinoArgs(par.args, 8, c, nb, n, x, col + ar.u, -1, dy, -1, ar, 2, -1, col + ar.du);
      par.run(2, col);
    }
  } else if (par) {
    // one thread: both gradients from each block's dM in one wasm call
    setWinoArgs(par.args, 8, c, nb, n, dw >= 0 ? x : -1, col + ar.u, -1, dy, -1, ar, 4, dx, col + ar.du);
    par.run(1, col);
  } else {
    for (let i0 = 0; i0 < n; i0 += nb) {
      const m = Math.min(nb, n - i0);
      const T = m * TH * TW;
      const xs = x + i0 * C * c.H * c.W;
      const dys = dy + i0 * K * OH * OW;
      if (dw >= 0) {
        if (k) k.wino_in(xs, m, C, c.H, c.W, c.ph, c.pw, TH, TW, col + ar.v, T, col + ar.plane, 0, 4);
        else winoInputRef(H, xs, m, C, c.H, c.W, c.ph, c.pw, TH, TW, col + ar.v, T);
      }
      if (k) k.wino_dy(dys, m, K, TH, TW, OH, OW, col + ar.m, T, 0, 4);
      else winoDyRef(H, dys, m, K, TH, TW, OH, OW, col + ar.m, T);
      if (dw >= 0)
        for (let p = 0; p < 16; p++) gemm(0, 1, K, C, T, col + ar.m + p * (K * T + 4), col + ar.v + p * (C * T + 4), col + ar.du + p * K * C, i0 > 0 ? 1 : 0);
      if (dx < 0) continue;
      for (let p = 0; p < 16; p++) gemm(1, 0, C, T, K, col + ar.u + p * K * C, col + ar.m + p * (K * T + 4), col + ar.v + p * (C * T + 4), 0);
      const dxs = dx + i0 * C * c.H * c.W;
      if (k) k.wino_dx(col + ar.v, T, C, m, TH, TW, c.H, c.W, c.ph, c.pw, dxs, col + ar.plane);
      else winoDxRef(H, col + ar.v, T, C, m, TH, TW, c.H, c.W, c.ph, c.pw, dxs, col + ar.plane);
    }
  }
  if (dw >= 0) winoWeightGrad(H, col + ar.du, K, C, dw);
}
