// PNG encode/decode (Node only: zlib comes from node:zlib; the CRC-32 is ours). Pixels are 8-bit,
// row-major, interleaved channels: pixels[(y*width + x)*channels + c].
// encodePng writes 8-bit IHDR, one IDAT, IEND, with the per-row filter chosen by the usual
// heuristic (smallest sum of |signed residuals|) unless one is forced. decodePng reads
// non-interlaced grayscale (1 channel), gray+alpha (2), RGB (3), RGBA (4) and palette images
// (expanded to RGB, or RGBA when a tRNS chunk is present) of any bit depth, returning 8-bit
// samples (1/2/4-bit gray scaled to 0..255, 16-bit reduced to its high byte), and checks every
// chunk CRC. tRNS on gray/RGB images and gamma/colour chunks are ignored.
import { deflateSync, inflateSync } from "node:zlib";
import { DnncError } from "../errors";
import { crc32 } from "../data/crc32";

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  pixels: Uint8Array;
}

const COLOR_TYPE_OF_CHANNELS: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };
const CHANNELS_OF_COLOR_TYPE: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 4: 2, 2: 3, 6: 4, 3: 1 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filter row `cur` (previous row `prev`, zeros for the first) with `type` into out[1..]; out[0] = type. */
function filterRow(type: number, cur: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  out[0] = type;
  for (let i = 0; i < cur.length; i++) {
    const a = i >= bpp ? cur[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
    out[i + 1] = (cur[i] - pred) & 0xff;
  }
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length), false);
  return out;
}

/** Encode 8-bit pixels as PNG: channels 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export function encodePng(width: number, height: number, channels: 1 | 2 | 3 | 4, pixels: Uint8Array, opts: { filter?: 0 | 1 | 2 | 3 | 4 } = {}): Uint8Array {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new DnncError(`PNG: bad size ${width}x${height}`);
  }
  if (COLOR_TYPE_OF_CHANNELS[channels] === undefined) throw new DnncError(`PNG: unsupported channel count ${channels}`);
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new DnncError(`PNG: ${width}x${height}x${channels} needs ${stride * height} bytes of pixels, got ${pixels.length}`);
  }
  const raw = new Uint8Array((stride + 1) * height);
  const candidate = new Uint8Array(stride + 1);
  let prev: Uint8Array = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = pixels.subarray(y * stride, (y + 1) * stride);
    let best = Infinity;
    const first = opts.filter ?? 0;
    const last = opts.filter ?? 4;
    for (let type = first; type <= last; type++) {
      filterRow(type, cur, prev, channels, candidate);
      let cost = 0;
      for (let i = 1; i <= stride; i++) cost += candidate[i] < 128 ? candidate[i] : 256 - candidate[i];
      if (cost < best) {
        best = cost;
        raw.set(candidate, y * (stride + 1));
      }
    }
    prev = cur;
  }
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width, false);
  hv.setUint32(4, height, false);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE_OF_CHANNELS[channels];
  // compression 0, filter method 0, interlace 0
  const parts = [PNG_SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The most bytes decodePng inflates or writes for one image unless told otherwise (a 4096x4096 RGBA image takes 64 MiB). */
export const PNG_MAX_BYTES = 256 * 2 ** 20;

export interface DecodePngOptions {
  /** The size the image must have: any other size is refused before its data is inflated. */
  width?: number;
  height?: number;
  /** The most bytes of image data (inflated rows, decoded pixels) to accept. Default PNG_MAX_BYTES. */
  maxBytes?: number;
}

/**
 * Decode a non-interlaced PNG to 8-bit samples. `fileName` labels error messages. The header's
 * size is checked (against `opts.width`/`height`, and against `opts.maxBytes`) before anything is
 * inflated, and zlib inflates at most the bytes that size needs: a small file that claims or
 * inflates to gigabytes (a decompression bomb) is refused without allocating them.
 */
export function decodePng(bytes: Uint8Array, fileName = "PNG", opts: DecodePngOptions = {}): PngImage {
  const bad = (what: string): never => {
    throw new DnncError(`${fileName}: ${what}`);
  };
  if (bytes.length === 0) bad("empty file (expected a PNG image)");
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) bad("not a PNG file (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let colorType = -1;
  let depth = 0;
  let palette: Uint8Array | undefined;
  let alpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  let p = 8;
  while (p < bytes.length) {
    if (p + 8 > bytes.length) bad(`truncated chunk header at byte ${p}`);
    const len = view.getUint32(p, false);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (p + 12 + len > bytes.length) bad(`truncated ${type} chunk at byte ${p}: needs ${len + 12} bytes, ${bytes.length - p} left`);
    const stored = view.getUint32(p + 8 + len, false);
    const actual = crc32(bytes, p + 4, p + 8 + len);
    if (stored !== actual) bad(`CRC mismatch in ${type} chunk at byte ${p} (stored ${stored.toString(16)}, computed ${actual.toString(16)})`);
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (p === 8 && type !== "IHDR") bad(`first chunk is ${type}, expected IHDR`);
    if (type === "IHDR") {
      if (len !== 13) bad(`IHDR has ${len} bytes, expected 13`);
      width = view.getUint32(p + 8, false);
      height = view.getUint32(p + 12, false);
      depth = data[8];
      colorType = data[9];
      if (width === 0 || height === 0) bad(`bad image size ${width}x${height}`);
      if (CHANNELS_OF_COLOR_TYPE[colorType] === undefined) bad(`unknown color type ${colorType}`);
      const allowed = colorType === 0 ? [1, 2, 4, 8, 16] : colorType === 3 ? [1, 2, 4, 8] : [8, 16];
      if (!allowed.includes(depth)) bad(`bit depth ${depth} is not valid for color type ${colorType}`);
      if (data[10] !== 0 || data[11] !== 0) bad("unsupported compression or filter method");
      if (data[12] !== 0) bad("interlaced PNG is not supported");
    } else if (type === "PLTE") {
      palette = data;
    } else if (type === "tRNS") {
      alpha = data;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      ended = true;
      break;
    } else if ((bytes[p + 4] & 0x20) === 0) {
      bad(`unknown critical chunk ${type}`);
    }
    p += 12 + len;
  }
  if (colorType < 0) bad("missing IHDR chunk");
  if (idat.length === 0) bad("missing IDAT chunk");
  if (!ended) bad("missing IEND chunk (truncated file?)");
  if (colorType === 3 && palette === undefined) bad("palette image without a PLTE chunk");

  const ch = CHANNELS_OF_COLOR_TYPE[colorType];
  const bitsPerPixel = depth * ch;
  const stride = Math.ceil((width * bitsPerPixel) / 8); // bytes per row, filter byte excluded
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter distance in bytes
  if ((opts.width !== undefined && width !== opts.width) || (opts.height !== undefined && height !== opts.height))
    bad(`image is ${width}x${height} (width x height), the model expects ${opts.width ?? width}x${opts.height ?? height}`);
  const rawBytes = (stride + 1) * height;
  const outBytes = width * height * (colorType === 3 ? 4 : ch);
  const maxBytes = opts.maxBytes ?? PNG_MAX_BYTES;
  if (Math.max(rawBytes, outBytes) > maxBytes)
    bad(`image of ${width}x${height} at ${bitsPerPixel} bits per pixel needs ${Math.max(rawBytes, outBytes)} bytes, more than the ${maxBytes} accepted`);
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: rawBytes });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      return bad(`image data inflates to more than the ${rawBytes} bytes a ${width}x${height} image at ${bitsPerPixel} bits per pixel has`);
    return bad(`corrupt image data (${(e as Error).message})`);
  }
  if (raw.length !== (stride + 1) * height) {
    bad(`image data has ${raw.length} bytes, expected ${(stride + 1) * height} for ${width}x${height} at ${bitsPerPixel} bits per pixel`);
  }
  const un = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    if (type > 4) bad(`bad filter type ${type} in row ${y}`);
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? un[dst + i - bpp] : 0;
      const b = y > 0 ? un[dst - stride + i] : 0;
      const c = y > 0 && i >= bpp ? un[dst - stride + i - bpp] : 0;
      const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
      un[dst + i] = (raw[src + i] + pred) & 0xff;
    }
  }
  // Samples to 8 bits (palette indices stay indices).
  let px: Uint8Array;
  if (depth === 8) {
    px = un;
  } else if (depth === 16) {
    px = new Uint8Array(width * height * ch);
    for (let i = 0; i < px.length; i++) px[i] = un[2 * i];
  } else {
    px = new Uint8Array(width * height);
    const mask = (1 << depth) - 1;
    const gain = colorType === 3 ? 1 : 255 / mask;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const v = (un[y * stride + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
        px[y * width + x] = v * gain;
      }
    }
  }
  if (colorType !== 3) return { width, height, channels: ch, pixels: px };
  const pal = palette as Uint8Array;
  const outCh = alpha !== undefined ? 4 : 3;
  const out = new Uint8Array(width * height * outCh);
  for (let i = 0; i < width * height; i++) {
    const k = px[i];
    if (3 * k + 2 >= pal.length) bad(`palette index ${k} out of range (palette has ${pal.length / 3} entries)`);
    out[i * outCh] = pal[3 * k];
    out[i * outCh + 1] = pal[3 * k + 1];
    out[i * outCh + 2] = pal[3 * k + 2];
    if (outCh === 4) out[i * outCh + 3] = k < (alpha as Uint8Array).length ? (alpha as Uint8Array)[k] : 255;
  }
  return { width, height, channels: outCh, pixels: out };
}
