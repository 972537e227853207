// Test helpers for the recurrent kernels (runtime/kernels/rnn.ts): one direction's tensors laid
// out on a heap with guard zones between them (checked afterwards: a kernel writes only its
// outputs, save and scratch), and the calls of the fast kernels and of the naive oracles on it.
import { expect } from "vitest";
import type { GemmFn } from "../../../runtime/backend";
import {
  gruBackward,
  gruForward,
  gruSaveSize,
  gruScratchSize,
  lstmBackward,
  lstmForward,
  lstmSaveSize,
  lstmScratchSize,
  type RnnConfig,
  type RnnWeights,
} from "../../../runtime/kernels/rnn";
import { gruBackwardNaive, gruForwardNaive, lstmBackwardNaive, lstmForwardNaive } from "../../../runtime/kernels/rnn-reference";
import { Rng } from "../../../runtime/rng";

export type Cell = "lstm" | "gru";
export const GUARD = 8;
export const GUARD_VALUE = 4242.5;

/** Heap with a bump allocator and a guard zone after every allocation. */
export class GuardedHeap {
  H: Float32Array;
  top = 0;
  guards: number[] = [];
  /** `on`: lay out on this heap (a wasm backend's) instead of a new one */
  constructor(size: number, double = false, on?: Float32Array) {
    if (on && on.length < size) throw new Error(`heap of ${on.length} floats, ${size} needed`);
    this.H = on ?? (double ? (new Float64Array(size) as unknown as Float32Array) : new Float32Array(size));
  }
  alloc(n: number, fill = NaN): number {
    const o = this.top;
    this.top += n + GUARD;
    if (this.top > this.H.length) throw new Error(`heap overflow: ${this.top} > ${this.H.length}`);
    this.H.fill(fill, o, o + n);
    this.H.fill(GUARD_VALUE, o + n, this.top);
    this.guards.push(o + n);
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
  checkGuards(what: string): void {
    for (const g of this.guards)
      for (let i = 0; i < GUARD; i++) if (this.H[g + i] !== GUARD_VALUE) expect.fail(`${what}: guard at ${g + i} overwritten with ${this.H[g + i]}`);
  }
}

export interface DirCase {
  cell: Cell;
  cfg: RnnConfig;
  n: number;
  /** per-sample lengths, or undefined (all T) */
  lens?: number[];
  bias: boolean;
  h0: boolean;
  /** h0 is hT (and c0 is cT): state carried in place */
  alias: boolean;
  dy: boolean;
  dhT: boolean;
  /** optional outputs left out (-1): y (then dy too), the final state, dx, dh0 / dc0 */
  skip?: { y?: boolean; final?: boolean; dx?: boolean; dh0?: boolean };
  /** parameter gradients added to (beta 1) or overwritten */
  beta: 0 | 1;
  betaX: 0 | 1;
  seed: number;
}

/** Offsets of one direction's tensors. */
export interface DirLayout {
  x: number;
  len: number;
  w: RnnWeights;
  g: RnnWeights;
  h0: number;
  c0: number;
  y: number;
  hT: number;
  cT: number;
  save: number;
  scratch: number;
  dy: number;
  dhT: number;
  dcT: number;
  dx: number;
  dh0: number;
  dc0: number;
  /** [name, offset, length] of everything the kernels produce */
  outputs: [string, number, number][];
}

export const gatesOf = (cell: Cell): number => (cell === "lstm" ? 4 : 3);

/** Lays a case out on a fresh heap with random inputs (uniform in +-scale for weights). */
export function layout(k: DirCase, double = false, on?: Float32Array): { hp: GuardedHeap; L: DirLayout } {
  const { T, F, hidden: U, dirs } = k.cfg;
  const n = k.n;
  const G = gatesOf(k.cell) * U;
  const lstm = k.cell === "lstm";
  const size =
    (lstm ? lstmSaveSize(k.cfg, n) + lstmScratchSize(k.cfg, n) : gruSaveSize(k.cfg, n) + gruScratchSize(k.cfg, n)) +
    4 * n * T * (F + dirs * U) +
    4 * G * (F + U + 2) +
    16 * n * U +
    40 * GUARD;
  const hp = new GuardedHeap(size, double, on);
  const rng = new Rng(k.seed, 0);
  const rand = (len: number, scale = 1): number => {
    const o = hp.alloc(len);
    for (let i = 0; i < len; i++) hp.H[o + i] = scale * (2 * rng.uniform() - 1);
    return o;
  };
  const ws = 1 / Math.sqrt(U);
  const x = rand(n * T * F);
  const len = k.lens ? hp.put(k.lens) : -1;
  const w: RnnWeights = { wih: rand(G * F, ws), whh: rand(G * U, ws), bih: k.bias ? rand(G, ws) : -1, bhh: k.bias ? rand(G, ws) : -1 };
  const gInit = (len: number): number => (k.beta ? rand(len) : hp.alloc(len));
  const g: RnnWeights = { wih: gInit(G * F), whh: gInit(G * U), bih: k.bias ? gInit(G) : -1, bhh: k.bias ? gInit(G) : -1 };
  const h0 = k.h0 ? rand(n * U) : -1;
  const c0 = k.h0 && lstm ? rand(n * U) : -1;
  const skip = k.skip ?? {};
  const y = skip.y ? -1 : hp.alloc(n * T * dirs * U);
  // the other direction's half of y must stay as it was
  if (dirs === 2 && y >= 0) for (let s = 0; s < n * T; s++) hp.H.fill(-7, y + s * 2 * U + (k.cfg.reverse ? 0 : U), y + s * 2 * U + (k.cfg.reverse ? U : 2 * U));
  const hT = skip.final ? -1 : k.alias && h0 >= 0 ? h0 : hp.alloc(n * U);
  const cT = lstm && !skip.final ? (k.alias && c0 >= 0 ? c0 : hp.alloc(n * U)) : -1;
  const save = hp.alloc(lstm ? lstmSaveSize(k.cfg, n) : gruSaveSize(k.cfg, n));
  const scratch = hp.alloc(lstm ? lstmScratchSize(k.cfg, n) : gruScratchSize(k.cfg, n));
  let dy = -1;
  if (k.dy && y >= 0) {
    dy = rand(n * T * dirs * U);
    // padded positions carry garbage: it must be ignored
    if (k.lens) for (let s = 0; s < n; s++) for (let t = k.lens[s]; t < T; t++) hp.H.fill(NaN, dy + (s * T + t) * dirs * U, dy + (s * T + t + 1) * dirs * U);
  }
  const dhT = k.dhT ? rand(n * U) : -1;
  const dcT = k.dhT && lstm ? rand(n * U) : -1;
  const dx = skip.dx ? -1 : k.betaX ? rand(n * T * F) : hp.alloc(n * T * F);
  const dh0 = skip.dh0 ? -1 : hp.alloc(n * U);
  const dc0 = lstm && !skip.dh0 ? hp.alloc(n * U) : -1;
  const outputs: [string, number, number][] = [
    ["y", y, n * T * dirs * U],
    ["hT", hT, n * U],
    ["dW_ih", g.wih, G * F],
    ["dW_hh", g.whh, G * U],
    ["dx", dx, n * T * F],
    ["dh0", dh0, n * U],
    ["cT", cT, n * U],
    ["dc0", dc0, n * U],
    ["db_ih", g.bih, G],
    ["db_hh", g.bhh, G],
  ].filter(([, o]) => (o as number) >= 0) as [string, number, number][];
  return { hp, L: { x, len, w, g, h0, c0, y, hT, cT, save, scratch, dy, dhT, dcT, dx, dh0, dc0, outputs } };
}

/** The forward alone, fast (gemm given) or naive. */
export function runForward(k: DirCase, H: Float32Array, gemm: GemmFn | undefined, L: DirLayout): void {
  if (gemm) {
    if (k.cell === "lstm") lstmForward(H, gemm, k.cfg, L.w, L.x, L.len, L.h0, L.c0, L.y, L.hT, L.cT, L.save, L.scratch, k.n);
    else gruForward(H, gemm, k.cfg, L.w, L.x, L.len, L.h0, L.y, L.hT, L.save, L.scratch, k.n);
  } else if (k.cell === "lstm") lstmForwardNaive(H, k.cfg, L.w, L.x, L.len, L.h0, L.c0, L.y, L.hT, L.cT, k.n);
  else gruForwardNaive(H, k.cfg, L.w, L.x, L.len, L.h0, L.y, L.hT, k.n);
}

export function runFast(k: DirCase, H: Float32Array, gemm: GemmFn, L: DirLayout): void {
  if (k.cell === "lstm") {
    lstmForward(H, gemm, k.cfg, L.w, L.x, L.len, L.h0, L.c0, L.y, L.hT, L.cT, L.save, L.scratch, k.n);
    lstmBackward(H, gemm, k.cfg, L.w, L.g, L.x, L.len, L.save, L.dy, L.dhT, L.dcT, L.dx, L.dh0, L.dc0, L.scratch, k.n, k.beta, k.betaX);
  } else {
    gruForward(H, gemm, k.cfg, L.w, L.x, L.len, L.h0, L.y, L.hT, L.save, L.scratch, k.n);
    gruBackward(H, gemm, k.cfg, L.w, L.g, L.x, L.len, L.save, L.dy, L.dhT, L.dx, L.dh0, L.scratch, k.n, k.beta, k.betaX);
  }
}

/** The oracle: backward first (it reruns the forward from h0, which the forward may overwrite). */
export function runNaive(k: DirCase, H: Float32Array, L: DirLayout): void {
  if (k.cell === "lstm") {
    lstmBackwardNaive(H, k.cfg, L.w, L.g, L.x, L.len, L.h0, L.c0, L.dy, L.dhT, L.dcT, L.dx, L.dh0, L.dc0, k.n, k.beta, k.betaX);
    lstmForwardNaive(H, k.cfg, L.w, L.x, L.len, L.h0, L.c0, L.y, L.hT, L.cT, k.n);
  } else {
    gruBackwardNaive(H, k.cfg, L.w, L.g, L.x, L.len, L.h0, L.dy, L.dhT, L.dx, L.dh0, k.n, k.beta, k.betaX);
    gruForwardNaive(H, k.cfg, L.w, L.x, L.len, L.h0, L.y, L.hT, k.n);
  }
}
