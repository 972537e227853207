// Gzip in the platform-neutral runtime: detection by magic, and decompression through the
// standard DecompressionStream (browsers, Deno, Node >= 18). Node code that wants synchronous
// reading uses runtime/node/files.ts (node:zlib) instead.
import { DnncError } from "../errors";

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompress gzip bytes; bytes without the gzip magic are returned unchanged. */
export async function gunzipIfNeeded(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  if (typeof DecompressionStream === "undefined") {
    throw new DnncError(`${fileName}: is gzip-compressed and this platform has no DecompressionStream; decompress it first`);
  }
  try {
    const copy = new Uint8Array(bytes); // a Blob part must not be a view of a shared or resizable buffer
    const stream = new Blob([copy]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DnncError(`${fileName}: corrupt gzip data (${(e as Error).message})`);
  }
}
