// The recurrent layers of the language, `lstm(units)` and `gru(units)` (compiler/ops/rnn.ts): the
// kernels of ./rnn chained over layers and directions exactly as nn.LSTM / nn.GRU (num_layers,
// bidirectional, batch_first=True), with what the layer adds around them:
//   - dropout between layers (nn.LSTM's `dropout`): in training, the output sequence of every layer
//     but the last is multiplied by a mask of 0 and 1/(1-p) (./dropout, drawn from the counter-based
//     RNG keyed by hash3(seed, stream, step), one stream per layer, as the dropout tail does) before
//     the next layer reads it; the mask is kept for the backward;
//   - valid lengths after the time maps of the layers before it (./sequence seqLength), written
//     into the layer's own area when there are maps (the kernels read a length per sample);
//   - return_sequences = false: the output is the last layer's final state (n, D*U), the forward
//     direction's at each sample's last valid step then the reverse direction's at t = 0, as
//     torch.cat([h_n[-2], h_n[-1]], 1) (h_n[-1] alone for one direction);
//   - carried state (truncated BPTT, `state`): each (layer, direction)'s initial state is the final
//     state of the previous call, in place (h0 = hT, c0 = cT), with no gradient flowing into it.
//
// Shapes (U = hidden, D = dirs, G*U the gate rows):
//   x  (n, T, F)        the first layer's input
//   y  (n, T, D*U)      output sequence (seq), or (n, D*U) final state (not seq)
//   dy, dx              their gradients (dx -1: not wanted; overwritten)
// Heap areas (RnnLayerConfig, offsets fixed at compile time; sizes from rnnLayerPlan for the batch B):
//   kept from forward to backward ("save"): the mapped lengths (B), the outputs of layers 0..L-2
//   (B, T, D*U) each (after dropout), their dropout masks (same), each direction's save area;
//   transient ("tmp"): the kernels' shared scratch, two gradient sequences the backward alternates
//   between (2+ layers), the final state or its gradient (D, B, U) (not seq).
// Nothing is allocated: the per-direction RnnConfig objects are constants of the trainer.
import type { GemmFn } from "../backend";
import { dropoutBackward, dropoutForward } from "./dropout";
import { hash3 } from "../rng";
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
} from "./rnn";
import { seqLength } from "./sequence";

export interface RnnLayerShape {
  cell: "lstm" | "gru";
  layers: number;
  dirs: 1 | 2;
  /** time steps and features of the input */
  T: number;
  F: number;
  hidden: number;
  /** return_sequences */
  seq: boolean;
  /** dropout between layers (training only) */
  p: number;
  /** the truncated-BPTT state is carried across calls (state areas in the config) */
  stateful: boolean;
}

export interface RnnLayerConfig extends RnnLayerShape {
  /** the time maps from the model's input to this layer's input (./sequence) */
  maps: number[];
  /** configuration of layer l, direction d at l * dirs + d */
  cfgs: RnnConfig[];
  /** parameters and their gradients, per (layer, direction) */
  w: RnnWeights[];
  g: RnnWeights[];
  /** dropout stream of each layer but the last */
  streams: number[];
  /** the batch the areas are sized for */
  B: number;
  /** kept from forward to backward: mapped lengths (-1: none), outputs and masks of layers 0..L-2, save areas */
  lens: number;
  ys: number[];
  masks: number[];
  saves: number[];
  /** transient: kernel scratch, gradient sequences (-1 with one layer), final state / its gradient (-1 with seq) */
  scratch: number;
  dseq: [number, number];
  hT: number;
  /** carried state (layers*dirs, B, U): h, and c for LSTM (-1 when not stateful) */
  stateH: number;
  stateC: number;
}

const align16 = (v: number): number => (v + 15) & ~15;

/** The configuration of layer l, direction d. */
function dirConfig(s: RnnLayerShape, l: number, d: number): RnnConfig {
  return { T: s.T, F: l === 0 ? s.F : s.dirs * s.hidden, hidden: s.hidden, dirs: s.dirs, reverse: d === 1 };
}

/**
 * The layout of a layer's areas for a batch of B, from the bases of its kept area (`save`), its
 * transient one (`tmp`) and its carried state (`state`, stateful layers): the config and the
 * floats of each area. With bases 0 it gives the sizes the memory planner places.
 */
export function rnnLayerPlan(
  s: RnnLayerShape,
  B: number,
  bases: { save: number; tmp: number; state: number },
): {
  cfgs: RnnConfig[];
  lens: number;
  ys: number[];
  masks: number[];
  saves: number[];
  scratch: number;
  dseq: [number, number];
  hT: number;
  stateH: number;
  stateC: number;
  saveFloats: number;
  tmpFloats: number;
  stateFloats: number;
} {
  const { layers, dirs, T, hidden: U } = s;
  const cfgs: RnnConfig[] = [];
  for (let l = 0; l < layers; l++) for (let d = 0; d < dirs; d++) cfgs.push(dirConfig(s, l, d));
  let top = bases.save;
  const take = (k: number): number => {
    const o = top;
    top += align16(k);
    return o;
  };
  const seqFloats = B * T * dirs * U;
  const lens = take(B);
  const ys: number[] = [];
  for (let l = 0; l + 1 < layers; l++) ys.push(take(seqFloats));
  const masks: number[] = [];
  if (s.p > 0) for (let l = 0; l + 1 < layers; l++) masks.push(take(seqFloats));
  const saveSize = s.cell === "lstm" ? lstmSaveSize : gruSaveSize;
  const saves = cfgs.map((c) => take(saveSize(c, B)));
  const saveFloats = top - bases.save;
  top = bases.tmp;
  const scratchSize = s.cell === "lstm" ? lstmScratchSize : gruScratchSize;
  const scratch = take(Math.max(...cfgs.map((c) => scratchSize(c, B))));
  const dseq: [number, number] = layers > 1 ? [take(seqFloats), take(seqFloats)] : [-1, -1];
  const hT = s.seq ? -1 : take(dirs * B * U);
  const tmpFloats = top - bases.tmp;
  const stateBlock = layers * dirs * B * U;
  const stateH = s.stateful ? bases.state : -1;
  const stateC = s.stateful && s.cell === "lstm" ? bases.state + align16(stateBlock) : -1;
  const stateFloats = s.stateful ? align16(stateBlock) * (s.cell === "lstm" ? 2 : 1) : 0;
  return { cfgs, lens, ys, masks, saves, scratch, dseq, hT, stateH, stateC, saveFloats, tmpFloats, stateFloats };
}

/** The valid lengths this layer reads: the batch's (len) through the maps, written at c.lens; -1 without padding. */
function layerLengths(H: Float32Array, c: RnnLayerConfig, len: number, n: number): number {
  if (len < 0 || c.maps.length === 0) return len;
  for (let s = 0; s < n; s++) H[c.lens + s] = Math.min(c.T, seqLength(H[len + s], c.maps));
  return c.lens;
}

/** Where (layer l, direction d) keeps its final state: the carried state, the output's area (last layer, not seq), or nowhere. */
function finalH(c: RnnLayerConfig, l: number, d: number): number {
  const i = l * c.dirs + d;
  if (c.stateH >= 0) return c.stateH + i * c.B * c.hidden;
  return l === c.layers - 1 && !c.seq ? c.hT + d * c.B * c.hidden : -1;
}

const finalC = (c: RnnLayerConfig, l: number, d: number): number => (c.stateC >= 0 ? c.stateC + (l * c.dirs + d) * c.B * c.hidden : -1);

// x is (n, T, F), y is (n, T, D*U) (seq) or (n, D*U); len: the batch's lengths (-1: none).
// `train` draws the dropout masks between layers (seed and step key them). A stateful layer
// (c.stateH >= 0) writes each (layer, direction)'s final state into its state area, and with
// `carry` starts from it (else from zero).
export function rnnLayerForward(
  H: Float32Array,
  gemm: GemmFn,
  c: RnnLayerConfig,
  x: number,
  y: number,
  len: number,
  n: number,
  train: boolean,
  seed: number,
  step: number,
  carry = false,
): void {
  const L = layerLengths(H, c, len, n);
  const D = c.dirs;
  const U = c.hidden;
  const last = c.layers - 1;
  for (let l = 0; l <= last; l++) {
    const xin = l === 0 ? x : c.ys[l - 1];
    const out = l < last ? c.ys[l] : c.seq ? y : -1;
    for (let d = 0; d < D; d++) {
      const i = l * D + d;
      const h = finalH(c, l, d);
      // the carried state is this call's initial state, overwritten in place by its final state
      const h0 = carry && c.stateH >= 0 ? h : -1;
      if (c.cell === "lstm") {
        const cs = finalC(c, l, d);
        lstmForward(H, gemm, c.cfgs[i], c.w[i], xin, L, h0, carry ? cs : -1, out, h, cs, c.saves[i], c.scratch, n);
      } else gruForward(H, gemm, c.cfgs[i], c.w[i], xin, L, h0, out, h, c.saves[i], c.scratch, n);
    }
    if (l < last && train && c.p > 0) {
      const S = c.streams[l];
      dropoutForward(H, c.p, c.ys[l], c.ys[l], c.masks[l], n * c.T * D * U, hash3(seed, S, step), S, 0);
    }
  }
  if (!c.seq)
    for (let d = 0; d < D; d++) {
      const h = finalH(c, last, d);
      for (let s = 0; s < n; s++) H.copyWithin(y + s * D * U + d * U, h + s * U, h + (s + 1) * U);
    }
}

// Backward of rnnLayerForward (after a training forward with the same c, x, len, n): dy (n, T, D*U)
// or (n, D*U) (not seq); dx (n, T, F) or -1 is overwritten; the parameter gradients are overwritten.
export function rnnLayerBackward(H: Float32Array, gemm: GemmFn, c: RnnLayerConfig, x: number, dy: number, dx: number, len: number, n: number): void {
  const L = len < 0 || c.maps.length === 0 ? len : c.lens; // written by the forward
  const D = c.dirs;
  const U = c.hidden;
  const last = c.layers - 1;
  // not seq: the output's gradient is that of the last layer's final state, (D, n, U)
  if (!c.seq)
    for (let d = 0; d < D; d++) for (let s = 0; s < n; s++) H.copyWithin(c.hT + d * c.B * U + s * U, dy + s * D * U + d * U, dy + s * D * U + (d + 1) * U);
  for (let l = last; l >= 0; l--) {
    const xin = l === 0 ? x : c.ys[l - 1];
    const dyl = l < last ? c.dseq[(l + 1) % 2] : c.seq ? dy : -1;
    const dxl = l === 0 ? dx : c.dseq[l % 2];
    for (let d = 0; d < D; d++) {
      const i = l * D + d;
      const bx: 0 | 1 = d === 0 ? 0 : 1;
      const dhT = l === last && !c.seq ? c.hT + d * c.B * U : -1;
      if (c.cell === "lstm") lstmBackward(H, gemm, c.cfgs[i], c.w[i], c.g[i], xin, L, c.saves[i], dyl, dhT, -1, dxl, -1, -1, c.scratch, n, 0, bx);
      else gruBackward(H, gemm, c.cfgs[i], c.w[i], c.g[i], xin, L, c.saves[i], dyl, dhT, dxl, -1, c.scratch, n, 0, bx);
    }
    // through the dropout between layer l-1 and l
    if (l > 0 && c.p > 0) dropoutBackward(H, dxl, c.masks[l - 1], dxl, n * c.T * D * U);
  }
}

/** Zero the carried state (truncated BPTT: at each epoch's start, and before an evaluation). */
export function rnnLayerResetState(H: Float32Array, c: RnnLayerConfig): void {
  const size = c.layers * c.dirs * c.B * c.hidden;
  if (c.stateH >= 0) H.fill(0, c.stateH, c.stateH + size);
  if (c.stateC >= 0) H.fill(0, c.stateC, c.stateC + size);
}
