// The declarations users get: "dnnc" and "dnnc/runtime" through package.json's exports (dist/lib/
// *.d.ts), a compiled trainer's NAME.trainer.d.mts and a browser build's NAME.browser.d.mts,
// type-checked with the TypeScript compiler API (NodeNext resolution, strict) on a consumer
// file that uses them as docs/library.md and docs/browser.md do; a misuse must be an error.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const repo = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "dnnc-types-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const USE = `import { compile, SpecError, type TrainedModel, type FitOptions } from "dnnc";
import { trainerApi } from "dnnc/runtime";
import * as cli from "./moons.trainer.mjs";
import * as web from "./moons.browser.mjs";
const trainer = await compile("spec", { file: "a.dnn" });
const m: TrainedModel = await trainer.fit({ x: new Float32Array(4), y: [0, 1] }, { epochs: 1, onStep: (s) => s.eta } satisfies FitOptions);
const p: Float32Array = m.predict([1, 2]);
const e: { loss: number; acc: number | null } = m.evaluate({ x: [1, 2], y: [0] });
const m2 = await cli.fit({ x: [1, 2], y: [0] });
const bytes: Uint8Array = cli.save(m2);
const m3 = await web.fit({ x: [1, 2], y: [0] }, { worker: false });
const threads: number = m3.trainedOn!.threads;
const rows = await web.fromCsv("a,b\\n1,2", { label: "b" });
void [p, e, bytes, threads, rows.features, SpecError, trainerApi, cli.program.meta.inputShape];
`;

/** Type-check the files in one program: each file's errors. */
function check(files: Record<string, string>): Record<string, string[]> {
  for (const [f, text] of Object.entries(files)) writeFileSync(join(work, f), text);
  const program = ts.createProgram(
    Object.keys(files).map((f) => join(work, f)),
    {
      strict: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
      types: [],
      noEmit: true,
      skipLibCheck: true,
    },
  );
  const out: Record<string, string[]> = {};
  for (const f of Object.keys(files))
    out[f] = ts.getPreEmitDiagnostics(program, program.getSourceFile(join(work, f))).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  return out;
}

describe("declarations", () => {
  beforeAll(() => {
    mkdirSync(join(work, "node_modules"));
    symlinkSync(repo, join(work, "node_modules", "dnnc"), "dir");
    writeFileSync(join(work, "package.json"), JSON.stringify({ private: true, type: "module" }));
    const spec =
      'model moons {\n  input [2]\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata {\n  source csv("m.csv")\n}\ntrain {\n  optimizer sgd(lr=0.1)\n}\n';
    writeFileSync(join(work, "moons.dnn"), spec);
    const bin = join(repo, "bin", "dnnc.mjs");
    execFileSync(process.execPath, [bin, "compile", "moons.dnn", "-o", "."], { cwd: work, stdio: "pipe" });
    execFileSync(process.execPath, [bin, "compile", "moons.dnn", "--target", "browser", "-o", "."], { cwd: work, stdio: "pipe" });
  }, 60_000);

  it("type-check a consumer of the package, a trainer and a browser build", () => {
    // and a misuse is caught: predict takes numbers, fit's options are typed
    const r = check({ "use.mts": USE, "bad.mts": USE.replace("m.predict([1, 2])", 'm.predict("rows")').replace("{ worker: false }", "{ workers: false }") });
    expect(r["use.mts"]).toEqual([]);
    expect(r["bad.mts"].length).toBe(2);
  }, 60_000);
});
