// dnnc predict on a document classifier (a text_classes(...) source): input files are split into
// documents by the source's separator, encoded with the vocabulary saved with the model, cut or
// padded to the context with the lengths set, as in training; the class names come from the model.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-predict-text-"));
let run: string;

beforeAll(() => {
  const spec = join(tmp, "topics.dnn");
  writeFileSync(
    spec,
    `model topics {
  input [64]
  embedding(auto, 8, padding_idx=1)
  conv1d(8, 3, padding=same) -> relu
  global_maxpool
  dense(auto)
  loss softmax_cross_entropy
}
data {
  source text_classes("${resolve("specs/data/fortunes-small")}", context=64)
}
train {
  batch 16
  epochs 1
  optimizer adam(lr=0.01)
}
`,
  );
  run = join(tmp, "run");
  const t = dnnc("train", spec, "-o", run, "--max-steps", "20", "--no-report", "--quiet");
  if (t.status !== 0) throw new Error(t.stderr);
});

describe("dnnc predict on documents", () => {
  it("splits files into documents, names the classes, and gives each document the output it has alone", () => {
    const docs = ["The compiler crashed.", "Vote for the senator, said the president of the party, who was a long-winded speaker.", "Eat more bread."];
    const all = join(tmp, "all.txt");
    writeFileSync(all, docs.join("\n%\n") + "\n%\n\n%\n"); // a trailing blank document is skipped
    const r = dnnc("predict", run, "-i", all, "--json");
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { n: number; predictions: { class: number; probability: number; name: string }[] };
    expect(got.n).toBe(3);
    for (const p of got.predictions) expect(["computers", "food", "politics", "science"][p.class]).toBe(p.name);
    // one document per file: the same outputs (padding and lengths do not depend on the batch)
    docs.forEach((d, i) => {
      const f = join(tmp, `d${i}.txt`);
      writeFileSync(f, d);
      const one = JSON.parse(dnnc("predict", run, "-i", f, "--json").stdout) as typeof got;
      expect({ ...one.predictions[0], index: i }).toEqual(got.predictions[i]);
    });
    const csv = dnnc("predict", run, "-i", all);
    expect(csv.stdout.split("\n")[0]).toBe("index,class,probability,name");
  });

  it("refuses a file that is not UTF-8 with its place, and a language model with a pointer to generate", () => {
    const bad = join(tmp, "bad.txt");
    writeFileSync(bad, Buffer.from([0x61, 0x0a, 0x62, 0xff, 0x63]));
    const r = dnnc("predict", run, "-i", bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:2:2`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const blank = join(tmp, "blank.txt");
    writeFileSync(blank, "\n%\n  \n");
    const b = dnnc("predict", run, "-i", blank);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain("no documents");
  });
});
