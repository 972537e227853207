// The PyTorch target's csv(...) loader (compiler/codegen-pytorch/py-csv.ts) against ours
// (runtime/node/load-csv.ts loadCsvSource): the same rows of the same splits, byte for byte, with
// features, label by index, delimiter, header, skip_rows and the data block's test split; a bad
// input gives our one-line message. Needs /usr/bin/python3 with torch (skipped with one line otherwise).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { programConstants } from "../compiler/codegen/emit-trainer";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { firstDifference, hasTorch, noTorchReason, seqSpecIr, startPyWorker, writePyTrainer, type PyWorkerError } from "./pytorch-target-seq-helpers";

if (!hasTorch) console.warn(`data-csv-pytorch: skipped: /usr/bin/python3 -c "import torch" failed (${noTorchReason})`);

const dir = mkdtempSync(join(tmpdir(), "dnnc-csv-pt-"));
const rows = Array.from({ length: 40 }, (_, i) => [i, `n${i}`, ((i * 37) % 17) / 4, -i / 8, i % 3]);
writeFileSync(join(dir, "named.csv"), "id,name,x1,x2,y\n" + rows.map((r) => r.join(",")).join("\n") + "\n");
writeFileSync(join(dir, "sk.csv"), "40,3,a,b,c\n" + rows.map((r) => [r[2], r[3], r[0], r[4]].join(",")).join("\n") + "\n");
writeFileSync(
  join(dir, "cat.csv"),
  "size,colour,y\n" + rows.map((r) => [r[2], ["red", "Ärger", '"b, c"', "zz"][(r[0] as number) % 4], r[4]].join(",")).join("\n") + "\n",
);
writeFileSync(join(dir, "semi.csv"), rows.map((r) => [r[2], r[3], r[4]].join(";")).join("\r\n") + "\r\n");

const spec = (input: number, source: string, data = "") =>
  `model m {\n  input [${input}]\n  dense(3)\n  loss softmax_cross_entropy\n}\ndata {\n  source ${source}\n  ${data}\n}\ntrain { seed 11; batch 8 }\n`;

const CASES: [string, string, string][] = [
  ["features by name, test split", spec(2, `csv("named.csv", label="y", features=["x2", "x1"])`, "validation 0.1\ntest 0.25"), "named.csv"],
  ["skip_rows, label -1", spec(3, `csv("sk.csv", label=-1, skip_rows=1)`, "test 0.1"), "sk.csv"],
  ["categorical columns one-hot, vocabulary of the training rows", spec(5, `csv("cat.csv", label="y", categorical=["colour"])`, "test 0.2"), "cat.csv"],
  ["delimiter, header=false, features by index", spec(2, `csv("semi.csv", label=2, delimiter=";", header=false, features=[1, 0])`), "semi.csv"],
];

describe.skipIf(!hasTorch)("the PyTorch target's csv loader gives our rows", () => {
  const py = startPyWorker();
  afterAll(() => py.close());
  const both = (text: string, file: string) => {
    const d = mkdtempSync(join(dir, "c-"));
    const ir = seqSpecIr(text, join(dir, "m.dnn"), { facts: false });
    return { ir, trainer: writePyTrainer(ir, d, "."), path: join(dir, file) };
  };

  for (const [name, text, file] of CASES)
    it(name, async () => {
      const { ir, trainer, path } = both(text, file);
      const want = loadData(programConstants(ir, path) as unknown as Program, path);
      const got = await py.load(trainer, path);
      for (const k of ["train", "test"] as const) {
        const w = want[k];
        const g = got[k];
        expect(g === null, `${k}: present`).toBe(w === undefined);
        if (!g || !w) continue;
        expect(g.n).toBe(w.n);
        expect(firstDifference(g.x, Array.from(w.x))).toBeUndefined();
        expect(firstDifference(g.y, Array.from(w.y))).toBeUndefined();
      }
      expect(got.meta).toEqual(want.metadata ?? {});
    });

  const bad = (name: string, text: string, file: string, content: string, expected: RegExp) =>
    it(`a bad input gives our message: ${name}`, async () => {
      const d = join(dir, name.replace(/\W+/g, "-"));
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, file), content);
      const { ir, trainer } = both(text, file);
      const path = join(d, file);
      let want = "";
      try {
        loadData(programConstants(ir, path) as unknown as Program, path);
      } catch (e) {
        want = (e as Error).message;
      }
      expect(want).toMatch(expected);
      const got = await py.load(trainer, path).then(
        () => "",
        (e: PyWorkerError) => (e.user ? e.message : `not a user error: ${e.message}`),
      );
      expect(got).toBe(want);
    });
  bad(
    "metadata line",
    spec(3, `csv("b.csv", label=3)`),
    "b.csv",
    "569,30,malignant,benign\n1,2,3,0\n",
    /b\.csv:1: this line looks like scikit-learn's metadata line/,
  );
  bad(
    "metadata line of numbers (rule B)",
    spec(3, `csv("b.csv", label=-1)`),
    "b.csv",
    "10,2,0,1\n1,2,0\n",
    /b\.csv:1: this line looks like scikit-learn's metadata line \("10,2,0,1": 10 samples, 2 features, classes 0, 1\)/,
  );
  bad("a text cell in a feature", spec(2, `csv("b.csv", label="y")`), "b.csv", "a,b,y\n1,2,0\n3,cat,1\n", /b\.csv:3:3: "cat" is not a number \(column "b"\)/);
  bad("an unknown feature column", spec(2, `csv("b.csv", label="y", features=["a", "z"])`), "b.csv", "a,b,y\n1,2,0\n", /no column named "z"/);
});
