// Reading data files from disk (Node only): gunzip when the bytes start with the gzip magic,
// with errors that name the file.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DnncError } from "../errors";
import { isGzip } from "../data/gzip";

/** Read a file; ENOENT and friends become DnncError naming the path. */
export function readBytes(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new DnncError(`${path}: no such file`);
    if (err.code === "EISDIR") throw new DnncError(`${path}: is a directory, expected a file`);
    throw new DnncError(`${path}: cannot read (${err.code ?? err.message})`);
  }
}

/** Read a file and gunzip it when it is gzip-compressed (detected by magic, not by name). */
export function readMaybeGzip(path: string): Uint8Array {
  const raw = readBytes(path);
  if (raw.length === 0) throw new DnncError(`${path}: empty file`);
  if (!isGzip(raw)) return raw;
  try {
    const b = gunzipSync(raw);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new DnncError(`${path}: corrupt gzip data (${(e as Error).message})`);
  }
}
