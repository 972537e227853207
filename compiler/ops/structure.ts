// Structure: flatten (a view), repeat (the body n times), residual (body + skip, with a 1x1 conv or
// dense projection when the shapes differ), and the IR nodes they and fuse-elementwise create:
// add (the residual sum) and identity (an elementwise op with no producer to fuse into).
import type { NodeOf } from "../ir";
import type { LayerSpec } from "../spec";
import { int } from "../export/onnx-graph";
import { prod, shapeText } from "../shape";
import { layer, type EmitCtx, type NodeOp, type PenaltyCtx } from "./op";

export type FlattenNode = NodeOf<"flatten", Record<string, never>>;
export type IdentityNode = NodeOf<"identity", Record<string, never>>;
export type AddNode = NodeOf<"add", Record<string, never>>;

export const flatten = layer({
  name: "flatten",
  positional: [],
  args: {},
  rank: "any",
  doc: "Reshape [C,H,W] → [C·H·W] (no copy).",
  shape: "`[C,H,W] → [C·H·W]`",
  notes: "a view, no copy",
  lower(c, l, input, shape) {
    const out = [prod(shape)];
    const n = c.node<FlattenNode>("flatten", input, shape, out, l, {});
    return [n.output, out];
  },
});

export const repeat = layer({
  name: "repeat",
  positional: ["n"],
  args: { n: { type: "integer", minimum: 1, maximum: 1000 } },
  required: ["n"],
  rank: "any",
  body: true,
  doc: "The body chain repeated n times (each repetition has its own parameters): depth as a number.",
  shape: "the body's",
  notes: "`repeat(3) { dense(64) -> relu }`: each repetition has its own parameters",
  lower(c, l, input, shape) {
    let cur = input;
    let s = shape;
    for (let r = 0; r < (l.args.n as number); r++) {
      for (const b of l.body ?? []) {
        const res = c.layer(b, cur, s);
        if (!res) return undefined;
        [cur, s] = res;
      }
    }
    return [cur, s];
  },
});

export const residual = layer({
  name: "residual",
  positional: [],
  args: { proj: { type: "string", enum: ["auto", "none", "dense", "conv"], default: "auto" } },
  rank: "any",
  body: true,
  doc: "y = body(x) + x, or + proj(x) when the shapes differ (1×1 conv or dense projection).",
  shape: "the body's",
  notes: "`y = body(x) + x`, or `+ proj(x)` when shapes differ: a strided 1×1 conv (images) or a dense layer without bias (features)",
  lower(c, l, input, shape) {
    const rid = c.id("residual");
    let cur = input;
    let s = shape;
    for (const b of l.body ?? []) {
      const r = c.layer(b, cur, s);
      if (!r) return undefined;
      [cur, s] = r;
    }
    let skip = input;
    const same = s.length === shape.length && s.every((d, i) => d === shape[i]);
    if (!same) {
      if (l.args.proj === "none")
        return c.error(
          "E0301",
          l.span,
          { detail: `the residual body maps ${shapeText(shape)} to ${shapeText(s)}, so the skip needs a projection` },
          "use residual(proj=auto)",
        );
      let proj: LayerSpec;
      if (s.length === 3 && shape.length === 3) {
        const stride = shape[1] / s[1];
        if (!Number.isInteger(stride) || shape[2] / s[2] !== stride)
          return c.error("E0301", l.span, { detail: `cannot project ${shapeText(shape)} onto ${shapeText(s)} with a strided 1x1 convolution` });
        proj = { op: "conv2d", args: { filters: s[0], kernel: 1, stride, padding: 0, dilation: 1, groups: 1, bias: false }, span: l.span };
      } else if (s.length === 1 && shape.length === 1) proj = { op: "dense", args: { units: s[0], bias: false }, span: l.span };
      else return c.error("E0301", l.span, { detail: `the residual body changes rank: ${shapeText(shape)} to ${shapeText(s)}` });
      skip = c.layer(proj, input, shape)![0];
    }
    const n = c.node<AddNode>("add", cur, s, s, l, {}, rid);
    n.inputs = [cur, skip];
    return [n.output, s];
  },
});

export const flattenNode: NodeOp<FlattenNode> = {
  view: true,
  readsInputInBackward: false,
  forward: () => ["// flatten is a view: no code"],
  backward(n, c) {
    // a view: gradients already share the buffer; mark the input's gradient as written
    if (c.grad(n.inputs[0])) c.markGradWritten(n.inputs[0]);
    return [];
  },
  penalty: { primalBackward: () => [], tangentForward: () => [], tangentBackward: () => [] },
  pytorch: (n) => ({ init: [], forward: [`${n.output} = ${n.inputs[0]}.flatten(1)`] }),
  onnx: (n, c) => (n.inShape.length === 1 ? c.inp(n) : c.g.op("Flatten", [c.inp(n)], n.id, { axis: int(1) })),
};

/** Copy (first writer) or add (later writers) a gradient into each input: identity and add. */
function passThrough(
  c: PenaltyCtx,
  inputs: string[],
  size: number,
  src: number,
  into: (t: string) => (emit: (dst: number, acc: boolean) => string) => string[],
): string[] {
  void c;
  return inputs.flatMap((t) =>
    into(t)((dst, acc) =>
      acc ? `for (let i = 0, e = n * ${size}; i < e; i++) H[${dst} + i] += H[${src} + i];` : `H.copyWithin(${dst}, ${src}, ${src} + n * ${size});`,
    ),
  );
}

const copyGrad = (inputs: string[], size: number, D: number, c: EmitCtx) =>
  inputs.flatMap((inp) => c.gradInto(inp, size, (dst) => [`H.copyWithin(${dst}, ${D}, ${D} + n * ${size});`]));

/** The penalty pieces of identity and add: gradients pass through to every input. */
const passPenalty = {
  primalBackward(n: IdentityNode | AddNode, c: PenaltyCtx, dz: number) {
    const size = prod(n.outShape);
    return passThrough(c, n.inputs, size, dz, (t) => (emit) => c.primalInto(c.D(t), size, emit, true));
  },
  tangentBackward(n: IdentityNode | AddNode, c: PenaltyCtx, _dz: number, tdz: number) {
    const size = prod(n.outShape);
    return passThrough(c, n.inputs, size, tdz, (t) => (emit) => c.tangentInto(t, size, emit, true));
  },
};

export const identityNode: NodeOp<IdentityNode> = {
  causal: () => true,
  readsInputInBackward: false,
  forward(n, c) {
    const size = prod(n.outShape);
    const X = c.off(n.inputs[0]);
    return [`// the tail reads the input directly`, `H.copyWithin(${c.off(`z:${n.id}`)}, ${X}, ${X} + n * ${size});`, ...c.tailForward(n, size)];
  },
  backward: (n, c) => copyGrad([n.inputs[0]], prod(n.inShape), c.off(`grad:${n.output}`), c),
  penalty: {
    ...passPenalty,
    tangentForward(n, c, tz) {
      const T = c.T(n.inputs[0]);
      return [`H.copyWithin(${tz}, ${T}, ${T} + n * ${prod(n.outShape)});`];
    },
  },
  pytorch: (n) => ({ init: [], forward: [`${n.output} = ${n.inputs[0]}`] }),
  onnx: (n, c) => c.inp(n),
};

export const addNode: NodeOp<AddNode> = {
  causal: () => true,
  readsInputInBackward: false,
  reluOutputOptional: true,
  forward(n, c) {
    // one SIMD sweep on the wasm backend (with a lone ReLU tail: both in the same sweep)
    const size = prod(n.outShape);
    const reluTail = n.tail.length === 1 && n.tail[0].op === "relu";
    const reluInPool = n.sched?.reluByPool?.forward === true;
    c.uses.add("makeDenseEpilogues");
    const line = `E.add(${c.off(n.inputs[0])}, ${c.off(n.inputs[1])}, ${c.off(`z:${n.id}`)}, ${reluTail && !reluInPool ? c.off(n.output) : -1}, n * ${size});`;
    return reluTail ? [line] : [line, ...c.tailForward(n, size)];
  },
  backward: (n, c) => copyGrad(n.inputs, prod(n.outShape), c.off(`grad:${n.output}`), c),
  penalty: {
    ...passPenalty,
    tangentForward(n, c, tz) {
      return [`for (let i = 0, e = n * ${prod(n.outShape)}; i < e; i++) H[${tz} + i] = ${n.inputs.map((t) => `H[${c.T(t)} + i]`).join(" + ")};`];
    },
  },
  pytorch(n, c) {
    if (n.inputs.length !== 2) c.unsupported(`add with ${n.inputs.length} inputs`, n);
    return { init: [], forward: [`${n.output} = ${n.inputs[0]} + ${n.inputs[1]}  # residual`] };
  },
  onnx: (n, c) => c.g.op("Add", [c.inp(n, 0), c.inp(n, 1)], n.id),
};
