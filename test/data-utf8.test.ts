import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeUtf8, decodeUtf8CodePoints, decodeUtf8Into } from "../runtime/data/utf8";
import { expectDnnc } from "./helpers/expect-dnnc";

const bytes = (...b: number[]) => Uint8Array.from(b);
const enc = (s: string) => new TextEncoder().encode(s);

describe("strict UTF-8", () => {
  it("decodes like TextDecoder on any well-formed text (code points, BOM dropped)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), fc.boolean(), (s, bom) => {
        const b = enc((bom ? "\ufeff" : "") + s);
        const { cps, length } = decodeUtf8CodePoints(b, "t.txt");
        expect(Array.from(cps.subarray(0, length))).toEqual(Array.from(s, (c) => c.codePointAt(0)));
        expect(decodeUtf8(b, "t.txt")).toBe(s);
      }),
    );
  });

  it("keeps U+FEFF after the start, and decodes into an offset of a shared array", () => {
    const out = new Int32Array(10).fill(-7);
    const end = decodeUtf8Into(enc("a\ufeffb"), "t", out, 2);
    expect(end).toBe(5);
    expect(Array.from(out.subarray(0, 6))).toEqual([-7, -7, 97, 0xfeff, 98, -7]);
  });

  it("names file:line:col (col in characters) and the bad bytes", () => {
    // line 2, after "é€" (two characters, five bytes): column 3
    const b = new Uint8Array([...enc("first line\né€"), 0xff, ...enc("x")]);
    expectDnnc(() => decodeUtf8CodePoints(b, "t.txt"), /^t\.txt:2:3: invalid UTF-8: byte 0xff cannot start a character/);
    expectDnnc(() => decodeUtf8(b, "t.txt"), /^t\.txt:2:3: invalid UTF-8/);
  });

  it.each([
    ["an overlong NUL", bytes(0x61, 0xc0, 0x80), /1:2: invalid UTF-8: byte 0xc0/],
    ["an overlong 3-byte form", bytes(0xe0, 0x80, 0xaf), /1:1: invalid UTF-8: bad sequence 0xe0 0x80 0xaf/],
    ["an encoded surrogate", bytes(0xed, 0xa0, 0x80), /1:1: invalid UTF-8: bad sequence 0xed 0xa0 0x80/],
    ["a code point above U+10FFFF", bytes(0xf4, 0x90, 0x80, 0x80), /1:1: invalid UTF-8: bad sequence/],
    ["a lead byte 0xf5", bytes(0xf5, 0x80, 0x80, 0x80), /byte 0xf5 cannot start/],
    ["a lone continuation byte", bytes(0x0a, 0x0a, 0x80), /3:1: invalid UTF-8: byte 0x80 cannot start/],
    ["a sequence cut by an ASCII byte", bytes(0xe2, 0x82, 0x41), /1:1: invalid UTF-8: bad sequence 0xe2 0x82 0x41/],
    ["a file that ends inside a character", bytes(0x61, 0x62, 0xf0, 0x9f, 0x98), /1:3: invalid UTF-8: truncated sequence/],
  ])("refuses %s", (_, b, msg) => {
    expectDnnc(() => decodeUtf8CodePoints(b, "f"), msg);
    expectDnnc(() => decodeUtf8(b, "f"), msg);
  });
});
