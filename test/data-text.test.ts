import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { gatherBatch, gatherLengths } from "../runtime/data/batch";
import type { Dataset } from "../runtime/data/dataset";
import { charCorpus, documentClasses, splitDocuments, type ClassDocs } from "../runtime/data/text";
import { codePointsOf } from "../runtime/data/vocab";
import { listTextFiles, loadTextClasses, loadTextCorpus } from "../runtime/node/load-text";
import { DnncError } from "../runtime/errors";
import { expectDnnc } from "./helpers/expect-dnnc";

/** All samples of a dataset through gatherBatch: x rows and y rows as arrays. */
function samples(ds: Dataset): { x: number[][]; y: number[][] } {
  const F = ds.shape.reduce((a, b) => a * b, 1);
  const T = (ds.targetShape ?? []).reduce((a, b) => a * b, 1);
  const order = Int32Array.from({ length: ds.n }, (_, i) => i);
  const H = new Float32Array(ds.n * (F + T));
  gatherBatch(H, ds, order, 0, ds.n, 0, ds.n * F, 1);
  return {
    x: Array.from({ length: ds.n }, (_, i) => Array.from(H.subarray(i * F, (i + 1) * F))),
    y: Array.from({ length: ds.n }, (_, i) => Array.from(H.subarray(ds.n * F + i * T, ds.n * F + (i + 1) * T))),
  };
}

const corpus = (text: string, opts: Parameters<typeof charCorpus>[3]) => {
  const cps = codePointsOf(text);
  return charCorpus(cps, cps.length, "t.txt", opts);
};

describe("character corpus", () => {
  // 40 characters: train [0, 20), validation [20, 30), test [30, 40)
  const text = "abcdefghijklmnopqrst" + "uvwxyzabcd" + "ABCDEFGHIJ";

  it("splits by position, builds the vocabulary from the training span, and windows x / next-character y", () => {
    const c = corpus(text, { context: 4, validation: 0.25, test: 0.25 });
    expect(c.spans).toEqual({ train: { start: 0, end: 20 }, validation: { start: 20, end: 30 }, test: { start: 30, end: 40 } });
    expect(c.vocab.size).toBe(21); // unknown + a..t
    expect(c.ids).toBeInstanceOf(Uint8Array);
    expect(c.train.shape).toEqual([4]);
    expect(c.train.targetShape).toEqual([4]);
    expect(c.train.classes).toBe(21);
    expect(c.train.vocab).toBe(c.vocab);
    // stride defaults to context: windows start at 0, 4, 8, 12 (16 would need character 20 as a target)
    expect(c.train.n).toBe(4);
    const enc = (s: string) => Array.from(c.vocab.encode(s));
    const tr = samples(c.train);
    for (let i = 0; i < 4; i++) {
      expect(tr.x[i]).toEqual(enc(text.slice(4 * i, 4 * i + 4)));
      expect(tr.y[i]).toEqual(enc(text.slice(4 * i + 1, 4 * i + 5)));
    }
    // validation "uvwxyzabcd": u..z are not training characters, a..d are
    expect(c.validation!.n).toBe(2); // starts 20, 24
    const va = samples(c.validation!);
    expect(va.x[1]).toEqual([0, 0, 1, 2]); // "yzab"
    expect(va.y[1]).toEqual([0, 1, 2, 3]); // "zabc"
    expect(c.unknown).toEqual({ validation: 6, test: 10 });
    expect(samples(c.test!).x[0]).toEqual([0, 0, 0, 0]);
  });

  it("puts the last window's last target exactly on the span's last character, never across the boundary", () => {
    const c = corpus(text, { context: 4, stride: 1, validation: 0.25, test: 0.25 });
    expect(c.train.n).toBe(16); // starts 0..15; start 15 reads x 15..18, y 16..19
    const tr = samples(c.train);
    expect(tr.x[15]).toEqual(Array.from(c.vocab.encode("pqrs")));
    expect(tr.y[15]).toEqual(Array.from(c.vocab.encode("qrst")));
    const va = samples(c.validation!);
    expect(c.validation!.n).toBe(6); // starts 20..25: y ends at character 29
    expect(va.x[0]).toEqual(Array.from(c.vocab.encode("uvwx")));
    expect(va.y[5]).toEqual(Array.from(c.vocab.encode("abcd")));
    // a span of exactly context + 1 characters holds one window
    const one = corpus("abcde", { context: 4 });
    expect(one.train.n).toBe(1);
    expect(samples(one.train).y[0]).toEqual([2, 3, 4, 5]);
  });

  it("uses Uint16 ids above 256 characters, and the same bytes every time", () => {
    const big = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
    const c = corpus(big, { context: 8 });
    expect(c.ids).toBeInstanceOf(Uint16Array);
    expect(c.vocab.size).toBe(301);
    const again = corpus(big, { context: 8 });
    expect(Buffer.from(again.ids.buffer).equals(Buffer.from(c.ids.buffer))).toBe(true);
    expect(again.vocab.toJSON()).toBe(c.vocab.toJSON());
  });

  it("materialized x and y agree with gatherBatch for random corpora, contexts, strides and splits", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "b", "c", "\n", "é", "😀"), minLength: 30, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(0, 0.2, 0.3),
        (s, context, stride, frac) => {
          const cps = codePointsOf(s);
          let c;
          try {
            c = charCorpus(cps, cps.length, "r", { context, stride, validation: frac, test: frac });
          } catch (e) {
            expect(e).toBeInstanceOf(DnncError); // a span too short for one window
            return;
          }
          for (const ds of [c.train, c.validation, c.test]) {
            if (!ds) continue;
            const g = samples(ds);
            expect(g.x.flat()).toEqual(Array.from(ds.x));
            expect(g.y.flat()).toEqual(Array.from(ds.y));
          }
          // every window and target lies inside its span
          const spans = [c.spans.train, c.spans.validation, c.spans.test];
          [c.train, c.validation, c.test].forEach((ds, k) => {
            if (!ds) return;
            const span = spans[k]!;
            expect(span.start + (ds.n - 1) * stride + context + 1).toBeLessThanOrEqual(span.end);
          });
        },
      ),
    );
  });

  it("refuses a corpus smaller than one window, with the sizes", () => {
    expectDnnc(() => corpus("abcd", { context: 4 }), /^t\.txt: the training span has 4 characters, fewer than one window needs \(context 4 \+ 1/);
    expectDnnc(() => corpus(text, { context: 12, validation: 0.25 }), /the validation span has 10 characters.*lower context or raise the validation fraction/);
    expectDnnc(() => corpus("", { context: 4 }), /t\.txt: empty text/);
    expectDnnc(() => corpus(text, { context: 0 }), /context must be a positive integer, got 0/);
    expectDnnc(() => corpus(text, { context: 2, stride: 1.5 }), /stride must be a positive integer/);
    expectDnnc(() => corpus(text, { context: 2, validation: 0.6, test: 0.5 }), /leave nothing for training/);
    expectDnnc(() => corpus(text, { context: 2, test: 1 }), /test fraction must be in \[0, 1\), got 1/);
    expectDnnc(() => corpus(text, { context: 2, validation: 0.001 }), /validation fraction 0.001 of 40 characters is an empty span/);
  });
});

describe("documents", () => {
  const docs = (text: string, sep: string | null) => {
    const cps = codePointsOf(text);
    return splitDocuments(cps, cps.length, sep).map((s) => String.fromCodePoint(...cps.subarray(s.start, s.end)));
  };

  it("splits at separator lines, drops blank documents, reads CRLF", () => {
    expect(docs("a\n%\nb\nc\n%\n%\n  \n\t\n%\nd\n%\n", "%")).toEqual(["a", "b\nc", "d"]);
    expect(docs("%\nfirst\n%", "%")).toEqual(["first"]);
    expect(docs("a\r\n%\r\nb\r\n", "%")).toEqual(["a", "b"]);
    expect(docs("a\n%x\n %\nb", "%")).toEqual(["a\n%x\n %\nb"]); // only a line that is exactly the separator
    expect(docs("one\n--\ntwo", "--")).toEqual(["one", "two"]);
    expect(docs("whole\n%\ntext\n", null)).toEqual(["whole\n%\ntext"]);
    expect(docs(" \n", null)).toEqual([]);
    expect(() => docs("a", "")).toThrow(/separator must be one non-empty line/);
  });

  const classDocs = (name: string, texts: string[]): ClassDocs => ({
    name,
    source: `dir/${name}`,
    docs: texts.map((t) => {
      const cps = codePointsOf(t);
      return { cps, start: 0, end: cps.length };
    }),
  });
  const classes = [
    classDocs("alpha", ["aaa", "ab", "abcdefg", "a", "ba", "aab", "bb", "ba a", "a b", "abba"]),
    classDocs("beta", ["xyz", "zz", "xy", "yyyyyyy", "x", "zy", "yx", "xz", "zx", "xxy"]),
    classDocs("gamma", ["q", "qq", "q!", "qqq"]),
  ];

  it("pads and cuts documents to context with the pad id, records lengths and labels, in a stable order", () => {
    const d = documentClasses(classes, "dir", { context: 4, seed: 1 });
    expect(d.classNames).toEqual(["alpha", "beta", "gamma"]);
    expect(d.counts).toEqual([10, 10, 4]);
    expect(d.truncated).toBe(2); // "abcdefg", "yyyyyyy"
    expect(d.validation).toBeUndefined();
    const ds = d.train;
    expect(ds.n).toBe(24);
    expect(ds.shape).toEqual([4]);
    expect(ds.classes).toBe(3);
    expect(d.vocab.pad).toBe(1);
    expect(Array.from(ds.y)).toEqual([...Array(10).fill(0), ...Array(10).fill(1), ...Array(4).fill(2)]);
    const x = ds.x as Float32Array;
    const enc = (s: string) => Array.from(d.vocab.encode(s));
    expect(Array.from(x.subarray(0, 4))).toEqual([...enc("aaa"), 1]);
    expect(Array.from(x.subarray(8, 12))).toEqual(enc("abcd"));
    expect(Array.from(x.subarray(12, 16))).toEqual([...enc("a"), 1, 1, 1]);
    expect(Array.from(ds.lengths!.subarray(0, 4))).toEqual([3, 2, 4, 1]);
    const L = new Float32Array(3);
    gatherLengths(L, 0, ds, Int32Array.of(2, 3, 23), 0, 3);
    expect(Array.from(L)).toEqual([4, 1, 3]);
  });

  it("splits each class by the seed (stratified, deterministic) and builds the vocabulary from training documents only", () => {
    const opts = { context: 8, seed: 7, validation: 0.2, test: 0.2 };
    const d = documentClasses(classes, "dir", opts);
    // per class round(n * 0.2): 2 + 2 + 1 validation, 2 + 2 + 1 test
    expect(d.validation!.n).toBe(5);
    expect(d.test!.n).toBe(5);
    expect(d.train.n).toBe(14);
    const count = (ds: Dataset, c: number) => Array.from(ds.y).filter((v) => v === c).length;
    expect([0, 1, 2].map((c) => count(d.validation!, c))).toEqual([2, 2, 1]);
    expect([0, 1, 2].map((c) => count(d.test!, c))).toEqual([2, 2, 1]);
    // labels stay in class order inside each split (stable order)
    for (const ds of [d.train, d.validation!, d.test!]) expect(Array.from(ds.y)).toEqual(Array.from(ds.y).sort());
    const again = documentClasses(classes, "dir", opts);
    for (const k of ["train", "validation", "test"] as const) {
      expect(Array.from(again[k]!.x)).toEqual(Array.from(d[k]!.x));
      expect(Array.from(again[k]!.y)).toEqual(Array.from(d[k]!.y));
    }
    // the vocabulary holds exactly the characters of the training documents
    const trainText = new Set<string>();
    const x = d.train.x as Float32Array;
    for (let i = 0; i < x.length; i++) if (x[i] > 1) trainText.add(d.vocab.char(x[i]));
    expect(d.vocab.size).toBe(2 + trainText.size);
    // another seed draws other documents
    const other = documentClasses(classes, "dir", { ...opts, seed: 8 });
    const seeds = [1, 2, 3, 4, 5, 6].map((seed) => Array.from(documentClasses(classes, "dir", { ...opts, seed }).test!.x).join());
    expect(new Set([...seeds, Array.from(other.test!.x).join()]).size).toBeGreaterThan(1);
  });

  it("maps characters only seen in validation or test documents to the unknown id", () => {
    const cls = [classDocs("p", ["ab", "ab", "ab", "ab", "Z"]), classDocs("q", ["ba", "ba", "ba", "ba", "ba"])];
    let seen = 0;
    for (let seed = 0; seed < 100; seed++) {
      const d = documentClasses(cls, "dir", { context: 2, seed, test: 0.2 });
      expect(Array.from(d.train.x).includes(0)).toBe(false); // the training split has no unknown character
      const zInTest = Array.from(d.test!.lengths!).includes(1);
      expect(d.vocab.id("Z".codePointAt(0)!) === 0).toBe(zInTest);
      expect(d.unknown.test).toBe(zInTest ? 1 : 0);
      if (zInTest) {
        seen++;
        expect(Array.from(d.test!.x).filter((v) => v === 0).length).toBe(1);
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it("refuses an empty class, a single class, and a class left without training documents", () => {
    expectDnnc(
      () => documentClasses([classes[0], classDocs("empty", [])], "dir", { context: 4, seed: 1 }),
      /^dir\/empty: no documents \(class "empty" is empty\)/,
    );
    expectDnnc(() => documentClasses([classes[0]], "dir", { context: 4, seed: 1 }), /dir: 1 class; classification needs at least 2/);
    expectDnnc(
      () => documentClasses([classes[0], classDocs("two", ["a", "b"])], "dir", { context: 4, seed: 1, validation: 0.3, test: 0.3 }),
      /class "two" has 2 samples: validation 0.3 and test 0.3 leave none for training/,
    );
  });
});

describe("text files on disk", () => {
  const root = mkdtempSync(join(tmpdir(), "dnnc-text-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let k = 0;
  const dir = (files: Record<string, string | Uint8Array>) => {
    const d = join(root, `d${k++}`);
    mkdirSync(d);
    for (const [name, body] of Object.entries(files)) {
      mkdirSync(join(d, name, ".."), { recursive: true });
      writeFileSync(join(d, name), body);
    }
    return d;
  };

  it("lists files by name, skipping hidden files, strfile indexes and links to entries of the same directory", () => {
    const outside = join(root, "outside.txt");
    writeFileSync(outside, "from elsewhere\n");
    const d = dir({ b: "bee\n", a: "ay\n", "a.dat": new Uint8Array([0, 0, 0, 2, 0xff]), "c.dat": "kept: no file c\n", ".hidden": "no\n", "sub/x": "doc\n" });
    symlinkSync(join(d, "a"), join(d, "a.u8"));
    symlinkSync(outside, join(d, "ext"));
    expect(listTextFiles(d).map((e) => `${e.name}:${e.kind}`)).toEqual(["a:file", "b:file", "c.dat:file", "ext:file", "sub:dir"]);
    symlinkSync(join(d, "missing"), join(d, "broken"));
    expectDnnc(() => listTextFiles(d), /broken: broken symbolic link/);
    expectDnnc(() => listTextFiles(join(root, "nope")), /nope: no such file or directory/);
  });

  it("reads a corpus directory as its files in name order, joined by the separator", () => {
    const d = dir({ "2-second": "second\n", "1-first": "first", "1-first.dat": "\u0000" });
    const c = loadTextCorpus(d, { context: 2 });
    expect(c.files.map((f) => f.slice(d.length + 1))).toEqual(["1-first", "2-second"]);
    expect(c.vocab.decode(c.ids)).toBe("first\nsecond\n");
    const s = loadTextCorpus(d, { context: 2, separator: "<|>" });
    expect(s.vocab.decode(s.ids)).toBe("first<|>second\n");
    // one file, gzipped (detected by magic bytes), with a byte-order mark
    const g = join(root, "corpus.gz");
    writeFileSync(g, gzipSync(Buffer.from("\ufeffhello hello")));
    const z = loadTextCorpus(g, { context: 3 });
    expect(z.vocab.decode(z.ids)).toBe("hello hello");
  });

  it("refuses invalid UTF-8, empty files, subdirectories in a corpus and a corpus smaller than one window, naming the file", () => {
    const bad = dir({ a: "fine\n", b: new Uint8Array([...Buffer.from("ok\nline two \u00e9"), 0xc3, 0x28]) });
    expectDnnc(() => loadTextCorpus(bad, { context: 2 }), new RegExp(`^${join(bad, "b")}:2:11: invalid UTF-8: bad sequence 0xc3 0x28`));
    const empty = dir({ a: "fine\n", b: "" });
    expectDnnc(() => loadTextCorpus(empty, { context: 2 }), new RegExp(`${join(empty, "b")}: empty file`));
    const nested = dir({ a: "fine\n", "s/t": "x" });
    expectDnnc(() => loadTextCorpus(nested, { context: 2 }), /a directory inside a text corpus directory/);
    expectDnnc(() => loadTextCorpus(dir({}), { context: 2 }), /no text files in this directory/);
    const small = dir({ a: "tiny" });
    expectDnnc(() => loadTextCorpus(join(small, "a"), { context: 8 }), /the training span has 4 characters, fewer than one window needs \(context 8 \+ 1/);
    expectDnnc(() => loadTextCorpus(join(root, "absent.txt"), { context: 8 }), /absent\.txt: no such file or directory/);
  });

  it("reads document classes from files (separator lines) and directories (a document per file)", () => {
    const d = dir({
      science: "E = mc^2\n%\nF = ma\n%\n",
      "science.dat": new Uint8Array([1, 2, 0xff]),
      politics: "vote\r\n%\r\nelect\r\n%\r\nlobby\r\n",
      "reviews/1.txt": "great film\n",
      "reviews/2.txt": "bad\nfilm",
    });
    symlinkSync(join(d, "science"), join(d, "science.u8"));
    const c = loadTextClasses(d, { context: 6, seed: 0 });
    expect(c.classNames).toEqual(["politics", "reviews", "science"]);
    expect(c.counts).toEqual([3, 2, 2]);
    expect(c.train.n).toBe(7);
    expect(c.vocab.decode(Array.from(c.train.x as Float32Array).slice(0, 6))).toBe("vote"); // pads decode to nothing
    expect(Array.from(c.train.lengths!)).toEqual([4, 5, 5, 6, 6, 6, 6]);
    expect(c.truncated).toBe(3);
    const sep = loadTextClasses(dir({ a: "x\n--\ny\n", b: "z\n" }), { context: 2, seed: 0, separator: "--" });
    expect(sep.counts).toEqual([2, 1]);
  });

  it("refuses an empty class file, a class without documents, nested directories and bad UTF-8", () => {
    const empty = dir({ a: "doc\n", b: "" });
    expectDnnc(() => loadTextClasses(empty, { context: 4, seed: 0 }), new RegExp(`${join(empty, "b")}: empty file`));
    const seps = dir({ a: "doc\n", b: "%\n%\n  \n%\n" });
    expectDnnc(() => loadTextClasses(seps, { context: 4, seed: 0 }), new RegExp(`${join(seps, "b")}: no documents \\(class "b" is empty\\)`));
    const nested = dir({ a: "doc\n", "b/c/d": "x" });
    expectDnnc(() => loadTextClasses(nested, { context: 4, seed: 0 }), /a directory inside class directory/);
    const blank = dir({ a: "doc\n", "b/1": "  \n" });
    expectDnnc(() => loadTextClasses(blank, { context: 4, seed: 0 }), /b\/1: blank document/);
    const utf = dir({ a: "doc\n", b: new Uint8Array([0x61, 0x0a, 0x25, 0x0a, 0xfe]) });
    expectDnnc(() => loadTextClasses(utf, { context: 4, seed: 0 }), new RegExp(`${join(utf, "b")}:3:1: invalid UTF-8: byte 0xfe`));
    expectDnnc(() => loadTextClasses(join(utf, "a"), { context: 4, seed: 0 }), /not a directory/);
  });
});

// Debian's fortunes package (fortunes, fortunes-min): the example corpus of issue 18.
const FORTUNES = "/usr/share/games/fortunes";
const haveFortunes = existsSync(FORTUNES) && readdirSync(FORTUNES).length > 0;
if (!haveFortunes) console.warn(`data-text.test.ts: ${FORTUNES} is absent (Debian package "fortunes"): the whole-corpus tests are skipped`);

describe.skipIf(!haveFortunes)("the fortunes corpus (Debian package fortunes)", () => {
  it("loads every topic file as one character corpus, deterministically", () => {
    const opts = { context: 64, validation: 0.1, test: 0.1 };
    const c = loadTextCorpus(FORTUNES, opts);
    const topics = c.files.map((f) => f.slice(FORTUNES.length + 1));
    expect(topics).toEqual([...topics].sort());
    expect(topics.some((t) => t.endsWith(".dat") || t.endsWith(".u8"))).toBe(false);
    expect(c.ids).toBeInstanceOf(Uint8Array);
    expect(c.train.n).toBe(Math.floor((c.spans.train.end - 65) / 64) + 1);
    const again = loadTextCorpus(FORTUNES, opts);
    expect(again.vocab.toJSON()).toBe(c.vocab.toJSON());
    expect(Buffer.from(again.ids).equals(Buffer.from(c.ids))).toBe(true);
  });

  it("loads every topic file as one class of documents", () => {
    const d = loadTextClasses(FORTUNES, { context: 256, validation: 0.1, test: 0.1, seed: 1 });
    expect(d.classNames).toContain("science");
    expect(d.classNames).toEqual([...d.classNames].sort());
    expect(d.train.n + d.validation!.n + d.test!.n).toBe(d.counts.reduce((a, b) => a + b, 0));
    for (const ds of [d.train, d.validation!, d.test!]) for (const l of ds.lengths!) expect(l >= 1 && l <= 256).toBe(true);
  });
});
