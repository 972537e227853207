// The IR: plain JSON, validated by its own schema after every pass (verifyIr), printable as
// stable text (printIr) for goldens and `dnnc compile --emit ir`. Nodes are a discriminated union
// on `op` (each op module under compiler/ops/ declares its node type; ops/index.ts unites them),
// so a consumer that switches on `op` and forgets a case is a type error.
import { errorsText, lazyValidator } from "./schema";
import type { DataSpec, Json, LossSpec, TrainSpec } from "./spec";
import type { IRNode, TailNode } from "./ops";

export type { IRNode, TailNode };

/** What every node has; `op` and typed `attrs` come from its op module (NodeOf). */
export interface NodeBase {
  id: string;
  inputs: string[];
  output: string;
  /** Per-sample shapes (no batch dimension). */
  inShape: number[];
  outShape: number[];
  params: string[];
  stats: string[];
  line: number;
  col: number;
  /** Elementwise ops fused into this node's epilogue (fuse-elementwise). */
  tail: TailNode[];
  /** A name that says what the fused kernel holds, e.g. fused_dense_relu. */
  kernel: string;
  /** The decisions of scheduleKernels (absent before it runs). */
  sched?: NodeSchedule;
  /** Named by the train block's `freeze`: its parameters are not trained; a batch norm here runs in evaluation mode. */
  frozen?: true;
}

/** An IR node of kind `Op` with attributes A. */
export type NodeOf<Op extends string, A> = NodeBase & { op: Op; attrs: A };

/** An elementwise op in a producer's tail. */
export interface TailOf<Op extends string> {
  op: Op;
  id: string;
  attrs: Record<string, Json>;
}

/**
 * What scheduleKernels decided for a node, so that planMemory, the emitters and the resource
 * check read one decision instead of each deriving it again (`dnnc compile --emit ir` prints it).
 */
export interface NodeSchedule {
  /** The node's output carries a gradient (it is downstream of a parameter). */
  grad: boolean;
  /** conv2d: the algorithm, samples per Winograd block (0: im2col), the col scratch, whether dx is computed. */
  conv?: { algo: "winograd" | "im2col"; block: number; colFloats: number; winoFloats: number; dx: boolean };
  /** maxpool2d: it applies the ReLU that ends producer `of` in its backward (and, with forward, in its forward). */
  poolRelu?: { of: string; forward: boolean; bias: boolean };
  /**
   * A producer whose lone ReLU the max pool `pool` applies: its backward skips the ReLU; with
   * forward, its forward never writes the ReLU's output (and a conv leaves its bias to the pool).
   */
  reluByPool?: { pool: string; forward: boolean };
}

export interface IRParam {
  name: string;
  shape: number[];
  size: number;
  init: Record<string, Json>;
  /** "weight" tensors are decayed by default; "bias" and "norm" only when the spec says so. */
  group: "weight" | "bias" | "norm";
  weightDecay: number;
  l1: number;
  maxNorm: number;
  decoupledDecay: number;
  /** Fine-tuning: not trained (no optimizer segment: no update, no decay, no gradient of its own). */
  frozen?: true;
  /** Fine-tuning: the learning rate's multiplier for this tensor (`lr_scale`; absent: 1). */
  lrScale?: number;
}

export interface IRStat {
  name: string;
  shape: number[];
  size: number;
  fill: number;
  /** Identity blocks: the stat holds size / eye^2 matrices of eye x eye, initialized to I (IterNorm's running whitening matrix). */
  eye?: number;
}

export interface IRLayout {
  heapFloats: number;
  /** Parameter arena: params at P, grads at G, optimizer state slot k at S + k*N. */
  P: number;
  G: number;
  S: number;
  N: number;
  slots: number;
  /** Element offset of every named buffer in the heap. */
  offsets: Record<string, number>;
  sizes: Record<string, number>;
}

export interface IR {
  version: 1;
  name: string;
  file: string;
  specHash: string;
  batch: number;
  input: { shape: number[]; size: number };
  output: { shape: number[]; size: number };
  nodes: IRNode[];
  params: IRParam[];
  stats: IRStat[];
  loss: Omit<LossSpec, "span">;
  train: TrainSpec;
  data: Omit<DataSpec, "source" | "preprocess" | "augment"> & {
    source: { kind: string; path: string; label?: string | number };
    preprocess: { kind: string; args: Record<string, Json> }[];
    augment: { kind: string; args: Record<string, Json> }[];
    /**
     * The source gives sequences of different lengths, padded to the input's T: the batch carries each
     * sample's valid length (the heap's `lengths`), every sequence layer's output is zero past it
     * (maskPadding), pooling over time and recurrent layers read it, and padded targets are -1 (ignored).
     */
    lengths?: true;
    /** A character source's vocabulary, fixed at compile time (the trainer encodes any corpus with it: other characters become id 0). */
    vocab?: { size: number; json: string };
    /** The sizes `auto` arguments took from the data (saved with the model as metadata "auto"). */
    auto?: { vocab?: number; classes?: number };
  };
  layout?: IRLayout;
  /** The train block's init_from, as written (relative to the spec's directory): the weights the trainer starts from. */
  initFrom?: string;
}

const intArr = { type: "array", items: { type: "integer", minimum: 0 } };
const irSchema = {
  type: "object",
  required: ["version", "name", "batch", "input", "output", "nodes", "params", "stats", "loss", "train", "data"],
  properties: {
    version: { const: 1 },
    name: { type: "string" },
    batch: { type: "integer", minimum: 1 },
    input: { type: "object", required: ["shape", "size"] },
    output: { type: "object", required: ["shape", "size"] },
    nodes: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["id", "op", "inputs", "output", "inShape", "outShape", "attrs", "params", "stats", "tail", "kernel"],
        properties: {
          id: { type: "string", pattern: "^[a-z_][a-z0-9_]*$" },
          op: { type: "string" },
          inputs: { type: "array", items: { type: "string" }, minItems: 1 },
          output: { type: "string" },
          inShape: intArr,
          outShape: { ...intArr, minItems: 1 },
          params: { type: "array", items: { type: "string" } },
          tail: { type: "array", items: { type: "object", required: ["op", "id", "attrs"] } },
        },
      },
    },
    params: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "shape", "size", "init", "group"],
        properties: { name: { type: "string", pattern: "^[a-z_][a-z0-9_.]*$" }, size: { type: "integer", minimum: 1 } },
      },
    },
    layout: {
      type: "object",
      required: ["heapFloats", "P", "G", "S", "N", "slots", "offsets"],
      properties: { heapFloats: { type: "integer", minimum: 1 } },
    },
  },
};
const irValidator = lazyValidator(irSchema, "ir");
/** Validate against the IR schema (compiled once, on first use); returns the error text or undefined. */
function irSchemaErrors(ir: unknown): string | undefined {
  return irValidator(ir) ? undefined : errorsText(irValidator.errors);
}

/**
 * Check the IR's schema and its invariants: every input is defined before use, every param a
 * node names exists, shapes are positive, sizes agree with shapes. Throws on violation (a compiler
 * bug, not a user error).
 */
export function verifyIr(ir: IR, after: string): IR {
  const schemaErrors = irSchemaErrors(ir);
  if (schemaErrors) throw new Error(`IR invalid after ${after}: ${schemaErrors}`);
  const defined = new Set<string>(["x"]);
  const params = new Set(ir.params.map((p) => p.name));
  for (const n of ir.nodes) {
    for (const i of n.inputs) if (!defined.has(i)) throw new Error(`IR invalid after ${after}: ${n.id} reads ${i} before it is defined`);
    for (const p of n.params) if (!params.has(p)) throw new Error(`IR invalid after ${after}: ${n.id} names unknown param ${p}`);
    if (n.outShape.some((d) => d <= 0)) throw new Error(`IR invalid after ${after}: ${n.id} has shape ${n.outShape}`);
    defined.add(n.output);
  }
  for (const p of ir.params) if (p.size !== p.shape.reduce((a, b) => a * b, 1)) throw new Error(`IR invalid after ${after}: size of ${p.name}`);
  return ir;
}

function attrText(a: Record<string, Json>): string {
  const keys = Object.keys(a).sort();
  return keys.map((k) => `${k}=${JSON.stringify(a[k])}`).join(", ");
}

/**
 * Targets per sample the loss compares: softmax cross-entropy on a sequence output [T, classes]
 * has a class at every position (T); every other output has one target per sample (a class, or a
 * row of real values).
 */
export function lossPositions(ir: Pick<IR, "loss" | "output">): number {
  return ir.loss.kind === "softmax_cross_entropy" && ir.output.shape.length === 2 ? ir.output.shape[0] : 1;
}

/** Floats of the batch's targets per sample: a class index per position, or the output's size of real values (or one-hot rows). */
export function targetFloats(ir: Pick<IR, "loss" | "output">): number {
  return ir.loss.kind === "softmax_cross_entropy" ? lossPositions(ir) : ir.output.size;
}

/** scheduleKernels' decisions for a node, as text: `  sched(grad, winograd/4 col=... dx, relu by maxpool2d_1 fwd)`. */
function schedText(s: NodeSchedule | undefined): string {
  if (!s) return "";
  const parts = [s.grad ? "grad" : "no grad"];
  if (s.conv) parts.push(`${s.conv.algo}${s.conv.block ? `/${s.conv.block}` : ""} col=${s.conv.colFloats}${s.conv.dx ? " dx" : ""}`);
  if (s.poolRelu)
    parts.push(`applies the relu of ${s.poolRelu.of}${s.poolRelu.forward ? ` forward${s.poolRelu.bias ? " with its bias" : ""} and` : ""} backward`);
  if (s.reluByPool) parts.push(`relu ${s.reluByPool.forward ? "forward and " : ""}backward by ${s.reluByPool.pool}`);
  return `  sched(${parts.join(", ")})`;
}

/** Stable text form of the IR: one line per node, then params and layout. */
export function printIr(ir: IR): string {
  const lines: string[] = [];
  lines.push(`ir ${ir.name} (batch ${ir.batch}, input [${ir.input.shape.join(", ")}], output [${ir.output.shape.join(", ")}])`);
  if (ir.initFrom !== undefined) lines.push(`init_from ${JSON.stringify(ir.initFrom)}`);
  lines.push(
    `loss ${ir.loss.kind}${ir.loss.kind === "softmax_cross_entropy" ? `(label_smoothing=${ir.loss.labelSmoothing})` : ir.loss.kind === "huber" ? `(delta=${ir.loss.delta})` : ""}`,
  );
  for (const n of ir.nodes) {
    const tail = n.tail.length > 0 ? ` +[${n.tail.map((t) => t.op + (Object.keys(t.attrs).length ? `(${attrText(t.attrs)})` : "")).join(", ")}]` : "";
    lines.push(
      `  ${n.output} = ${n.kernel}(${n.inputs.join(", ")}${n.params.length ? "; " + n.params.join(", ") : ""})${tail}  ` +
        `[${n.inShape.join(",")}] -> [${n.outShape.join(",")}]${Object.keys(n.attrs).length ? "  {" + attrText(n.attrs as Record<string, Json>) + "}" : ""}  @${n.line}:${n.col}${schedText(n.sched)}${n.frozen ? "  frozen" : ""}`,
    );
  }
  lines.push("params");
  for (const p of ir.params)
    lines.push(
      `  ${p.name} [${p.shape.join(", ")}] init=${attrText(p.init)} group=${p.group} wd=${p.weightDecay} l1=${p.l1}${p.maxNorm ? ` max_norm=${p.maxNorm}` : ""}${p.decoupledDecay ? ` decoupled=${p.decoupledDecay}` : ""}${p.frozen ? " frozen" : ""}${p.lrScale !== undefined ? ` lr_scale=${p.lrScale}` : ""}`,
    );
  if (ir.stats.length > 0) {
    lines.push("stats");
    for (const s of ir.stats) lines.push(`  ${s.name} [${s.shape.join(", ")}] ${s.eye ? `identity ${s.eye}x${s.eye} blocks` : `fill=${s.fill}`}`);
  }
  if (ir.layout) {
    const L = ir.layout;
    lines.push(`layout heap=${L.heapFloats} floats (${((L.heapFloats * 4) / 1048576).toFixed(2)} MiB) P=${L.P} G=${L.G} S=${L.S} N=${L.N} slots=${L.slots}`);
    for (const k of Object.keys(L.offsets).sort((a, b) => L.offsets[a] - L.offsets[b] || a.localeCompare(b)))
      lines.push(`  ${String(L.offsets[k]).padStart(9)} ${k} (${L.sizes[k]})`);
  }
  return lines.join("\n") + "\n";
}
