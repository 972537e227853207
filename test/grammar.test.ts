// Parser tests in esbuild's style: one line per case. expectPrinted(input, canonical output) and
// expectParseError(input, message fragment).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseSpec } from "../grammar/to-ast";
import { printSpec } from "../grammar/ast";

function expectPrinted(input: string, output: string) {
  const r = parseSpec(input, "t.dnn");
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  expect(printSpec(r.ast!).trim()).toBe(output.trim());
}
function expectParseError(input: string, message: string, line?: number, col?: number) {
  const r = parseSpec(input, "t.dnn");
  expect(r.ast).toBeUndefined();
  expect(r.diagnostics[0].message).toContain(message);
  if (line !== undefined) expect(r.diagnostics[0].span.line).toBe(line);
  if (col !== undefined) expect(r.diagnostics[0].span.col).toBe(col);
}

describe("parser", () => {
  it("chains", () => expectPrinted("model m { dense(256) -> bn -> relu }", "model m {\n  dense(256) -> bn -> relu\n}"));
  it("chains over several lines (arrow at end)", () => expectPrinted("model m {\n  dense(1) ->\n  relu\n}", "model m {\n  dense(1) -> relu\n}"));
  it("chains over several lines (arrow at start)", () => expectPrinted("model m {\n  dense(1)\n  -> relu\n}", "model m {\n  dense(1) -> relu\n}"));
  it("comments, both kinds", () => expectPrinted("# a\nmodel m { // b\n relu # c\n}", "model m {\n  relu\n}"));
  it("numbers in every usual form", () =>
    expectPrinted("train { a 5e-4; b 1/255; c .5; d 60_000; e -2; f 1E3 }", "train {\n  a 5e-4\n  b 1/255\n  c .5\n  d 60_000\n  e -2\n  f 1E3\n}"));
  it("named and positional arguments", () =>
    expectPrinted("model m { dense(256, init=kaiming_normal, bias=false) }", "model m {\n  dense(256, init=kaiming_normal, bias=false)\n}"));
  it("lists", () => expectPrinted("model m { input [1, 28, 28] }", "model m {\n  input [1, 28, 28]\n}"));
  it("calls as values", () => expectPrinted('data { source idx("x/y") }', 'data {\n  source idx("x/y")\n}'));
  it("nested bodies", () => expectPrinted("model m { residual { dense(4) -> relu } }", "model m {\n  residual {\n    dense(4) -> relu\n  }\n}"));
  it("paths with indices", () => expectPrinted("search { model.dense[1].units: int(1, 4) }", "search {\n  model.dense[1].units int(1, 4)\n}"));
  it("newlines inside parentheses", () => expectPrinted("model m { dense(\n 4,\n bias=false\n) }", "model m {\n  dense(4, bias=false)\n}"));
  it("semicolons separate statements", () => expectPrinted("train { seed 1; batch 2 }", "train {\n  seed 1\n  batch 2\n}"));
});

describe("parse errors carry positions", () => {
  it("stray character", () => expectParseError("model m {\n  relu $\n}", "unexpected character `$`", 2, 8));
  it("unclosed paren", () => expectParseError("model m {\n  dense(3 -> relu\n}", "unexpected `->`", 2, 11));
  it("unclosed block", () => expectParseError("model m {\n  relu\n", "`{` is never closed", 1, 9));
  it("unterminated string", () => expectParseError('data {\n  source idx("abc\n}', "unterminated string", 2, 14));
  it("division by zero", () => expectParseError("train { a 1/0 }", "division by zero"));
});

describe("properties", () => {
  it("print(parse(print(parse(x)))) is stable for generated specs", () => {
    const ident = fc.constantFrom("dense", "relu", "bn", "dropout", "tanh", "conv2d");
    const num = fc.integer({ min: 0, max: 999 }).map(String);
    const arg = fc.oneof(
      num,
      fc.tuple(fc.constantFrom("p", "units", "eps"), num).map(([k, v]) => `${k}=${v}`),
    );
    const el = fc.tuple(ident, fc.array(arg, { maxLength: 3 })).map(([n, a]) => (a.length ? `${n}(${a.join(", ")})` : n));
    const stmt = fc.array(el, { minLength: 1, maxLength: 4 }).map((e) => e.join(" -> "));
    const spec = fc.array(stmt, { minLength: 1, maxLength: 5 }).map((s) => `model m {\n${s.map((x) => "  " + x).join("\n")}\n}\n`);
    fc.assert(
      fc.property(spec, (src) => {
        const a = parseSpec(src, "t.dnn");
        expect(a.diagnostics).toEqual([]);
        const once = printSpec(a.ast!);
        const b = parseSpec(once, "t.dnn");
        expect(printSpec(b.ast!)).toBe(once);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
  it("random garbage never throws: it parses or reports a diagnostic with a position", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (src) => {
        const r = parseSpec(src, "g.dnn");
        if (!r.ast) {
          expect(r.diagnostics.length).toBeGreaterThan(0);
          expect(r.diagnostics[0].span.line).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});
