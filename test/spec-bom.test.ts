// A UTF-8 byte order mark at the start of a spec (Windows editors write one) was E0001 "unexpected
// character" (issue 16, item 15). It is skipped: the spec compiles as without it, diagnostics keep
// the editor's columns (line 1 starts after the mark) and offsets still index the text as read.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSpec } from "../grammar/to-ast";
import { compileToIr } from "../compiler/pipeline";
import { printIr } from "../compiler/ir";
import { renderDiagnostics } from "../grammar/diagnostics";

const BOM = "\uFEFF";
const plain = readFileSync("specs/fashion-mlp.dnn", "utf8");

describe("a byte order mark", () => {
  it("is skipped: the same IR (but for the hash of the file's text)", () => {
    const a = compileToIr(plain, "m.dnn");
    const b = compileToIr(BOM + plain, "m.dnn");
    expect(b.diagnostics).toEqual([]);
    expect(b.ir).toBeDefined();
    const noHash = (s: string) => s.replace(/[0-9a-f]{64}/g, "HASH");
    expect(noHash(printIr(b.ir!))).toBe(noHash(printIr(a.ir!)));
  });

  it("keeps line:col as without it, offsets shifted by one into the text as read", () => {
    for (const bad of ["model m {\n  input [2]\n  dense(4) -> rellu\n}\n", "model m { $ }\n", "model m {\n", "model m"]) {
      const a = compileToIr(bad, "b.dnn").diagnostics;
      const b = compileToIr(BOM + bad, "b.dnn").diagnostics;
      expect(b.length, bad).toBeGreaterThan(0);
      expect(b.map((d) => [d.code, d.message, d.span.line, d.span.col, d.span.endLine, d.span.endCol])).toEqual(
        a.map((d) => [d.code, d.message, d.span.line, d.span.col, d.span.endLine, d.span.endCol]),
      );
      for (let i = 0; i < a.length; i++) {
        expect(b[i].span.offset).toBe(a[i].span.offset + 1);
        expect((BOM + bad).slice(b[i].span.offset, b[i].span.endOffset)).toBe(bad.slice(a[i].span.offset, a[i].span.endOffset));
      }
      expect(renderDiagnostics(b, BOM + bad)).toBe(renderDiagnostics(a, bad));
    }
  });

  it("only at the start: elsewhere it is still an unexpected character", () => {
    const r = parseSpec("model m {\n  input [2]" + BOM + "\n}\n", "c.dnn");
    expect(r.diagnostics[0]).toMatchObject({ code: "E0001", span: { line: 2, col: 12 } });
  });

  it("dnnc check accepts it", () => {
    const f = join(mkdtempSync(join(tmpdir(), "dnnc-bom-")), "bom.dnn");
    writeFileSync(f, BOM + plain.replace('idx("data/fashion-mnist-small")', `idx("${process.cwd()}/specs/data/fashion-mnist-small")`));
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "check", f], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${f}: ok\n`);
    expect(r.status).toBe(0);
  });
});
