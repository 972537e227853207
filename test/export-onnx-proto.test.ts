// The protobuf encoder and the ONNX message encoders against bytes computed by hand from the
// wire format (https://protobuf.dev/programming-guides/encoding/, field numbers of onnx.proto3),
// plus a round trip of random varints through a small reference decoder.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ProtoWriter } from "../compiler/export/protobuf";
import { encodeAttribute, encodeModel, encodeNode, encodeTensor, encodeValueInfo } from "../compiler/export/onnx-proto";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ascii = (s: string) => Buffer.from(s, "latin1").toString("hex");

/** Reference decoder: the varint at b[p], as a BigInt interpreted as int64. */
function readVarint(b: Uint8Array, p: number): { value: bigint; next: number } {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[p++];
    v |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) break;
  }
  return { value: BigInt.asIntN(64, v), next: p };
}

describe("protobuf wire format", () => {
  it("varints (the protobuf guide's examples)", () => {
    expect(hex(new ProtoWriter().int(1, 150).bytes())).toBe("089601");
    expect(hex(new ProtoWriter().int(1, 1).bytes())).toBe("0801");
    expect(hex(new ProtoWriter().int(1, 300).bytes())).toBe("08ac02");
    expect(hex(new ProtoWriter().int(1, 0).bytes())).toBe("0800");
    // field 20 needs a two-byte tag: (20 << 3) | 0 = 160 = a0 01
    expect(hex(new ProtoWriter().int(20, 2).bytes())).toBe("a00102");
    // int64 -1: ten bytes of two's complement
    expect(hex(new ProtoWriter().int(1, -1).bytes())).toBe("08ffffffffffffffffff01");
    expect(hex(new ProtoWriter().int(1, 2 ** 53 - 1).bytes())).toBe("08ffffffffffffff0f");
  });

  it("strings, fixed32 floats, sub-messages, packed repeated fields", () => {
    expect(hex(new ProtoWriter().string(2, "testing").bytes())).toBe("120774657374696e67");
    expect(hex(new ProtoWriter().float(2, 1).bytes())).toBe("150000803f");
    expect(hex(new ProtoWriter().float(2, -2.5).bytes())).toBe("15000020c0");
    expect(hex(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).bytes())).toBe("1a03089601");
    expect(hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).bytes())).toBe("2206038e029ea705");
    expect(hex(new ProtoWriter().packedFloats(4, [1, -2]).bytes())).toBe("22080000803f000000c0");
    // fields come out in the order they are written
    const w = new ProtoWriter().int(2, 1).string(1, "a").int(2, 2);
    expect(hex(w.bytes())).toBe("1001" + "0a0161" + "1002");
    expect(w.byteLength).toBe(7);
  });

  it("non-integer and out-of-range varints are refused", () => {
    expect(() => new ProtoWriter().int(1, 0.5)).toThrow(/non-integer/);
    expect(() => new ProtoWriter().int(1, 2 ** 60)).toThrow(/exceeds/);
    expect(() => new ProtoWriter().int(0, 1)).toThrow(/field number/);
  });

  it("property: every safe integer round-trips through the reference decoder", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.integer({ min: 1, max: 5000 }), (v, field) => {
        const b = new ProtoWriter().int(field, v).bytes();
        const tag = readVarint(b, 0);
        expect(tag.value).toBe(BigInt(field * 8));
        const val = readVarint(b, tag.next);
        expect(val.value).toBe(BigInt(v));
        expect(val.next).toBe(b.length);
      }),
    );
  });

  it("property: a length-delimited field holds exactly its payload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (payload) => {
        const b = new ProtoWriter().bytesField(9, payload).bytes();
        const tag = readVarint(b, 0);
        expect(tag.value).toBe(BigInt(9 * 8 + 2));
        const len = readVarint(b, tag.next);
        expect(Number(len.value)).toBe(payload.length);
        expect(hex(b.subarray(len.next))).toBe(hex(payload));
      }),
    );
  });
});

describe("ONNX messages", () => {
  it("TensorProto: dims (not packed), data_type, packed float_data / int64_data, name", () => {
    const t = encodeTensor({ name: "w", dims: [2], data: Float32Array.of(1, 2) }).bytes();
    expect(hex(t)).toBe("0802" + "1001" + "22080000803f00000040" + "420177");
    const s = encodeTensor({ name: "s", dims: [2], data: [0, -1] }).bytes();
    expect(hex(s)).toBe("0802" + "1007" + "3a0b00ffffffffffffffffff01" + "420173");
    // a scalar: no dims
    expect(hex(encodeTensor({ name: "c", dims: [], data: Float32Array.of(0.5) }).bytes())).toBe("1001" + "22040000003f" + "420163");
    expect(() => encodeTensor({ name: "bad", dims: [3], data: Float32Array.of(1) })).toThrow(/dims \[3\] but 1 values/);
  });

  it("AttributeProto: name, value field by kind, type (field 20)", () => {
    expect(hex(encodeAttribute("axis", { kind: "int", value: -1 }).bytes())).toBe("0a04" + ascii("axis") + "18ffffffffffffffffff01" + "a00102");
    expect(hex(encodeAttribute("alpha", { kind: "float", value: 1 }).bytes())).toBe("0a05" + ascii("alpha") + "150000803f" + "a00101");
    expect(hex(encodeAttribute("pads", { kind: "ints", value: [1, 2] }).bytes())).toBe("0a04" + ascii("pads") + "4001" + "4002" + "a00107");
    expect(hex(encodeAttribute("mode", { kind: "string", value: "x" }).bytes())).toBe("0a04" + ascii("mode") + "220178" + "a00103");
  });

  it("NodeProto: inputs, outputs, name, op_type, attributes sorted by name", () => {
    const a = encodeNode({ opType: "Relu", name: "r", inputs: ["x"], outputs: ["y"] }).bytes();
    expect(hex(a)).toBe("0a0178" + "120179" + "1a0172" + "2204" + ascii("Relu"));
    const b = encodeNode({ opType: "F", name: "f", inputs: [], outputs: ["y"], attrs: { b: { kind: "int", value: 1 }, a: { kind: "int", value: 2 } } }).bytes();
    const attrA = "0a0161" + "1802" + "a00102";
    const attrB = "0a0162" + "1801" + "a00102";
    expect(hex(b)).toBe("120179" + "1a0166" + "220146" + "2a08" + attrA + "2a08" + attrB);
  });

  it("ValueInfoProto: float tensor type with a symbolic and a fixed dimension", () => {
    const shape = "0a03" + "12014e" + "0a02" + "0803"; // dim {dim_param "N"}, dim {dim_value 3}
    const tensorType = "0801" + "1209" + shape; // elem_type FLOAT, shape
    const typeProto = "0a0d" + tensorType;
    expect(hex(encodeValueInfo({ name: "x", shape: ["N", 3] }).bytes())).toBe("0a0178" + "120f" + typeProto);
  });

  it("ModelProto: ir_version, producer, graph, opset_import; the same model gives the same bytes", () => {
    const graph = {
      name: "g",
      nodes: [{ opType: "Relu", name: "r", inputs: ["input"], outputs: ["y"] }],
      initializers: [],
      inputs: [{ name: "input", shape: ["N", 3] as (string | number)[] }],
      outputs: [{ name: "y", shape: ["N", 3] as (string | number)[] }],
    };
    const m = { irVersion: 8, opset: 17, producerName: "dnnc", producerVersion: "0.1.0", graph };
    const b = encodeModel(m);
    expect(hex(b.subarray(0, 2))).toBe("0808"); // ir_version 8
    expect(hex(b.subarray(2, 8))).toBe("1204" + ascii("dnnc"));
    expect(hex(b.subarray(b.length - 6))).toBe("4204" + "0a00" + "1011"); // opset_import { domain "", version 17 }
    expect(hex(encodeModel({ ...m, graph: { ...graph } }))).toBe(hex(b));
    expect(hex(encodeModel({ ...m, metadata: { b: "2", a: "1" } }))).toBe(hex(b) + "72060a0161120131" + "72060a0162120132");
  });
});
