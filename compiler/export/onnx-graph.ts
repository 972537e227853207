// Building an ONNX graph: unique value names, initializers, nodes, and the attribute helpers the
// op modules' ONNX mappings use (compiler/ops/*.ts; the exporter is export/onnx.ts).
import type { AttrValue, OnnxNode, OnnxTensor } from "./onnx-proto";

export const ints = (value: number[]): AttrValue => ({ kind: "ints", value });
export const int = (value: number): AttrValue => ({ kind: "int", value });
export const float = (value: number): AttrValue => ({ kind: "float", value });

export class GraphBuilder {
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
export function channelDims(shape: number[]): number[] {
  return shape.length === 1 ? [shape[0]] : [shape[0], ...shape.slice(1).map(() => 1)];
}
