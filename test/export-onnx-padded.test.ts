// ONNX export refuses a model trained on padded sequences (text_classes, tokens): the exported
// graph would take no lengths, so it would read padding as data. One line, E0405, exit 1; nothing
// written. (The same model on full-length data exports: the export of sequence layers themselves is
// checked in onnxruntime by test/seqops-targets.test.ts.)
import { expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

it("export refuses a padded-sequence model with E0405 at its first layer", () => {
  const tmp = mkdtempSync(join(tmpdir(), "dnnc-onnx-padded-"));
  const spec = join(tmp, "topics.dnn");
  writeFileSync(
    spec,
    `model topics {
  input [48]
  embedding(auto, 8, padding_idx=1)
  global_avgpool
  dense(auto)
  loss softmax_cross_entropy
}
data {
  source text_classes("${resolve("specs/data/fortunes-small")}", context=48)
  validation 0.1
}
train {
  batch 16
  epochs 1
  optimizer adam(lr=0.01)
}
`,
  );
  const run = join(tmp, "run");
  const t = dnnc("train", spec, "-o", run, "--max-steps", "5", "--no-report", "--quiet");
  expect(t.status, t.stderr).toBe(0);
  const out = join(tmp, "m.onnx");
  const e = dnnc("export", run, "-o", out);
  expect(e.status).toBe(1);
  expect(e.stderr).toMatch(/spec\.dnn:3:3: .*embedding.*not supported by the ONNX exporter.*padded sequences \(a text_classes\(\.\.\.\) source\)/);
  expect(e.stderr).not.toMatch(/\n\s+at /);
  expect(existsSync(out)).toBe(false);
});
