import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { parseTokenCsvBytes, type TokenCsvOptions } from "../runtime/data/token-csv";
import { loadTokenCsv } from "../runtime/node/load-csv";
import { gatherBatch, gatherLengths } from "../runtime/data/batch";
import { expectDnnc } from "./helpers/expect-dnnc";

const parse = (text: string | Uint8Array, opts: TokenCsvOptions) =>
  parseTokenCsvBytes(typeof text === "string" ? new TextEncoder().encode(text) : text, "t.csv", opts);
const rows = (ds: ReturnType<typeof parse>) => Array.from({ length: ds.n }, (_, i) => Array.from(ds.x.subarray(i * ds.maxLength, (i + 1) * ds.maxLength)));

describe("token-id CSV", () => {
  it("pads rows of any length to the longest with the pad id, and records lengths", () => {
    const ds = parse("3,4,5\n7\n\n9,9\n", { label: null });
    expect(ds.hasHeader).toBe(false);
    expect(ds.shape).toEqual([3]);
    expect(rows(ds)).toEqual([
      [3, 4, 5],
      [7, 0, 0],
      [9, 9, 0],
    ]);
    expect(Array.from(ds.lengths)).toEqual([3, 1, 2]);
    expect(ds.y.length).toBe(0);
    expect(ds.classes).toBeUndefined();
    expect(ds.vocabSize).toBe(10);
    const p = parse("3,4,5\n7\n", { label: null, pad: 12 });
    expect(rows(p)).toEqual([
      [3, 4, 5],
      [7, 12, 12],
    ]);
    expect(p.vocabSize).toBe(13); // the pad id counts
  });

  it("takes the label by name (first or last header column), by index from the start or from the end", () => {
    const first = parse("label,tokens\n1,5,6,7\n0,8\n", { label: "label" });
    expect(first.hasHeader).toBe(true);
    expect(first.labelName).toBe("label");
    expect(Array.from(first.y)).toEqual([1, 0]);
    expect(rows(first)).toEqual([
      [5, 6, 7],
      [8, 0, 0],
    ]);
    expect(first.classes).toBe(2);
    const last = parse("tokens,label\n5,6,7,1\n8,0\n", { label: "label" });
    expect(Array.from(last.y)).toEqual([1, 0]);
    expect(rows(last)).toEqual(rows(first));
    const byIndex = parse("5,6,7,1\n8,0\n", { label: -1 });
    expect(Array.from(byIndex.y)).toEqual([1, 0]);
    expect(rows(byIndex)).toEqual(rows(first));
    const second = parse("id,label,tokens\n5,1,6,7\n8,0,2\n", { label: 1 });
    expect(second.labelName).toBe("label");
    expect(Array.from(second.y)).toEqual([1, 0]);
    expect(rows(second)).toEqual([
      [5, 6, 7],
      [8, 2, 0],
    ]);
    const reg = parse("t,y\n5,6,0.25\n", { label: -1, regression: true });
    expect(Array.from(reg.y)).toEqual([0.25]);
    expect(reg.classes).toBeUndefined();
  });

  it("cuts rows to maxLength (counted), pads shorter ones, and reads quotes, CRLF, another delimiter and gzip", () => {
    const ds = parse("1;2;3;4;5\r\n6\r\n", { label: null, delimiter: ";", maxLength: 3 });
    expect(rows(ds)).toEqual([
      [1, 2, 3],
      [6, 0, 0],
    ]);
    expect(ds.truncated).toBe(1);
    expect(Array.from(ds.lengths)).toEqual([3, 1]);
    const q = parse('"1", 2 ,"3"\n', { label: null, maxLength: 5 });
    expect(rows(q)).toEqual([[1, 2, 3, 0, 0]]);
    const dir = mkdtempSync(join(tmpdir(), "dnnc-tok-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "t.csv.gz"), gzipSync(Buffer.from("\ufeffy,tokens\n2,1,1\n")));
    const g = loadTokenCsv(join(dir, "t.csv.gz"), { label: "y" });
    expect(Array.from(g.y)).toEqual([2]);
    expect(rows(g)).toEqual([[1, 1]]);
  });

  it("feeds gatherBatch and gatherLengths", () => {
    const ds = parse("label,tokens\n1,5,6,7\n0,8\n", { label: "label" });
    const H = new Float32Array(8);
    gatherBatch(H, ds, Int32Array.of(1, 0), 0, 2, 0, 6, 1);
    expect(Array.from(H)).toEqual([8, 0, 0, 5, 6, 7, 0, 1]);
    const L = new Int32Array(2);
    gatherLengths(L, 0, ds, Int32Array.of(1, 0), 0, 2);
    expect(Array.from(L)).toEqual([1, 3]);
  });

  it("reads random rows back exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(9), fc.array(fc.nat(70000), { minLength: 1, maxLength: 8 })), { minLength: 1, maxLength: 10 }), (data) => {
        const text = data.map(([label, ids]) => [label, ...ids].join(",")).join("\n");
        const ds = parse(text, { label: 0 });
        const L = Math.max(...data.map(([, ids]) => ids.length));
        expect(ds.maxLength).toBe(L);
        expect(Array.from(ds.y)).toEqual(data.map(([l]) => l));
        expect(rows(ds)).toEqual(data.map(([, ids]) => [...ids, ...Array(L - ids.length).fill(0)]));
        expect(Array.from(ds.lengths)).toEqual(data.map(([, ids]) => ids.length));
        expect(ds.vocabSize).toBe(Math.max(...data.flatMap(([, ids]) => ids)) + 1);
      }),
    );
  });

  it("refuses bad cells and rows, naming file:line:col", () => {
    const cases: [string, TokenCsvOptions, RegExp][] = [
      ["1,2\n3,x\n", { label: null }, /^t\.csv:2:3: "x" is not a token id \(an integer >= 0\)/],
      ["1,2\n3,-4\n", { label: null }, /t\.csv:2:3: "-4" is not a token id/],
      ["1,2\n3,4.5\n", { label: null }, /t\.csv:2:3: "4.5" is not a token id/],
      ["1,2\n1,,2\n", { label: null }, /t\.csv:2:3: empty cell/],
      ["1,16777216\n", { label: null }, /t\.csv:1:3: token id "16777216" is too large \(token ids must be below 2\^24/],
      ["1,20\n", { label: null, vocabSize: 20 }, /t\.csv:1:3: token id "20" is not below vocabSize 20/],
      ["1\n2,3\n", { label: 0 }, /t\.csv:1: no token ids in this row/],
      ["label,t\n1,2\n", { label: "y" }, /t\.csv:1: no column named "y" in the header \(columns: label, t\)/],
      ["1,2\n", { label: "y" }, /label column "y" given by name, but the file has no header row/],
      ["1,2\n1.5,2\n", { label: 0 }, /t\.csv:2:1: label "1.5" is not a class index/],
      ["1,2\n4,2\n", { label: 0, classes: 3 }, /t\.csv:2:1: label 4 out of range \(expected 0..2\)/],
      ["a,b\n", { label: null }, /t\.csv: no data rows \(only a header\)/],
      ["\n\n", { label: null }, /t\.csv: empty file/],
      ["1,2\n", { label: null, pad: -1 }, /pad id must be an integer/],
      ["1,2\n", { label: null, pad: 5, vocabSize: 5 }, /pad id 5 is not below vocabSize 5/],
      ["1,2\n", { label: null, maxLength: 0 }, /maxLength must be an integer in \[1/],
      ["1,2\n", { label: 5 }, /t\.csv:1: 2 cells: no label cell at column 6/],
      ['1,"2\n', { label: null }, /t\.csv:1:3: unterminated quoted cell/],
    ];
    for (const [text, opts, msg] of cases) expectDnnc(() => parse(text, opts), msg);
    expectDnnc(() => parse(new Uint8Array([0x31, 0x2c, 0x32, 0x0a, 0x33, 0x2c, 0xff]), { label: null }), /t\.csv:2:3: invalid UTF-8: byte 0xff/);
    expectDnnc(() => loadTokenCsv("/nonexistent/t.csv", { label: null }), /nonexistent\/t\.csv: no such file/);
  });
});
