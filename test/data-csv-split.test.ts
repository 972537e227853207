// The data block's `test F`: a single CSV file (or a tokens file) gets a test split drawn from the
// spec's seed (runtime/data/split.ts splitTestRows), so such runs report test_loss / test_acc; the
// checker takes it for the sources that split by themselves and refuses it where it cannot apply.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { programConstants } from "../compiler/codegen/emit-trainer";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { splitTestRows } from "../runtime/data/split";
import { renderDiagnostics } from "../grammar/diagnostics";
import { expectDnnc } from "./helpers/expect-dnnc";

const dir = mkdtempSync(join(tmpdir(), "dnnc-csv-split-"));
const rows = Array.from({ length: 50 }, (_, i) => `${i},${(i * 7) % 11},${i % 3}`);
writeFileSync(join(dir, "all.csv"), `a,b,label\n${rows.join("\n")}\n`);

const spec = (source: string, data = "", seed = 4) => `model m {
  input [2]
  dense(3)
  loss softmax_cross_entropy
}
data {
  source ${source}
  ${data}
}
train { seed ${seed}; batch 8; epochs 1 }
`;

function program(text: string, file = join(dir, "m.dnn")): Program {
  const r = compileToIr(text, file);
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, text));
  return programConstants(r.ir, r.ir.data.source.path) as unknown as Program;
}

function errors(text: string): string {
  return renderDiagnostics(compileToIr(text, join(dir, "m.dnn")).diagnostics, text);
}

describe("splitTestRows", () => {
  it("takes round(n * fraction) rows, sorted, disjoint from the training rows, the same for the same seed", () => {
    const a = splitTestRows(50, 0.2, 4, "x.csv");
    expect(a.test.length).toBe(10);
    expect(a.train.length).toBe(40);
    expect([...a.train, ...a.test].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...a.test]).toEqual([...a.test].sort((p, q) => p - q));
    expect(splitTestRows(50, 0.2, 4, "x.csv")).toEqual(a);
    expect([...splitTestRows(50, 0.2, 5, "x.csv").test]).not.toEqual([...a.test]);
  });

  it("refuses a fraction that gives no test row or leaves no training row, naming the data", () => {
    expectDnnc(() => splitTestRows(3, 0.1, 0, "tiny.csv"), "tiny.csv: test fraction 0.1 of 3 samples gives no test sample");
    expectDnnc(() => splitTestRows(1, 0.9, 0, "one.csv"), "one.csv: test fraction 0.9 of 1 samples leaves none for training");
  });
});

describe("csv(...) with the data block's test", () => {
  it("holds out the test rows of a single file, by the spec's seed; the rest is the training set", () => {
    const p = program(spec(`csv("${join(dir, "all.csv")}")`, "validation 0.1\ntest 0.2"));
    const d = loadData(p, join(dir, "all.csv"));
    expect(d.train.n).toBe(40);
    expect(d.test!.n).toBe(10);
    const { test } = splitTestRows(50, 0.2, 4, "");
    // column a holds the row index: the test set is exactly the chosen rows, in order
    expect(Array.from({ length: 10 }, (_, i) => d.test!.x[2 * i])).toEqual([...test]);
    expect(Array.from(d.test!.y)).toEqual([...test].map((i) => i % 3));
    // another seed, other rows
    const q = program(spec(`csv("${join(dir, "all.csv")}")`, "test 0.2", 9));
    expect(Array.from(loadData(q, join(dir, "all.csv")).test!.x)).not.toEqual(Array.from(d.test!.x));
  });

  it("splits train.csv of a directory without test.csv, and refuses a directory that has one", () => {
    const a = join(dir, "no-test");
    mkdirSync(a);
    writeFileSync(join(a, "train.csv"), readFileSync(join(dir, "all.csv")));
    expect(loadData(program(spec(`csv("${a}")`, "test 0.1")), a).test!.n).toBe(5);
    const b = join(dir, "with-test");
    mkdirSync(b);
    writeFileSync(join(b, "train.csv"), readFileSync(join(dir, "all.csv")));
    writeFileSync(join(b, "test.csv"), "a,b,label\n1,2,0\n");
    expect(loadData(program(spec(`csv("${b}")`)), b).test!.n).toBe(1);
    expectDnnc(
      () => loadData(program(spec(`csv("${b}")`, "test 0.1")), b),
      `${join(b, "test.csv")}: the data block asks for a test split (test 0.1)`,
      "drop one of them",
    );
  });

  it("splits a tokens file the same way (lengths follow their rows)", () => {
    writeFileSync(join(dir, "tok.csv"), "label,t0,t1,t2\n" + Array.from({ length: 20 }, (_, i) => `${i % 2},${i + 1},${(i % 3) + 1}`).join("\n") + "\n");
    const text = `model t {
  input [3]
  embedding(40, 4, padding_idx=0)
  global_avgpool
  dense(2)
  loss softmax_cross_entropy
}
data {
  source tokens("${join(dir, "tok.csv")}", max_length=3)
  test 0.25
}
train { seed 1; batch 4 }
`;
    const d = loadData(program(text), join(dir, "tok.csv"));
    expect(d.train.n).toBe(15);
    expect(d.test!.n).toBe(5);
    const { test } = splitTestRows(20, 0.25, 1, "");
    expect(Array.from(d.test!.x.filter((_, k) => k % 3 === 0))).toEqual([...test].map((i) => i + 1));
    expect(d.test!.lengths).toHaveLength(5);
  });

  it("a trainer reports test_loss and test_acc for a single file with `test`; predict reads the same feature columns", () => {
    const specPath = join(dir, "run.dnn");
    writeFileSync(specPath, spec(`csv("all.csv", features=["b", "a"])`, "test 0.2"));
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", specPath, "--out", join(dir, "run"), "--quiet"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n");
    const last = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    expect(typeof last.test_loss).toBe("number");
    expect(typeof last.test_acc).toBe("number");
    // predict reads a CSV as the spec's csv(...) does: the features by name, in their order
    const pr = spawnSync(process.execPath, ["bin/dnnc.mjs", "predict", join(dir, "run"), "-i", join(dir, "all.csv")], { encoding: "utf8" });
    expect(pr.stderr).toBe("");
    expect(pr.stdout.trim().split("\n")).toHaveLength(51);
    writeFileSync(join(dir, "wrong.csv"), "a,c\n1,2\n");
    const bad = spawnSync(process.execPath, ["bin/dnnc.mjs", "predict", join(dir, "run"), "-i", join(dir, "wrong.csv")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, "wrong.csv")}:1: no column named "b" in the header (columns: a, c)`);
  });
});

describe("the checker and `test`", () => {
  it("refuses it for an idx source (its t10k files are the test set), at the setting", () => {
    expect(errors(spec(`idx("data")`, "test 0.1"))).toMatch(/E0403.*an idx source has its own test set[\s\S]*test 0\.1/);
  });

  it("refuses a fraction outside [0, 0.9]", () => {
    expect(errors(spec(`csv("a.csv")`, "test 0.95"))).toMatch(/E0402|E0205|0\.9/);
  });

  it("passes it to text, text_classes and timeseries as their test= argument, and refuses two different values", () => {
    const text = (extra: string, data: string) => `model lm {
  input [8]
  embedding(20, 4)
  dense(20)
  loss softmax_cross_entropy
}
data {
  source text("c.txt", context=8${extra})
  ${data}
}
train { seed 1 }
`;
    const r = compileToIr(text("", "test 0.1"), join(dir, "lm.dnn"));
    expect((r.ir!.data.source as unknown as { args: { test: number } }).args.test).toBe(0.1);
    expect(errors(text(", test=0.2", "test 0.1"))).toMatch(/E0403.*the test fraction is given twice/);
  });
});
