// Naive oracles for the recurrent kernels (./rnn): each sample on its own, step by step from the
// nn.LSTM / nn.GRU definitions, in float64, no GEMM, no save area (the backward reruns the
// forward and keeps its history in local arrays). Slow and obviously correct; the fast kernels
// are tested against them (test/kernels-rnn*.test.ts). Same conventions as the fast versions:
// shapes, -1 for an absent offset, lengths, beta / betaX; h0 may be hT (and c0 cT).
import type { RnnConfig, RnnWeights } from "./rnn";

type Cell = "lstm" | "gru";

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** One sample's forward, in direction order: the times visited and what each step saw and made. */
interface History {
  times: number[];
  hprev: Float64Array[];
  cprev: Float64Array[];
  /** gate activations: LSTM i f g o, GRU r z m */
  gates: Float64Array[];
  /** GRU: W_hn h + b_hn */
  hn: Float64Array[];
  h: Float64Array;
  c: Float64Array;
}

function readState(H: Float32Array, o: number, s: number, U: number): Float64Array {
  const v = new Float64Array(U);
  if (o >= 0) for (let j = 0; j < U; j++) v[j] = H[o + s * U + j];
  return v;
}

function runSample(H: Float32Array, cell: Cell, c: RnnConfig, w: RnnWeights, x: number, len: number, h0: number, c0: number, s: number): History {
  const { T, F, hidden: U } = c;
  const G = (cell === "lstm" ? 4 : 3) * U;
  const L = len >= 0 ? H[len + s] : T;
  if (!(Number.isInteger(L) && L >= 0 && L <= T)) throw new Error(`rnn: length ${L} of sample ${s} is not an integer in 0..${T}`);
  const hist: History = { times: [], hprev: [], cprev: [], gates: [], hn: [], h: readState(H, h0, s, U), c: readState(H, c0, s, U) };
  let h = hist.h;
  let cc = hist.c;
  for (let k = 0; k < L; k++) {
    const t = c.reverse ? L - 1 - k : k;
    // pi = W_ih x_t + b_ih, ph = W_hh h + b_hh
    const pi = new Float64Array(G);
    const ph = new Float64Array(G);
    for (let j = 0; j < G; j++) {
      let a = w.bih >= 0 ? H[w.bih + j] : 0;
      for (let f = 0; f < F; f++) a += H[w.wih + j * F + f] * H[x + (s * T + t) * F + f];
      let b = w.bhh >= 0 ? H[w.bhh + j] : 0;
      for (let q = 0; q < U; q++) b += H[w.whh + j * U + q] * h[q];
      pi[j] = a;
      ph[j] = b;
    }
    const gates = new Float64Array(G);
    const hn = new Float64Array(U);
    const h2 = new Float64Array(U);
    const c2 = new Float64Array(U);
    for (let j = 0; j < U; j++) {
      if (cell === "lstm") {
        const i = sigmoid(pi[j] + ph[j]);
        const f = sigmoid(pi[U + j] + ph[U + j]);
        const g = Math.tanh(pi[2 * U + j] + ph[2 * U + j]);
        const o = sigmoid(pi[3 * U + j] + ph[3 * U + j]);
        gates[j] = i;
        gates[U + j] = f;
        gates[2 * U + j] = g;
        gates[3 * U + j] = o;
        c2[j] = f * cc[j] + i * g;
        h2[j] = o * Math.tanh(c2[j]);
      } else {
        const r = sigmoid(pi[j] + ph[j]);
        const z = sigmoid(pi[U + j] + ph[U + j]);
        const m = Math.tanh(pi[2 * U + j] + r * ph[2 * U + j]);
        gates[j] = r;
        gates[U + j] = z;
        gates[2 * U + j] = m;
        hn[j] = ph[2 * U + j];
        h2[j] = (1 - z) * m + z * h[j];
      }
    }
    hist.times.push(t);
    hist.hprev.push(h);
    hist.cprev.push(cc);
    hist.gates.push(gates);
    hist.hn.push(hn);
    h = h2;
    cc = c2;
  }
  hist.h = h;
  hist.c = cc;
  return hist;
}

function forwardNaive(
  H: Float32Array,
  cell: Cell,
  c: RnnConfig,
  w: RnnWeights,
  x: number,
  len: number,
  h0: number,
  c0: number,
  y: number,
  hT: number,
  cT: number,
  n: number,
): void {
  const { T, hidden: U, dirs, reverse } = c;
  for (let s = 0; s < n; s++) {
    const hist = runSample(H, cell, c, w, x, len, h0, c0, s);
    if (y >= 0) {
      for (let t = 0; t < T; t++) for (let j = 0; j < U; j++) H[y + (s * T + t) * dirs * U + (reverse && dirs === 2 ? U : 0) + j] = 0;
      hist.times.forEach((t, k) => {
        const h = k + 1 < hist.times.length ? hist.hprev[k + 1] : hist.h;
        for (let j = 0; j < U; j++) H[y + (s * T + t) * dirs * U + (reverse && dirs === 2 ? U : 0) + j] = h[j];
      });
    }
    if (hT >= 0) for (let j = 0; j < U; j++) H[hT + s * U + j] = hist.h[j];
    if (cT >= 0) for (let j = 0; j < U; j++) H[cT + s * U + j] = hist.c[j];
  }
}

function backwardNaive(
  H: Float32Array,
  cell: Cell,
  c: RnnConfig,
  w: RnnWeights,
  g: RnnWeights,
  x: number,
  len: number,
  h0: number,
  c0: number,
  dy: number,
  dhT: number,
  dcT: number,
  dx: number,
  dh0: number,
  dc0: number,
  n: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  const { T, F, hidden: U, dirs, reverse } = c;
  const G = (cell === "lstm" ? 4 : 3) * U;
  const dWih = new Float64Array(G * F);
  const dWhh = new Float64Array(G * U);
  const dbih = new Float64Array(G);
  const dbhh = new Float64Array(G);
  const dX = new Float64Array(n * T * F);
  const dH0 = new Float64Array(n * U);
  const dC0 = new Float64Array(n * U);
  for (let s = 0; s < n; s++) {
    const hist = runSample(H, cell, c, w, x, len, h0, c0, s);
    let dh = readState(H, dhT, s, U);
    let dc = readState(H, dcT, s, U);
    for (let k = hist.times.length - 1; k >= 0; k--) {
      const t = hist.times[k];
      const gt = hist.gates[k];
      const hp = hist.hprev[k];
      const cp = hist.cprev[k];
      if (dy >= 0) for (let j = 0; j < U; j++) dh[j] += H[dy + (s * T + t) * dirs * U + (reverse && dirs === 2 ? U : 0) + j];
      const dpi = new Float64Array(G); // gradient of W_ih x + b_ih
      const dph = new Float64Array(G); // gradient of W_hh h + b_hh
      const dhNext = new Float64Array(U);
      const dcNext = new Float64Array(U);
      for (let j = 0; j < U; j++) {
        if (cell === "lstm") {
          const [i, f, gg, o] = [gt[j], gt[U + j], gt[2 * U + j], gt[3 * U + j]];
          const cv = f * cp[j] + i * gg;
          const tc = Math.tanh(cv);
          const dct = dc[j] + dh[j] * o * (1 - tc * tc);
          dcNext[j] = dct * f;
          dpi[j] = dph[j] = dct * gg * i * (1 - i);
          dpi[U + j] = dph[U + j] = dct * cp[j] * f * (1 - f);
          dpi[2 * U + j] = dph[2 * U + j] = dct * i * (1 - gg * gg);
          dpi[3 * U + j] = dph[3 * U + j] = dh[j] * tc * o * (1 - o);
        } else {
          const [r, z, m] = [gt[j], gt[U + j], gt[2 * U + j]];
          const dm = dh[j] * (1 - z) * (1 - m * m);
          const dz = dh[j] * (hp[j] - m) * z * (1 - z);
          const dr = dm * hist.hn[k][j] * r * (1 - r);
          dhNext[j] = dh[j] * z;
          dpi[j] = dph[j] = dr;
          dpi[U + j] = dph[U + j] = dz;
          dpi[2 * U + j] = dm;
          dph[2 * U + j] = dm * r;
        }
      }
      for (let j = 0; j < G; j++) {
        dbih[j] += dpi[j];
        dbhh[j] += dph[j];
        for (let f = 0; f < F; f++) {
          dWih[j * F + f] += dpi[j] * H[x + (s * T + t) * F + f];
          dX[(s * T + t) * F + f] += dpi[j] * H[w.wih + j * F + f];
        }
        for (let q = 0; q < U; q++) {
          dWhh[j * U + q] += dph[j] * hp[q];
          dhNext[q] += dph[j] * H[w.whh + j * U + q];
        }
      }
      dh = dhNext;
      dc = dcNext;
    }
    dH0.set(dh, s * U);
    dC0.set(dc, s * U);
  }
  const put = (o: number, v: Float64Array, b: 0 | 1): void => {
    if (o >= 0) for (let i = 0; i < v.length; i++) H[o + i] = (b ? H[o + i] : 0) + v[i];
  };
  put(g.wih, dWih, beta);
  put(g.whh, dWhh, beta);
  put(g.bih, dbih, beta);
  put(g.bhh, dbhh, beta);
  put(dx, dX, betaX);
  put(dh0, dH0, 0);
  if (cell === "lstm") put(dc0, dC0, 0);
}

// Same arguments as lstmForward / gruForward, less gemm, save and scratch.
export function lstmForwardNaive(
  H: Float32Array,
  c: RnnConfig,
  w: RnnWeights,
  x: number,
  len: number,
  h0: number,
  c0: number,
  y: number,
  hT: number,
  cT: number,
  n: number,
): void {
  forwardNaive(H, "lstm", c, w, x, len, h0, c0, y, hT, cT, n);
}

export function gruForwardNaive(H: Float32Array, c: RnnConfig, w: RnnWeights, x: number, len: number, h0: number, y: number, hT: number, n: number): void {
  forwardNaive(H, "gru", c, w, x, len, h0, -1, y, hT, -1, n);
}

// The backward takes the forward's inputs (h0, c0) in place of the save area: it reruns the forward.
// Call it before anything overwrites h0 / c0 (with h0 = hT, before the forward).
export function lstmBackwardNaive(
  H: Float32Array,
  c: RnnConfig,
  w: RnnWeights,
  g: RnnWeights,
  x: number,
  len: number,
  h0: number,
  c0: number,
  dy: number,
  dhT: number,
  dcT: number,
  dx: number,
  dh0: number,
  dc0: number,
  n: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  backwardNaive(H, "lstm", c, w, g, x, len, h0, c0, dy, dhT, dcT, dx, dh0, dc0, n, beta, betaX);
}

export function gruBackwardNaive(
  H: Float32Array,
  c: RnnConfig,
  w: RnnWeights,
  g: RnnWeights,
  x: number,
  len: number,
  h0: number,
  dy: number,
  dhT: number,
  dx: number,
  dh0: number,
  n: number,
  beta: 0 | 1,
  betaX: 0 | 1,
): void {
  backwardNaive(H, "gru", c, w, g, x, len, h0, -1, dy, dhT, -1, dx, dh0, -1, n, beta, betaX);
}
