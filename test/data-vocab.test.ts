import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildVocab, buildVocabFromText, codePointsOf, Vocab, VocabBuilder, vocabFromMetadata, vocabMetadata, VOCAB_METADATA_KEY } from "../runtime/data/vocab";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { expectDnnc } from "./helpers/expect-dnnc";

/** The vocabulary's characters in id order, as one string per id ("" for unknown and pad). */
const table = (v: Vocab) => Array.from({ length: v.size }, (_, id) => v.char(id));

describe("character vocabulary", () => {
  it("numbers unknown 0, then the characters by code point (pad 1 before them when asked)", () => {
    const v = buildVocabFromText("banana\n😀 Zé");
    expect(table(v)).toEqual(["", "\n", " ", "Z", "a", "b", "n", "é", "😀"]);
    expect(v.unknown).toBe(0);
    expect(v.pad).toBeUndefined();
    expect(v.size).toBe(9);
    const p = buildVocabFromText("banana\n😀 Zé", { pad: true });
    expect(table(p)).toEqual(["", "", "\n", " ", "Z", "a", "b", "n", "é", "😀"]);
    expect(p.pad).toBe(1);
    expect(Array.from(p.encode("ab"))).toEqual([5, 6]);
  });

  it("does not depend on the order or the repetitions of the training text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.integer({ min: 0, max: 1000 }), (s, k) => {
        const chars = Array.from(s);
        const rotated = chars.slice(k % (chars.length || 1)).concat(chars.slice(0, k % (chars.length || 1)));
        const a = buildVocabFromText(s);
        const b = buildVocabFromText(rotated.join("") + s);
        expect(a.toJSON()).toBe(b.toJSON());
      }),
    );
  });

  it("encodes characters outside the vocabulary, lone surrogates included, to the unknown id, never an error", () => {
    const v = buildVocabFromText("abc");
    expect(Array.from(v.encode("abxc😀\ud800a\udc00"))).toEqual([1, 2, 0, 3, 0, 0, 1, 0]);
    // a lone surrogate in the training text is not a character: skipped
    const s = buildVocabFromText("a\ud800b\udfff");
    expect(table(s)).toEqual(["", "a", "b"]);
    expect(Array.from(s.encode("\ud800"))).toEqual([0]);
    // characters above the BMP use the map, the rest the table
    const wide = buildVocabFromText("𝔸x😀");
    expect(Array.from(wide.encode("😀x𝔸𝔹"))).toEqual([3, 1, 2, 0]);
  });

  it("decodes ids back to text: unknown to U+FFFD (or a given string), pad to nothing, bad ids refused", () => {
    const v = buildVocabFromText("hello, wörld 😀", { pad: true });
    const ids = v.encode("hello 😀?");
    expect(v.decode(ids)).toBe("hello 😀\ufffd");
    expect(v.decode(ids, "?")).toBe("hello 😀?");
    expect(v.decode([1, 1, ...v.encode("or"), 1, 0])).toBe("or\ufffd"); // pad ids decode to nothing
    expectDnnc(() => v.decode([v.size]), `token id ${v.size} is outside the vocabulary (0..${v.size - 1})`);
    expectDnnc(() => v.decode([1.5]), /token id 1.5/);
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => {
        const w = buildVocabFromText(s);
        expect(w.decode(w.encode(s))).toBe(s);
      }),
    );
  });

  it("builds from pieces (the training documents) and from a range", () => {
    const cps = codePointsOf("xxabcyy");
    expect(buildVocab(cps, { start: 2, end: 5 }).toJSON()).toBe(buildVocabFromText("abc").toJSON());
    const b = new VocabBuilder().add(codePointsOf("ca")).add(codePointsOf("zzb"), 2, 3);
    expect(table(b.build())).toEqual(["", "a", "b", "c"]);
  });

  it("survives safetensors metadata with NUL, newlines, quotes, backslashes, emoji and a BOM character", () => {
    const text = 'a\u0000b\nc\r\td"e\\f😀\ufeff\u2028\u007f🇫🇷';
    const v = buildVocabFromText(text, { pad: true });
    const bytes = encodeSafetensors([{ name: "w", shape: [1], data: new Float32Array([1]) }], vocabMetadata(v));
    const back = vocabFromMetadata(decodeSafetensors(bytes, "m.safetensors").metadata, "m.safetensors")!;
    expect(back.toJSON()).toBe(v.toJSON());
    expect(back.size).toBe(v.size);
    expect(back.pad).toBe(1);
    expect(Array.from(back.encode(text))).toEqual(Array.from(v.encode(text)));
    expect(back.decode(back.encode(text))).toBe(text);
    // the stored string is JSON whose "chars" are the characters in id order
    expect(JSON.parse(v.toJSON())).toEqual({
      format: "dnnc-chars",
      version: 1,
      unknown: 0,
      pad: 1,
      chars: Array.from(new Set(Array.from(text)))
        .sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)
        .join(""),
    });
    expect(vocabFromMetadata({}, "m")).toBeNull();
  });

  it("round-trips any vocabulary through toJSON/fromJSON and a safetensors file", () => {
    fc.assert(
      // any code points, lone surrogates included (fc.string's "binary" unit is slow to generate)
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 50 }).map((cps) => String.fromCodePoint(...cps)),
        fc.boolean(),
        (s, pad) => {
          const v = buildVocabFromText(s, { pad });
          const bytes = encodeSafetensors([], vocabMetadata(v));
          const back = vocabFromMetadata(decodeSafetensors(bytes, "m").metadata, "m")!;
          expect(Array.from(back.codePoints)).toEqual(Array.from(v.codePoints));
          expect(back.pad).toBe(v.pad);
          expect(Array.from(back.encode(s))).toEqual(Array.from(v.encode(s)));
        },
      ),
    );
  });

  it("refuses a damaged stored vocabulary with the model file in the message", () => {
    const good = JSON.parse(buildVocabFromText("abc").toJSON());
    const bad = (o: unknown) => JSON.stringify(o);
    const cases: [string, RegExp][] = [
      ["{", /not JSON/],
      ["[1]", /not a JSON object/],
      [bad({ ...good, format: "x" }), /format is "x"/],
      [bad({ ...good, version: 2 }), /version 2/],
      [bad({ ...good, unknown: 3 }), /unknown id 3/],
      [bad({ ...good, pad: 4 }), /pad id 4/],
      [bad({ ...good, chars: 5 }), /chars is not a string/],
      [bad({ ...good, chars: "ba" }), /not distinct and sorted by code point \(at character 1\)/],
      [bad({ ...good, chars: "aa" }), /not distinct and sorted/],
      [bad({ ...good, chars: "a\ud800" }), /character 1 is a lone surrogate \(U\+D800\)/],
    ];
    for (const [json, msg] of cases)
      expectDnnc(
        () => vocabFromMetadata({ [VOCAB_METADATA_KEY]: json }, "run/model.safetensors"),
        /^run\/model\.safetensors: metadata "vocab": not a dnnc character vocabulary: /,
        msg,
      );
  });
});
