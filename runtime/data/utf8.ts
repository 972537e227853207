// Strict UTF-8 decoding with the place of the first error: text sources (runtime/data/text.ts,
// timeseries.ts, token-csv.ts) read bytes, and invalid UTF-8 is an error naming file:line:col,
// never a silent U+FFFD. Strict means RFC 3629: no overlong forms, no encoded surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. A byte-order mark (EF BB BF)
// at the very start is dropped; anywhere else U+FEFF is an ordinary character.
// Lines and columns are 1-based; a column counts characters (code points), not bytes, so it is
// where an editor puts the cursor.
import { DnncError } from "../errors";

/** Code points of one text, as decoded from UTF-8 (the array may be longer: use the first `length` values). */
export interface CodePoints {
  cps: Int32Array;
  length: number;
}

/** Which byte sequence is wrong, in words. */
function describe(b: Uint8Array, i: number, need: number): string {
  const hex = (v: number) => "0x" + v.toString(16).padStart(2, "0");
  if (need < 0) return `byte ${hex(b[i])} cannot start a character`;
  if (i + need >= b.length) return `truncated sequence (the file ends inside a character starting with ${hex(b[i])})`;
  const seq = Array.from(b.subarray(i, i + need + 1), hex).join(" ");
  return `bad sequence ${seq}`;
}

function fail(file: string, line: number, col: number, what: string): never {
  throw new DnncError(`${file}:${line}:${col}: invalid UTF-8: ${what} (is it a text file? save it as UTF-8)`);
}

/**
 * Decode UTF-8 bytes to code points (one Int32 each), strictly. Throws a DnncError naming
 * `file:line:col` of the first invalid sequence. The leading byte-order mark, if any, is dropped.
 */
export function decodeUtf8CodePoints(b: Uint8Array, file: string): CodePoints {
  const cps = new Int32Array(b.length); // at most one code point per byte
  return { cps, length: decodeUtf8Into(b, file, cps, 0) };
}

/**
 * decodeUtf8CodePoints into out[off, ...) (room for b.length values is enough); returns the end
 * offset. Lets a loader decode several files into one array.
 */
export function decodeUtf8Into(b: Uint8Array, file: string, cps: Int32Array, off: number): number {
  if (cps.length - off < b.length) throw new RangeError(`decodeUtf8Into: room for ${cps.length - off} code points, ${b.length} bytes`);
  let n = off;
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  let line = 1;
  let lineStart = off; // index in cps of the current line's first character
  const len = b.length;
  while (i < len) {
    const c = b[i];
    if (c < 0x80) {
      cps[n++] = c;
      i++;
      if (c === 10) {
        line++;
        lineStart = n;
      }
      continue;
    }
    let need: number;
    let cp: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      fail(file, line, n - lineStart + 1, describe(b, i, -1));
    }
    if (i + need >= len) fail(file, line, n - lineStart + 1, describe(b, i, need));
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if ((d & 0xc0) !== 0x80) fail(file, line, n - lineStart + 1, describe(b, i, need));
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(file, line, n - lineStart + 1, describe(b, i, need));
    cps[n++] = cp;
    i += need + 1;
  }
  return n;
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Decode UTF-8 bytes to a string, strictly (the byte-order mark dropped). The fast path is the
 * platform's fatal TextDecoder; when it refuses, decodeUtf8CodePoints finds and names the place.
 */
export function decodeUtf8(b: Uint8Array, file: string): string {
  try {
    return fatal.decode(b);
  } catch {
    decodeUtf8CodePoints(b, file);
    throw new DnncError(`${file}: invalid UTF-8`); // not reached: the decoder above names the place
  }
}
