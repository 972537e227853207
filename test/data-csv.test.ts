import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { parseCsv } from "../runtime/data/csv";
import { loadCsvFile } from "../runtime/node/load-csv";
import { DnncError } from "../runtime/errors";

const MOONS = join(__dirname, "../specs/data/two-moons");
const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8"));

function expectDnnc(f: () => unknown, ...parts: (string | RegExp)[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DnncError);
  for (const p of parts) expect((err as Error).message).toMatch(p);
}

describe("parseCsv", () => {
  it("reads features and a label column by name or by index", () => {
    const text = "a,label,b\n1,0,2.5\n-3e-1,2,4\n";
    const byName = parseCsv(text, "t.csv", { label: "label" });
    expect(byName.n).toBe(2);
    expect(byName.shape).toEqual([2]);
    expect(Array.from(byName.x)).toEqual([1, 2.5, Math.fround(-0.3), 4]);
    expect(Array.from(byName.y)).toEqual([0, 2]);
    expect(byName.classes).toBe(3);
    expect(byName.featureNames).toEqual(["a", "b"]);
    expect(byName.labelName).toBe("label");
    const byIndex = parseCsv(text, "t.csv", { label: 1 });
    expect(Array.from(byIndex.x)).toEqual(Array.from(byName.x));
    const last = parseCsv("1,2,0\n3,4,1\n", "t.csv", { label: -1 });
    expect(last.n).toBe(2); // no header detected: first row is numeric
    expect(Array.from(last.x)).toEqual([1, 2, 3, 4]);
    expect(last.featureNames).toEqual(["c0", "c1"]);
  });

  it("accepts CRLF, blank lines, a byte-order mark, spaces, quotes and another delimiter", () => {
    const ds = parseCsv('\ufeff"x, one";y\r\n\r\n 1.5 ; "1"\r\n2;0\r\n\r\n', "t.csv", { label: "y", delimiter: ";" });
    expect(ds.featureNames).toEqual(["x, one"]);
    expect(Array.from(ds.x)).toEqual([1.5, 2]);
    expect(Array.from(ds.y)).toEqual([1, 0]);
  });

  it("takes real-valued targets with regression: true", () => {
    const ds = parseCsv("x,t\n1,0.25\n2,-1.5\n", "r.csv", { label: "t", regression: true });
    expect(Array.from(ds.y)).toEqual([0.25, -1.5]);
    expect(ds.classes).toBeUndefined();
  });

  it("round-trips random tables", () => {
    const cell = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(cell, { minLength: 30, maxLength: 30 }),
        (F, n, vals) => {
          const header = [...Array.from({ length: F }, (_, k) => `f${k}`), "y"].join(",");
          const lines = [header];
          for (let i = 0; i < n; i++) {
            const feats = Array.from({ length: F }, (_, k) => vals[(i * F + k) % vals.length]);
            lines.push([...feats.map((v) => String(v)), String(i % 3)].join(","));
          }
          const ds = parseCsv(lines.join("\n"), "p.csv", { label: "y" });
          expect(ds.n).toBe(n);
          for (let i = 0; i < n; i++) {
            for (let k = 0; k < F; k++) expect(ds.x[i * F + k]).toBe(Math.fround(vals[(i * F + k) % vals.length]) + 0); // String(-0) is "0"
            expect(ds.y[i]).toBe(i % 3);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("names file, line, column and cell in its errors", () => {
    expectDnnc(() => parseCsv("", "e.csv", { label: 0 }), "e.csv", "empty file");
    expectDnnc(() => parseCsv("\n \n", "e.csv", { label: 0 }), "empty file");
    expectDnnc(() => parseCsv("a,b\n", "h.csv", { label: "b" }), "h.csv", "no data rows");
    expectDnnc(
      () => parseCsv("a,b\n1,2\n3\n", "r.csv", { label: "b" }),
      "r.csv:3",
      "ragged row",
      "1 cells, expected 2",
    );
    expectDnnc(() => parseCsv("a,b\n1,0\n\n1,2,3\n", "r.csv", { label: "b" }), "r.csv:4", "3 cells");
    expectDnnc(
      () => parseCsv("a,b\n1,0\n2, NaN\n", "n.csv", { label: "a", regression: true }),
      "n.csv:3:3",
      '"NaN" is not a number',
      'column "b"',
    );
    expectDnnc(
      () => parseCsv("a,b\nabc,0\n", "n.csv", { label: "b" }),
      "n.csv:2:1",
      '"abc" is not a number',
      'column "a"',
    );
    expectDnnc(() => parseCsv("a,b\n1,\n", "n.csv", { label: "a", regression: true }), "n.csv:2:3", "empty cell");
    expectDnnc(
      () => parseCsv("a,b\n1,Infinity\n", "n.csv", { label: "a", regression: true }),
      '"Infinity" is not a number',
    );
    expectDnnc(() => parseCsv("a,b\n1,0x10\n", "n.csv", { label: "a", regression: true }), '"0x10" is not a number');
    expectDnnc(
      () => parseCsv("a,b\n1,0.5\n", "l.csv", { label: "b" }),
      "l.csv:2:3",
      "not a class index",
      "regression: true",
    );
    expectDnnc(
      () => parseCsv("a,b\n1,4\n", "l.csv", { label: "b", classes: 3 }),
      "l.csv:2:3",
      "label out of range",
      "0..2",
    );
    expectDnnc(() => parseCsv("a,b\n1,0\n", "c.csv", { label: "y" }), 'no column named "y"', "columns: a, b");
    expectDnnc(() => parseCsv("1,0\n", "c.csv", { label: "y" }), "has no header row");
    expectDnnc(() => parseCsv("a,b\n1,0\n", "c.csv", { label: 2 }), "index 2 is out of range for 2 columns");
    expectDnnc(() => parseCsv('a,b\n"1,0\n', "q.csv", { label: 1 }), "q.csv:2:1", "unterminated quoted cell");
  });
});

describe("the shipped two-moons CSV", () => {
  it("matches Python's csv module", () => {
    const train = loadCsvFile(join(MOONS, "train.csv"), { label: "label" });
    const test = loadCsvFile(join(MOONS, "test.csv"), { label: "label", classes: train.classes });
    for (const [ds, r] of [
      [train, ref.moons.train],
      [test, ref.moons.test],
    ] as const) {
      expect([...ds.featureNames, ds.labelName]).toEqual(r.header);
      expect(ds.n).toBe(r.n);
      expect(ds.classes).toBe(2);
      const sums = [0, 0];
      const counts = [0, 0];
      for (let i = 0; i < ds.n; i++) {
        sums[0] += ds.x[2 * i];
        sums[1] += ds.x[2 * i + 1];
        counts[ds.y[i]]++;
      }
      expect(sums[0]).toBeCloseTo(r.feature_sums[0], 3);
      expect(sums[1]).toBeCloseTo(r.feature_sums[1], 3);
      expect(counts).toEqual(r.label_counts);
      expect([ds.x[0], ds.x[1], ds.y[0]]).toEqual(r.first_row.map(Math.fround));
    }
  });

  it("loads gzipped CSV and rejects binary files", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-csv-"));
    writeFileSync(join(dir, "m.csv.gz"), gzipSync(readFileSync(join(MOONS, "test.csv"))));
    expect(loadCsvFile(join(dir, "m.csv.gz"), { label: -1 }).n).toBe(200);
    writeFileSync(join(dir, "bin.csv"), Uint8Array.of(0xff, 0xfe, 0x00, 0x81));
    expectDnnc(() => loadCsvFile(join(dir, "bin.csv"), { label: 0 }), "bin.csv", "not UTF-8");
  });
});
