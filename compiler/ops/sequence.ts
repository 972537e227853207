// What sequences share: the padding mask, each tensor's valid lengths, and `last`. A spec whose data
// are padded sequences (ir.data.lengths) carries each sample's valid length in the heap (`lengths`,
// B floats); every producer whose output is a sequence [T, F] then ends its tail with `seqmask` (the
// maskPadding pass), which zeroes the positions t >= length in the forward sweep and their gradient
// in the backward one. So a padded position changes nothing: a convolution sees zeros there as it
// would past the end of a shorter sequence, pooling over time and recurrent layers read the lengths
// themselves, and the loss skips targets of -1.
//
// A layer that changes the time axis (conv1d, maxpool1d, avgpool1d: a stride, or padding other than
// `same`) carries `attrs.timeMap` = [add, stride]: a sample of valid length L > 0 has
// max(0, ⌊(L + add) / stride⌋ + 1) valid outputs, PyTorch's output length for the sequence cut at L
// (runtime/kernels/sequence.ts). The valid length of any tensor is the batch's `lengths` through the
// maps of the layers before it (lengthMaps), which the mask and the kernels apply.
//
// last: [T, F] → [F], the output at each sample's last valid position (T − 1 without padding).
// Kernel: runtime/kernels/sequence.ts. PyTorch: x[:, -1] (padded: at each sample's length − 1). ONNX: Gather on axis 1.
import type { IR, IRNode, NodeOf, TailOf } from "../ir";
import { int } from "../export/onnx-graph";
import { tsJson } from "../escape";
import { layer, unsupported, type EmitCtx, type NodeOp, type TailOp } from "./op";

export type SeqMaskTail = TailOf<"seqmask">;

/** How a time-changing node maps valid lengths (see the header), or undefined. */
export const timeMapOf = (n: IRNode): readonly [number, number] | undefined => (n.attrs as { timeMap?: [number, number] }).timeMap;

/**
 * The time maps from the model's input to tensor t, flat ([add₁, stride₁, ...], in order): those of
 * the layers on the way from x to t (following each node's first input).
 */
export function lengthMaps(ir: IR, t: string): number[] {
  const maps: number[] = [];
  for (let cur = t; cur !== "x";) {
    const p = ir.nodes.find((m) => m.output === cur);
    if (!p) break;
    const m = timeMapOf(p);
    if (m) maps.unshift(m[0], m[1]);
    cur = p.inputs[0];
  }
  return maps;
}

/** The lengths offset a kernel reads (-1 without padding) and the maps of tensor t, as call arguments of the emitted code. */
export function lengthsArg(c: EmitCtx): number {
  return c.ir.data.lengths ? c.off("lengths") : -1;
}

/** A module constant holding the maps of tensor t (emitted once), or undefined when t has none. */
function mapsConst(c: EmitCtx, t: string): string | undefined {
  const maps = lengthMaps(c.ir, t);
  if (maps.length === 0) return undefined;
  const name = `LMAP_${t.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const line = `const ${name} = ${tsJson(maps)};`;
  if (!c.consts.includes(line)) c.consts.push(line);
  return name;
}

/** The condition "element i (flat, over the batch's (n, T, F) output of n) is a padded position". */
function padded(n: IRNode, c: EmitCtx, i: string): string {
  const [T, F] = n.outShape;
  const L = c.off("lengths");
  const len = `H[${L} + ((${i} / ${T * F}) | 0)]`;
  const maps = mapsConst(c, n.output);
  if (maps) c.uses.add("seqLength");
  return `((${i} / ${F}) | 0) % ${T} >= ${maps ? `seqLength(${len}, ${maps})` : len}`;
}

/** zeroPadded over the (n, T, F) buffer at `at` (the node's output or its gradient). */
function zeroPaddedCall(n: IRNode, c: EmitCtx, at: number): string {
  const [T, F] = n.outShape;
  const maps = mapsConst(c, n.output);
  c.uses.add("zeroPadded");
  return `zeroPadded(H, ${at}, n, ${T}, ${F}, ${c.off("lengths")}${maps ? `, ${maps}` : ""});`;
}

export const seqMaskTail: TailOp = {
  // the per-element form, which codegen uses only if seqmask is not last (maskPadding always puts it
  // last, so the sweep below runs: one fill per sample instead of a test per element)
  forward: (_t, n, c, i) => [`if (${padded(n, c, i)}) v = 0;`],
  backward: (_t, n, c) => [`if (${padded(n, c, "i")}) d = 0;`],
  sweep: {
    forward: (_t, n, c, Y) => [zeroPaddedCall(n, c, Y)],
    backward: (_t, n, c, D) => [zeroPaddedCall(n, c, D)],
  },
  second: unsupported("padded sequences are not supported by the smoothness penalties"),
  // (n, T, F): zero where t >= the sample's valid length; the gradient there is zero too
  pytorch: (_t, n, v, c) => ({ init: [], forward: [`${v} = ${v}.masked_fill(~${c.mask(n.output)}.unsqueeze(-1), 0)`] }),
  onnx: unsupported("padded sequences are not exported to ONNX yet (the graph would need each sample's length as an input)"),
};

// ---- last ----------------------------------------------------------------------------------------

export type LastNode = NodeOf<"last", Record<string, never>>;

export const last = layer({
  name: "last",
  positional: [],
  args: {},
  rank: 2,
  doc: "The output at each sample's last valid position: [T, F] → [F] (classification from a sequence).",
  shape: "`[T, F] → [F]`",
  notes: "position T − 1, or each sample's length − 1 when the data are padded (zeros for an empty sequence); the gradient flows to that position only",
  lower(c, l, input, shape) {
    const out = [shape[1]];
    const n = c.node<LastNode>("last", input, shape, out, l, {});
    return [n.output, out];
  },
});

/** The runtime's SeqConfig of a node reading a sequence: its input's T, F and time maps. */
export function seqCfg(n: IRNode, c: EmitCtx): string {
  return tsJson({ T: n.inShape[0], F: n.inShape[1], maps: lengthMaps(c.ir, n.inputs[0]) });
}

export const lastNode: NodeOp<LastNode> = {
  readsInputInBackward: false,
  forward(n, c) {
    c.uses.add("lastForward");
    c.consts.push(`const CFG_${n.id} = ${seqCfg(n, c)};`);
    return [`lastForward(H, CFG_${n.id}, ${c.off(n.inputs[0])}, ${c.off(`z:${n.id}`)}, n, ${lengthsArg(c)});`, ...c.tailForward(n, n.outShape[0])];
  },
  backward(n, c) {
    c.uses.add("lastBackward");
    const size = n.inShape[0] * n.inShape[1];
    return c.gradInto(n.inputs[0], size, (dst) => [`lastBackward(H, CFG_${n.id}, ${c.off(`grad:${n.output}`)}, ${dst}, n, ${lengthsArg(c)});`]);
  },
  penalty: unsupported("sequence layers are not differentiated twice yet"),
  pytorch: (n, c) => {
    const len = c.lengths(n.inputs[0]);
    return { init: [], forward: [len ? `${n.output} = last_valid(${n.inputs[0]}, ${len})` : `${n.output} = ${n.inputs[0]}[:, -1]`] };
  },
  onnx: (n, c) => c.g.op("Gather", [c.inp(n), c.g.init(`${n.id}.index`, [], [n.inShape[0] - 1])], n.id, { axis: int(1) }),
};
