// compiler/escape.ts, one function per target: exact outputs on the characters that matter
// (one line each, as esbuild's expectPrinted), and the Python-side oracles of the emitter fuzz
// campaign shown to catch a raw string. Random strings against other parsers:
// test/fuzz-emitters.test.ts.
import { describe, expect, it } from "vitest";
import * as E from "../compiler/escape";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz-emitters.mjs";

const fuzz = fuzzJs as unknown as {
  oracle(reqs: Record<string, unknown>[]): { ok: boolean; error?: string; [k: string]: unknown }[];
  hasPython(): boolean;
};

describe("one line each: what every target gets", () => {
  it("tsString / tsJson: JSON plus DEL, C1, U+2028/9, bidi controls, BOM and `<` as \\u escapes", () => {
    expect(E.tsString("a\nb")).toBe('"a\\nb"');
    expect(E.tsString("\u2028\u2029")).toBe('"\\u2028\\u2029"');
    expect(E.tsString("\u202e\u2066\ufeff\x7f\x85")).toBe('"\\u202e\\u2066\\ufeff\\u007f\\u0085"');
    expect(E.tsString("</script><!--")).toBe('"\\u003c/script>\\u003c!--"');
    expect(E.tsString("\ud800x")).toBe('"\\ud800x"');
    expect(E.tsString("é\u{1F600}")).toBe('"é\u{1F600}"');
    expect(E.tsJson({ a: ["\u2028", 1, null] })).toBe('{"a":["\\u2028",1,null]}');
    expect(() => E.tsJson(undefined)).toThrow(/not a JSON value/);
  });

  it("tsComment: one line, `*/` cannot close a block comment", () => {
    expect(E.tsComment("x\nprocess.exit(1)//")).toBe("x\\nprocess.exit(1)//");
    expect(E.tsComment("a*/b\r\u2028\u2029\0")).toBe("a*\\/b\\r\\u2028\\u2029\\u0000");
    expect(E.tsComment("C:\\dir\\n")).toBe("C:\\\\dir\\\\n"); // a literal backslash-n stays distinguishable from a newline
    expect(E.tsComment('specs/odd "name".dnn')).toBe('specs/odd "name".dnn');
  });

  it('pyString: \\\\ \\" \\n \\r \\t, \\xNN for controls, \\uXXXX for the other unsafe code points', () => {
    expect(E.pyString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(E.pyString("\n\r\t\0\x1b\x7f\x85")).toBe('"\\n\\r\\t\\x00\\x1b\\x7f\\x85"');
    expect(E.pyString("\u2028\u202e\ud800\ufeff")).toBe('"\\u2028\\u202e\\ud800\\ufeff"');
    expect(E.pyString("'''\"\"\"")).toBe('"\'\'\'\\"\\"\\""');
    expect(E.pyString("é名\u{1F600}")).toBe('"é名\u{1F600}"');
  });

  it("pyComment: one line, no NUL, no PEP 263 `coding:` / `coding=`", () => {
    expect(E.pyComment('x\nopen("/tmp/p","w")#')).toBe('x\\nopen("/tmp/p","w")#');
    expect(E.pyComment("-*- coding: utf_7 -*- +AAo-")).toBe("-*- coding\\u003a utf_7 -*- +AAo-");
    expect(E.pyComment("coding=latin-1 \0")).toBe("coding\\u003dlatin-1 \\u0000");
    expect(E.pyComment("\r\f\v\x85\u2028")).toBe("\\r\\u000c\\u000b\\u0085\\u2028");
  });

  it("htmlText / htmlAttr: entities for markup, visible escapes for what XML cannot carry", () => {
    expect(E.htmlText(`<script>"'&`)).toBe("&lt;script&gt;&quot;&#39;&amp;");
    expect(E.htmlText("</script><!--")).toBe("&lt;/script&gt;&lt;!--");
    expect(E.htmlAttr("a\0b\u202ec\nd")).toBe("a\\u0000b\\u202ec\\nd");
    expect(E.htmlText("T-shirt/top")).toBe("T-shirt/top");
  });

  it("dnnString: the lexer's escapes only (\\\\ \\\" \\n \\t), everything else raw; dnnComment: one line", () => {
    expect(E.dnnString('a"b\\c\nd\te')).toBe('"a\\"b\\\\c\\nd\\te"');
    expect(E.dnnString("\r\u2028")).toBe('"\r\u2028"');
    expect(E.dnnComment("x\n}\nmodel y {")).toBe("x\\n}\\nmodel y {");
    expect(E.dnnName("train.optimizer.lr", true)).toBe("train.optimizer.lr");
    expect(E.dnnName("model.dense[0].units", true)).toBe("model.dense[0].units");
    expect(() => E.dnnName("sgd\nmodel x {")).toThrow(/not a .dnn name/);
    expect(() => E.dnnName("a.b")).toThrow(/not a .dnn name/);
    expect(E.dnnIdentifier("adam")).toBe(true);
    expect(E.dnnIdentifier("a b")).toBe(false);
  });

  it("onnxString: well-formed strings unchanged, lone surrogates become U+FFFD", () => {
    expect(E.onnxString("a\0\n\u2028é\u{1F600}")).toBe("a\0\n\u2028é\u{1F600}");
    expect(E.onnxString("a\ud800b\udc00")).toBe("a\ufffdb\ufffd");
  });

  it("plainText: one line, no terminal control codes", () => {
    expect(E.plainText("\x1b[31mred\x1b[0m\nnext")).toBe("\\u001b[31mred\\u001b[0m\\nnext");
    expect(E.hasUnsafe(E.plainText("\0\u2028\ud800\u202e\x85"))).toBe(false);
  });

  it("pyIdentifier and dnnName refuse what is not a name (an internal error, never emitted)", () => {
    expect(E.pyIdentifier("fashion_mlp")).toBe("fashion_mlp");
    expect(() => E.pyIdentifier('x"""; import os')).toThrow(/not an identifier/);
  });

  it("assertNoRawUnsafe: newlines are fine, anything else unsafe names its line", () => {
    expect(() => E.assertNoRawUnsafe("a\nb\n", "t")).not.toThrow();
    expect(() => E.assertNoRawUnsafe("a\nb\u2028c", "the trainer")).toThrow(/the trainer holds a raw \\u2028 at line 2/);
    expect(() => E.assertNoRawUnsafe("a\rb", "t")).toThrow(/raw \\r at line 1/);
    expect(() => E.assertNoRawUnsafe("\ud800", "t")).toThrow(/raw \\ud800/);
    expect(() => E.assertNoRawUnsafe("\u{1F600}é", "t")).not.toThrow();
  });
});

describe.skipIf(!fuzz.hasPython())("the oracles of scripts/emit-oracle.py (random strings: test/fuzz-emitters.test.ts)", () => {
  it("the oracles catch raw text: a newline in a Python comment, an unescaped quote, a raw NUL in XML, `coding:`", () => {
    const [comment, quote, good, xml, coding] = fuzz.oracle([
      { op: "pycomment", text: 'x\nopen("m", "w")' },
      { op: "pystring", lit: '"a"b"', value: 'a"b' },
      { op: "pystring", lit: E.pyString('a"b\n'), value: 'a"b\n' },
      { op: "xml", text: "<svg><text>\0</text></svg>" },
      { op: "pycomment", text: "-*- coding: latin-1 -*-" },
    ]);
    expect(comment.ok).toBe(false);
    expect(comment.error).toMatch(/became code/);
    expect(quote.ok).toBe(false);
    expect(good.ok).toBe(true);
    expect(xml.ok).toBe(false);
    expect(coding).toEqual({ ok: false, error: "declares the encoding iso-8859-1" });
  });
});
