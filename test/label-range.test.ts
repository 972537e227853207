// Labels are checked against the model, each split in its own file (issue 16, item 15): a
// training set with classes 0-4 and a test set with a 9 were refused against a 10-logit model
// ("expected 0..4", the test set judged by the training set's largest label). Now every split is
// checked against the model's outputs (modelClasses: one class per logit, 0/1 for a single one):
// a split that uses only some classes is fine, and a label the model has no output for is an
// error naming that split's file, the row and the value.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadIdxDir, loadIdxDirStreaming } from "../runtime/node/load-idx";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-label-range-"));
const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

const csv = (labels: number[]) => "x1,x2,label\n" + labels.map((y, i) => `${(i % 7) / 7},${(i % 3) / 3},${y}`).join("\n") + "\n";
const spec = (dir: string, logits: number) =>
  `model m {\n  input [2]\n  dense(8) -> relu\n  dense(${logits})\n  loss softmax_cross_entropy\n}\ndata {\n  source csv("${dir}")\n}\ntrain {\n  seed 1\n  batch 8\n  epochs 1\n  optimizer sgd(lr=0.1)\n}\n`;

function csvCase(name: string, train: number[], test: number[], logits = 10): ReturnType<typeof dnnc> {
  const d = join(tmp, name);
  mkdirSync(d);
  writeFileSync(join(d, "train.csv"), csv(train));
  writeFileSync(join(d, "test.csv"), csv(test));
  writeFileSync(join(d, "m.dnn"), spec(d, logits));
  return dnnc("train", join(d, "m.dnn"), "-o", join(d, "run"), "--no-report", "--quiet");
}

const fiveClasses = Array.from({ length: 40 }, (_, i) => i % 5);
/** line:col of the label cell of data row r (0-based) in csv(labels). */
const where = (labels: number[], r: number) => {
  const line = csv(labels).split("\n")[r + 1];
  return `${r + 2}:${line.lastIndexOf(",") + 2}`;
};

describe("CSV labels against a 10-logit model", () => {
  it("train 0-4, test with a 9: accepted", () => {
    const r = csvCase("subset", fiveClasses, [0, 1, 9, 2, 3, 4, 0, 1]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
  it("a label past the logits in the test set names test.csv, its line, the row and the value", () => {
    const test = [0, 1, 2, 10, 3];
    const r = csvCase("test-bad", fiveClasses, test);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: ${join(tmp, "test-bad", "test.csv")}:${where(test, 3)}: label out of range at row 3: 10 (expected 0..9)\n`);
  });
  it("a label past the logits in the training set names train.csv", () => {
    const train = fiveClasses.slice();
    train[6] = 12;
    const r = csvCase("train-bad", train, [0, 1]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: ${join(tmp, "train-bad", "train.csv")}:${where(train, 6)}: label out of range at row 6: 12 (expected 0..9)\n`);
  });
  it("a binary model (2 logits) refuses a 2 in either split", () => {
    const train = [0, 1, 0, 1, 2, 0, 1, 0];
    const r = csvCase("binary", train, [0, 1], 2);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: ${join(tmp, "binary", "train.csv")}:${where(train, 4)}: label out of range at row 4: 2 (expected 0..1)\n`);
    const t = csvCase("binary-test", [0, 1, 0, 1], [1, 0, 2], 2);
    expect(t.status).toBe(1);
    expect(t.stderr).toBe(`error: ${join(tmp, "binary-test", "test.csv")}:${where([1, 0, 2], 2)}: label out of range at row 2: 2 (expected 0..1)\n`);
  });
});

/** An uncompressed IDX file: ubyte, the given dimensions. */
function idx(path: string, dims: number[], data: number[]): void {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  writeFileSync(path, Buffer.concat([head, Buffer.from(data)]));
}
function idxDir(name: string, train: number[], test: number[]): string {
  const d = join(tmp, name);
  mkdirSync(d);
  idx(join(d, "train-images-idx3-ubyte"), [train.length, 2, 2], Array(train.length * 4).fill(7));
  idx(join(d, "train-labels-idx1-ubyte"), [train.length], train);
  idx(join(d, "t10k-images-idx3-ubyte"), [test.length, 2, 2], Array(test.length * 4).fill(7));
  idx(join(d, "t10k-labels-idx1-ubyte"), [test.length], test);
  return d;
}

describe("IDX labels against the model's classes", () => {
  it("train 0-4, test with a 9: accepted with classes 10 (and every split says 10 classes)", async () => {
    const d = idxDir("idx-subset", fiveClasses, [0, 9, 3]);
    const a = loadIdxDir(d, { classes: 10 });
    expect([a.train.classes, a.test.classes]).toEqual([10, 10]);
    const b = await loadIdxDirStreaming(d, { classes: 10, packed: true });
    expect([b.train.classes, b.test.classes]).toEqual([10, 10]);
    // without the model, the test split is still judged by the training split (the old rule)
    expect(() => loadIdxDir(d)).toThrow(`${join(d, "t10k-labels-idx1-ubyte")}: label out of range at index 1: 9 (expected an integer in 0..4)`);
  });
  it("a label past the model's classes names the labels file of its split", async () => {
    const d = idxDir("idx-bad", fiveClasses, [0, 1, 10]);
    const want = `${join(d, "t10k-labels-idx1-ubyte")}: label out of range at index 2: 10 (expected an integer in 0..9)`;
    expect(() => loadIdxDir(d, { classes: 10 })).toThrow(want);
    await expect(loadIdxDirStreaming(d, { classes: 10 })).rejects.toThrow(want);
    const t = idxDir("idx-bad-train", [0, 1, 11, 2], [0]);
    expect(() => loadIdxDir(t, { classes: 10 })).toThrow(`${join(t, "train-labels-idx1-ubyte")}: label out of range at index 2: 11`);
  });
});
