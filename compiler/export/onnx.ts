// IR + trained tensors → an ONNX inference graph (opset 17, IR version 8).
//
// The graph takes `input`, float32 [N, ...] holding the SAME raw values `dnnc predict` reads
// (bytes 0..255 for images, the CSV features), applies the spec's `scale`/`shift` and the fitted
// preprocessing (standardize, pca, whiten, zca) as graph ops, then the model in eval mode, and
// outputs `logits` [N, ...outputShape] plus `probabilities` (Softmax for softmax cross-entropy,
// Sigmoid for bce_with_logits; regression losses have logits only).
//
// Eval-mode rewrites: dropout and spatial dropout are removed; weight normalization is
// materialized into plain weights; a batch norm whose input comes from a dense/conv (directly or
// through dropout) used by nothing else is folded into that layer's weight and bias (in float64,
// rounded to float32 once); any other batch norm becomes Mul + Add with its eval-mode
// scale/shift. With `fold: false` every batch norm is an ONNX BatchNormalization (the test
// checks that both graphs agree). Layer norm uses LayerNormalization (opset 17); group norm is
// Reshape → InstanceNormalization → Reshape → Mul → Add; gelu is decomposed with Erf (Gelu is
// opset 20); IterNorm in eval mode (a fixed per-group whitening matrix) is Sub + a 1x1 Conv or
// a Gemm with a block-diagonal weight. An op the exporter does not know is a DnncError naming the op, its id and its line.
import type { IR, IRNode } from "../ir";
import type { Json } from "../spec";
import { DnncError } from "../../runtime/errors";
import type { NamedTensor } from "../../runtime/safetensors";
import { preprocessFromStored, type FittedPreprocess } from "../../runtime/preprocess";
import { findNodeOp, findTailOp, OPS, type ProducerNode } from "../ops";
import { isUnsupported, type OnnxCtx } from "../ops/op";
import { encodeModel, type OnnxModel } from "./onnx-proto";
import { channelDims, GraphBuilder, int } from "./onnx-graph";

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /** Fold batch norm into the preceding dense/conv (default true). */
  fold?: boolean;
  producerVersion?: string;
}

export interface OnnxExport {
  model: OnnxModel;
  bytes: Uint8Array;
  /** Number of nodes in the graph. */
  nodes: number;
  /** Number of float values in the initializers (weights, folded statistics, preprocessing). */
  parameters: number;
  inputShape: (number | string)[];
  outputs: string[];
}

function where(ir: IR, n: IRNode): string {
  return `${ir.file}:${n.line}:${n.col}`;
}

export function exportOnnx(ir: IR, tensors: readonly NamedTensor[], metadata: Record<string, string>, opts: OnnxExportOptions = {}): OnnxExport {
  const fold = opts.fold ?? true;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const get = (name: string): Float32Array => {
    const t = byName.get(name);
    if (!t) throw new DnncError(`model.safetensors: tensor "${name}" is missing (written by another spec?)`);
    return t.data;
  };
  for (const p of [...ir.params, ...ir.stats]) {
    const t = byName.get(p.name);
    if (t && t.data.length !== p.size) throw new DnncError(`model.safetensors: tensor "${p.name}" has ${t.data.length} values, the spec says ${p.size}`);
  }
  const g = new GraphBuilder();

  // ---- input, scale/shift, preprocessing
  const pre = preprocessFromStored(metadata, tensors);
  if (ir.data.preprocess.length > 0 && !pre)
    throw new DnncError(`model.safetensors: the spec has preprocessing (${ir.data.preprocess[0].kind}) but the file holds no fitted statistics`);
  const modelShape = ir.input.shape;
  const rawShape = pre && pre.inDim !== ir.input.size ? [pre.inDim] : modelShape;
  const inputShape: (number | string)[] = ["N", ...rawShape];
  let x = "input";
  if (ir.data.scale !== 1) x = g.op("Mul", [x, g.scalar("scale", ir.data.scale)], "scaled");
  if (ir.data.shift !== 0) x = g.op("Add", [x, g.scalar("shift", ir.data.shift)], "shifted");
  if (pre) x = preprocess(g, pre, x, rawShape, modelShape);

  // ---- the model
  const consumers = new Map<string, number>();
  for (const n of ir.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const producer = new Map(ir.nodes.map((n) => [n.output, n]));
  // bn folded into a dense/conv (through dropout used by nothing else): producer id -> bn node
  const foldInto = new Map<string, IRNode>();
  const folded = new Set<string>();
  if (fold)
    for (const n of ir.nodes) {
      if (!findNodeOp(n.op)?.foldsIntoProducer) continue;
      let p = producer.get(n.inputs[0]);
      while (p && OPS[p.op]?.dropsValues && consumers.get(p.output) === 1) p = producer.get(p.inputs[0]);
      if (p && findNodeOp(p.op)?.absorbsAffine && consumers.get(p.output) === 1) {
        foldInto.set(p.id, n);
        folded.add(n.id);
      }
    }
  const value = new Map<string, string>([["x", x]]);
  const c: OnnxCtx = {
    ir,
    g,
    inp(n, i = 0) {
      const v = value.get(n.inputs[i]);
      if (v === undefined) throw new Error(`onnx export: ${n.id} reads ${n.inputs[i]} before it is defined`);
      return v;
    },
    get,
    fold,
    foldedInto: (n) => foldInto.get(n.id),
    isFolded: (n) => folded.has(n.id),
  };
  for (const n of ir.nodes) {
    if (n.tail.length > 0) throw new DnncError(`${where(ir, n)}: onnx export needs the unfused IR (${n.id} has a fused tail)`);
    const cannot = (why?: string) => new DnncError(`${where(ir, n)}: cannot export layer \`${n.op}\` (${n.id}) to ONNX${why ? `: ${why}` : ""}`);
    let out: string;
    const tail = findTailOp(n.op);
    if (tail) {
      if (isUnsupported(tail.onnx)) throw cannot(tail.onnx.unsupported);
      out = tail.onnx(c.inp(n), n.id, n.attrs as Record<string, Json>, c);
    } else {
      const m = findNodeOp(n.op)?.onnx;
      if (!m) throw cannot();
      if (isUnsupported(m)) throw cannot(m.unsupported);
      out = m(n as ProducerNode, c);
    }
    value.set(n.output, out);
  }

  // ---- outputs
  const last = value.get(ir.nodes[ir.nodes.length - 1].output)!;
  const outShape: (number | string)[] = ["N", ...ir.output.shape];
  g.nodes.push({ opType: "Identity", name: "logits", inputs: [last], outputs: ["logits"] });
  const outputs = [{ name: "logits", shape: outShape }];
  if (ir.loss.kind === "softmax_cross_entropy" || ir.loss.kind === "bce_with_logits") {
    g.nodes.push({
      opType: ir.loss.kind === "softmax_cross_entropy" ? "Softmax" : "Sigmoid",
      name: "probabilities",
      inputs: ["logits"],
      outputs: ["probabilities"],
      ...(ir.loss.kind === "softmax_cross_entropy" ? { attrs: { axis: int(-1) } } : {}),
    });
    outputs.push({ name: "probabilities", shape: outShape });
  }

  const model: OnnxModel = {
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producerName: "dnnc",
    producerVersion: opts.producerVersion ?? "0.1.0",
    docString: `${ir.name} from ${ir.file}; input: raw values as dnnc predict reads them (scale, shift and preprocessing are in the graph)`,
    metadata: { spec_name: ir.name, spec_sha256: ir.specHash, loss: ir.loss.kind, batchnorm: fold ? "folded" : "unfolded" },
    graph: { name: ir.name, nodes: g.nodes, initializers: g.inits, inputs: [{ name: "input", shape: inputShape }], outputs },
  };
  const parameters = g.inits.reduce((s, t) => s + (t.data instanceof Float32Array ? t.data.length : 0), 0);
  return { model, bytes: encodeModel(model), nodes: g.nodes.length, parameters, inputShape, outputs: outputs.map((o) => o.name) };
}

/** scale/shift already applied to x (shape [N, ...rawShape]); returns the value the model reads. */
function preprocess(g: GraphBuilder, p: FittedPreprocess, x: string, rawShape: number[], modelShape: number[]): string {
  const t = p.tensors;
  if (p.kind === "standardize") {
    if (p.mode === "channel") {
      // as applyPreprocess: (x - mean[c]) * (1 / std[c])
      const dims = channelDims(rawShape);
      const inv = Float32Array.from(t.std, (s) => 1 / s);
      const c = g.op("Sub", [x, g.init("preprocess.mean", dims, t.mean)], "preprocess/center");
      return g.op("Mul", [c, g.init("preprocess.inv_std", dims, inv)], "preprocessed");
    }
    const c = g.op("Sub", [x, g.init("preprocess.mean", rawShape, t.mean)], "preprocess/center");
    return g.op("Div", [c, g.init("preprocess.std", rawShape, t.std)], "preprocessed");
  }
  // pca / whiten / zca: y = M (x - mean), M (outDim, inDim) stored row-major; MatMul takes M^T
  const d = p.inDim;
  const k = p.outDim;
  const flat = rawShape.length === 1 ? x : g.op("Flatten", [x], "preprocess/flatten", { axis: int(1) });
  const c = g.op("Sub", [flat, g.init("preprocess.mean", [d], t.mean)], "preprocess/center");
  const mt = new Float32Array(d * k);
  for (let r = 0; r < k; r++) for (let j = 0; j < d; j++) mt[j * k + r] = t.matrix[r * d + j];
  const y = g.op("MatMul", [c, g.init("preprocess.matrix_t", [d, k], mt)], modelShape.length === 1 ? "preprocessed" : "preprocess/project");
  return modelShape.length === 1 ? y : g.op("Reshape", [y, g.shape("preprocess/shape", [0, ...modelShape])], "preprocessed");
}
