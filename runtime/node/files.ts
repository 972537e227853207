// Reading data files from disk (Node only): gunzip when the bytes start with the gzip magic,
// with errors that name the file.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DnncError } from "../errors";
import { isGzip } from "../data/gzip";
import { fsReason } from "./fs-errors";

/** Read a file; ENOENT and friends become DnncError naming the path. */
export function readBytes(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new DnncError(`${path}: no such file`);
    if (err.code === "EISDIR") throw new DnncError(`${path}: is a directory, expected a file`);
    throw new DnncError(`${path}: cannot read (${err.code ? fsReason(err.code) : err.message})`);
  }
}

/** Read a file and gunzip it when it is gzip-compressed (detected by magic, not by name). */
export function readMaybeGzip(path: string): Uint8Array {
  const raw = readBytes(path);
  if (raw.length === 0) throw new DnncError(`${path}: empty file`);
  if (!isGzip(raw)) return raw;
  // The gzip trailer holds the output size mod 2^32: decompressing into one chunk of that size
  // avoids holding the chunks and their concatenation at once (47 MB for Fashion-MNIST's images).
  // A wrong or wrapped size only costs extra chunks; the output is the same.
  const isize = raw.length >= 18 ? new DataView(raw.buffer, raw.byteOffset + raw.length - 4, 4).getUint32(0, true) : 0;
  const chunkSize = Math.min(Math.max(isize + 64, 64 * 1024), 1 << 30);
  try {
    const b = gunzipSync(raw, { chunkSize });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new DnncError(`${path}: corrupt gzip data (${(e as Error).message})`);
  }
}
