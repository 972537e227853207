// PNG decompression bombs (issue 16, item 9): a small file whose header claims a huge image, or
// whose data inflates far past what its header claims, is refused before the bytes are allocated.
import { describe, expect, it } from "vitest";
import { crc32, deflateSync } from "node:zlib";
import { decodePng, encodePng, PNG_MAX_BYTES, PNG_SIGNATURE } from "../runtime/node/png";
import { DnncError } from "../runtime/errors";

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit grayscale PNG whose IHDR says width x height and whose IDAT is `idat` (deflated by the caller). */
function png(width: number, height: number, idat: Uint8Array): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([PNG_SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]);
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DnncError);
    return (e as Error).message;
  }
  throw new Error("no error");
}

/** Run f and return the growth of ArrayBuffer memory it caused at its peak (sampled after: what f left, or failed to free). */
function allocatedBy(f: () => unknown): number {
  const before = process.memoryUsage().arrayBuffers;
  try {
    f();
  } catch {
    // measured either way
  }
  return process.memoryUsage().arrayBuffers - before;
}

describe("PNG decompression bombs", () => {
  // 64 MB of zero rows deflate to about 64 KB: the shape of a real bomb, small enough for a test
  const rows = deflateSync(new Uint8Array(8193 * 8192));

  it("refuses a header larger than the limit before inflating anything", () => {
    const bomb = png(8192 * 4, 8192 * 4, rows);
    expect(bomb.length).toBeLessThan(100_000);
    expect(message(() => decodePng(bomb, "bomb.png"))).toBe(
      `bomb.png: image of 32768x32768 at 8 bits per pixel needs 1073774592 bytes, more than the ${PNG_MAX_BYTES} accepted`,
    );
    expect(allocatedBy(() => decodePng(bomb, "bomb.png"))).toBeLessThan(16e6);
  });

  it("refuses a size other than the model's before inflating", () => {
    const big = png(8192, 8192, rows);
    expect(message(() => decodePng(big, "big.png", { width: 28, height: 28 }))).toBe("big.png: image is 8192x8192 (width x height), the model expects 28x28");
    // within the limit and of the expected size, it decodes
    expect(decodePng(big, "big.png", { width: 8192, height: 8192 }).pixels.length).toBe(8192 * 8192);
  });

  it("inflates no more than the header's size: a lying header is refused without the bytes", () => {
    const liar = png(28, 28, rows); // says 28x28 (812 bytes of rows), inflates to 64 MB
    expect(message(() => decodePng(liar, "liar.png"))).toBe("liar.png: image data inflates to more than the 812 bytes a 28x28 image at 8 bits per pixel has");
    expect(allocatedBy(() => decodePng(liar, "liar.png"))).toBeLessThan(16e6);
    // a lower limit is honoured
    expect(message(() => decodePng(encodePng(100, 100, 3, new Uint8Array(30000)), "s.png", { maxBytes: 20000 }))).toMatch(
      "s.png: image of 100x100 at 24 bits per pixel needs 30100 bytes, more than the 20000 accepted",
    );
  });
});
