// What an op is: the one interface every op module implements. An op module (compiler/ops/*.ts)
// holds, for one family of ops, everything the compiler knows about them:
//   - the language surface: argument schema, positional arguments, accepted input rank, docs
//     (the checker, the language server, the editor grammars and docs/language.md read these);
//   - lower: shape inference, parameters and running statistics (LayerOp.lower);
//   - schedule: the decisions a named pass writes into the IR (NodeOp.schedule);
//   - memory: the buffers a node needs beside its output and gradient (NodeOp.buffers);
//   - the TypeScript trainer: forward and backward (NodeOp.forward / backward, TailOp for the
//     elementwise ops fused into a producer's epilogue);
//   - the smoothness penalties' tangent and second-order pieces (NodeOp.penalty, TailOp.second);
//   - the PyTorch target and the ONNX exporter (NodeOp.pytorch / onnx, TailOp.pytorch / onnx).
// A mapping that does not exist is declared with `unsupported("why")`, never left out: the
// registry (index.ts) is typed so that a missing op or member is a compile error, and the
// checker reports an unsupported one with the layer's span (compiler/check-targets.ts).
import type { Span } from "../../grammar/ast";
import type { Code } from "../../grammar/diagnostics";
import type { IR, IRNode, IRParam, TailNode } from "../ir";
import type { GraphBuilder } from "../export/onnx-graph";
import type { Json, LayerSpec } from "../spec";

// ---- the language surface ----------------------------------------------------------------------

export type ArgSchema = Record<string, unknown> & { description?: string };

export interface LayerDef {
  name: string;
  /** Argument names that may be given by position, in order. */
  positional: string[];
  /** JSON schema of the argument object (properties, required, defaults). */
  schema: { type: "object"; properties: Record<string, unknown>; required?: string[] };
  /** Which input ranks are accepted: "any", or ranks among 1 ([features]), 2 ([T, F]: a sequence), 3 ([C, H, W]). */
  rank: "any" | 1 | 2 | 3 | readonly (1 | 2 | 3)[];
  /** An elementwise op: may be fused into its producer's epilogue. */
  elementwise?: boolean;
  /** Takes a `{ ... }` body (residual, repeat). */
  body?: boolean;
  /** Zeroes values at random in training (dropout): refused as the model's last layer. */
  dropsValues?: boolean;
  /** Normalizes with statistics of the batch (batch norm): refused at batch size 1. */
  batchStatistics?: boolean;
  /** Carries a state along time (lstm, gru): what `tbptt` carries across windows. */
  recurrent?: boolean;
  /** One line: what it computes (hover, completion). */
  doc: string;
  /** docs/language.md's layer table (scripts/build-docs.ts): the shape rule ("same" when it keeps the shape)... */
  shape?: string;
  /** ... and the conventions worth stating (markdown). */
  notes?: string;
  /** Defaults that are not constants of the schema (`stride=kernel`), as written in docs and hovers. */
  docDefaults?: Record<string, string>;
}

/** A layer of the language: its surface, and how it lowers to IR nodes. */
export interface LayerOp extends LayerDef {
  /** Lower one layer; returns the output tensor name and shape, or undefined after a diagnostic. */
  lower(c: LowerCtx, l: LayerSpec, input: string, shape: number[]): [string, number[]] | undefined;
}

/** A LayerDef from its arguments (schema properties) and their required subset. */
export function layer(def: Omit<LayerOp, "schema"> & { args: Record<string, unknown>; required?: string[] }): LayerOp {
  const { args, required, ...rest } = def;
  const props = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, { ...(v as object) }]));
  for (const p of Object.values(props) as Record<string, unknown>[]) if (p.exclusiveMaximum === undefined) delete p.exclusiveMaximum;
  const schema = { type: "object" as const, properties: props, ...(required ? { required } : {}), additionalProperties: false };
  return { ...rest, schema };
}

// ---- lowering ----------------------------------------------------------------------------------

export interface LowerCtx {
  /** A fresh node id for `op` (`dense_0`, `dense_1`, ...). */
  id(op: string): string;
  /** Append a node (inputs = [input]); its op-specific attrs are typed by the caller. */
  node<N extends IRNode>(op: N["op"], input: string, inShape: number[], outShape: number[], l: LayerSpec, attrs: N["attrs"], idOverride?: string): N;
  /** Declare a parameter (with the spec's decay settings for its group); returns its name. */
  param(name: string, shape: number[], init: Record<string, Json>, group: IRParam["group"], l: LayerSpec): string;
  /** The shape of a parameter declared so far (a layer earlier in the model), or undefined (weight tying). */
  paramShape(name: string): number[] | undefined;
  /** Declare a running statistic (buffer, not trained). */
  stat(name: string, shape: number[], fill: number, eye?: number): string;
  /** The train block's `tbptt`: the recurrent layers carry their state across windows. */
  readonly tbptt: boolean;
  /** The weight and bias initializers a layer asks for (`init=`, its mode, nonlinearity and gain). */
  weightInit(l: LayerSpec, fanInShape: number[]): { w: Record<string, Json>; b: Record<string, Json> };
  /** Report a diagnostic at a span; returns undefined so that `return c.error(...)` ends a lowering. */
  error(code: Code, span: Span, args: Record<string, string | number>, hint?: string): undefined;
  /** A size the data determines (`auto` arguments): the vocabulary, or the number of classes; a diagnostic at `span` when unknown. */
  fact(name: "vocab" | "classes", span: Span, what: string): number | undefined;
  /** Lower a nested layer (bodies of repeat and residual). */
  layer(l: LayerSpec, input: string, shape: number[]): [string, number[]] | undefined;
}

// ---- unsupported mappings --------------------------------------------------------------------

/** An explicit "this op has no mapping on this target", with the reason shown to the user. */
export interface Unsupported {
  unsupported: string;
}
export const unsupported = (why: string): Unsupported => ({ unsupported: why });
export function isUnsupported(x: unknown): x is Unsupported {
  return typeof x === "object" && x !== null && "unsupported" in x;
}

// ---- memory --------------------------------------------------------------------------------------

/** A buffer a node needs beside its output and gradient: `${kind}:${node id}`, its floats. */
export interface BufferDecl {
  kind: "col" | "w" | "wnorm" | "scratch:wn" | "idx" | "mean" | "invstd" | "save" | "tmp" | "state";
  size: number;
  /** Content never survives one moment (live only at the moments that use it). */
  scratch?: boolean;
  /** Content survives from one step to the next (a recurrent layer's carried state): a fixed place of its own, never shared. */
  persistent?: boolean;
}

// ---- the TypeScript trainer ---------------------------------------------------------------------

export interface EmitCtx {
  ir: IR;
  /** Heap offset of a named buffer. */
  off(name: string): number;
  /** Runtime names the code uses (for the import list). */
  uses: Set<string>;
  /** Module constants (per-node configs). */
  consts: string[];
  /** Whether tensor t carries a gradient. */
  grad(t: string): boolean;
  /** Whether t is the batch input or a view of it (no gradient buffer of its own). */
  isViewOfX(t: string): boolean;
  /** The tail of n as one sweep over its output (reading Z, writing Y). */
  tailForward(n: IRNode, size: number): string[];
  /** Per-step setup of a tail (dropout seeds, channel masks). */
  tailPrelude(n: IRNode): string[];
  /** The tail applied to `v` for element `i`, storing Y[i]. */
  tailBody(n: IRNode, size: number, i: string): string[];
  /** Write (first writer) or accumulate (later writers, through scratch:grad) the gradient of t. */
  gradInto(t: string, size: number, write: (dst: number, accumulate: boolean) => string[]): string[];
  /**
   * Where a kernel that always overwrites dx writes the gradient of src: its gradient buffer
   * (first writer), scratch:grad then an accumulation (later writers), or -1 when src needs none.
   */
  dxTarget(src: string, inSize: number): { dx: number; post: string[] };
  /** Mark the gradient of t as written (flatten: its view shares the buffer). */
  markGradWritten(t: string): void;
}

// ---- the smoothness penalties (double backprop in forward mode, codegen/emit-penalty.ts) -------

export interface PenaltyCtx {
  ir: IR;
  off(name: string): number;
  uses: Set<string>;
  /** Gradient, tangent and gradient tangent buffers of a tensor; dz and its tangent of a node. */
  D(t: string): number;
  T(t: string): number;
  TD(t: string): number;
  DZ(n: IRNode): number;
  TZ(n: IRNode): number;
  scratch: number;
  /** x or a view of it. */
  isX(t: string): boolean;
  /** Primal backward: write or accumulate into buffer `buf` (kernels that overwrite go through scratch). */
  primalInto(buf: number, size: number, emit: (dst: number, acc: boolean) => string, canAccumulate: boolean): string[];
  /** Tangent backward: the same for the gradient tangent of tensor t (nothing for x). */
  tangentInto(t: string, size: number, emit: (dst: number, acc: boolean) => string, canAccumulate: boolean): string[];
  /** Tangent backward of a kernel that always overwrites dx: its target and the accumulation after. */
  tangentDx(src: string, inSize: number): { dx: number; post: string[] };
}

/** A node's pieces of the penalty passes (see codegen/emit-penalty.ts). */
export interface PenaltyOp<N extends IRNode> {
  /** A reason this node cannot be differentiated twice (e.g. weight_norm), else undefined. */
  refuse?(n: N): string | undefined;
  /** Floats of one weight-gradient tangent area with the bias's (pen:dw holds two). */
  dwFloats?(n: N): number;
  /** Module constants the pieces read (PCFG_<id>). */
  consts?(n: N, c: PenaltyCtx): string[];
  /** Gradient of the node's input from dz (pen:d). */
  primalBackward(n: N, c: PenaltyCtx, dz: number): string[];
  /** ż from the input's tangent. */
  tangentForward(n: N, c: PenaltyCtx, tz: number): string[];
  /** d(dW) added to the parameter gradients, d(dx) into the input's gradient tangent. */
  tangentBackward(n: N, c: PenaltyCtx, dz: number, tdz: number): string[];
}

// ---- the PyTorch target ------------------------------------------------------------------------

export interface PyCtx {
  /** A Python literal for a JSON value. */
  py(v: Json | undefined): string;
  /** Throw when the node's parameters are not exactly these (the state-dict names must match). */
  expectParams(n: IRNode, names: string[]): void;
  /** Throw: this configuration of the op cannot be expressed identically. */
  unsupported(what: string, n: IRNode): never;
  /**
   * Padded data (ir.data.lengths): a Python expression of the valid lengths of tensor t, an (n,)
   * int64 tensor on the model's device (the input's lengths through the time maps of the layers
   * before t, at most t's T); undefined when the data are not padded. A recurrent layer passes
   * `c.lengths(n.inputs[0])` (on the CPU: `.cpu()`) to pack_padded_sequence.
   */
  lengths(t: string): string | undefined;
  /** Padded data: a Python expression of tensor t's valid positions, an (n, T) bool tensor; undefined when not padded. */
  mask(t: string): string | undefined;
}

export interface PyCode {
  /** Lines of __init__ (submodules named after the node). */
  init: string[];
  /** Lines of forward(). */
  forward: string[];
  /** Running statistics: a one-sample training batch cannot be used. */
  batchNorm?: boolean;
  /** A class the model needs (IterNorm), emitted once before Net. */
  preamble?: string;
}

// ---- the ONNX exporter -------------------------------------------------------------------------

export interface OnnxCtx {
  ir: IR;
  g: GraphBuilder;
  /** The graph value of the node's i-th input. */
  inp(n: IRNode, i?: number): string;
  /** A trained tensor by name. */
  get(name: string): Float32Array;
  /** Batch norm folded into dense/conv (export's default). */
  fold: boolean;
  /** The batch norm folded into this producer, if any; whether this batch norm was folded. */
  foldedInto(n: IRNode): IRNode | undefined;
  isFolded(n: IRNode): boolean;
}

// ---- IR nodes --------------------------------------------------------------------------------

/** What an op's schedule may ask about the whole IR (compiler/schedule-kernels.ts). */
export interface ScheduleCtx {
  ir: IR;
  /** Whether tensor t carries a gradient. */
  grad(t: string): boolean;
  /** Whether the node's input gradient is computed (its input carries a gradient and is not x). */
  dx: boolean;
  /** The node that writes t (undefined for x). */
  producer(t: string): IRNode | undefined;
  /** Nodes that read t. */
  readers(t: string): number;
  /** Gradient writes into t (2+: accumulated). */
  gradWrites(t: string): number;
  /** A smoothness penalty re-reads forward buffers after backward. */
  penalty: boolean;
  reluOutputOptional(n: IRNode): boolean;
  defersBias(n: IRNode): boolean;
}

/** What an IR node kind does from lowering on. */
export interface NodeOp<N extends IRNode> {
  /** The schedule decisions of this op (scheduleKernels writes them into n.sched). */
  schedule?(n: N, c: ScheduleCtx): Partial<NonNullable<IRNode["sched"]>>;
  /** It zeroes the padded positions of its sequence output itself (no seqmask tail needed). */
  masksPadding?: boolean;
  /**
   * Along time: its output at position t reads its input at positions <= t only (pointwise layers,
   * a forward recurrence). dnnc generate needs every node of a language model to be; absent: not.
   */
  causal?(n: N): boolean;
  /**
   * Its PyTorch mapping honours padded data: it reads each sample's valid length (PyCtx.lengths,
   * PyCtx.mask) and zeroes its padded positions itself. Required of an op that masks its own
   * padding (masksPadding): without it the PyTorch target refuses padded data at that layer (E0405).
   */
  pytorchPadded?: boolean;
  /** Its kernel writes the output of a lone ReLU tail only when asked (a max pool after it may apply the ReLU instead). */
  reluOutputOptional?: boolean;
  /** With its ReLU applied by the pool, it can leave its bias to the pool too (the same single rounding). */
  defersBiasToPool?(n: N): boolean;
  /** A view of its input (flatten): no code, no buffers; its output and gradient alias the input's. */
  view?: boolean;
  /** Buffers beside the node's output and gradient, in layout order. */
  buffers?(n: N, B: number): BufferDecl[];
  /** Statements that zero the state it carries from step to step (tbptt: Model.resetState), if any. */
  resetState?(n: N, c: EmitCtx): string[];
  /** Multiply-adds of its largest GEMM that a second thread could split (the trainer stays on one thread when none is large enough). */
  gemmMacs?(n: N, B: number): number;
  /** Its backward reads its input activation (weight gradients, norm statistics). */
  readsInputInBackward: boolean;
  /** Its backward kernel writes dx even when nothing needs it (into scratch:grad then). */
  alwaysWritesDx?: boolean;
  /** ONNX: an eval-mode per-channel affine map (batch norm) the exporter may fold into its producer... */
  foldsIntoProducer?: boolean;
  /** ... when that producer is a linear map (dense, conv2d) whose output nothing else reads. */
  absorbsAffine?: boolean;
  forward(n: N, c: EmitCtx): string[];
  /** The producer's backward, after its tail's (the gradient buffer already holds dZ). */
  backward(n: N, c: EmitCtx): string[];
  penalty: PenaltyOp<N> | Unsupported;
  /** Why the PyTorch target or the ONNX exporter cannot take this node in this IR although the op maps (padded data, say), else undefined. */
  refuseTarget?(n: N, target: "pytorch" | "onnx", ir: IR): string | undefined;
  pytorch: ((n: N, c: PyCtx) => PyCode) | Unsupported;
  onnx: ((n: N, c: OnnxCtx) => string) | Unsupported;
}

// ---- elementwise ops in a producer's tail -------------------------------------------------------

/** First and second derivative of a tail op at `v` (element index `i`), for the penalties. */
export interface SecondParts {
  /** statements run first (may declare consts) */
  pre: string;
  a1: string;
  /** second derivative, or null when it is 0 everywhere */
  a2: string | null;
  /** the op's value */
  val: string;
}

export interface TailOp {
  /** Forward: statements for element `i` updating `let v` (and writing masks). */
  forward(t: TailNode, n: IRNode, c: EmitCtx, i: string, size: number): string[];
  /** Backward: statements for element `i` multiplying `d` by the derivative and advancing `v`. */
  backward(t: TailNode, n: IRNode, c: EmitCtx, size: number): string[];
  /** Per-step setup, first part: this step's random key (dropout). */
  seed?(t: TailNode, n: IRNode, c: EmitCtx): string[];
  /** Per-step setup, second part (after every seed of the tail): spatial dropout's channel masks. */
  prelude?(t: TailNode, n: IRNode, c: EmitCtx): string[];
  /** A mask buffer of this many floats (dropout). */
  mask?(n: IRNode, B: number): number;
  /**
   * A whole-buffer form of the op, used instead of the per-element one when it is the last op of a
   * tail (codegen/emit-model.ts): statements applied to the node's output Y after the element sweep
   * of the ops before it (forward), and to its gradient dY before their backward sweep. Only for an
   * op that multiplies by a fixed 0/1 mask, which is then its own derivative (seqmask).
   */
  sweep?: { forward(t: TailNode, n: IRNode, c: EmitCtx, Y: number): string[]; backward(t: TailNode, n: IRNode, c: EmitCtx, D: number): string[] };
  /** The penalties' derivative parts (null: the identity, e.g. dropout with p = 0). */
  second: ((t: TailNode, n: IRNode, c: PenaltyCtx, k: number) => SecondParts | null) | Unsupported;
  /** PyTorch: a module (`init`) and the forward line, or a functional expression of `v`. */
  pytorch: ((t: TailNode, n: IRNode, v: string, c: PyCtx) => PyCode) | Unsupported;
  /** ONNX: the value of the op applied to x (the exporter runs on the unfused IR). */
  onnx: ((x: string, id: string, attrs: Record<string, Json>, c: OnnxCtx) => string) | Unsupported;
}

/** A JS number literal that round-trips exactly. */
export function lit(x: number): string {
  return String(x);
}
