// IDX files (the MNIST / Fashion-MNIST format), parsed from bytes already in memory.
// Layout, all big-endian: two zero bytes, a dtype code, the number of dimensions d, then d u32
// dimension sizes, then the items row-major. dtype codes: 0x08 ubyte, 0x09 sbyte, 0x0B i16,
// 0x0C i32, 0x0D f32, 0x0E f64. ubyte stays bytes (a view into the input, no copy); every other
// dtype is converted to a Float32Array. Float values must be finite in float32: a NaN, an
// infinity or an f64 beyond float32's range is an error naming the sample and the value's index.
import { DnncError } from "../errors";
import { isGzip } from "./gzip";
import type { Dataset } from "./dataset";

export type IdxDtype = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";

export interface IdxArray {
  dtype: IdxDtype;
  /** Dimension sizes from the header; dims[0] is the number of items. */
  dims: number[];
  /** The items: a view of the input for u8, converted floats for the other dtypes. */
  data: Uint8Array | Float32Array;
}

const DTYPES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: "u8", size: 1 },
  0x09: { dtype: "i8", size: 1 },
  0x0b: { dtype: "i16", size: 2 },
  0x0c: { dtype: "i32", size: 4 },
  0x0d: { dtype: "f32", size: 4 },
  0x0e: { dtype: "f64", size: 8 },
};

/** Parse one (uncompressed) IDX file. `fileName` only labels error messages. */
export function parseIdx(bytes: Uint8Array, fileName: string): IdxArray {
  if (bytes.length === 0) throw new DnncError(`${fileName}: empty file (expected an IDX file)`);
  if (isGzip(bytes)) {
    throw new DnncError(`${fileName}: the data is still gzip-compressed; decompress it before parsing it as IDX`);
  }
  if (bytes.length < 4) {
    throw new DnncError(`${fileName}: truncated IDX header: ${bytes.length} bytes, expected at least 4`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DnncError(`${fileName}: bad magic ${magic}: an IDX file starts with two zero bytes, a dtype code and a rank`);
  }
  const code = bytes[2];
  const type = DTYPES[code];
  if (type === undefined) {
    throw new DnncError(
      `${fileName}: unsupported IDX dtype code 0x${code.toString(16).padStart(2, "0")} ` +
        `(supported: 0x08 ubyte, 0x09 sbyte, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)`,
    );
  }
  const rank = bytes[3];
  if (rank === 0) throw new DnncError(`${fileName}: IDX rank is 0; expected at least one dimension`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DnncError(`${fileName}: truncated IDX header: ${bytes.length} bytes, expected ${headerBytes} for rank ${rank}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerBytes + count * type.size;
  if (bytes.length < expected) {
    throw new DnncError(
      `${fileName}: truncated data: header says [${dims.join(", ")}] ${type.dtype}, which needs ` + `${expected} bytes, but the file has ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw new DnncError(
      `${fileName}: ${bytes.length - expected} unexpected trailing bytes after the data ` +
        `(header says [${dims.join(", ")}] ${type.dtype}: ${expected} bytes, file has ${bytes.length})`,
    );
  }
  if (type.dtype === "u8") return { dtype: "u8", dims, data: bytes.subarray(headerBytes, expected) };
  const out = new Float32Array(count);
  if (type.dtype === "f32" || type.dtype === "f64") {
    // NaN and infinities (and f64 values beyond float32's range) would reach the model as they are
    const per = count / Math.max(dims[0], 1);
    for (let i = 0, p = headerBytes; i < count; i++, p += type.size) {
      const v = type.dtype === "f32" ? view.getFloat32(p, false) : view.getFloat64(p, false);
      out[i] = v;
      if (!Number.isFinite(out[i])) {
        const what = Number.isFinite(v) ? `${v}, beyond float32's range (largest 3.4028235e38)` : String(v);
        const where = dims.length > 1 ? `sample ${Math.floor(i / per)}, value ${i % per}` : `item ${i}`;
        throw new DnncError(`${fileName}: ${where} (byte ${p}) is ${what}: only finite numbers are accepted`);
      }
    }
    return { dtype: type.dtype, dims, data: out };
  }
  for (let i = 0, p = headerBytes; i < count; i++, p += type.size) {
    switch (type.dtype) {
      case "i8":
        out[i] = view.getInt8(p);
        break;
      case "i16":
        out[i] = view.getInt16(p, false);
        break;
      case "i32":
        out[i] = view.getInt32(p, false);
        break;
    }
  }
  return { dtype: type.dtype, dims, data: out };
}

export interface IdxDatasetOptions {
  /**
   * Number of classes. Every label must be an integer in [0, classes). Default: the largest
   * label + 1 (a test split should pass the training split's count).
   */
  classes?: number;
}

/**
 * Pair an images IDX array with a labels IDX array into a Dataset. Images of rank 3 ([n, h, w])
 * get the per-sample shape [1, h, w] (one channel, NCHW); rank 2 ([n, f]) gives [f]; higher ranks
 * keep their stored per-sample dimensions. Labels must be rank 1 integers.
 */
export function idxDataset(images: IdxArray, labels: IdxArray, names: { images: string; labels: string }, opts: IdxDatasetOptions = {}): Dataset {
  const n = images.dims[0];
  if (n === 0) throw new DnncError(`${names.images}: no samples (the header says 0 items)`);
  if (images.dims.length < 2) {
    throw new DnncError(`${names.images}: images need rank >= 2 ([n, features...]), got [${images.dims.join(", ")}]`);
  }
  if (labels.dims.length !== 1) {
    throw new DnncError(`${names.labels}: labels need rank 1 ([n]), got [${labels.dims.join(", ")}]`);
  }
  if (labels.dims[0] !== n) {
    throw new DnncError(`count mismatch: ${names.images} has ${n} images but ${names.labels} has ${labels.dims[0]} labels`);
  }
  const per = images.dims.slice(1);
  const shape = per.length === 2 ? [1, per[0], per[1]] : per;
  const y = labels.data;
  let classes = opts.classes;
  if (classes === undefined) {
    let max = -1;
    for (let i = 0; i < n; i++) if (y[i] > max) max = y[i];
    classes = Math.max(0, Math.floor(max) + 1);
  }
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!(v >= 0 && v < classes && Number.isInteger(v))) {
      throw new DnncError(`${names.labels}: label out of range at index ${i}: ${v} (expected an integer in 0..${classes - 1})`);
    }
  }
  return { x: images.data, y, n, shape, classes };
}
