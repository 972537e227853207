// The playground's CSV upload (playground/src/datasets.ts uploadedCsv), in Node: the split (20% for
// testing, drawn with the spec's seed, the same every time), and the errors a user can meet: a spec
// whose source is not csv(...), a label column the file lacks, a cell that is not a number (each
// message names the uploaded file or says what to write).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { uploadedCsv, UPLOAD_TEST_FRACTION } from "../playground/src/datasets";
import type { Program } from "../runtime/program";

const program = (kind = "csv", label = "label", seed = 1) =>
  ({
    data: { source: { kind, path: "data/upload", label } },
    loss: { kind: "softmax_cross_entropy" },
    meta: { outputSize: 2 },
    train: { seed },
  }) as unknown as Program;
const text = readFileSync("specs/data/two-moons/train.csv", "utf8");

describe("uploaded CSV", () => {
  it("holds out 20% for testing, drawn with the spec's seed, every row once", () => {
    const a = uploadedCsv(program(), { name: "moons.csv", text });
    expect(a.train.n).toBe(400 - 400 * UPLOAD_TEST_FRACTION);
    expect(a.test!.n).toBe(400 * UPLOAD_TEST_FRACTION);
    expect(a.train.classes).toBe(2);
    const rows = (d: typeof a.train) => Array.from({ length: d.n }, (_, i) => `${d.x[2 * i]},${d.x[2 * i + 1]},${d.y[i]}`);
    const all = text
      .trim()
      .split("\n")
      .slice(1)
      .map((l) =>
        l
          .split(",")
          .map((v) => Math.fround(Number(v)))
          .join(","),
      );
    expect([...rows(a.train), ...rows(a.test!)].sort()).toEqual(all.sort());
    expect(rows(uploadedCsv(program(), { name: "moons.csv", text }).test!)).toEqual(rows(a.test!));
    expect(rows(uploadedCsv(program("csv", "label", 2), { name: "moons.csv", text }).test!)).not.toEqual(rows(a.test!));
  });

  it("refuses what cannot be used, saying why", () => {
    expect(() => uploadedCsv(program("idx"), { name: "m.csv", text })).toThrow(
      'an uploaded CSV replaces a csv(...) source, but this spec\'s source is idx(...): write source csv("data/upload", label="...")',
    );
    expect(() => uploadedCsv(program("csv", "target"), { name: "m.csv", text })).toThrow(/m\.csv.*target/);
    expect(() => uploadedCsv(program(), { name: "bad.csv", text: "x1,x2,label\n1,2,0\n1,cat,1\n" })).toThrow(/bad\.csv.*"cat"/);
  });
});
