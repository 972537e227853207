import { describe, expect, it, vi } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { buildSync } from "esbuild";
import fc from "fast-check";
import { CsvParser, parseCsv, parseCsvBytes, type CsvDataset, type CsvOptions } from "../runtime/data/csv";
import { loadCsvFile } from "../runtime/node/load-csv";
import { DnncError } from "../runtime/errors";
import { parseCsvReference } from "./helpers/csv-reference";
import { expectDnnc } from "./helpers/expect-dnnc";

const MOONS = join(__dirname, "../specs/data/two-moons");
const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8"));

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
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.array(cell, { minLength: 30, maxLength: 30 }), (F, n, vals) => {
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
      }),
      { numRuns: 100 },
    );
  });

  it("names file, line, column and cell in its errors", () => {
    expectDnnc(() => parseCsv("", "e.csv", { label: 0 }), "e.csv", "empty file");
    expectDnnc(() => parseCsv("\n \n", "e.csv", { label: 0 }), "empty file");
    expectDnnc(() => parseCsv("a,b\n", "h.csv", { label: "b" }), "h.csv", "no data rows");
    expectDnnc(() => parseCsv("a,b\n1,2\n3\n", "r.csv", { label: "b" }), "r.csv:3", "ragged row", "1 cells, expected 2");
    expectDnnc(() => parseCsv("a,b\n1,0\n\n1,2,3\n", "r.csv", { label: "b" }), "r.csv:4", "3 cells");
    expectDnnc(() => parseCsv("a,b\n1,0\n2, NaN\n", "n.csv", { label: "a", regression: true }), "n.csv:3:3", '"NaN" is not a number', 'column "b"');
    expectDnnc(() => parseCsv("a,b\nabc,0\n", "n.csv", { label: "b" }), "n.csv:2:1", '"abc" is not a number', 'column "a"');
    expectDnnc(() => parseCsv("a,b\n1,\n", "n.csv", { label: "a", regression: true }), "n.csv:2:3", "empty cell");
    expectDnnc(() => parseCsv("a,b\n1,Infinity\n", "n.csv", { label: "a", regression: true }), '"Infinity" is not a number');
    expectDnnc(() => parseCsv("a,b\n1,0x10\n", "n.csv", { label: "a", regression: true }), '"0x10" is not a number');
    expectDnnc(() => parseCsv("a,b\n1,0.5\n", "l.csv", { label: "b" }), "l.csv:2:3", "not a class index", "regression: true");
    expectDnnc(() => parseCsv("a,b\n1,4\n", "l.csv", { label: "b", classes: 3 }), "l.csv:2:3", "label out of range", "0..2");
    expectDnnc(() => parseCsv("a,b\n1,0\n", "c.csv", { label: "y" }), 'no column named "y"', "columns: a, b");
    expectDnnc(() => parseCsv("1,0\n", "c.csv", { label: "y" }), "has no header row");
    expectDnnc(() => parseCsv("a,b\n1,0\n", "c.csv", { label: 2 }), "c.csv:1: label column index 2 is out of range for the 2 columns of this line");
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

/** The outcome of a parse: the dataset as plain arrays, or the error message. */
function outcome(f: () => CsvDataset): unknown {
  try {
    const d = f();
    return {
      x: Array.from(d.x),
      y: Array.from(d.y),
      n: d.n,
      F: d.shape[0],
      classes: d.classes,
      featureNames: d.featureNames,
      labelName: d.labelName,
      hasHeader: d.hasHeader,
    };
  } catch (e) {
    if (!(e instanceof DnncError)) throw e;
    return { error: e.message };
  }
}

function referenceOutcome(text: string, file: string, opts: CsvOptions): unknown {
  try {
    return parseCsvReference(text, file, opts);
  } catch (e) {
    if (!(e instanceof DnncError)) throw e;
    return { error: e.message };
  }
}

/** Feed `bytes` to a parser in pieces cut at `cuts` (as the file loader does: the unconsumed rest comes again with the next piece). */
function parseInPieces(bytes: Uint8Array, file: string, opts: CsvOptions, cuts: number[]): CsvDataset {
  const parser = new CsvParser(file, opts, bytes.length);
  let pos = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    if (cut <= pos) continue;
    pos = parser.feed(bytes, pos, cut, cut === bytes.length);
  }
  return parser.finish();
}

// Random CSV texts made of the pieces that matter: numbers of every shape (signs, leading zeros,
// long mantissas, exponents, values past float32's range), quoted cells, spaces and tabs, CRLF,
// blank lines, a byte-order mark, non-ASCII text, ragged rows and bad cells.
const numberText = fc
  .tuple(
    fc.constantFrom("", "", "-", "+"),
    fc.stringMatching(/^[0-9]{0,20}$/),
    fc.constantFrom("", ".", "."),
    fc.stringMatching(/^[0-9]{0,20}$/),
    fc.constantFrom("", "", "e", "E-", "e+"),
    fc.stringMatching(/^[0-9]{1,3}$/),
  )
  .map(([s, i, dot, f, e, ed]) => {
    const mant = i + dot + (dot ? f : "");
    return s + (mant === "" || mant === "." ? "7" : mant) + (e ? e + ed : "");
  });
const cellText = fc.oneof(
  { weight: 12, arbitrary: numberText },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 }).map(String) },
  { weight: 1, arbitrary: numberText.map((t) => ` ${t}\t`) },
  { weight: 1, arbitrary: numberText.map((t) => `"${t}"`) },
  { weight: 1, arbitrary: fc.constantFrom("", "abc", "NaN", '"a,""b"""', "1e39", "-1e400", "0x10", "é", "\u00a01", ' "1" x', '"1') },
);
const csvText = fc
  .record({
    header: fc.boolean(),
    width: fc.integer({ min: 1, max: 5 }),
    rows: fc.array(fc.array(cellText, { minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 8 }),
    eol: fc.constantFrom("\n", "\r\n"),
    bom: fc.boolean(),
    blank: fc.constantFrom("", "\n", " \t\n", "\r\n"),
    lastEol: fc.boolean(),
    ragged: fc.boolean(),
  })
  .map(({ header, width, rows, eol, bom, blank, lastEol, ragged }) => {
    const lines: string[] = [];
    if (header) lines.push(Array.from({ length: width }, (_, k) => (k === width - 1 ? "y" : `f${k}`)).join(","));
    for (const r of rows) {
      const cells = ragged ? r : Array.from({ length: width }, (_, k) => r[k % r.length]);
      lines.push(cells.join(",") + (blank && lines.length === 2 ? eol + blank.trimEnd() : ""));
    }
    return (bom ? "\ufeff" : "") + lines.join(eol) + (lastEol ? eol : "");
  });

describe("the streaming byte parser", () => {
  it("gives the reference parser's values, errors and messages, fed whole or in random pieces", () => {
    fc.assert(
      fc.property(
        csvText,
        fc.constantFrom<CsvOptions>(
          { label: -1, regression: true },
          { label: -1 },
          { label: 0, regression: true },
          { label: null },
          { label: "y", regression: true },
        ),
        fc.array(fc.nat(400), { maxLength: 12 }),
        (text, opts, cuts) => {
          const want = referenceOutcome(text, "p.csv", opts);
          expect(outcome(() => parseCsv(text, "p.csv", opts))).toEqual(want);
          expect(outcome(() => parseInPieces(new TextEncoder().encode(text), "p.csv", opts, cuts))).toEqual(want);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("parses every number to Math.fround(Number(text)), on the fast path", () => {
    fc.assert(
      fc.property(fc.array(numberText, { minLength: 1, maxLength: 20 }), (texts) => {
        const parser = new CsvParser("n.csv", { label: null });
        const bytes = new TextEncoder().encode(`a\n${texts.join("\n")}\n`);
        const finite = texts.every((t) => Math.abs(Number(t)) < 3.4028235677973366e38);
        if (!finite) {
          expect(() => parser.feed(bytes, 0, bytes.length, true)).toThrow(/is not a finite float32/);
          return;
        }
        parser.feed(bytes, 0, bytes.length, true);
        const ds = parser.finish();
        texts.forEach((t, i) => expect(Object.is(ds.x[i], Math.fround(Number(t))), `${t}: ${ds.x[i]}`).toBe(true));
        expect(parser.generalLines).toBe(1); // the header only
      }),
      { numRuns: 3000 },
    );
    // decimals next to the midpoint of two neighbouring float32s, where a double that is one ulp
    // off (a mantissa or power of ten that is not exact) rounds to the other float32
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(1e-30), max: Math.fround(1e30) }),
        fc.integer({ min: 14, max: 19 }),
        fc.boolean(),
        (a, digits, expo) => {
          f32[0] = a;
          u32[0] += 1;
          const mid = (a + f32[0]) / 2; // exact in double
          const texts = [mid.toPrecision(digits), mid.toExponential(digits - 1), (mid * (1 + 2 ** -52)).toPrecision(digits)].map((t) =>
            expo ? t : Number(t).toString(),
          );
          const ds = parseCsv(`a\n${texts.join("\n")}\n`, "m.csv", { label: null });
          texts.forEach((t, i) => expect(ds.x[i], t).toBe(Math.fround(Number(t))));
        },
      ),
      { numRuns: 3000 },
    );
    // the edges of the exact fast path (15 digits, exponents ±22) and of double rounding
    for (const t of [
      "999999999999999",
      "9999999999999999",
      "1e22",
      "1e23",
      "123456789012345e-22",
      "1.5e-23",
      "0.1",
      "-0",
      "-0.0e5",
      "3.4028234663852886e38",
      "3.4028235677973362e38",
      "1.00000005960464477539",
      "16777217",
      "0000000000000000001",
      "1e-46",
      "7e-46",
    ]) {
      const ds = parseCsv(`a\n${t}\n`, "e.csv", { label: null });
      expect(Object.is(ds.x[0], Math.fround(Number(t))), t).toBe(true);
    }
  });

  it("rejects values that are not finite in float32, naming file:line:col, the value and the column", () => {
    const bad = (cell: string, sign = "") =>
      expectDnnc(
        () => parseCsv(`a,b\n1,2\n0,${cell}\n`, "big.csv", { label: "a", regression: true }),
        `big.csv:3:3: "${cell}" is not a finite float32 (it would be ${sign}Infinity`,
        'column "b"',
      );
    bad("1e39");
    bad("1e400");
    bad("-1e39", "-");
    bad("3.4028235677973366e38"); // halfway to 2^128: rounds to Infinity
    bad("340282356779733661637539395458142568448");
    expect(parseCsv("a,b\n0,3.4028235677973362e38\n", "ok.csv", { label: "a", regression: true }).x[0]).toBe(3.4028234663852886e38);
    // in the label column too, for regression and classification
    expectDnnc(() => parseCsv("a,t\n1,1e39\n", "t.csv", { label: "t", regression: true }), "t.csv:2:3", '"1e39" is not a finite float32');
    expectDnnc(() => parseCsv("a,t\n1,1e39\n", "t.csv", { label: "t" }), "t.csv:2:3", '"1e39" is not a finite float32');
    // long cells are cut in messages
    expectDnnc(() => parseCsv(`a,b\n1,${"x".repeat(500)}\n`, "l.csv", { label: "a" }), `"${"x".repeat(40)}..." is not a number`);
  });

  it("reports invalid UTF-8 with the line, and takes non-ASCII text where the original parser did", () => {
    const bytes = Uint8Array.from([...new TextEncoder().encode("a,"), 0xc3, 0x28, ...new TextEncoder().encode(",y\n1,2,0\n")]);
    expectDnnc(() => parseCsvBytes(bytes, "u.csv", { label: "y" }), "u.csv:1: not UTF-8 text");
    const late = new TextEncoder().encode("a,y\n1,0\n2,1\n");
    const withBad = Uint8Array.from([...late, 0xff, 0x0a]);
    expectDnnc(() => parseCsvBytes(withBad, "u.csv", { label: "y" }), "u.csv:4: not UTF-8 text");
    const ds = parseCsv("größe,y\n\u00a01.5\u00a0,1\n", "u.csv", { label: "y" });
    expect(ds.featureNames).toEqual(["größe"]);
    expect(Array.from(ds.x)).toEqual([1.5]);
  });

  it("reads tab- and semicolon-separated files on the fast path, and delimiters that can be part of a number", () => {
    const tsv = new CsvParser("t.tsv", { label: "y", delimiter: "\t" });
    const b = new TextEncoder().encode("a\tb\ty\n1.5\t -2 \t1\n3\t4\t0\n");
    tsv.feed(b, 0, b.length, true);
    expect(Array.from(tsv.finish().x)).toEqual([1.5, -2, 3, 4]);
    expect(tsv.generalLines).toBe(1);
    expect(Array.from(parseCsv("a e y\n1e2 3 1\n", "e.csv", { label: "y", delimiter: " " }).x)).toEqual([1e2, 3]);
    const e = parseCsv("aey\n1e2\n", "e.csv", { label: "y", delimiter: "e" });
    expect([Array.from(e.x), Array.from(e.y)]).toEqual([[1], [2]]);
  });

  it("states the limit it hits", () => {
    expectDnnc(
      () => parseCsvBytes(new TextEncoder().encode("a,y\n1,0\n2,0\n3,0\n4,0\n"), "lim.csv", { label: "y" }, { values: 10, rows: 3, lineBytes: 100 }),
      "lim.csv:5: too many values: 3 rows of 1 features is the most one CSV file may hold (at most 10 values",
      "and 3 rows); split the file",
    );
    expectDnnc(
      () => parseCsvBytes(new TextEncoder().encode(`a,y\n"${"1".repeat(200)}",0\n`), "lim.csv", { label: "y" }, { values: 10, rows: 3, lineBytes: 100 }),
      "lim.csv:2: line of 204 bytes: a line that is not plain numbers may hold at most 100 bytes",
    );
  });
});

describe("loadCsvFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-csv-load-"));

  it("gives the same dataset for any chunk size, plain or gzipped", () => {
    const lines = ["x1,x2,label"];
    for (let i = 0; i < 300; i++) lines.push(`${(i * 0.37 - 40).toFixed(i % 7)},${i % 3 === 0 ? `"${i}"` : -i * 1e-3},${i % 4}`);
    const text = "\ufeff" + lines.join("\r\n") + "\r\n\r\n";
    writeFileSync(join(dir, "c.csv"), text);
    writeFileSync(join(dir, "c.csv.gz"), gzipSync(text));
    const want = outcome(() => parseCsv(text, "c.csv", { label: "label" }));
    for (const chunkBytes of [16, 17, 64, 1000, 1 << 20]) {
      expect(outcome(() => loadCsvFile(join(dir, "c.csv"), { label: "label", chunkBytes }))).toEqual(want);
      expect(outcome(() => loadCsvFile(join(dir, "c.csv.gz"), { label: "label", chunkBytes }))).toEqual(want);
    }
  });

  it("names the path of a directory, a missing file, an empty file and a line that does not fit", () => {
    mkdirSync(join(dir, "d.csv"));
    expectDnnc(() => loadCsvFile(join(dir, "d.csv"), { label: 0 }), `${join(dir, "d.csv")}: is a directory, expected a CSV file`);
    expectDnnc(() => loadCsvFile(join(dir, "none.csv"), { label: 0 }), `${join(dir, "none.csv")}: no such file`);
    writeFileSync(join(dir, "empty.csv"), "");
    expectDnnc(() => loadCsvFile(join(dir, "empty.csv"), { label: 0 }), `${join(dir, "empty.csv")}: empty file`);
    writeFileSync(join(dir, "long.csv"), `a,y\n${"1,".repeat(100)}0\n`);
    expectDnnc(
      () => loadCsvFile(join(dir, "long.csv"), { label: "y", chunkBytes: 16, limits: { values: 1e6, rows: 1e6, lineBytes: 64 } }),
      `${join(dir, "long.csv")}:2: line longer than 64 bytes, the longest a CSV line may be`,
    );
  });

  it("reads a pipe (no size, no seeking), plain or gzipped", () => {
    const text = readFileSync(join(MOONS, "test.csv"));
    for (const [name, bytes] of [
      ["pipe.csv", text],
      ["pipe.csv.gz", gzipSync(text)],
    ] as const) {
      const fifo = join(dir, name);
      expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
      writeFileSync(join(dir, `${name}.src`), bytes);
      const writer = spawn("sh", ["-c", `cat "$0" > "$1"`, join(dir, `${name}.src`), fifo]);
      expect(loadCsvFile(fifo, { label: "label" }).n).toBe(200);
      writer.kill();
    }
  });

  it("draws a progress line on stderr when asked, and erases it", () => {
    writeFileSync(join(dir, "p.csv"), "a,y\n" + "1,0\n".repeat(1000));
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => (writes.push(String(s)), true));
    try {
      loadCsvFile(join(dir, "p.csv"), { label: "y", chunkBytes: 256, progress: true });
      loadCsvFile(join(dir, "p.csv"), { label: "y", chunkBytes: 256 }); // not a terminal (and small): nothing
    } finally {
      spy.mockRestore();
    }
    expect(writes.length).toBeGreaterThanOrEqual(2);
    for (const w of writes.slice(0, -1)) expect(w).toMatch(/^\r.*p\.csv: 0 of 0 MB \(\d+%\)\x1b\[K$/);
    expect(writes.at(-1)).toBe("\r\x1b[K"); // erased; and nothing from the second load
  });

  it("loads a 40 MB CSV in the memory of its float32 values plus a constant", () => {
    // a child process, for a clean peak RSS: 40 MB of text, 22 MB of float32
    const file = join(dir, "big.csv");
    const row =
      Array.from({ length: 100 }, (_, k) => ((k * 37) % 997) / 1000 - 0.5)
        .map((v) => v.toFixed(3))
        .join(",") + ",1\n";
    const header = Array.from({ length: 100 }, (_, k) => `f${k}`).join(",") + ",y\n";
    writeFileSync(file, header + row.repeat(Math.ceil(40e6 / row.length)));
    const entry = join(dir, "load.ts");
    writeFileSync(
      entry,
      `import { loadCsvFile } from ${JSON.stringify(join(__dirname, "../runtime/node/load-csv"))};\n` +
        `const before = process.memoryUsage().rss;\n` +
        `const ds = loadCsvFile(${JSON.stringify(file)}, { label: "y" });\n` +
        `console.log(JSON.stringify({ n: ds.n, floats: ds.x.length, before, peak: process.resourceUsage().maxRSS * 1024 }));\n`,
    );
    buildSync({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "load.mjs"), logLevel: "warning" });
    const r = spawnSync(process.execPath, [join(dir, "load.mjs")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.n).toBe(Math.ceil(40e6 / row.length));
    // the string parser took about 12 times the file (500 MB); this one the floats, its 4 MiB
    // buffer and a constant (measured: 11 MB)
    expect(m.peak - m.before).toBeLessThan(m.floats * 4 + 20e6);
    rmSync(file);
  });
});
