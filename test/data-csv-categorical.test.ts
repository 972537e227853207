// Categorical CSV columns (csv(..., categorical=[...])): one-hot encoded with a vocabulary fitted on
// the training rows (sorted), saved with the model and applied again by predict; a category the
// vocabulary lacks is a block of zeros. Numeric columns keep naming file, line, column and value.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { programConstants } from "../compiler/codegen/emit-trainer";
import { renderDiagnostics } from "../grammar/diagnostics";
import { parseCsv } from "../runtime/data/csv";
import { categoriesFromMetadata, fitCategories, oneHot } from "../runtime/data/categorical";
import { splitTestRows } from "../runtime/data/split";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { expectDnnc } from "./helpers/expect-dnnc";

const dir = mkdtempSync(join(tmpdir(), "dnnc-csv-cat-"));
const TABLE = 'size,colour,y\n1.5,red,0\n2,"blue",1\n-1, green ,0\n4,red,1\n';

describe("the parser", () => {
  it("stores each category's index in order of first appearance (quotes and spaces removed)", () => {
    const d = parseCsv(TABLE, "c.csv", { label: "y", categorical: ["colour"] });
    expect(Array.from(d.x)).toEqual([1.5, 0, 2, 1, -1, 2, 4, 0]);
    expect(d.categories).toEqual([{ column: "colour", slot: 1, values: ["red", "blue", "green"] }]);
  });

  it("refuses a categorical column that is the label, not a feature, or not there; numeric columns still name the cell", () => {
    expectDnnc(() => parseCsv(TABLE, "c.csv", { label: "y", categorical: ["y"] }), 'c.csv:1: categorical column "y" is not a feature (it is the label)');
    expectDnnc(
      () => parseCsv(TABLE, "c.csv", { label: "y", features: ["size"], categorical: ["colour"] }),
      'c.csv:1: categorical column "colour" is not a feature',
    );
    expectDnnc(
      () => parseCsv(TABLE, "c.csv", { label: "y", categorical: ["color"] }),
      'c.csv:1: no column named "color" in the header (columns: size, colour, y)',
    );
    expectDnnc(
      () => parseCsv("size,colour,y\n1,red,0\nbig,blue,1\n", "c.csv", { label: "y", categorical: [1] }),
      'c.csv:3:1: "big" is not a number (column "size")',
    );
  });
});

describe("one-hot", () => {
  it("fits the sorted categories of the training rows; an unknown category is a block of zeros", () => {
    const d = parseCsv(TABLE, "c.csv", { label: "y", categorical: ["colour"] });
    const vocab = fitCategories(d, Int32Array.from([0, 1, 3])); // green only in row 2
    expect(vocab).toEqual([{ column: "colour", values: ["blue", "red"] }]);
    const { ds, unknown } = oneHot(d, vocab, "c.csv");
    expect(ds.shape).toEqual([3]);
    expect(ds.featureNames).toEqual(["size", "colour=blue", "colour=red"]);
    expect(Array.from(ds.x)).toEqual([1.5, 0, 1, 2, 1, 0, -1, 0, 0, 4, 0, 1]);
    expect(unknown).toEqual([1]);
  });

  it("refuses a file whose categorical columns differ from the model's", () => {
    const d = parseCsv(TABLE, "c.csv", { label: "y", categorical: ["colour"] });
    expectDnnc(() => oneHot(d, [{ column: "city", values: [] }], "c.csv"), 'c.csv: categorical columns "colour" do not match the model\'s ("city")');
  });

  it("reads the vocabulary back from model metadata, and refuses a damaged one", () => {
    expect(categoriesFromMetadata({ "csv.categories": '[{"column":"c","values":["a"]}]' }, "m.safetensors")).toEqual([{ column: "c", values: ["a"] }]);
    expectDnnc(() => categoriesFromMetadata({ "csv.categories": '[{"column":1}]' }, "m.safetensors"), 'm.safetensors: metadata "csv.categories" is not');
    expectDnnc(() => categoriesFromMetadata({}, "m.safetensors"), 'm.safetensors: the model has no "csv.categories" metadata');
  });
});

const colours = ["red", "green", "blue", "teal"];
const rows = Array.from({ length: 40 }, (_, i) => `${i / 10},${colours[(i * 7) % 4]},c${i % 3},${i % 2}`);
writeFileSync(join(dir, "data.csv"), `size,colour,city,y\n${rows.join("\n")}\n`);
const spec = (input: number, data = "test 0.25") =>
  `model m {\n  input [${input}]\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata {\n  source csv("data.csv", label="y", categorical=["colour", "city"])\n  ${data}\n}\ntrain { seed 2; batch 8; epochs 2 }\n`;

function program(text: string): Program {
  const r = compileToIr(text, join(dir, "m.dnn"));
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, text));
  return programConstants(r.ir, join(dir, "data.csv")) as unknown as Program;
}

describe("a csv source with categorical columns", () => {
  it("encodes train and test with the training rows' vocabulary and saves it", () => {
    const d = loadData(program(spec(8)), join(dir, "data.csv"));
    const { train, test } = splitTestRows(40, 0.25, 2, "");
    const seen = (k: number) => [...new Set([...train].map((r) => rows[r].split(",")[k]))].sort();
    expect(JSON.parse(d.metadata!["csv.categories"])).toEqual([
      { column: "colour", values: seen(1) },
      { column: "city", values: seen(2) },
    ]);
    expect(d.train.shape).toEqual([8]);
    expect(d.test!.shape).toEqual([8]);
    expect(d.train.n).toBe(30);
    // every training row has exactly one 1 in each block
    for (let r = 0; r < d.train.n; r++) expect(Array.from(d.train.x.subarray(r * 8 + 1, r * 8 + 8)).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("explains a model input that does not match the encoded width", () => {
    expectDnnc(
      () => loadData(program(spec(5)), join(dir, "data.csv")),
      "data.csv: the rows give 1 numeric + colour (4 categories) + city (3 categories) = 8 features, but the model's input is [5]; set `input [8]`",
    );
  });

  it("trains from the CLI; predict one-hot encodes a new file with the saved vocabulary (an unknown category: zeros)", () => {
    writeFileSync(join(dir, "cat.dnn"), spec(8, ""));
    const t = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", join(dir, "cat.dnn"), "--out", join(dir, "run"), "--quiet"], { encoding: "utf8" });
    expect(t.stderr).toBe("");
    expect(t.status).toBe(0);
    expect(readFileSync(join(dir, "run", "model.safetensors")).toString("latin1")).toContain('"csv.categories"');
    writeFileSync(join(dir, "new.csv"), "size,colour,city\n0.5,red,c1\n1.5,purple,c9\n");
    const p = spawnSync(process.execPath, ["bin/dnnc.mjs", "predict", join(dir, "run"), "-i", join(dir, "new.csv")], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.stdout.trim().split("\n")).toHaveLength(3);
    writeFileSync(join(dir, "bad.csv"), "size,colour,city\nhuge,red,c1\n");
    const b = spawnSync(process.execPath, ["bin/dnnc.mjs", "predict", join(dir, "run"), "-i", join(dir, "bad.csv")], { encoding: "utf8" });
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`${join(dir, "bad.csv")}:2:1: "huge" is not a number (column "size")`);
  });
});
