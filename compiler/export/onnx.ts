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
import { DnncError } from "../../runtime/errors";
import type { NamedTensor } from "../../runtime/safetensors";
import { preprocessFromStored, type FittedPreprocess } from "../../runtime/preprocess";
import { encodeModel, type AttrValue, type OnnxModel, type OnnxNode, type OnnxTensor } from "./onnx-proto";
import { bnAffine, iterNormLinear, linearWeights, type Affine } from "./weights";

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

const ints = (value: number[]): AttrValue => ({ kind: "ints", value });
const int = (value: number): AttrValue => ({ kind: "int", value });
const float = (value: number): AttrValue => ({ kind: "float", value });

class GraphBuilder {
  nodes: OnnxNode[] = [];
  inits: OnnxTensor[] = [];
  private used = new Set<string>(["input"]);

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  init(base: string, dims: number[], data: Float32Array | number[]): string {
    const name = this.unique(base);
    this.inits.push({ name, dims, data });
    return name;
  }

  scalar(base: string, v: number): string {
    return this.init(base, [], Float32Array.of(v));
  }

  shape(base: string, dims: number[]): string {
    return this.init(base, [dims.length], dims);
  }

  op(opType: string, inputs: string[], out: string, attrs?: Record<string, AttrValue>): string {
    const name = this.unique(out);
    this.nodes.push({ opType, name, inputs, outputs: [name], ...(attrs ? { attrs } : {}) });
    return name;
  }
}

/** Per-channel vector shaped to broadcast over a per-sample shape: [C] for features, [C,1,1] for images. */
function channelDims(shape: number[]): number[] {
  return shape.length === 1 ? [shape[0]] : [shape[0], ...shape.slice(1).map(() => 1)];
}

function where(ir: IR, n: IRNode): string {
  return `${ir.file}:${n.line}:${n.col}`;
}

const DROPOUTS = new Set(["dropout", "spatial_dropout"]);

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
  if (ir.data.preprocess.length > 0 && !pre) throw new DnncError(`model.safetensors: the spec has preprocessing (${ir.data.preprocess[0].kind}) but the file holds no fitted statistics`);
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
  // bn folded into a dense/conv: producer id -> bn node
  const foldInto = new Map<string, IRNode>();
  const folded = new Set<string>();
  if (fold)
    for (const n of ir.nodes) {
      if (n.op !== "bn") continue;
      let p = producer.get(n.inputs[0]);
      while (p && DROPOUTS.has(p.op) && consumers.get(p.output) === 1) p = producer.get(p.inputs[0]);
      if (p && (p.op === "dense" || p.op === "conv2d") && consumers.get(p.output) === 1) {
        foldInto.set(p.id, n);
        folded.add(n.id);
      }
    }
  const value = new Map<string, string>([["x", x]]);
  const inp = (n: IRNode, i = 0): string => {
    const v = value.get(n.inputs[i]);
    if (v === undefined) throw new Error(`onnx export: ${n.id} reads ${n.inputs[i]} before it is defined`);
    return v;
  };
  for (const n of ir.nodes) {
    const a = n.attrs;
    let out: string;
    switch (n.op) {
      case "dense":
      case "conv2d": {
        const bn = foldInto.get(n.id);
        const affine: Affine | undefined = bn ? bnAffine(bn, get) : undefined;
        const { weight, bias } = linearWeights(n, get, affine);
        const wDims = ir.params.find((p) => p.name === `${n.id}.weight` || p.name === `${n.id}.weight_v`)!.shape;
        const ins = [inp(n), g.init(`${n.id}.weight`, wDims, weight)];
        if (bias) ins.push(g.init(`${n.id}.bias`, [bias.length], bias));
        const name = bn ? `${n.id}+${bn.id}` : n.id;
        out =
          n.op === "dense"
            ? g.op("Gemm", ins, name, { transB: int(1) })
            : g.op("Conv", ins, name, {
                kernel_shape: ints([a.kh as number, a.kw as number]),
                strides: ints([a.sh as number, a.sw as number]),
                pads: ints([a.ph as number, a.pw as number, a.ph as number, a.pw as number]),
                dilations: ints([a.dh as number, a.dw as number]),
                group: int(a.groups as number),
              });
        break;
      }
      case "bn": {
        if (folded.has(n.id)) {
          out = inp(n); // already in the producer's weights
          break;
        }
        const C = n.outShape[0];
        if (!fold) {
          const affine = a.affine as boolean;
          const gamma = affine ? get(`${n.id}.weight`) : new Float32Array(C).fill(1);
          const beta = affine ? get(`${n.id}.bias`) : new Float32Array(C);
          out = g.op(
            "BatchNormalization",
            [inp(n), g.init(`${n.id}.weight`, [C], gamma), g.init(`${n.id}.bias`, [C], beta), g.init(`${n.id}.running_mean`, [C], get(`${n.id}.running_mean`)), g.init(`${n.id}.running_var`, [C], get(`${n.id}.running_var`))],
            n.id,
            { epsilon: float(a.eps as number) },
          );
          break;
        }
        const { scale, shift } = bnAffine(n, get);
        const dims = channelDims(n.outShape);
        const m = g.op("Mul", [inp(n), g.init(`${n.id}.scale`, dims, Float32Array.from(scale))], `${n.id}/scale`);
        out = g.op("Add", [m, g.init(`${n.id}.shift`, dims, Float32Array.from(shift))], n.id);
        break;
      }
      case "iternorm": {
        // eval: gamma * W_run (x - running_mean) + beta, per group of C/G channels
        const s = n.outShape;
        const C = s[0];
        const { weight, bias } = iterNormLinear(n, get);
        const centered = g.op("Sub", [inp(n), g.init(`${n.id}.running_mean`, channelDims(s), get(`${n.id}.running_mean`))], `${n.id}/center`);
        out =
          s.length === 1
            ? g.op("Gemm", [centered, g.init(`${n.id}.whiten`, [C, C], weight), g.init(`${n.id}.bias`, [C], bias)], n.id, { transB: int(1) })
            : g.op("Conv", [centered, g.init(`${n.id}.whiten`, [C, C, 1, 1], weight), g.init(`${n.id}.bias`, [C], bias)], n.id, { kernel_shape: ints([1, 1]) });
        break;
      }
      case "maxpool2d":
      case "avgpool2d":
        out = g.op(n.op === "maxpool2d" ? "MaxPool" : "AveragePool", [inp(n)], n.id, {
          kernel_shape: ints([a.kh as number, a.kw as number]),
          strides: ints([a.sh as number, a.sw as number]),
          pads: ints([a.ph as number, a.pw as number, a.ph as number, a.pw as number]),
          ...(n.op === "avgpool2d" ? { count_include_pad: int(1) } : {}),
        });
        break;
      case "global_avgpool":
        out = g.op("Flatten", [g.op("GlobalAveragePool", [inp(n)], `${n.id}/pool`)], n.id, { axis: int(1) });
        break;
      case "flatten":
        out = n.inShape.length === 1 ? inp(n) : g.op("Flatten", [inp(n)], n.id, { axis: int(1) });
        break;
      case "layernorm": {
        const s = n.outShape;
        const size = s.reduce((p, q) => p * q, 1);
        const gamma = a.affine ? get(`${n.id}.weight`) : new Float32Array(size).fill(1);
        const beta = a.affine ? get(`${n.id}.bias`) : new Float32Array(size);
        out = g.op("LayerNormalization", [inp(n), g.init(`${n.id}.weight`, s, gamma), g.init(`${n.id}.bias`, s, beta)], n.id, { axis: int(1), epsilon: float(a.eps as number) });
        break;
      }
      case "groupnorm":
      case "instancenorm": {
        const s = n.outShape;
        const C = s[0];
        const G = a.groups as number;
        const gamma = a.affine ? get(`${n.id}.weight`) : new Float32Array(C).fill(1);
        const beta = a.affine ? get(`${n.id}.bias`) : new Float32Array(C);
        const eps = float(a.eps as number);
        if (G === C) {
          out = g.op("InstanceNormalization", [inp(n), g.init(`${n.id}.weight`, [C], gamma), g.init(`${n.id}.bias`, [C], beta)], n.id, { epsilon: eps });
          break;
        }
        // (N, C, H, W) -> (N, G, C/G*H*W), normalize per (sample, group), back, per-channel affine
        const r = g.op("Reshape", [inp(n), g.shape(`${n.id}/groups_shape`, [0, G, -1])], `${n.id}/groups`);
        const ones = g.init(`${n.id}/ones`, [G], new Float32Array(G).fill(1));
        const zeros = g.init(`${n.id}/zeros`, [G], new Float32Array(G));
        const norm = g.op("InstanceNormalization", [r, ones, zeros], `${n.id}/norm`, { epsilon: eps });
        const back = g.op("Reshape", [norm, g.shape(`${n.id}/shape`, [0, ...s])], `${n.id}/reshape`);
        const dims = channelDims(s);
        const m = g.op("Mul", [back, g.init(`${n.id}.weight`, dims, gamma)], `${n.id}/scale`);
        out = g.op("Add", [m, g.init(`${n.id}.bias`, dims, beta)], n.id);
        break;
      }
      case "add":
        out = g.op("Add", [inp(n, 0), inp(n, 1)], n.id);
        break;
      case "dropout":
      case "spatial_dropout":
      case "identity":
        out = inp(n);
        break;
      case "relu":
        out = g.op("Relu", [inp(n)], n.id);
        break;
      case "leaky_relu":
        out = g.op("LeakyRelu", [inp(n)], n.id, { alpha: float((a.slope as number | undefined) ?? 0.01) });
        break;
      case "elu":
        out = g.op("Elu", [inp(n)], n.id, { alpha: float((a.alpha as number | undefined) ?? 1) });
        break;
      case "tanh":
        out = g.op("Tanh", [inp(n)], n.id);
        break;
      case "sigmoid":
        out = g.op("Sigmoid", [inp(n)], n.id);
        break;
      case "softplus":
        out = g.op("Softplus", [inp(n)], n.id);
        break;
      case "gelu": {
        // x * 0.5 * (1 + erf(x / sqrt 2)), exact (erf) as the trainer
        const xi = inp(n);
        const e = g.op("Erf", [g.op("Div", [xi, g.scalar(`${n.id}/sqrt2`, Math.SQRT2)], `${n.id}/div`)], `${n.id}/erf`);
        const one = g.op("Add", [e, g.scalar(`${n.id}/one`, 1)], `${n.id}/add`);
        const half = g.op("Mul", [xi, g.scalar(`${n.id}/half`, 0.5)], `${n.id}/half_x`);
        out = g.op("Mul", [half, one], n.id);
        break;
      }
      default:
        throw new DnncError(`${where(ir, n)}: cannot export layer \`${n.op}\` (${n.id}) to ONNX`);
    }
    if (n.tail.length > 0) throw new DnncError(`${where(ir, n)}: onnx export needs the unfused IR (${n.id} has a fused tail)`);
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
