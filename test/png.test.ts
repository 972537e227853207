import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 as zlibCrc32, inflateSync } from "node:zlib";
import fc from "fast-check";
import { decodePng, encodePng, PNG_SIGNATURE } from "../runtime/node/png";
import { crc32 } from "../runtime/data/crc32";
import { imageToSample } from "../runtime/data/image";
import { expectDnnc } from "./helpers/expect-dnnc";

const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8"));

interface Chunk {
  type: string;
  data: Uint8Array;
  crcOk: boolean;
  at: number;
}

/** Walk the chunks with an independent reader (node:zlib's CRC-32). */
function chunks(png: Uint8Array): Chunk[] {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  for (let p = 8; p < png.length;) {
    const len = v.getUint32(p);
    const type = Buffer.from(png.subarray(p + 4, p + 8)).toString("latin1");
    const crcOk = v.getUint32(p + 8 + len) === zlibCrc32(png.subarray(p + 4, p + 8 + len));
    out.push({ type, data: png.subarray(p + 8, p + 8 + len), crcOk, at: p });
    p += 12 + len;
  }
  return out;
}

describe("crc32", () => {
  it("equals zlib's", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(crc32(b)).toBe(zlibCrc32(b));
      }),
    );
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926); // the standard check value
  });
});

describe("encodePng", () => {
  it("writes the signature, IHDR, IDAT, IEND with valid CRCs", () => {
    const px = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 17) & 255);
    const png = encodePng(5, 3, 3, px);
    expect(Array.from(png.subarray(0, 8))).toEqual(Array.from(PNG_SIGNATURE));
    const cs = chunks(png);
    expect(cs.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
    expect(cs.every((c) => c.crcOk)).toBe(true);
    expect(Array.from(cs[0].data)).toEqual([0, 0, 0, 5, 0, 0, 0, 3, 8, 2, 0, 0, 0]);
    expect(inflateSync(cs[1].data).length).toBe(3 * (1 + 15));
  });

  it("round-trips random images through decodePng, for every channel count and filter", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(1, 2, 3, 4) as fc.Arbitrary<1 | 2 | 3 | 4>,
        fc.constantFrom(undefined, 0, 1, 2, 3, 4) as fc.Arbitrary<0 | 1 | 2 | 3 | 4 | undefined>,
        fc.uint8Array({ minLength: 9 * 7 * 4, maxLength: 9 * 7 * 4 }),
        (w, h, ch, filter, bytes) => {
          const px = bytes.subarray(0, w * h * ch);
          const png = encodePng(w, h, ch, px, { filter });
          const back = decodePng(png, "rt.png");
          expect([back.width, back.height, back.channels]).toEqual([w, h, ch]);
          expect(Array.from(back.pixels)).toEqual(Array.from(px));
          if (filter !== undefined) {
            const raw = inflateSync(chunks(png)[1].data);
            for (let y = 0; y < h; y++) expect(raw[y * (w * ch + 1)]).toBe(filter);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("picks the filter that suits the image (a horizontal ramp wants Sub)", () => {
    const px = Uint8Array.from({ length: 16 * 4 }, (_, i) => (i % 16) * 10);
    const raw = inflateSync(chunks(encodePng(16, 4, 1, px))[1].data);
    expect(raw[0]).toBe(1);
  });

  it("refuses bad arguments", () => {
    expectDnnc(() => encodePng(2, 2, 1, new Uint8Array(3)), "needs 4 bytes", "got 3");
    expectDnnc(() => encodePng(0, 2, 1, new Uint8Array(0)), "bad size");
  });
});

describe("decodePng", () => {
  it("reads the files PIL wrote, as PIL reads them", () => {
    for (const r of ref.png) {
      const img = decodePng(Uint8Array.from(Buffer.from(r.base64, "base64")), `${r.mode}.png`);
      expect([img.width, img.height, img.channels], r.mode).toEqual([r.width, r.height, r.channels]);
      expect(Array.from(img.pixels), r.mode).toEqual(r.pixels);
    }
  });

  it("explains what is wrong with a corrupt file", () => {
    const good = encodePng(3, 2, 1, Uint8Array.of(1, 2, 3, 4, 5, 6));
    const cs = chunks(good);
    expectDnnc(() => decodePng(new Uint8Array(0), "e.png"), "e.png", "empty file");
    expectDnnc(() => decodePng(Uint8Array.from(Buffer.from("GIF89a......")), "g.png"), "g.png", "bad signature");
    const flipped = Uint8Array.from(good);
    flipped[cs[1].at + 9] ^= 1;
    expectDnnc(() => decodePng(flipped, "c.png"), "c.png", "CRC mismatch in IDAT chunk");
    expectDnnc(() => decodePng(good.subarray(0, good.length - 12), "t.png"), "missing IEND");
    expectDnnc(() => decodePng(good.subarray(0, cs[1].at + 10), "t.png"), "truncated IDAT chunk");
    // an interlaced or 16-bit RGB header with a fixed-up CRC
    const withHeader = (edit: (ihdr: Uint8Array) => void) => {
      const b = Uint8Array.from(good);
      edit(b.subarray(16, 29));
      new DataView(b.buffer).setUint32(29, crc32(b, 12, 29));
      return b;
    };
    expectDnnc(
      () =>
        decodePng(
          withHeader((h) => (h[12] = 1)),
          "i.png",
        ),
      "interlaced PNG is not supported",
    );
    expectDnnc(
      () =>
        decodePng(
          withHeader((h) => (h[8] = 3)),
          "d.png",
        ),
      "bit depth 3 is not valid",
    );
    expectDnnc(
      () =>
        decodePng(
          withHeader((h) => (h[9] = 5)),
          "d.png",
        ),
      "unknown color type 5",
    );
    expectDnnc(
      () =>
        decodePng(
          withHeader((h) => (h[3] = 4)),
          "s.png",
        ),
      /image data has \d+ bytes, expected 10/,
    );
  });
});

describe("imageToSample", () => {
  it("converts colour to gray as PIL does and drops alpha", () => {
    for (const r of ref.to_gray) {
      const img = { ...r, pixels: Uint8Array.from(r.pixels) };
      expect(Array.from(imageToSample(img, [1, r.height, r.width], "c.png"))).toEqual(r.gray);
    }
  });

  it("makes planar CHW from interleaved pixels, repeating gray for colour models", () => {
    const rgb = { width: 2, height: 1, channels: 3, pixels: Uint8Array.of(1, 2, 3, 4, 5, 6) };
    expect(Array.from(imageToSample(rgb, [3, 1, 2], "x.png"))).toEqual([1, 4, 2, 5, 3, 6]);
    const gray = { width: 2, height: 1, channels: 2, pixels: Uint8Array.of(7, 255, 9, 0) };
    expect(Array.from(imageToSample(gray, [3, 1, 2], "g.png"))).toEqual([7, 9, 7, 9, 7, 9]);
    // a PNG round trip feeds it directly
    const png = decodePng(encodePng(2, 1, 3, rgb.pixels), "x.png");
    expect(Array.from(imageToSample(png, [1, 1, 2], "x.png"))).toEqual([2, 5]);
  });

  it("names the file and the sizes when they do not fit", () => {
    const img = { width: 32, height: 30, channels: 1, pixels: new Uint8Array(960) };
    expectDnnc(() => imageToSample(img, [1, 28, 28], "big.png"), "big.png", "32x30", "expects 28x28");
    expectDnnc(() => imageToSample(img, [784], "big.png"), "not an image");
  });
});
