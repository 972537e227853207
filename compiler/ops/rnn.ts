// lstm and gru: recurrent layers over a sequence [T, F] → [T, D·units] (return_sequences) or the
// final state [D·units], as nn.LSTM / nn.GRU (batch_first=True, num_layers, bidirectional, dropout
// between layers, bias) with PyTorch's state-dict names, gate orders and two bias vectors:
// `<id>.weight_ih_l{k}[_reverse]` (G·U, F_k), `weight_hh_l{k}` (G·U, U), `bias_ih_l{k}`,
// `bias_hh_l{k}` (G·U), gates i f g o (LSTM, G = 4) and r z n (GRU, G = 3, its n gate applying r
// to W_hn h + b_hn), every tensor initialized U(−1/√U, 1/√U) as PyTorch. The initial state is zero.
// Padded data: each sample's valid length (through the time maps of the layers before) is read by
// the kernels (pack_padded_sequence semantics: a padded step changes nothing, its output is zero
// and it gets no gradient), so the layer zeroes its own padded outputs (masksPadding).
// return_sequences=false: the last layer's final state, the forward direction's at each sample's
// last valid step and the reverse direction's at t = 0 (torch.cat([h_n[-2], h_n[-1]], 1)).
// Kernels: runtime/kernels/rnn.ts (one direction of one layer), composed by
// runtime/kernels/rnn-layer.ts (layers, directions, dropout, lengths, final state); their areas
// are two buffers the memory planner places: `save` (kept from forward to backward) and `tmp`
// (scratch). PyTorch: nn.LSTM / nn.GRU; padded data packed by each sample's length
// (pack_padded_sequence(enforce_sorted=False), pad_packed_sequence(total_length=T)), an empty
// sample packed with one step and its output and final state zeroed after. ONNX: LSTM / GRU nodes
// (gates reordered to i o f c / z r h, GRU linear_before_reset=1) between Transposes, one node per
// stacked layer (the exporter refuses padded models: the graph has no lengths input).
import type { IR, NodeOf } from "../ir";
import { tsJson } from "../escape";
import { shapeText } from "../shape";
import { int, ints } from "../export/onnx-graph";
import { LSTM_GATES, GRU_GATES, type RnnWeights } from "../../runtime/kernels/rnn";
import { rnnLayerPlan, type RnnLayerConfig, type RnnLayerShape } from "../../runtime/kernels/rnn-layer";
import { streamId } from "../../runtime/rng";
import { nonNeg, posInt, prob } from "./args";
import { layer, unsupported, type EmitCtx, type LayerOp, type NodeOp, type OnnxCtx } from "./op";
import { lengthMaps, lengthsArg } from "./sequence";

export interface RnnAttrs {
  units: number;
  layers: number;
  /** directions: 2 when bidirectional */
  dirs: 1 | 2;
  /** dropout between stacked layers (training only) */
  dropout: number;
  /** return_sequences */
  seq: boolean;
  bias: boolean;
  /** tbptt: the state is carried from one batch to the next (a persistent `state` area) */
  stateful: boolean;
}
export type LstmNode = NodeOf<"lstm", RnnAttrs>;
export type GruNode = NodeOf<"gru", RnnAttrs>;
export type RnnNode = LstmNode | GruNode;

const gatesOf = (n: { op: "lstm" | "gru" }) => (n.op === "lstm" ? LSTM_GATES : GRU_GATES);
const suffix = (l: number, d: number) => `_l${l}${d === 1 ? "_reverse" : ""}`;

function rnnLayer(cell: "lstm" | "gru"): LayerOp {
  const G = cell === "lstm" ? 4 : 3;
  const torch = cell === "lstm" ? "nn.LSTM" : "nn.GRU";
  return layer({
    name: cell,
    positional: ["units"],
    args: {
      units: posInt,
      layers: { ...posInt, default: 1 },
      bidirectional: { type: "boolean", default: false },
      dropout: { ...prob, default: 0, maximum: 0.99 },
      return_sequences: { type: "boolean", default: true },
      bias: { type: "boolean", default: true },
      weight_decay: nonNeg,
      l1: nonNeg,
      max_norm: { type: "number", exclusiveMinimum: 0 },
    },
    required: ["units"],
    // (checked in lower, with a hint of its own)
    rank: "any",
    recurrent: true,
    doc:
      cell === "lstm"
        ? "LSTM over a sequence [T, F] (gates i f g o, two bias vectors), as nn.LSTM(batch_first=True): the output at every step, or the final state."
        : "GRU over a sequence [T, F] (gates r z n, n = tanh(W_in x + b_in + r·(W_hn h + b_hn))), as nn.GRU(batch_first=True): the output at every step, or the final state.",
    shape: "`[T, F] → [T, D·units]`; `return_sequences=false`: `[D·units]` (D = 2 when bidirectional)",
    notes:
      `${torch}(batch_first=True) with PyTorch's state-dict names (\`weight_ih_l{k}[_reverse]\` [${G}·units, F], \`weight_hh_l{k}\`, \`bias_ih_l{k}\`, \`bias_hh_l{k}\`), ` +
      `gates ${cell === "lstm" ? "i f g o" : "r z n (r applied to W_hn h + b_hn)"}, every tensor U(−1/√units, 1/√units); initial state zero; ` +
      "`layers` stacks, `dropout` drops the outputs of every layer but the last (training only; needs layers ≥ 2); " +
      "`bidirectional` concatenates the forward and reverse outputs; `return_sequences=false` gives the last layer's final state " +
      "(forward direction at each sample's last valid step, reverse at t = 0: `torch.cat([h_n[-2], h_n[-1]], 1)`); padded data: each sample's length, as `pack_padded_sequence`",
    lower(c, l, input, shape) {
      const a = l.args;
      if (shape.length !== 2)
        return c.error(
          "E0302",
          l.span,
          { name: cell, expected: "2 ([T, F]: a sequence)", shape: shapeText(shape) },
          shape.length === 1
            ? "a recurrent layer reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]` (a sequence source such as timeseries)"
            : "a recurrent layer reads a sequence [T, F]: use a sequence source (text, tokens, timeseries) and `input [T]` or `[T, F]`",
        );
      const units = a.units as number;
      const layers = a.layers as number;
      const dropout = a.dropout as number;
      if (dropout > 0 && layers < 2)
        return c.error(
          "E0205",
          l.span,
          { arg: "dropout", name: cell, detail: `it drops the outputs of every layer but the last, and with layers=${layers} there is no such layer` },
          "stack layers (`layers=2`), or put `dropout(p)` after the layer",
        );
      const dirs: 1 | 2 = a.bidirectional === true ? 2 : 1;
      if (c.tbptt && dirs === 2)
        return c.error(
          "E0403",
          l.span,
          { detail: `tbptt carries each layer's final state into the next window, but a bidirectional ${cell}'s reverse direction ends at the window's start` },
          "drop bidirectional=true, or tbptt",
        );
      const seq = a.return_sequences !== false;
      const bias = a.bias !== false;
      const out = seq ? [shape[0], dirs * units] : [dirs * units];
      const n = c.node<RnnNode>(cell, input, shape, out, l, { units, layers, dirs, dropout, seq, bias, stateful: c.tbptt });
      const k = 1 / Math.sqrt(units);
      const init = { kind: "uniform", low: -k, high: k };
      for (let li = 0; li < layers; li++)
        for (let d = 0; d < dirs; d++) {
          const s = suffix(li, d);
          const F = li === 0 ? shape[1] : dirs * units;
          n.params.push(c.param(`${n.id}.weight_ih${s}`, [G * units, F], init, "weight", l));
          n.params.push(c.param(`${n.id}.weight_hh${s}`, [G * units, units], init, "weight", l));
          if (bias) {
            n.params.push(c.param(`${n.id}.bias_ih${s}`, [G * units], init, "bias", l));
            n.params.push(c.param(`${n.id}.bias_hh${s}`, [G * units], init, "bias", l));
          }
        }
      return [n.output, out];
    },
  });
}

export const lstm = rnnLayer("lstm");
export const gru = rnnLayer("gru");

/** The runtime's shape of a node (everything but heap offsets). */
function shapeOf(n: RnnNode): RnnLayerShape {
  const a = n.attrs;
  return { cell: n.op, layers: a.layers, dirs: a.dirs, T: n.inShape[0], F: n.inShape[1], hidden: a.units, seq: a.seq, p: a.dropout, stateful: a.stateful };
}

/** The floats of the node's areas for a batch of B. */
const planOf = (n: RnnNode, B: number) => rnnLayerPlan(shapeOf(n), B, { save: 0, tmp: 0, state: 0 });

/** The heap offsets of (layer, direction)'s parameters, or of their gradients. */
function weights(n: RnnNode, at: (name: string) => number, grad: boolean): RnnWeights[] {
  const w: RnnWeights[] = [];
  const p = (s: string, name: string) => at(`${grad ? "grad:" : ""}${n.id}.${name}${s}`);
  for (let l = 0; l < n.attrs.layers; l++)
    for (let d = 0; d < n.attrs.dirs; d++) {
      const s = suffix(l, d);
      w.push({ wih: p(s, "weight_ih"), whh: p(s, "weight_hh"), bih: n.attrs.bias ? p(s, "bias_ih") : -1, bhh: n.attrs.bias ? p(s, "bias_hh") : -1 });
    }
  return w;
}

/** The runtime's RnnLayerConfig of a node in a planned IR. */
export function rnnLayerConfig(n: RnnNode, ir: IR, off: (name: string) => number): RnnLayerConfig {
  const s = shapeOf(n);
  const B = ir.batch;
  const p = rnnLayerPlan(s, B, { save: off(`save:${n.id}`), tmp: off(`tmp:${n.id}`), state: s.stateful ? off(`state:${n.id}`) : -1 });
  const maps = lengthMaps(ir, n.inputs[0]);
  return {
    ...s,
    maps,
    cfgs: p.cfgs,
    w: weights(n, off, false),
    g: weights(n, off, true),
    streams: Array.from({ length: n.attrs.layers - 1 }, (_, l) => streamId(`dropout:${n.id}.l${l}`)),
    B,
    lens: ir.data.lengths && maps.length > 0 ? p.lens : -1,
    ys: p.ys,
    masks: p.masks,
    saves: p.saves,
    scratch: p.scratch,
    dseq: p.dseq,
    hT: p.hT,
    stateH: p.stateH,
    stateC: p.stateC,
  };
}

const cfgConst = (n: RnnNode, c: EmitCtx) => {
  // typed by the kernel's parameter: the literal's numbers (dirs) and strings (cell) would widen
  const line = `const CFG_${n.id} = ${tsJson(rnnLayerConfig(n, c.ir, c.off) as never)} as Parameters<typeof rnnLayerForward>[2];`;
  if (!c.consts.includes(line)) c.consts.push(line);
  return `CFG_${n.id}`;
};

const outSize = (n: RnnNode) => n.outShape.reduce((a, b) => a * b, 1);

// ---- ONNX ----------------------------------------------------------------------------------------

/** Our gate blocks in ONNX's order: LSTM i f g o → i o f c, GRU r z n → z r h. */
const ONNX_GATES = { lstm: [0, 3, 1, 2], gru: [1, 0, 2] } as const;

/** A (G·U, cols) tensor with its gate blocks in ONNX's order, written at `dst` of `into`. */
function reorderGates(src: Float32Array, op: "lstm" | "gru", U: number, cols: number, into: Float32Array, dst: number): void {
  ONNX_GATES[op].forEach((g, k) => into.set(src.subarray(g * U * cols, (g + 1) * U * cols), dst + k * U * cols));
}

function onnxRnn(n: RnnNode, c: OnnxCtx): string {
  const a = n.attrs;
  const U = a.units;
  const D = a.dirs;
  const G = gatesOf(n);
  const GU = G * U;
  const tnf = { perm: ints([1, 0, 2]) };
  // (N, T, F) → (T, N, F): onnxruntime's RNN kernels take the default layout only
  let x = c.g.op("Transpose", [c.inp(n)], `${n.id}/tnf`, tnf);
  let yh = "";
  for (let l = 0; l < a.layers; l++) {
    const F = l === 0 ? n.inShape[1] : D * U;
    const W = new Float32Array(D * GU * F);
    const R = new Float32Array(D * GU * U);
    const Bv = new Float32Array(D * 2 * GU);
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      reorderGates(c.get(`${n.id}.weight_ih${s}`), n.op, U, F, W, d * GU * F);
      reorderGates(c.get(`${n.id}.weight_hh${s}`), n.op, U, U, R, d * GU * U);
      if (a.bias) {
        reorderGates(c.get(`${n.id}.bias_ih${s}`), n.op, U, 1, Bv, d * 2 * GU);
        reorderGates(c.get(`${n.id}.bias_hh${s}`), n.op, U, 1, Bv, d * 2 * GU + GU);
      }
    }
    const ins = [x, c.g.init(`${n.id}.W_l${l}`, [D, GU, F], W), c.g.init(`${n.id}.R_l${l}`, [D, GU, U], R)];
    if (a.bias) ins.push(c.g.init(`${n.id}.B_l${l}`, [D, 2 * GU], Bv));
    const name = c.g.unique(`${n.id}/l${l}`);
    const y = c.g.unique(`${n.id}/l${l}/Y`);
    yh = c.g.unique(`${n.id}/l${l}/Y_h`);
    c.g.nodes.push({
      opType: n.op === "lstm" ? "LSTM" : "GRU",
      name,
      inputs: ins,
      outputs: [y, yh],
      attrs: {
        hidden_size: int(U),
        direction: { kind: "string", value: D === 2 ? "bidirectional" : "forward" },
        ...(n.op === "gru" ? { linear_before_reset: int(1) } : {}),
      },
    });
    if (l + 1 < a.layers || a.seq) {
      // Y (T, D, N, U) → (T, N, D·U): the next layer's input
      const t = c.g.op("Transpose", [y], `${n.id}/l${l}/tndu`, { perm: ints([0, 2, 1, 3]) });
      x = c.g.op("Reshape", [t, c.g.shape(`${n.id}/l${l}/shape`, [0, 0, -1])], `${n.id}/l${l}/out`);
    }
  }
  if (a.seq) return c.g.op("Transpose", [x], n.id, tnf);
  // Y_h (D, N, U) → (N, D·U): forward direction first, as torch.cat([h_n[-2], h_n[-1]], 1)
  const t = c.g.op("Transpose", [yh], `${n.id}/ndu`, tnf);
  return c.g.op("Reshape", [t, c.g.shape(`${n.id}/shape`, [0, -1])], n.id);
}

// ---- the node op -----------------------------------------------------------------------------

export const rnnNode: NodeOp<RnnNode> = {
  masksPadding: true,
  // a forward recurrence's output at t reads steps 0..t; the reverse direction reads the later ones
  causal: (n) => n.attrs.dirs === 1 && n.attrs.seq,
  readsInputInBackward: true,
  buffers(n, B) {
    const p = planOf(n, B);
    return [
      { kind: "save", size: p.saveFloats },
      { kind: "tmp", size: p.tmpFloats, scratch: true },
      ...(n.attrs.stateful ? [{ kind: "state" as const, size: p.stateFloats, persistent: true }] : []),
    ];
  },
  resetState(n, c) {
    if (!n.attrs.stateful) return [];
    c.uses.add("rnnLayerResetState");
    return [`rnnLayerResetState(H, ${cfgConst(n, c)});`];
  },
  // the input projection of the first layer (or a wider later one): (B·T, G·U, F)
  gemmMacs: (n, B) => {
    const GU = gatesOf(n) * n.attrs.units;
    return B * n.inShape[0] * GU * Math.max(n.inShape[1], n.attrs.layers > 1 ? n.attrs.dirs * n.attrs.units : 0);
  },

  forward(n, c) {
    c.uses.add("rnnLayerForward");
    return [
      `rnnLayerForward(H, gemm, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, ${lengthsArg(c)}, n, train, seed, step${n.attrs.stateful ? ", carry" : ""});`,
      ...c.tailForward(n, outSize(n)),
    ];
  },

  backward(n, c) {
    c.uses.add("rnnLayerBackward");
    const { dx, post } = c.dxTarget(n.inputs[0], n.inShape[0] * n.inShape[1]);
    return [`rnnLayerBackward(H, gemm, ${cfgConst(n, c)}, ${c.off(n.inputs[0])}, ${c.off(`grad:${n.output}`)}, ${dx}, ${lengthsArg(c)}, n);`, ...post];
  },

  penalty: unsupported("sequence layers are not differentiated twice yet"),

  // (the ONNX exporter refuses padded models as a whole, at their first layer: compiler/check-targets.ts)
  pytorchPadded: true,

  pytorch(n, c) {
    const a = n.attrs;
    const names: string[] = [];
    for (let l = 0; l < a.layers; l++)
      for (let d = 0; d < a.dirs; d++) {
        const s = suffix(l, d);
        names.push(`weight_ih${s}`, `weight_hh${s}`, ...(a.bias ? [`bias_ih${s}`, `bias_hh${s}`] : []));
      }
    c.expectParams(n, names);
    const m =
      `${n.op === "lstm" ? "nn.LSTM" : "nn.GRU"}(${n.inShape[1]}, ${a.units}, num_layers=${a.layers}, bias=${c.py(a.bias)}, batch_first=True, ` +
      `dropout=${c.py(a.dropout)}, bidirectional=${c.py(a.dirs === 2)})`;
    const init = [`self.${n.id} = ${m}`];
    const len = c.lengths(n.inputs[0]);
    // padded data: the module reads each sample's first `len` steps packed (an empty sample is packed
    // with one step, as pack_padded_sequence takes no length 0, and its output and state zeroed after)
    const x = len === undefined ? n.inputs[0] : `${n.id}_packed`;
    const pack =
      len === undefined
        ? []
        : [
            `# each sample's first ${len} steps (an empty sample runs one, then its output and state are zeroed)`,
            `${x} = nn.utils.rnn.pack_padded_sequence(${n.inputs[0]}, ${len}.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)`,
          ];
    const empty = (dims: number) => `(${len} == 0).view(-1${", 1".repeat(dims)})`;
    if (a.seq) {
      const y = n.output;
      if (len === undefined) return { init, forward: [`${y}, _ = self.${n.id}(${x})`] };
      return {
        init,
        forward: [
          ...pack,
          `${y}, _ = nn.utils.rnn.pad_packed_sequence(self.${n.id}(${x})[0], batch_first=True, total_length=${n.inShape[0]})`,
          `${y} = ${y}.masked_fill(${empty(2)}, 0.0)`,
        ],
      };
    }
    // the last layer's final state: h_n[-1], or torch.cat([h_n[-2], h_n[-1]], 1) for both directions
    // (packed: the forward direction's after each sample's last valid step, the reverse's after t = 0)
    const h = `${n.id}_h`;
    const state = n.op === "lstm" ? `(${h}, _)` : h;
    const pick = a.dirs === 2 ? `torch.cat([${h}[-2], ${h}[-1]], 1)` : `${h}[-1]`;
    return {
      init,
      forward: [...pack, `_, ${state} = self.${n.id}(${x})`, `${n.output} = ${pick}${len === undefined ? "" : `.masked_fill(${empty(1)}, 0.0)`}`],
    };
  },

  onnx: onnxRnn,
};
