// The safetensors format (https://github.com/huggingface/safetensors), F32 tensors only:
//   bytes 0..8     header length N, unsigned 64-bit little-endian
//   bytes 8..8+N   UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...],
//                  "data_offsets": [begin, end]}, ...}, padded with spaces so 8+N is a multiple of 8
//   bytes 8+N..    the tensor data, little-endian f32, offsets relative to this point, no gaps.
// encodeSafetensors writes "__metadata__" first (always present, keys sorted), then the tensors in
// the given order, each with the keys dtype, shape, data_offsets, in compact JSON: the same input
// gives the same bytes. decodeSafetensors returns the tensors in the order of their data (so in
// the order they were written, except that an empty tensor may move before a non-empty one that
// starts at the same offset).
import { DnncError } from "./errors";

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function product(shape: number[]): number {
  let p = 1;
  for (const d of shape) p *= d;
  return p;
}

/** Serialize F32 tensors and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  // The JSON is assembled by hand: a JS object would move integer-like keys ("0", "1") first.
  const parts: string[] = [];
  const meta: string[] = [];
  for (const k of Object.keys(metadata).sort()) {
    if (typeof metadata[k] !== "string") throw new DnncError(`safetensors: metadata "${k}" must be a string`);
    meta.push(`${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
  }
  parts.push(`"__metadata__":{${meta.join(",")}}`);
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "" || t.name === "__metadata__") throw new DnncError(`safetensors: invalid tensor name "${t.name}"`);
    if (seen.has(t.name)) throw new DnncError(`safetensors: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new DnncError(`safetensors: tensor "${t.name}" has a bad shape [${t.shape.join(", ")}]`);
    }
    const count = product(t.shape);
    if (count !== t.data.length) {
      throw new DnncError(`safetensors: tensor "${t.name}" has shape [${t.shape.join(", ")}] (${count} values) but ${t.data.length} values`);
    }
    const entry = `{"dtype":"F32","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + 4 * count}]}`;
    parts.push(`${JSON.stringify(t.name)}:${entry}`);
    offset += 4 * count;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let p = 8 + headerLen;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
      p += t.data.byteLength;
    } else {
      for (let i = 0; i < t.data.length; i++, p += 4) view.setFloat32(p, t.data[i], true);
    }
  }
  return out;
}

/** Parse safetensors bytes (F32 tensors only). `fileName` labels error messages. */
export function decodeSafetensors(bytes: Uint8Array, fileName: string): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const bad = (what: string): never => {
    throw new DnncError(`${fileName}: not a valid safetensors file: ${what}`);
  };
  if (bytes.length === 0) throw new DnncError(`${fileName}: empty file (expected a safetensors file)`);
  if (bytes.length < 8) bad(`${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 4294967296 + lo;
  if (headerLen > bytes.length - 8) {
    bad(`header length ${headerLen} exceeds the ${bytes.length - 8} bytes after the length field (truncated file?)`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    bad(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) bad("header is not a JSON object");
  const entries = Object.entries(header as Record<string, unknown>);
  const metadata: Record<string, string> = {};
  const spans: { t: NamedTensor; begin: number; end: number }[] = [];
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  for (const [name, value] of entries) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`"__metadata__" is not an object`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") bad(`metadata "${k}" is not a string`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true }); // "__proto__" too
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== "object") bad(`tensor "${name}" is not an object`);
    if (info.dtype !== "F32") {
      throw new DnncError(`${fileName}: tensor "${name}" has dtype ${JSON.stringify(info.dtype)}; dnnc reads F32 only`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`tensor "${name}" has a bad shape`);
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0) || offs[0] > offs[1]) {
      bad(`tensor "${name}" has bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    const count = product(shape as number[]);
    if (end - begin !== 4 * count) {
      bad(`tensor "${name}" has shape [${(shape as number[]).join(", ")}] (${4 * count} bytes) but data_offsets span ${end - begin} bytes`);
    }
    if (end > dataLen) {
      bad(`tensor "${name}" ends at byte ${end} of the data, but the data has ${dataLen} bytes (truncated file?)`);
    }
    spans.push({ t: { name, shape: (shape as number[]).slice(), data: new Float32Array(count) }, begin, end });
  }
  // The data must be covered exactly: no holes, no overlaps.
  const sorted = spans.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const s of sorted) {
    if (s.begin !== at) bad(`tensor "${s.t.name}" starts at byte ${s.begin} of the data, expected ${at} (overlap or gap)`);
    at = s.end;
  }
  if (at !== dataLen) bad(`${dataLen - at} bytes of data are not covered by any tensor`);
  for (const { t, begin } of spans) {
    const p = dataStart + begin;
    if (LITTLE_ENDIAN) {
      new Uint8Array(t.data.buffer).set(bytes.subarray(p, p + t.data.byteLength));
    } else {
      for (let i = 0; i < t.data.length; i++) t.data[i] = view.getFloat32(p + 4 * i, true);
    }
  }
  return { tensors: sorted.map((s) => s.t), metadata };
}
