// Gzip detection (pure). Decompression itself lives where a decompressor is available:
// runtime/node/ uses node:zlib; a browser can use DecompressionStream("gzip").

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}
