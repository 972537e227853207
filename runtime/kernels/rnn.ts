// Recurrent layers, PyTorch 1.13 semantics: one direction of one layer of nn.LSTM / nn.GRU
// (batch_first=True) per call, forward and backpropagation through time over the whole window.
// The naive oracles are in ./rnn-reference (test/kernels-rnn*.test.ts compares the two, and both
// against PyTorch).
//
// Shapes (U = cfg.hidden, G = 4 for LSTM, 3 for GRU, D = cfg.dirs):
//   x     (n, T, F)     input sequence, row-major, batch first
//   y     (n, T, D*U)   output sequence; the forward direction writes the first U floats of each
//                       position, the reverse direction the last U (PyTorch's output layout).
//                       -1: not written (only the final state is wanted)
//   len   (n)           valid length of each sample, integers 0..T stored as floats; -1: all T
//                       (0: an empty sequence, every step padded: zero output, final state =
//                       initial state, no gradient but into the final state's)
//   h0,c0 (n, U)        initial state of this direction; -1: zeros (c0/cT/dcT/dc0: LSTM only)
//   hT,cT (n, U)        final state: the state after the sample's last valid step (forward: at
//                       t = len-1, reverse: at t = 0); -1: not written. h0 may BE hT (and c0 cT):
//                       the state carried across windows in place (truncated BPTT); partial
//                       overlaps are not allowed.
//   w: RnnWeights       heap offsets of the direction's parameters, exactly as in PyTorch:
//                         wih weight_ih_l{l}[_reverse] (G*U, F)   rows gate-major: i f g o / r z n
//                         whh weight_hh_l{l}[_reverse] (G*U, U)
//                         bih bias_ih_l{l}[_reverse] (G*U) or -1 (bias=False)
//                         bhh bias_hh_l{l}[_reverse] (G*U) or -1
//   g: RnnWeights       their gradients (same shapes; a bias gradient may be -1 to skip it)
//
// Cells (sigma = logistic sigmoid; P = W_ih x_t + b_ih and R = W_hh h_{t-1} + b_hh, split in G
// slices of U):
//   LSTM  i = sigma(P_i + R_i), f = sigma(P_f + R_f), g = tanh(P_g + R_g), o = sigma(P_o + R_o)
//         c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
//   GRU   r = sigma(P_r + R_r), z = sigma(P_z + R_z), m = tanh(P_n + r * R_n)   (R_n includes b_hn)
//         h_t = (1 - z) * m + z * h_{t-1}
//
// Lengths (pack_padded_sequence semantics): at a padded step (t >= len[s]) the state is not
// updated, the output is 0, and no gradient flows through the step (dy there is ignored). The
// forward direction runs t = 0..len-1 and then holds its state; the reverse direction holds its
// initial state until t = len-1 and runs down to t = 0. Padded input rows must be finite (they
// meet zero gradients in the weight-gradient GEMMs).
//
// Calls (nothing is allocated; the kernels only write their outputs, save and scratch):
//   lstmForward(H, gemm, cfg, w, x, len, h0, c0, y, hT, cT, save, scratch, n)
//   lstmBackward(H, gemm, cfg, w, g, x, len, save, dy, dhT, dcT, dx, dh0, dc0, scratch, n, beta, betaX)
//   gruForward(H, gemm, cfg, w, x, len, h0, y, hT, save, scratch, n)
//   gruBackward(H, gemm, cfg, w, g, x, len, save, dy, dhT, dx, dh0, scratch, n, beta, betaX)
// The backward reads the save area its forward wrote (with the same cfg, w, x, len, n) and
// leaves it intact, so it may run more than once. dy (n, T, D*U) and dhT, dcT (n, U) are the
// gradients of the loss with respect to y and the final state, -1 when zero. Gradients written:
//   g.wih, g.whh, g.bih, g.bhh  beta 0: overwritten, beta 1: added to (accumulation over windows
//                               or calls); the bias gradients may be -1
//   dx (n, T, F) or -1          betaX 0: overwritten, 1: added to (the second direction of a
//                               bidirectional layer adds its share of the input gradient)
//   dh0, dc0 (n, U) or -1       overwritten: the gradient with respect to the initial state
// Sizes, in floats, for a batch of (at most) n samples:
//   lstmSaveSize(cfg, n) = 7 n T U   gruSaveSize(cfg, n) = 5 n T U
//   lstmScratchSize(cfg, n), gruScratchSize(cfg, n): the larger of the forward's and the
//   backward's (rnnForwardScratchSize / rnnBackwardScratchSize give each); the scratch needs
//   nothing kept between calls, so layers may share it.
// Save area, each block (n, T, .) batch-major with row s*T + t (a padded step's rows hold the
// held state and unused gates):
//   LSTM  [gates (n,T,4U): i f g o after their nonlinearity][hprev (n,T,U): h entering step t]
//         [cprev (n,T,U): c entering step t][tanhc (n,T,U): tanh(c) leaving step t]
//   GRU   [gates (n,T,3U): r z m after their nonlinearity][hn (n,T,U): R_n = W_hn h + b_hn]
//         [hprev (n,T,U)]
// Work per call (M = n*T): forward one GEMM (M, G*U, F) for the input projection of all steps
// into the gates block, then per step one GEMM (n, G*U, U) of h_{t-1} W_hh^T and one sweep that
// adds the biases, applies the gate math and writes state, output and save. Backward per step one
// sweep writing the pre-activation gradients dG (batch-major, and step t's rows contiguous) and
// one GEMM dh_{t-1} += dG_t W_hh; then four whole-window GEMMs: dx = dG W_ih, dW_ih = dG^T x,
// dW_hh = dG^T hprev, db = 1^T dG. Steps where no sample is valid skip their GEMM.
//
// The forward's gate sweep runs in wasm SIMD on the wasm backend (runtime/wasm/rnn.wat, in
// float32 operations with polynomial exp / tanh: expF32, sigmoidF32, tanhF32 below, within 2.4
// ulps; lstmRowF32 / gruRowF32 are its byte-identical TypeScript twins) and in float64 with
// Math.exp / Math.tanh elsewhere (lstmRow / gruRow). Measured with bench/rnn.mjs (batch 32,
// T 64, 64 -> 256, wasm backend on one thread, CPU time on a shared 2-core machine, one run):
// the LSTM forward's sweeps take 66 ms in TypeScript and 16 ms in wasm, the training step 228
// and 162 ms; GRU 42 and 10 ms, steps 141 and 124 ms. The backward's sweeps have no
// transcendental (tanh(c) is saved) and took about 7 ms; the GEMMs, at about 30 GFLOP/s for
// every shape here, take the rest. Since then (2026-12-08, same bench, machine loaded): rnn.wat
// inlines its nonlinearities (runtime/wasm/rnn-gen.mjs), LSTM forward sweeps 16 -> 10.5 ms, and
// the LSTM backward's sweep runs in wasm on f64x2 lanes (lstm_bwd_row, the same bytes as
// lstmBackRow), 6.8 -> 3.9 ms; the per-step recurrent GEMM (32, 1024, 256) runs at the module's
// rate for large shapes (40 vs 42 GFLOP/s at 16x the rows, loaded): packing W_hh at every step
// costs little, so it is not kept packed.
//
// Stacked layers: rnnStackPlan / rnnStackForward / rnnStackBackward (at the end) chain these
// calls over layers and directions exactly as nn.LSTM(num_layers, bidirectional) does, without
// dropout between layers (the op module inserts it between the layers' output sequences).
import type { GemmFn } from "../backend";
import { checkRange } from "../wasm/conv-kernels";
import { rnnExportsOf, type RnnExports } from "../wasm/rnn-kernels";

export interface RnnConfig {
  /** time steps of the window */
  T: number;
  /** input features per step */
  F: number;
  /** hidden units U (hidden_size) */
  hidden: number;
  /** directions of the layer (1 or 2): an output position holds dirs * hidden floats */
  dirs: 1 | 2;
  /**
   * this call runs the reverse direction; with dirs 2 it writes the second half of each output
   * position (with dirs 1, a layer that reads time backwards, the whole position)
   */
  reverse: boolean;
}

/** Heap offsets of one direction's parameters (or their gradients), PyTorch's four tensors. */
export interface RnnWeights {
  wih: number;
  whh: number;
  bih: number;
  bhh: number;
}

export const LSTM_GATES = 4;
export const GRU_GATES = 3;

const align16 = (v: number): number => (v + 15) & ~15;

/** Floats of one direction's save area (LSTM): gates 4U + hprev U + cprev U + tanh(c) U per position. */
export function lstmSaveSize(c: RnnConfig, n: number): number {
  return n * c.T * 7 * c.hidden;
}

/** Floats of one direction's save area (GRU): gates 3U + hn U + hprev U per position. */
export function gruSaveSize(c: RnnConfig, n: number): number {
  return n * c.T * 5 * c.hidden;
}

/**
 * Forward scratch: the step GEMM's output (n, G*U), the biases as the sweep reads them (4U: LSTM
 * b_ih + b_hh; GRU b_ir + b_hr, b_iz + b_hz, b_in, b_hn), h and c (n, U). G: gates per unit
 * (LSTM_GATES 4, GRU_GATES 3).
 */
export function rnnForwardScratchSize(c: RnnConfig, n: number, G: number): number {
  const U = c.hidden;
  return align16(n * G * U) + align16(4 * U) + 2 * align16(n * U);
}

/**
 * Backward scratch: dG (n, T, G*U) (GRU: twice, the input side and the recurrent side differ in
 * the n slice), step t's dG rows (n, G*U), dh and dc (n, U), a row of n*T ones (bias sums).
 * G: gates per unit (LSTM_GATES 4, GRU_GATES 3).
 */
export function rnnBackwardScratchSize(c: RnnConfig, n: number, G: number): number {
  const U = c.hidden;
  const dG = align16(n * c.T * G * U) * (G === GRU_GATES ? 2 : 1);
  return dG + align16(n * G * U) + 2 * align16(n * U) + align16(n * c.T);
}

export function lstmScratchSize(c: RnnConfig, n: number): number {
  return Math.max(rnnForwardScratchSize(c, n, LSTM_GATES), rnnBackwardScratchSize(c, n, LSTM_GATES));
}

export function gruScratchSize(c: RnnConfig, n: number): number {
  return Math.max(rnnForwardScratchSize(c, n, GRU_GATES), rnnBackwardScratchSize(c, n, GRU_GATES));
}

/**
 * The longest valid length (T when len < 0), after checking every length is an integer in 0..T:
 * a bad length would otherwise read and write outside the sequence.
 */
export function rnnMaxLength(H: Float32Array, c: RnnConfig, len: number, n: number): number {
  if (len < 0) return c.T;
  let m = 0;
  for (let s = 0; s < n; s++) {
    const L = H[len + s];
    if (!(Number.isInteger(L) && L >= 0 && L <= c.T)) throw new Error(`rnn: length ${L} of sample ${s} is not an integer in 0..${c.T}`);
    if (L > m) m = L;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// The gate nonlinearities in float32, operation by operation as runtime/wasm/rnn.wat computes
// them (every + - * / rounded to float32, no fused multiply-add), so that the wasm sweep and this
// TypeScript one write the same bytes. Accuracy against the exact functions (float64), measured
// over [-40, 40] and near 0 (test/wasm-rnn-kernels.test.ts): exp < 1 ulp, tanh < 1.3 ulp,
// sigmoid < 2.4 ulp (for x < -8, rounding 1 + e^-x adds about one).
//   exp(x): x clamped to [-87, 88]; n = round(x log2 e) (adding and subtracting 1.5 * 2^23 rounds
//     to nearest even); r = x - n C1 - n C2 (Cody-Waite, C1 + C2 = ln 2); p the Cephes expf
//     polynomial; exp = (p r^2 + r + 1) 2^n.
//   sigmoid(x) = 1 / (1 + exp(-x))
//   tanh(x): |x| < 0.625: x + (p(z) z) x, z = x^2 (Cephes tanhf); else sign(x) (1 - 2 / (exp(2|x|) + 1))
const f32 = Math.fround;
const LOG2E = f32(1.44269504088896341);
const ROUND = 12582912; // 1.5 * 2^23
const C1 = f32(0.693359375);
const C2 = f32(-2.1219444e-4);
const E0 = f32(1.98756915e-4);
const E1 = f32(1.3981999507e-3);
const E2 = f32(8.3334519073e-3);
const E3 = f32(4.1665795894e-2);
const E4 = f32(1.6666665459e-1);
const E5 = f32(5.0000001201e-1);
const T0 = f32(-5.70498872745e-3);
const T1 = f32(2.06390887954e-2);
const T2 = f32(-5.37397155531e-2);
const T3 = f32(1.33314422036e-1);
const T4 = f32(-3.33332819422e-1);
/** 2^k for k = -127..128 at index k + 127 (exact) */
const POW2 = new Float64Array(256);
for (let k = 0, v = 1; k <= 128; k++, v *= 2) POW2[127 + k] = v;
for (let k = 0, v = 1; k <= 127; k++, v /= 2) POW2[127 - k] = v;

/** e^x in float32 (x a float32 value). */
export function expF32(x: number): number {
  x = Math.min(Math.max(x, -87), 88);
  const n = f32(f32(f32(x * LOG2E) + ROUND) - ROUND);
  const r = f32(f32(x - f32(n * C1)) - f32(n * C2));
  let p = f32(f32(E0 * r) + E1);
  p = f32(f32(p * r) + E2);
  p = f32(f32(p * r) + E3);
  p = f32(f32(p * r) + E4);
  p = f32(f32(p * r) + E5);
  return f32(f32(f32(f32(p * f32(r * r)) + r) + 1) * POW2[n + 127]);
}

/** The logistic function in float32. */
export function sigmoidF32(x: number): number {
  return f32(1 / f32(1 + expF32(-x)));
}

/** tanh in float32. */
export function tanhF32(x: number): number {
  const a = Math.abs(x);
  if (a < 0.625) {
    const z = f32(x * x);
    let p = f32(f32(T0 * z) + T1);
    p = f32(f32(p * z) + T2);
    p = f32(f32(p * z) + T3);
    p = f32(f32(p * z) + T4);
    return f32(f32(f32(p * z) * x) + x);
  }
  const y = f32(1 - f32(2 / f32(expF32(f32(a + a)) + 1)));
  return x < 0 ? -y : y;
}

/**
 * LSTM gate sweep of one (sample, step) in float32 operations, lanes [j0, U): the reference of
 * rnn.wat lstm_row, and the lanes it leaves (U4..U) on the wasm backend:
 * g holds the input projections of gates i f g o (at j, U+j, 2U+j, 3U+j) and receives their
 * activations of g + r + b; c and h (U) are the state, updated; tc receives tanh(c).
 */
export function lstmRowF32(H: Float32Array, g: number, r: number, b: number, c: number, h: number, tc: number, U: number, j0: number): void {
  for (let j = j0; j < U; j++) {
    const iv = sigmoidF32(f32(f32(H[g + j] + H[r + j]) + H[b + j]));
    const fv = sigmoidF32(f32(f32(H[g + U + j] + H[r + U + j]) + H[b + U + j]));
    const gv = tanhF32(f32(f32(H[g + 2 * U + j] + H[r + 2 * U + j]) + H[b + 2 * U + j]));
    const ov = sigmoidF32(f32(f32(H[g + 3 * U + j] + H[r + 3 * U + j]) + H[b + 3 * U + j]));
    H[g + j] = iv;
    H[g + U + j] = fv;
    H[g + 2 * U + j] = gv;
    H[g + 3 * U + j] = ov;
    const cn = f32(f32(fv * H[c + j]) + f32(iv * gv));
    H[c + j] = cn;
    const t = tanhF32(cn);
    H[tc + j] = t;
    H[h + j] = f32(ov * t);
  }
}

/**
 * GRU gate sweep of one (sample, step) in float32 operations, lanes [j0, U): the reference of
 * rnn.wat gru_row, and the lanes it leaves on the wasm backend. g holds
 * the input projections of gates r z n and receives r z m; r is h W_hh^T; b holds b_ir + b_hr,
 * b_iz + b_hz, b_in, b_hn (4U); hn receives W_hn h + b_hn; h (U) is the state, updated.
 */
export function gruRowF32(H: Float32Array, g: number, r: number, b: number, hn: number, h: number, U: number, j0: number): void {
  for (let j = j0; j < U; j++) {
    const rv = sigmoidF32(f32(f32(H[g + j] + H[r + j]) + H[b + j]));
    const zv = sigmoidF32(f32(f32(H[g + U + j] + H[r + U + j]) + H[b + U + j]));
    const n = f32(H[r + 2 * U + j] + H[b + 3 * U + j]);
    const mv = tanhF32(f32(f32(H[g + 2 * U + j] + H[b + 2 * U + j]) + f32(rv * n)));
    H[g + j] = rv;
    H[g + U + j] = zv;
    H[g + 2 * U + j] = mv;
    H[hn + j] = n;
    H[h + j] = f32(f32(f32(1 - zv) * mv) + f32(zv * H[h + j]));
  }
}

/** Copies the (n, U) initial state at `src` to `dst`, or zeroes dst when src < 0. */
function initState(H: Float32Array, src: number, dst: number, len: number): void {
  if (src < 0) H.fill(0, dst, dst + len);
  else if (src !== dst) H.copyWithin(dst, src, src + len);
}

/** bsum = b_ih + b_hh over the first `k` floats (either bias may be -1). */
function biasSum(H: Float32Array, bih: number, bhh: number, bsum: number, k: number): void {
  for (let j = 0; j < k; j++) H[bsum + j] = (bih >= 0 ? H[bih + j] : 0) + (bhh >= 0 ? H[bhh + j] : 0);
}

// The sweeps of the TypeScript path (the ts backend, any heap without the wasm module): the same
// cells in float64 with Math.exp / Math.tanh, each value rounded once when stored. In plain
// JavaScript the float32 functions above cost 2.3-2.6x these (every operation rounded by
// Math.fround: the LSTM forward's sweeps of bench/rnn.mjs, 140-160 ms against 61), and on a
// float64 heap (the finite-difference tests) these are exact to float64.
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** lstmRowF32's cell in float64, all lanes. */
function lstmRow(H: Float32Array, g: number, r: number, b: number, c: number, h: number, tc: number, U: number): void {
  for (let j = 0; j < U; j++) {
    const iv = sigmoid(H[g + j] + H[r + j] + H[b + j]);
    const fv = sigmoid(H[g + U + j] + H[r + U + j] + H[b + U + j]);
    const gv = Math.tanh(H[g + 2 * U + j] + H[r + 2 * U + j] + H[b + 2 * U + j]);
    const ov = sigmoid(H[g + 3 * U + j] + H[r + 3 * U + j] + H[b + 3 * U + j]);
    H[g + j] = iv;
    H[g + U + j] = fv;
    H[g + 2 * U + j] = gv;
    H[g + 3 * U + j] = ov;
    H[c + j] = fv * H[c + j] + iv * gv;
    const t = Math.tanh(H[c + j]);
    H[tc + j] = t;
    H[h + j] = ov * t;
  }
}

/** gruRowF32's cell in float64, all lanes. */
function gruRow(H: Float32Array, g: number, r: number, b: number, hn: number, h: number, U: number): void {
  for (let j = 0; j < U; j++) {
    const rv = sigmoid(H[g + j] + H[r + j] + H[b + j]);
    const zv = sigmoid(H[g + U + j] + H[r + U + j] + H[b + U + j]);
    H[hn + j] = H[r + 2 * U + j] + H[b + 3 * U + j];
    const mv = Math.tanh(H[g + 2 * U + j] + H[b + 2 * U + j] + rv * H[hn + j]);
    H[g + j] = rv;
    H[g + U + j] = zv;
    H[g + 2 * U + j] = mv;
    H[h + j] = (1 - zv) * mv + zv * H[h + j];
  }
}

/**
 * The wasm gate sweeps for H (a wasm backend's heap), after checking that the areas they write
 * (save, scratch, the final state) lie inside H (the module would not notice); undefined: run
 * the TypeScript sweeps.
 */
function rnnSweepOf(
  H: Float32Array,
  save: number,
  saveLen: number,
  scratch: number,
  scratchLen: number,
  hT: number,
  cT: number,
  nU: number,
): RnnExports | undefined {
  const k = rnnExportsOf(H);
  if (!k) return undefined;
  checkRange(H, save, save + saveLen, "rnn save area");
  checkRange(H, scratch, scratch + scratchLen, "rnn scratch");
  if (hT >= 0) checkRange(H, hT, hT + nU, "rnn final state h");
  if (cT >= 0) checkRange(H, cT, cT + nU, "rnn final state c");
  return k;
}

// ---------------------------------------------------------------------------------------------
// LSTM

// x is (n, T, F); y is (n, T, D*U) or -1; h0, c0, hT, cT are (n, U) or -1; save is
// lstmSaveSize(cfg, n) floats; scratch at least rnnForwardScratchSize(cfg, n, 4).
//   gates[s,t] = x[s,t] W_ih^T (one GEMM), then per step t (direction order):
//   rec = h W_hh^T (n, 4U); for valid (s, t): a = gates[s,t] + rec[s] + b_ih + b_hh,
//   i f g o = sigma, sigma, tanh, sigma (a); c = f c + i g; h = o tanh(c); y[s,t] = h.
export function lstmForward(
  H: Float32Array,
  gemm: GemmFn,
  c: RnnConfig,
  w: RnnWeights,
  x: number,
  len: number,
  h0: number,
  c0: number,
  y: number,
  hT: number,
  cT: number,
  save: number,
  scratch: number,
  n: number,
): void {
  const { T, F, hidden: U, dirs, reverse } = c;
  const GU = 4 * U;
  const maxLen = rnnMaxLength(H, c, len, n);
  const gates = save;
  const hprev = save + n * T * GU;
  const cprev = hprev + n * T * U;
  const tanhc = cprev + n * T * U;
  const rec = scratch;
  const bsum = rec + align16(n * GU);
  const hs = hT >= 0 ? hT : bsum + align16(4 * U);
  const cs = cT >= 0 ? cT : bsum + align16(4 * U) + align16(n * U);
  initState(H, h0, hs, n * U);
  initState(H, c0, cs, n * U);
  biasSum(H, w.bih, w.bhh, bsum, GU);
  gemm(0, 1, n * T, GU, F, x, w.wih, gates, 0);
  const ldy = dirs * U;
  const yoff = reverse && dirs === 2 ? U : 0;
  const k4 = rnnSweepOf(H, save, lstmSaveSize(c, n), scratch, rnnForwardScratchSize(c, n, 4), hT, cT, n * U);
  const U4 = U & ~3;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    if (t < maxLen) gemm(0, 1, n, GU, U, hs, w.whh, rec, 0);
    for (let s = 0; s < n; s++) {
      const row = s * T + t;
      const hp = hprev + row * U;
      const cp = cprev + row * U;
      const hv = hs + s * U;
      const cv = cs + s * U;
      H.copyWithin(hp, hv, hv + U);
      H.copyWithin(cp, cv, cv + U);
      const yo = y + row * ldy + yoff;
      if (len >= 0 && t >= H[len + s]) {
        if (y >= 0) H.fill(0, yo, yo + U);
        continue;
      }
      const gi = gates + row * GU;
      const ri = rec + s * GU;
      const tco = tanhc + row * U;
      if (k4) {
        k4.lstm_row(gi, ri, bsum, cv, hv, tco, U, U4);
        if (U4 < U) lstmRowF32(H, gi, ri, bsum, cv, hv, tco, U, U4);
      } else lstmRow(H, gi, ri, bsum, cv, hv, tco, U);
      if (y >= 0) H.copyWithin(yo, hv, hv + U);
    }
  }
}

/**
 * LSTM backward sweep of one (sample, step), lanes [j0, U), in float64 (each float32 read exact,
 * each result rounded once when stored): gi the step's activations i f g o (4U), cp c entering
 * the step, tco tanh(c) leaving it; dh, dc (U) the state gradients (dh zeroed: the step's GEMM
 * adds dG W_hh, dc = dc f); dyo the output gradient (U) or -1; dr receives dG (4U). The
 * reference of rnn.wat lstm_bwd_row (f64x2 lanes, the same operations in the same order: the
 * same bytes) and the lane it leaves when U is odd.
 */
export function lstmBackRow(
  H: Float32Array,
  gi: number,
  cp: number,
  tco: number,
  dhv: number,
  dcv: number,
  dyo: number,
  dr: number,
  U: number,
  j0: number,
): void {
  const gf = gi + U;
  const gg = gf + U;
  const go = gg + U;
  for (let j = j0; j < U; j++) {
    const iv = H[gi + j];
    const fv = H[gf + j];
    const gv = H[gg + j];
    const ov = H[go + j];
    const cpv = H[cp + j];
    const tc = H[tco + j];
    const dhj = dyo >= 0 ? H[dhv + j] + H[dyo + j] : H[dhv + j];
    const dcj = H[dcv + j] + dhj * ov * (1 - tc * tc);
    H[dcv + j] = dcj * fv;
    H[dhv + j] = 0;
    H[dr + j] = dcj * gv * iv * (1 - iv);
    H[dr + U + j] = dcj * cpv * fv * (1 - fv);
    H[dr + 2 * U + j] = dcj * iv * (1 - gv * gv);
    H[dr + 3 * U + j] = dhj * tc * ov * (1 - ov);
  }
}

// Backward through time of lstmForward (same cfg, w, x, len, save, n). dy (n, T, D*U), dhT and
// dcT (n, U) may be -1 (zero). Per step t (reverse direction order), for a valid (s, t) with
// dh = dh_rec + dy[s,t], c = f cprev + i g (recomputed), tc = tanh(c):
//   do = dh tc, dc = dc_rec + dh o (1 - tc^2), di = dc g, dg = dc i, df = dc cprev,
//   dc_rec = dc f, dG = (di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)), dh_rec = dG W_hh;
// a padded step passes dh_rec and dc_rec through and has dG = 0.
export function lstmBackward(
  H: Float32Array,
  gemm: GemmFn,
  c: RnnConfig,
  w: RnnWeights,
  g: RnnWeights,
  x: number,
  len: number,
  save: number,
  dy: number,
  dhT: number,
  dcT: number,
  dx: number,
  dh0: number,
  dc0: number,
  scratch: number,
  n: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  const { T, F, hidden: U, dirs, reverse } = c;
  const GU = 4 * U;
  const M = n * T;
  const maxLen = rnnMaxLength(H, c, len, n);
  const gates = save;
  const hprev = save + M * GU;
  const cprev = hprev + M * U;
  const tanhc = cprev + M * U;
  const dG = scratch;
  const dGt = dG + align16(M * GU);
  const dh = dGt + align16(n * GU);
  const dc = dh + align16(n * U);
  const ones = dc + align16(n * U);
  initState(H, dhT, dh, n * U);
  initState(H, dcT, dc, n * U);
  const ldy = dirs * U;
  const yoff = reverse && dirs === 2 ? U : 0;
  const kb = rnnSweepOf(H, save, lstmSaveSize(c, n), scratch, rnnBackwardScratchSize(c, n, 4), -1, -1, 0);
  const U2 = U & ~1;
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    for (let s = 0; s < n; s++) {
      const row = s * T + t;
      const dr = dG + row * GU;
      const dt = dGt + s * GU;
      if (len >= 0 && t >= H[len + s]) {
        H.fill(0, dr, dr + GU);
        H.fill(0, dt, dt + GU);
        continue;
      }
      const gi = gates + row * GU;
      const cp = cprev + row * U;
      const tco = tanhc + row * U;
      const dhv = dh + s * U;
      const dcv = dc + s * U;
      const dyo = dy >= 0 ? dy + row * ldy + yoff : -1;
      if (kb) {
        kb.lstm_bwd_row(gi, cp, tco, dhv, dcv, dyo, dr, U, U2);
        if (U2 < U) lstmBackRow(H, gi, cp, tco, dhv, dcv, dyo, dr, U, U2);
      } else lstmBackRow(H, gi, cp, tco, dhv, dcv, dyo, dr, U, 0);
      H.copyWithin(dt, dr, dr + GU);
    }
    // valid samples had dh zeroed above: dh = dG_t W_hh for them, unchanged (+0) for the others
    if (t < maxLen) gemm(0, 0, n, U, GU, dGt, w.whh, dh, 1);
  }
  if (dh0 >= 0) H.copyWithin(dh0, dh, dh + n * U);
  if (dc0 >= 0) H.copyWithin(dc0, dc, dc + n * U);
  weightGrads(H, gemm, F, U, GU, M, x, w.wih, g, dG, dG, hprev, dx, ones, beta, betaX);
}

// The whole-window GEMMs of both cells: dG (M, G*U) is the pre-activation gradient of the input
// side, dGh that of the recurrent side (the same block for LSTM).
//   dx = dG W_ih, dW_ih = dG^T x, dW_hh = dGh^T hprev, db_ih = 1^T dG, db_hh = 1^T dGh.
function weightGrads(
  H: Float32Array,
  gemm: GemmFn,
  F: number,
  U: number,
  GU: number,
  M: number,
  x: number,
  wih: number,
  g: RnnWeights,
  dG: number,
  dGh: number,
  hprev: number,
  dx: number,
  ones: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  if (dx >= 0) gemm(0, 0, M, F, GU, dG, wih, dx, betaX);
  if (g.wih >= 0) gemm(1, 0, GU, F, M, dG, x, g.wih, beta);
  if (g.whh >= 0) gemm(1, 0, GU, U, M, dGh, hprev, g.whh, beta);
  if (g.bih >= 0 || g.bhh >= 0) H.fill(1, ones, ones + M);
  if (g.bih >= 0) gemm(0, 0, 1, GU, M, ones, dG, g.bih, beta);
  if (g.bhh >= 0) gemm(0, 0, 1, GU, M, ones, dGh, g.bhh, beta);
}

// ---------------------------------------------------------------------------------------------
// GRU

// x is (n, T, F); y is (n, T, D*U) or -1; h0, hT are (n, U) or -1; save is gruSaveSize(cfg, n)
// floats; scratch at least rnnForwardScratchSize(cfg, n, 3).
//   gates[s,t] = x[s,t] W_ih^T (one GEMM), then per step t (direction order):
//   rec = h W_hh^T (n, 3U); for valid (s, t): r = sigma(P_r + rec_r + b_ir + b_hr),
//   z likewise, hn = rec_n + b_hn, m = tanh(P_n + b_in + r hn), h = (1 - z) m + z h.
export function gruForward(
  H: Float32Array,
  gemm: GemmFn,
  c: RnnConfig,
  w: RnnWeights,
  x: number,
  len: number,
  h0: number,
  y: number,
  hT: number,
  save: number,
  scratch: number,
  n: number,
): void {
  const { T, F, hidden: U, dirs, reverse } = c;
  const GU = 3 * U;
  const maxLen = rnnMaxLength(H, c, len, n);
  const gates = save;
  const hnS = save + n * T * GU;
  const hprev = hnS + n * T * U;
  const rec = scratch;
  const bsum = rec + align16(n * GU);
  const hs = hT >= 0 ? hT : bsum + align16(4 * U);
  initState(H, h0, hs, n * U);
  // bsum: b_ir + b_hr, b_iz + b_hz, then b_in and b_hn apart (r multiplies W_hn h + b_hn only)
  biasSum(H, w.bih, w.bhh, bsum, 2 * U);
  for (let j = 0; j < U; j++) {
    H[bsum + 2 * U + j] = w.bih >= 0 ? H[w.bih + 2 * U + j] : 0;
    H[bsum + 3 * U + j] = w.bhh >= 0 ? H[w.bhh + 2 * U + j] : 0;
  }
  gemm(0, 1, n * T, GU, F, x, w.wih, gates, 0);
  const ldy = dirs * U;
  const yoff = reverse && dirs === 2 ? U : 0;
  const k4 = rnnSweepOf(H, save, gruSaveSize(c, n), scratch, rnnForwardScratchSize(c, n, 3), hT, -1, n * U);
  const U4 = U & ~3;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    if (t < maxLen) gemm(0, 1, n, GU, U, hs, w.whh, rec, 0);
    for (let s = 0; s < n; s++) {
      const row = s * T + t;
      const hp = hprev + row * U;
      const hv = hs + s * U;
      H.copyWithin(hp, hv, hv + U);
      const yo = y + row * ldy + yoff;
      if (len >= 0 && t >= H[len + s]) {
        if (y >= 0) H.fill(0, yo, yo + U);
        continue;
      }
      const gr = gates + row * GU;
      const rr = rec + s * GU;
      const hno = hnS + row * U;
      if (k4) {
        k4.gru_row(gr, rr, bsum, hno, hv, U, U4);
        if (U4 < U) gruRowF32(H, gr, rr, bsum, hno, hv, U, U4);
      } else gruRow(H, gr, rr, bsum, hno, hv, U);
      if (y >= 0) H.copyWithin(yo, hv, hv + U);
    }
  }
}

// Backward through time of gruForward (same cfg, w, x, len, save, n). dy (n, T, D*U) and dhT
// (n, U) may be -1 (zero). Per step t (reverse direction order), for a valid (s, t) with
// dh = dh_rec + dy[s,t]:
//   dm = dh (1 - z), dz = dh (hprev - m), dm' = dm (1 - m^2), dz' = dz z (1 - z),
//   dr' = dm' hn r (1 - r); input side dG = (dr', dz', dm'), recurrent side dGh = (dr', dz', dm' r);
//   dh_rec = dh z + dGh W_hh; a padded step passes dh_rec through and has dG = dGh = 0.
export function gruBackward(
  H: Float32Array,
  gemm: GemmFn,
  c: RnnConfig,
  w: RnnWeights,
  g: RnnWeights,
  x: number,
  len: number,
  save: number,
  dy: number,
  dhT: number,
  dx: number,
  dh0: number,
  scratch: number,
  n: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  const { T, F, hidden: U, dirs, reverse } = c;
  const GU = 3 * U;
  const M = n * T;
  const maxLen = rnnMaxLength(H, c, len, n);
  const gates = save;
  const hnS = save + M * GU;
  const hprev = hnS + M * U;
  const dG = scratch;
  const dGh = dG + align16(M * GU);
  const dGt = dGh + align16(M * GU);
  const dh = dGt + align16(n * GU);
  const ones = dh + 2 * align16(n * U);
  initState(H, dhT, dh, n * U);
  const ldy = dirs * U;
  const yoff = reverse && dirs === 2 ? U : 0;
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    for (let s = 0; s < n; s++) {
      const row = s * T + t;
      const di = dG + row * GU;
      const dr = dGh + row * GU;
      const dt = dGt + s * GU;
      if (len >= 0 && t >= H[len + s]) {
        H.fill(0, di, di + GU);
        H.fill(0, dr, dr + GU);
        H.fill(0, dt, dt + GU);
        continue;
      }
      const gr = gates + row * GU;
      const gz = gr + U;
      const gn = gz + U;
      const hno = hnS + row * U;
      const hp = hprev + row * U;
      const dhv = dh + s * U;
      const dyo = dy + row * ldy + yoff;
      for (let j = 0; j < U; j++) {
        const rv = H[gr + j];
        const zv = H[gz + j];
        const mv = H[gn + j];
        const dhj = dy >= 0 ? H[dhv + j] + H[dyo + j] : H[dhv + j];
        const dm = dhj * (1 - zv) * (1 - mv * mv);
        const dz = dhj * (H[hp + j] - mv) * zv * (1 - zv);
        const drr = dm * H[hno + j] * rv * (1 - rv);
        H[dhv + j] = dhj * zv;
        H[di + j] = drr;
        H[di + U + j] = dz;
        H[di + 2 * U + j] = dm;
        H[dr + j] = drr;
        H[dr + U + j] = dz;
        H[dr + 2 * U + j] = dm * rv;
      }
      H.copyWithin(dt, dr, dr + GU);
    }
    if (t < maxLen) gemm(0, 0, n, U, GU, dGt, w.whh, dh, 1);
  }
  if (dh0 >= 0) H.copyWithin(dh0, dh, dh + n * U);
  weightGrads(H, gemm, F, U, GU, M, x, w.wih, g, dG, dGh, hprev, dx, ones, beta, betaX);
}

// ---------------------------------------------------------------------------------------------
// Stacked layers: nn.LSTM / nn.GRU with num_layers and bidirectional, without dropout

export interface RnnStackConfig {
  cell: "lstm" | "gru";
  layers: number;
  dirs: 1 | 2;
  T: number;
  /** input features of the first layer (the others take dirs * hidden) */
  F: number;
  hidden: number;
}

/** Heap layout of a stack for a batch of (at most) n samples, from its base offset. */
export interface RnnStackPlan {
  /** configuration of layer l, direction d at index l * dirs + d */
  cfgs: RnnConfig[];
  /** output sequences (n, T, dirs*U) of layers 0 .. layers-2 (the last layer writes the caller's y) */
  ys: number[];
  /** save area of layer l, direction d at index l * dirs + d */
  saves: number[];
  /** two (n, T, dirs*U) gradient sequences the backward alternates between (from 2 layers on) */
  dseq: [number, number];
  /** scratch shared by every call */
  scratch: number;
  /** floats from base to the end of the plan */
  size: number;
}

/** Offset of (layer, direction) i's (n, U) state in a (layers*dirs, n, U) block, or -1. */
const stateAt = (o: number, i: number, nU: number): number => (o >= 0 ? o + i * nU : -1);

export function rnnStackPlan(s: RnnStackConfig, n: number, base: number): RnnStackPlan {
  const { layers, dirs, T, hidden: U } = s;
  const cfgs: RnnConfig[] = [];
  for (let l = 0; l < layers; l++) for (let d = 0; d < dirs; d++) cfgs.push({ T, F: l === 0 ? s.F : dirs * U, hidden: U, dirs, reverse: d === 1 });
  let top = base;
  const take = (k: number): number => {
    const o = top;
    top += align16(k);
    return o;
  };
  const seq = n * T * dirs * U;
  const ys: number[] = [];
  for (let l = 0; l + 1 < layers; l++) ys.push(take(seq));
  const saveSize = s.cell === "lstm" ? lstmSaveSize : gruSaveSize;
  const saves = cfgs.map((c) => take(saveSize(c, n)));
  const dseq: [number, number] = layers > 1 ? [take(seq), take(seq)] : [-1, -1];
  const scratchSize = s.cell === "lstm" ? lstmScratchSize : gruScratchSize;
  const scratch = take(Math.max(...cfgs.map((c) => scratchSize(c, n))));
  return { cfgs, ys, saves, dseq, scratch, size: top - base };
}

// x (n, T, F), y (n, T, dirs*U) or -1; w[l*dirs + d] the parameters of layer l, direction d;
// h0, c0, hT, cT are (layers*dirs, n, U) (PyTorch's h_n / c_n layout) or -1; c0, cT LSTM only.
export function rnnStackForward(
  H: Float32Array,
  gemm: GemmFn,
  s: RnnStackConfig,
  p: RnnStackPlan,
  w: readonly RnnWeights[],
  x: number,
  len: number,
  h0: number,
  c0: number,
  y: number,
  hT: number,
  cT: number,
  n: number,
): void {
  const nU = n * s.hidden;
  for (let l = 0; l < s.layers; l++) {
    const xin = l === 0 ? x : p.ys[l - 1];
    const out = l === s.layers - 1 ? y : p.ys[l];
    for (let d = 0; d < s.dirs; d++) {
      const i = l * s.dirs + d;
      if (s.cell === "lstm")
        lstmForward(
          H,
          gemm,
          p.cfgs[i],
          w[i],
          xin,
          len,
          stateAt(h0, i, nU),
          stateAt(c0, i, nU),
          out,
          stateAt(hT, i, nU),
          stateAt(cT, i, nU),
          p.saves[i],
          p.scratch,
          n,
        );
      else gruForward(H, gemm, p.cfgs[i], w[i], xin, len, stateAt(h0, i, nU), out, stateAt(hT, i, nU), p.saves[i], p.scratch, n);
    }
  }
}

// Backward of rnnStackForward (same s, p, w, x, len, n). dy (n, T, dirs*U), dhT and dcT
// (layers*dirs, n, U) may be -1; g[l*dirs + d] receives the parameter gradients (beta as in
// lstmBackward); dx (n, T, F) or -1 and dh0, dc0 (layers*dirs, n, U) or -1 are overwritten.
export function rnnStackBackward(
  H: Float32Array,
  gemm: GemmFn,
  s: RnnStackConfig,
  p: RnnStackPlan,
  w: readonly RnnWeights[],
  g: readonly RnnWeights[],
  x: number,
  len: number,
  dy: number,
  dhT: number,
  dcT: number,
  dx: number,
  dh0: number,
  dc0: number,
  n: number,
  beta: 0 | 1,
): void {
  const nU = n * s.hidden;
  const last = s.layers - 1;
  for (let l = last; l >= 0; l--) {
    const xin = l === 0 ? x : p.ys[l - 1];
    const dyl = l === last ? dy : p.dseq[(l + 1) % 2];
    const dxl = l === 0 ? dx : p.dseq[l % 2];
    for (let d = 0; d < s.dirs; d++) {
      const i = l * s.dirs + d;
      const bx: 0 | 1 = d === 0 ? 0 : 1;
      if (s.cell === "lstm") {
        lstmBackward(
          H,
          gemm,
          p.cfgs[i],
          w[i],
          g[i],
          xin,
          len,
          p.saves[i],
          dyl,
          stateAt(dhT, i, nU),
          stateAt(dcT, i, nU),
          dxl,
          stateAt(dh0, i, nU),
          stateAt(dc0, i, nU),
          p.scratch,
          n,
          beta,
          bx,
        );
      } else {
        gruBackward(H, gemm, p.cfgs[i], w[i], g[i], xin, len, p.saves[i], dyl, stateAt(dhT, i, nU), dxl, stateAt(dh0, i, nU), p.scratch, n, beta, bx);
      }
    }
  }
}
