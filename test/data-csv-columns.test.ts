// csv(...)'s reading settings: which columns are features (by name or index, in the order given;
// the others are not read at all), the label by name or index (negative from the end), header,
// delimiter, skip_rows; and scikit-learn's metadata first line, refused at line 1 with what it looks
// like. The streaming parser's fast path and general path must agree with column choice too.
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";
import { CsvParser, parseCsv, type CsvOptions } from "../runtime/data/csv";
import { expectDnnc } from "./helpers/expect-dnnc";

const TABLE = 'id,name,x1,x2,y\n1,ann,0.5,1.5,0\n2,bob,-2,3e2,1\n3,"c, d",4,5,2\n';

describe("feature columns", () => {
  it("reads the listed columns in their order (names or indices) and skips the rest, text included", () => {
    const d = parseCsv(TABLE, "t.csv", { label: "y", features: ["x2", 2] });
    expect(d.featureNames).toEqual(["x2", "x1"]);
    expect(Array.from(d.x)).toEqual([1.5, 0.5, 300, -2, 5, 4]);
    expect(Array.from(d.y)).toEqual([0, 1, 2]);
    expect(d.shape).toEqual([2]);
  });

  it("takes the label by a negative index (from the end)", () => {
    const d = parseCsv("1,2,7\n3,4,8\n", "n.csv", { label: -1, regression: true });
    expect(Array.from(d.y)).toEqual([7, 8]);
    expect(Array.from(d.x)).toEqual([1, 2, 3, 4]);
  });

  it("names the problem: an unknown column, an index out of range, the label as a feature, a column twice, no header for a name", () => {
    expectDnnc(() => parseCsv(TABLE, "t.csv", { label: "y", features: ["x3"] }), 't.csv:1: no column named "x3" in the header (columns: id, name, x1, x2, y)');
    expectDnnc(() => parseCsv(TABLE, "t.csv", { label: "y", features: [7] }), "t.csv:1: feature column index 7 is out of range for the 5 columns of this line");
    expectDnnc(() => parseCsv(TABLE, "t.csv", { label: "y", features: ["y"] }), 't.csv:1: column "y" is the label; it cannot be a feature too');
    expectDnnc(() => parseCsv(TABLE, "t.csv", { label: "y", features: ["x1", 2] }), 't.csv:1: column "x1" is listed twice in features');
    expectDnnc(() => parseCsv("1,2\n", "n.csv", { label: 1, features: ["a"] }), 'n.csv:1: feature column "a" given by name, but the file has no header row');
    // a chosen column still names file, line, column and value
    expectDnnc(() => parseCsv(TABLE, "t.csv", { label: "y", features: ["name"] }), 't.csv:2:3: "ann" is not a number (column "name")');
  });

  it("keeps rows with skipped text columns on the fast path when they are plain ASCII", () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i},name${i},${i / 4},${i % 3}`).join("\n");
    const p = new CsvParser("f.csv", { label: -1, features: [0, 2] });
    const bytes = new TextEncoder().encode(`id,name,v,y\n${rows}\n`);
    p.feed(bytes, 0, bytes.length, true);
    const d = p.finish();
    expect(d.n).toBe(200);
    expect(d.x[2 * 199 + 1]).toBe(199 / 4);
    expect(p.generalLines).toBeLessThan(5);
  });

  it("gives the columns of the full parse, fed whole or in pieces (property)", () => {
    const cell = fc.oneof(fc.integer({ min: -50, max: 50 }).map(String), fc.constantFrom("1.5", "-0.25", "2e3", " 7 ", "abc", '"q,r"', "", "é"));
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 5 })
          .chain((w) =>
            fc.tuple(
              fc.constant(w),
              fc.array(fc.array(cell, { minLength: w, maxLength: w }), { minLength: 1, maxLength: 6 }),
              fc.uniqueArray(fc.nat(w - 1), { minLength: 1, maxLength: w }),
              fc.array(fc.nat(200), { maxLength: 6 }),
            ),
          ),
        ([w, rows, feats, cuts]) => {
          const text = Array.from({ length: w }, (_, k) => `h${k}`).join(",") + "\n" + rows.map((r) => r.join(",")).join("\n") + "\n";
          const outcome = (f: () => { x: Float32Array; n: number }) => {
            try {
              const d = f();
              return { x: Array.from(d.x), n: d.n };
            } catch (e) {
              return { error: (e as Error).message };
            }
          };
          // the reference: a file of the chosen columns only (a skipped column is never an error), and
          // a last column "z" of zeros as its label so that no line of it is blank
          // (in file order, as cells are checked; its values then put in the order of `feats`)
          const want = (() => {
            const order = [...feats].sort((a, b) => a - b);
            const cells = rows.map((r) => [...order.map((k) => r[k]), "0"].join(","));
            const sub = [...order.map((k) => `h${k}`), "z"].join(",") + "\n" + cells.join("\n") + "\n";
            const o = outcome(() => parseCsv(sub, "p.csv", { label: -1, header: true, regression: true }));
            if ("error" in o) return o;
            const F = feats.length;
            const x = Array.from({ length: o.n * F }, (_, i) => o.x[Math.floor(i / F) * F + order.indexOf(feats[i % F])]);
            return { x, n: o.n };
          })();
          const opts: CsvOptions = { label: null, features: feats };
          const got = outcome(() => parseCsv(text, "p.csv", opts));
          const pieces = outcome(() => {
            const bytes = new TextEncoder().encode(text);
            const p = new CsvParser("p.csv", opts, bytes.length);
            let pos = 0;
            for (const c of [...cuts, bytes.length].map((c) => Math.min(c, bytes.length)).sort((a, b) => a - b))
              pos = p.feed(bytes, pos, c, c === bytes.length);
            return p.finish();
          });
          // the same cell fails on the same line (its character column differs: other cells precede it)
          const noCol = (o: object) => ("error" in o ? { error: (o.error as string).replace(/^(p\.csv:\d+):\d+:/, "$1:") } : o);
          expect(noCol(got)).toEqual(noCol(want));
          expect(pieces).toEqual(got);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("header, delimiter, skip_rows", () => {
  it("a delimiter other than a comma, and header=false for a first row that is not numbers", () => {
    const d = parseCsv("1;2;0\n3;4;1\n", "s.csv", { label: 2, delimiter: ";" });
    expect(Array.from(d.x)).toEqual([1, 2, 3, 4]);
    expectDnnc(() => parseCsv("a;b;0\n3;4;1\n", "s.csv", { label: 2, delimiter: ";", header: false }), 's.csv:1:1: "a" is not a number (column "c0")');
    expect(parseCsv("1,2,0\n3,4,1\n", "h.csv", { label: 2, header: true }).n).toBe(1);
  });

  it("skip_rows skips lines at the top, before the header", () => {
    const d = parseCsv("# exported 2026\nfoo bar\na,b,label\n1,2,1\n", "k.csv", { label: "label", skipRows: 2 });
    expect(d.featureNames).toEqual(["a", "b"]);
    expect(Array.from(d.x)).toEqual([1, 2]);
  });

  it("refuses scikit-learn's metadata line at line 1, saying what it looks like and how to skip it", () => {
    const text =
      "569,30,malignant,benign\n" +
      Array.from({ length: 3 }, (_, i) => [...Array.from({ length: 30 }, (_, k) => (i + k) / 10), i % 2].join(",")).join("\n") +
      "\n";
    for (const label of [30, "target", -1] as const)
      expectDnnc(
        () => parseCsv(text, "breast_cancer.csv", { label }),
        `breast_cancer.csv:1: this line looks like scikit-learn's metadata line ("569,30,malignant,benign": 569 samples, 30 features, classes malignant, benign)`,
        "skip_rows=1",
      );
    const d = parseCsv(text, "breast_cancer.csv", { label: -1, skipRows: 1 });
    expect(d.n).toBe(3);
    expect(d.shape).toEqual([30]);
    // scikit-learn's digits: its class names are numbers, so the line is read as data; the next row's width (64 + 1) gives it away
    const digits = "1797,64,0,1,2,3,4,5,6,7,8,9\n" + Array.from({ length: 65 }, (_, k) => k % 16).join(",") + "\n";
    expectDnnc(
      () => parseCsv(digits, "digits.csv", { label: -1 }),
      "digits.csv:1: this line looks like scikit-learn's metadata line",
      "1797 samples, 64 features",
      "skip_rows=1",
    );
    // not for a plain ragged file, nor for a line of two numbers and one name
    expectDnnc(() => parseCsv("3,5,1\n1,2\n", "r.csv", { label: -1 }), "r.csv:2: ragged row: 2 cells, expected 3 (as in line 1)");
    expectDnnc(() => parseCsv('0,"7",0x10\n', "z.csv", { label: -1 }), "z.csv: no data rows (only a header)");
    // a real header is not mistaken for it
    expect(parseCsv("n,k,colour,label\n1,2,3,0\n", "h.csv", { label: "label" }).n).toBe(1);
  });
});

describe("the checker", () => {
  const check = (args: string) => {
    const text = `model m {\n  input [2]\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata { source csv("a.csv"${args}) }\ntrain { seed 1 }\n`;
    const r = compileToIr(text, join("/tmp", "m.dnn"));
    return { ir: r.ir, text: renderDiagnostics(r.diagnostics, text) };
  };

  it("takes header, delimiter, features and skip_rows, and they reach the trainer", () => {
    const { ir } = check(`, label=-1, header=false, delimiter=";", features=["a", 2], skip_rows=1`);
    expect(ir!.data.source).toEqual({
      kind: "csv",
      path: "a.csv",
      label: -1,
      args: { header: false, delimiter: ";", features: ["a", 2], skip_rows: 1 },
    });
    // without them nothing changes: no args (the trainers of existing specs stay as they were)
    expect(check("").ir!.data.source).toEqual({ kind: "csv", path: "a.csv", label: "label" });
  });

  it("refuses a delimiter that is not one character other than a quote, an empty features list, a negative skip_rows", () => {
    expect(check(`, delimiter=";;"`).text).toMatch(/E0205.*delimiter/);
    expect(check(`, delimiter="\\""`).text).toMatch(/E0205.*delimiter/);
    expect(check(`, features=[]`).text).toMatch(/E0205.*features/);
    expect(check(`, skip_rows=-1`).text).toMatch(/E0205.*skip_rows/);
  });
});
