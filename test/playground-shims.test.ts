// The playground's browser stand-ins and editor helpers, in Node: the SHA-256 that replaces
// node:crypto for compiler/check.ts (against node:crypto itself), the TextMate-grammar colouring
// (tokens of a spec line), and the diagnostics it shows (the compiler's, with line:col).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createHash as nodeHash } from "node:crypto";
import { createHash } from "../playground/src/shims/crypto";
import { highlight, tokenizeLine } from "../playground/src/highlight";
import { diagnose } from "../playground/src/diagnostics";
import { DEFAULT_SPEC } from "../playground/src/default-spec";

const nodeHex = (s: string | Uint8Array) => nodeHash("sha256").update(s).digest("hex");

describe("sha256 shim", () => {
  it("matches node:crypto on the FIPS 180-4 examples and the padding boundaries", () => {
    for (const s of ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"])
      expect(createHash("sha256").update(s).digest("hex")).toBe(nodeHex(s));
    expect(createHash("sha256").update("abc").digest("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for (let n = 50; n <= 130; n++) {
      const s = "x".repeat(n);
      expect(createHash("sha256").update(s).digest("hex"), `length ${n}`).toBe(nodeHex(s));
    }
  });

  it("matches node:crypto on any text (UTF-8) and any bytes, in several updates", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 200 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 4 }), (parts) => {
        const a = createHash("sha256");
        const b = nodeHash("sha256");
        for (const p of parts) {
          a.update(p);
          b.update(p);
        }
        expect(a.digest("hex")).toBe(b.digest("hex"));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses other algorithms and encodings", () => {
    expect(() => createHash("md5")).toThrow(/only sha256/);
    expect(() =>
      createHash("sha256")
        .update("x")
        .digest("base64" as "hex"),
    ).toThrow(/not supported/);
  });
});

describe("TextMate colouring", () => {
  const scopes = (line: string) => tokenizeLine(line).map((t) => [line.slice(t.start, t.end), t.scope]);

  it("colours a chain, its arguments and a trailing comment by the grammar's scopes", () => {
    expect(scopes("  dense(256, init=kaiming_normal) -> bn -> relu  # hidden")).toEqual([
      ["dense", "entity.name.function.layer.dnn"],
      ["(", "punctuation.section.parens.begin.dnn"],
      ["256", "constant.numeric.dnn"],
      [",", "punctuation.separator.comma.dnn"],
      ["init", "variable.parameter.dnn"],
      ["=", "keyword.operator.assignment.dnn"],
      ["kaiming_normal", "support.constant.dnn"],
      [")", "punctuation.section.parens.end.dnn"],
      ["->", "keyword.operator.arrow.dnn"],
      ["bn", "entity.name.function.layer.dnn"],
      ["->", "keyword.operator.arrow.dnn"],
      ["relu", "entity.name.function.layer.dnn"],
      ["# hidden", "comment.line.number-sign.dnn"],
    ]);
    expect(scopes("model fashion_mlp {").slice(0, 2)).toEqual([
      ["model", "keyword.other.block.dnn"],
      ["fashion_mlp", "entity.name.type.model.dnn"],
    ]);
    expect(scopes('  source idx("data/#not-a-comment")')).toContainEqual(['"data/#not-a-comment"', "string.quoted.double.dnn"]);
  });

  it("keeps the text: the highlighted HTML without its tags is the source, escaped", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.nat(300), fc.nat(20), (src, at, len) => {
        const html = highlight(src, [{ start: at, end: at + len, severity: "error" }]);
        const text = html
          .replace(/<[^>]*>/g, "")
          .replace(/&lt;/g, "<")
          .replace(/&gt;/g, ">")
          .replace(/&amp;/g, "&");
        expect(text).toBe(src + " ");
      }),
      { numRuns: 300 },
    );
    expect(highlight("a <b> & c")).not.toMatch(/<b>/);
  });
});

describe("diagnostics as shown", () => {
  it("the default spec has no errors", () => {
    expect(diagnose(DEFAULT_SPEC, "playground.dnn").filter((d) => d.severity === "error")).toEqual([]);
  });

  it("an unknown layer is reported at its line and column with the compiler's message and span", () => {
    const src = DEFAULT_SPEC.replace("dense(128) -> relu", "dense(128) -> rellu");
    const line = src.split("\n").findIndex((l) => l.includes("rellu")) + 1;
    const d = diagnose(src, "playground.dnn");
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ severity: "error", code: "E0201", line, message: "unknown layer `rellu`" });
    expect(src.slice(d[0].start, d[0].end)).toBe("rellu");
    expect(d[0].col).toBe(src.split("\n")[line - 1].indexOf("rellu") + 1);
  });

  it("a syntax error and a shape error come with positions inside the source", () => {
    for (const src of [DEFAULT_SPEC.replace("dense(10)", "dense(10"), DEFAULT_SPEC.replace("input [1, 28, 28]\n  flatten\n", "input [1, 28, 28]\n")]) {
      const d = diagnose(src, "playground.dnn");
      expect(d.length).toBeGreaterThan(0);
      for (const x of d) {
        expect(x.start).toBeGreaterThanOrEqual(0);
        expect(x.end).toBeLessThanOrEqual(src.length + 1);
        expect(x.line).toBeGreaterThanOrEqual(1);
      }
    }
  });
});
