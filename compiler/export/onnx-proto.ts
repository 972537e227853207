// The ONNX messages the exporter writes (field numbers from onnx/onnx.proto3), as plain objects
// and their encoders on top of protobuf.ts. Only what an inference graph of float32 tensors
// needs: ModelProto, OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, TensorProto
// (FLOAT and INT64), ValueInfoProto with TypeProto.Tensor and TensorShapeProto.
//
// Repeated scalars follow onnx.proto's declarations: TensorProto.float_data and int64_data are
// [packed = true]; TensorProto.dims and AttributeProto.ints/floats are not packed (one field per
// value), as the reference (C++/Python) serializer writes them.
import { ProtoWriter } from "./protobuf";

export const DT_FLOAT = 1;
export const DT_INT64 = 7;

export type AttrValue =
  | { kind: "float"; value: number }
  | { kind: "int"; value: number }
  | { kind: "string"; value: string }
  | { kind: "floats"; value: number[] }
  | { kind: "ints"; value: number[] };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  docString?: string;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** FLOAT data (Float32Array) or INT64 data (number[]). */
  data: Float32Array | number[];
}

export interface OnnxValueInfo {
  name: string;
  /** float32; a dimension is a number or a symbolic name ("N"). */
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString?: string;
}

export interface OnnxModel {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  docString?: string;
  metadata?: Record<string, string>;
}

// AttributeProto.AttributeType
const AT = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export function encodeAttribute(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case "float":
      w.float(2, a.value);
      break;
    case "int":
      w.int(3, a.value);
      break;
    case "string":
      w.string(4, a.value);
      break;
    case "floats":
      for (const v of a.value) w.float(7, v);
      break;
    case "ints":
      for (const v of a.value) w.int(8, v);
      break;
  }
  return w.int(20, AT[a.kind]);
}

export function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  // attributes sorted by name: the same node gives the same bytes whatever the object's key order
  for (const k of Object.keys(n.attrs ?? {}).sort()) w.message(5, encodeAttribute(k, n.attrs![k]));
  if (n.docString) w.string(6, n.docString);
  return w;
}

export function encodeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new Error(`onnx: tensor ${t.name} has dims [${t.dims}] but ${t.data.length} values`);
  if (t.data instanceof Float32Array) {
    w.int(2, DT_FLOAT);
    if (t.data.length > 0) w.packedFloats(4, t.data);
  } else {
    w.int(2, DT_INT64);
    if (t.data.length > 0) w.packedInts(7, t.data);
  }
  return w.string(8, t.name);
}

export function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, DT_FLOAT).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

export function encodeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  if (g.docString) w.string(10, g.docString);
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter().int(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  w.message(8, new ProtoWriter().string(1, "").int(2, m.opset));
  const meta = m.metadata ?? {};
  for (const k of Object.keys(meta).sort()) w.message(14, new ProtoWriter().string(1, k).string(2, meta[k]));
  return w.bytes();
}
