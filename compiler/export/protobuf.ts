// A minimal protocol-buffers encoder (proto2/proto3 wire format), enough for ONNX: varints,
// 64-bit integers as varints (negative values as ten-byte two's complement, as int64 requires),
// fixed32 floats, length-delimited bytes/strings/sub-messages, and packed repeated floats and
// int64s. Fields are written in the order the caller writes them, so the same calls give the
// same bytes. Wire types: 0 varint, 2 length-delimited, 5 fixed32.
//
//   const w = new ProtoWriter(); w.int(1, 150); w.bytes() -> 08 96 01

import { onnxString } from "../escape";

const TEXT = new TextEncoder();

/** Append the base-128 varint of a non-negative integer (<= 2^53) or of a negative int64. */
function pushVarint(out: number[], value: number): void {
  if (!Number.isInteger(value)) throw new Error(`protobuf: varint of a non-integer ${value}`);
  if (value < 0) {
    // int64 two's complement: 2^64 + value, always 10 bytes
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return;
  }
  if (value > Number.MAX_SAFE_INTEGER) throw new Error(`protobuf: varint ${value} exceeds 2^53`);
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private cur: number[] = [];
  private length = 0;

  private flush(): void {
    if (this.cur.length === 0) return;
    this.parts.push(Uint8Array.from(this.cur));
    this.length += this.cur.length;
    this.cur = [];
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    if (!Number.isInteger(field) || field < 1) throw new Error(`protobuf: bad field number ${field}`);
    pushVarint(this.cur, field * 8 + wire);
  }

  private raw(bytes: Uint8Array): void {
    this.flush();
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** A varint field (int32, int64, uint64, enum, bool). */
  int(field: number, value: number): this {
    this.tag(field, 0);
    pushVarint(this.cur, value);
    return this;
  }

  /** A fixed32 float field. */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.cur.push(x);
    return this;
  }

  /** A length-delimited field: raw bytes or an already-encoded sub-message. */
  bytesField(field: number, bytes: Uint8Array): this {
    this.tag(field, 2);
    pushVarint(this.cur, bytes.length);
    this.raw(bytes);
    return this;
  }

  /** A string field: UTF-8 of onnxString(s) (every name, doc string and metadata entry of a model passes here). */
  string(field: number, s: string): this {
    return this.bytesField(field, TEXT.encode(onnxString(s)));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytesField(field, m.bytes());
  }

  /** Packed repeated float (fixed32 little-endian, one length-delimited field). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(4 * values.length);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
    return this.bytesField(field, b);
  }

  /** Packed repeated int64 (varints, one length-delimited field). */
  packedInts(field: number, values: ArrayLike<number>): this {
    const body: number[] = [];
    for (let i = 0; i < values.length; i++) pushVarint(body, values[i]);
    return this.bytesField(field, Uint8Array.from(body));
  }

  get byteLength(): number {
    return this.length + this.cur.length;
  }

  /** The encoded message so far. */
  bytes(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}
