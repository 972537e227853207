// What dense, conv2d and conv1d share: a weight (or weight norm's g and v) and an optional bias, the
// weight-norm buffers and kernels around the layer's own, the PyTorch module wrapper, and the
// ONNX Gemm/Conv with a batch norm folded in.
import type { IRNode } from "../ir";
import type { Conv2dNode } from "./conv";
import type { Conv1dNode } from "./conv1d";
import type { DenseNode } from "./dense";
import type { BnNode } from "./norm";
import type { LayerSpec } from "../spec";
import { prod } from "../shape";
import { bnAffine, type Affine, type TensorLookup } from "./norm";
import { int, ints } from "../export/onnx-graph";
import type { BufferDecl, EmitCtx, LowerCtx, OnnxCtx, PyCtx } from "./op";

export interface LinearAttrs {
  bias: boolean;
  weight_norm: boolean;
}
type LinearNode = DenseNode | Conv2dNode | Conv1dNode;

/** Declare the weight (or g and v), then the bias, with the layer's initializers. */
export function linearParams(c: LowerCtx, n: IRNode, l: LayerSpec, wShape: number[]): void {
  const init = c.weightInit(l, wShape);
  const a = n.attrs as LinearAttrs;
  if (a.weight_norm) {
    n.params.push(c.param(`${n.id}.weight_g`, [wShape[0], ...wShape.slice(1).map(() => 1)], { kind: "weight_norm_g" }, "norm", l));
    n.params.push(c.param(`${n.id}.weight_v`, wShape, init.w, "weight", l));
  } else n.params.push(c.param(`${n.id}.weight`, wShape, init.w, "weight", l));
  if (a.bias) n.params.push(c.param(`${n.id}.bias`, [wShape[0]], init.b, "bias", l));
}

/** Weight norm's effective weight w, its row norms, and the scratch its gradient passes through. */
export function weightNormBuffers(n: LinearNode, wShape: number[]): BufferDecl[] {
  if (!n.attrs.weight_norm) return [];
  const w = prod(wShape);
  return [
    { kind: "w", size: w },
    { kind: "wnorm", size: wShape[0] },
    { kind: "scratch:wn", size: w, scratch: true },
  ];
}

/** The weight the kernels read: w (weight norm's effective weight) or the parameter itself. */
export function weightOf(n: LinearNode, c: EmitCtx): number {
  return n.attrs.weight_norm ? c.off(`w:${n.id}`) : c.off(weightName(n));
}

/** The weight parameter's name: the layer's own, or the embedding table a dense layer is tied to (`tie=`). */
export function weightName(n: LinearNode): string {
  return (n.attrs as { tie?: string }).tie ?? `${n.id}.weight`;
}

/** w = g v / ||v|| per output row, into w (before the layer's forward). */
export function weightNormForward(n: IRNode, c: EmitCtx, out: number, inn: number): string {
  c.uses.add("weightNormForward");
  return `weightNormForward(H, { out: ${out}, inn: ${inn} }, ${c.off(`${n.id}.weight_g`)}, ${c.off(`${n.id}.weight_v`)}, ${c.off(`w:${n.id}`)}, ${c.off(`wnorm:${n.id}`)});`;
}

/** dW (in scratch) flows into g and v. */
export function weightNormBackward(n: IRNode, c: EmitCtx, out: number, inn: number, dW: number): string {
  c.uses.add("weightNormBackward");
  return `weightNormBackward(H, { out: ${out}, inn: ${inn} }, ${c.off(`${n.id}.weight_g`)}, ${c.off(`${n.id}.weight_v`)}, ${c.off(`wnorm:${n.id}`)}, ${dW}, ${c.off(`grad:${n.id}.weight_g`)}, ${c.off(`grad:${n.id}.weight_v`)});`;
}

/** The penalties differentiate dense and conv twice, but not through weight normalization. */
export function refuseWeightNorm(n: LinearNode): string | undefined {
  return n.attrs.weight_norm ? "weight_norm" : undefined;
}

/** A PyTorch module, wrapped by weight_norm when the layer has it; checks the state-dict names. */
export function pyLinear(n: LinearNode, c: PyCtx, module: string): string {
  c.expectParams(n, [...(n.attrs.weight_norm ? ["weight_g", "weight_v"] : ["weight"]), ...(n.attrs.bias ? ["bias"] : [])]);
  return n.attrs.weight_norm ? `nn.utils.weight_norm(${module}, name="weight", dim=0)` : module;
}

/**
 * Gemm or Conv with the effective weight (weight norm materialized, a folded batch norm applied);
 * MatMul with Wᵀ, then Add, for a dense layer on a sequence (Gemm takes matrices only).
 */
export function onnxLinear(
  n: LinearNode,
  c: OnnxCtx,
  opType: "Gemm" | "Conv" | "MatMul",
  attrs: Record<string, import("../export/onnx-proto").AttrValue>,
): string {
  const bn = c.foldedInto(n);
  const affine: Affine | undefined = bn ? bnAffine(bn as BnNode, c.get) : undefined;
  const { weight, bias } = linearWeights(n, c.get, affine);
  const wDims = c.ir.params.find((p) => p.name === weightName(n) || p.name === `${n.id}.weight_v`)!.shape;
  if (opType === "MatMul") {
    const [out, inn] = wDims;
    const wt = new Float32Array(inn * out);
    for (let o = 0; o < out; o++) for (let j = 0; j < inn; j++) wt[j * out + o] = weight[o * inn + j];
    const y = c.g.op("MatMul", [c.inp(n), c.g.init(`${n.id}.weight_t`, [inn, out], wt)], bias ? `${n.id}/matmul` : n.id);
    return bias ? c.g.op("Add", [y, c.g.init(`${n.id}.bias`, [out], bias)], n.id) : y;
  }
  const ins = [c.inp(n), c.g.init(`${n.id}.weight`, wDims, weight)];
  if (bias) ins.push(c.g.init(`${n.id}.bias`, [bias.length], bias));
  return c.g.op(opType, ins, bn ? `${n.id}+${bn.id}` : n.id, attrs);
}

export { int, ints };

/** Rows of the weight: dense (out, in), conv (K, C/g*kh*kw), conv1d (K, C/g*k). */
function rows(n: LinearNode): number {
  return n.op === "dense" ? n.attrs.units : n.attrs.K;
}

/**
 * ONNX: the effective weight and bias of a dense/conv node (bias undefined when the layer has none and
 * nothing is folded into it), optionally with a batch norm folded in.
 */
export function linearWeights(n: LinearNode, get: TensorLookup, fold?: Affine): { weight: Float32Array; bias?: Float32Array } {
  const out = rows(n);
  let w: Float64Array;
  if (n.attrs.weight_norm) {
    const g = get(`${n.id}.weight_g`);
    const v = get(`${n.id}.weight_v`);
    const inn = v.length / out;
    w = new Float64Array(v.length);
    for (let o = 0; o < out; o++) {
      let q = 0;
      for (let j = 0; j < inn; j++) q += v[o * inn + j] * v[o * inn + j];
      const s = g[o] / Math.sqrt(q);
      // the trainer rounds w to float32 before using it; so do we (then fold in float64)
      for (let j = 0; j < inn; j++) w[o * inn + j] = Math.fround(s * v[o * inn + j]);
    }
  } else w = Float64Array.from(get(weightName(n)));
  const b = n.attrs.bias ? Float64Array.from(get(`${n.id}.bias`)) : fold ? new Float64Array(out) : undefined;
  if (fold) {
    const inn = w.length / out;
    for (let o = 0; o < out; o++) {
      const s = fold.scale[o];
      for (let j = 0; j < inn; j++) w[o * inn + j] *= s;
      b![o] = b![o] * s + fold.shift[o];
    }
  }
  return { weight: Float32Array.from(w), bias: b ? Float32Array.from(b) : undefined };
}
