// Golden files over specs/: the IR text and the generated trainer for every spec, and the rendered
// diagnostics for every spec in specs/errors/. Update with UPDATE_GOLDENS=1 and read the diff.
import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileToIr } from "../compiler/pipeline";
import { dataPathOf, readDataFacts } from "../compiler/data-facts";
import { printIr } from "../compiler/ir";
import { renderDiagnostics } from "../grammar/diagnostics";
import { generateTrainer } from "../compiler/codegen/emit-trainer";

const update = process.env.UPDATE_GOLDENS === "1";
const goldenDir = "test/golden";

function golden(name: string, actual: string) {
  const path = join(goldenDir, name);
  if (update || !existsSync(path)) {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, actual);
    if (!update) throw new Error(`golden ${path} did not exist; wrote it: review and commit it`);
    return;
  }
  expect(actual, `golden ${path} differs: rerun with UPDATE_GOLDENS=1 and read the diff`).toBe(readFileSync(path, "utf8"));
}

const specs = readdirSync("specs")
  .filter((f) => f.endsWith(".dnn"))
  .sort();
const errorSpecs = readdirSync("specs/errors")
  .filter((f) => f.endsWith(".dnn"))
  .sort();

describe("specs compile to their golden IR and trainer", () => {
  for (const f of specs) {
    it(f, async () => {
      const path = `specs/${f}`;
      const src = readFileSync(path, "utf8");
      // with the data's facts, as dnnc compile reads them (the `auto` sizes of sequence specs)
      const r = compileToIr(src, path, { facts: (spec) => readDataFacts(spec, dataPathOf(spec, path)) });
      expect(renderDiagnostics(r.diagnostics, src)).toBe("");
      golden(f.replace(/\.dnn$/, ".ir.txt"), printIr(r.ir!));
      const t = await generateTrainer(r.ir!, { dataPath: "../specs/data/fashion-mnist-small" });
      golden(f.replace(/\.dnn$/, ".trainer.ts"), t.text);
    });
  }
});

describe("every spec in specs/errors has its golden diagnostics", () => {
  for (const f of errorSpecs) {
    it(f, () => {
      const path = `specs/errors/${f}`;
      const src = readFileSync(path, "utf8");
      const r = compileToIr(src, path);
      expect(r.ir, "an error spec must not compile").toBeUndefined();
      expect(r.diagnostics.length).toBeGreaterThan(0);
      for (const d of r.diagnostics) {
        expect(d.span.file).toBe(path);
        expect(d.span.line).toBeGreaterThan(0);
        expect(d.span.col).toBeGreaterThan(0);
      }
      golden(`errors/${f.replace(/\.dnn$/, ".txt")}`, renderDiagnostics(r.diagnostics, src) + "\n");
    });
  }
});
