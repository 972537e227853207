// No injection in any target: hostile file and directory names, data paths, CSV label names, run
// and class names and search values reach the PyTorch trainer, the HTML/SVG report, the ONNX model
// and spec text written back (best.dnn) only as the value of a literal, the text of an element or
// a comment that cannot end. Checked by parsers that are not ours (Python's ast and tokenize,
// html.parser and expat in scripts/emit-oracle.py; onnxruntime-node; the dnn grammar) and, for
// Python and the CLI, by running the output and checking that a marker file was not created.
// (The TypeScript trainer: test/injection.test.ts. Random strings: test/fuzz-emitters.test.ts.)
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { compileToIr } from "../compiler/pipeline";
import { check } from "../compiler/check";
import { parseSpec } from "../grammar/to-ast";
import { printSpec } from "../grammar/ast";
import { applyConfig } from "../compiler/search-apply";
import { exportRun } from "../compiler/export-command";
import { writeReport } from "../compiler/report/load";
import { encodeSafetensors } from "../runtime/safetensors";
import { dnnString, plainText, pyComment } from "../compiler/escape";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz-emitters.mjs";

interface Finding {
  surface: string;
  check: string;
  input: string;
  detail: string;
  count: number;
}
type Result = Promise<{ stats: Record<string, number>; findings: Finding[] }>;
const fuzz = fuzzJs as unknown as {
  PY: string;
  DNN_PATHS: string[];
  checkPython(cases: { h: string; csv: boolean; fields: string[] }[], o?: { runs?: number; prefixOnly?: boolean }): Result;
  checkHtml(cases: { name: string; cls: string }[]): Result;
  checkOnnx(strings: string[]): Result;
  checkDnn(cases: { h: string; path: string }[]): Result;
  decodeOnnxStrings(b: Uint8Array): { docString?: string; graphName: string; metadata: [string, string][] };
  oracle(reqs: Record<string, unknown>[]): { ok: boolean; error?: string; [k: string]: unknown }[];
  runHelp(code: string): string | undefined;
  hasPython(): boolean;
  withoutPageScript(html: string): string | undefined;
};
const show = (fs: Finding[]) => fs.map((f) => `${f.surface}: ${f.check} (x${f.count}) input ${f.input.slice(0, 160)} ${f.detail.slice(0, 300)}`);

const PY = fuzz.PY;
const hasPython = fuzz.hasPython();
const hasTorch = hasPython && spawnSync(PY, ["-c", "import torch"]).status === 0;
if (!hasTorch) console.warn(`injection-targets: the --help runs are skipped: ${PY} -c "import torch" failed`);

/** Hostile names: what ends a line, comment, string or element in some target, plus attack snippets. */
const HOSTILE = [
  "\nopen('PWNED', 'w')\n#",
  "\r open('PWNED', 'w')",
  "\u2028open('PWNED', 'w')\u2029",
  "\x85open('PWNED', 'w')",
  '"""\nopen("PWNED", "w")\n"""',
  "'''\nopen('PWNED', 'w')\n'''",
  '");\nopen("PWNED", "w")\n("',
  "\\",
  '\\"',
  "\\n",
  "a\0b",
  "\x1b[2J\x07",
  "*/ x /*",
  "</script><script>alert(1)</script>",
  "<!-- x",
  "]]>",
  '" onload="alert(1)',
  "' onerror='alert(1)",
  "<img src=x onerror=alert(1)>",
  "&amp;&#0;",
  "`${x}`",
  "{x} %s {{x}}",
  "\u202e evil \u202c",
  "\u2066x\u2069",
  "\ufeffbom",
  "\ud800 lone \udc00",
  "\u{1F600}",
  "-*- coding: utf_7 -*- +AAo-open('PWNED', 'w')",
  "# -*- coding: latin-1 -*-",
  "coding=rot13",
  "}\nmodel evil {\n",
  "é名",
  "x".repeat(10_000),
];

describe.skipIf(!hasPython)("PyTorch target", () => {
  it("every hostile string as spec file name, data path, source path and CSV label: Python's ast equals the benign trainer's, constants and comments hold the text", async () => {
    const cases = HOSTILE.flatMap((h) => [
      { h, csv: false, fields: ["file"] },
      { h, csv: false, fields: ["data"] },
      { h, csv: false, fields: ["source"] },
      { h, csv: true, fields: ["label"] },
      { h, csv: true, fields: ["file", "data", "source", "label"] },
    ]);
    const { stats, findings } = await fuzz.checkPython(cases, { prefixOnly: true });
    expect(show(findings)).toEqual([]);
    expect(stats.cases).toBe(cases.length);
    expect(stats.rejected).toBeLessThan(cases.length / 2); // most reach the emitter
  });

  it.skipIf(!hasTorch)(
    "`python3 trainer.py --help` prints its usage and creates no file, for names with a newline, a NUL, a coding: declaration",
    async () => {
      const { generatePytorchTrainer } = await import("../compiler/codegen-pytorch/emit-python");
      const src = readFileSync("specs/fashion-mlp.dnn", "utf8");
      for (const file of ["x\nopen('PWNED', 'w')\n#.dnn", "x\0\nopen('PWNED', 'w')\n#.dnn", "-*- coding: utf_7 -*- +AAo-open('PWNED', 'w')+AAo-#.dnn"]) {
        const ir = compileToIr(src, file).ir!;
        const code = generatePytorchTrainer(ir, { dataPath: file });
        expect(code.split("\n")[0]).toBe(
          `# Generated by dnnc 0.1.0 (PyTorch target) from ${pyComment(file)} (spec sha256 ${ir.specHash.slice(0, 16)}). Do not edit: edit the spec and recompile.`,
        );
        expect(fuzz.runHelp(code), JSON.stringify(file)).toBeUndefined();
      }
    },
    120_000,
  );

  it.skipIf(!hasTorch)(
    "dnnc compile --target pytorch from a directory and a file whose names hold Python code, into such an output directory: the trainer runs --help and creates no marker",
    () => {
      const base = mkdtempSync(join(tmpdir(), "dnnc-inject-py-"));
      const dir = join(base, "d\nopen('PWNED_DIR', 'w')\n#");
      const out = join(base, "o\nopen('PWNED_OUT', 'w')\n#");
      mkdirSync(dir);
      const spec = join(dir, "s\nopen('PWNED_FILE', 'w')\n#.dnn");
      copyFileSync("specs/fashion-mlp.dnn", spec);
      const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "compile", spec, "--target", "pytorch", "-o", out], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const [py] = readdirSync(out);
      expect(py).toBe("s\nopen('PWNED_FILE', 'w')\n#.trainer.py");
      const code = readFileSync(join(out, py), "utf8");
      const [ans] = fuzz.oracle([{ op: "pyfile", code }]);
      expect(ans.ok).toBe(true);
      expect(ans.strings).toContain(spec); // SPEC["file"]: the path as given, exactly
      expect((ans.strings as string[]).some((s) => s.includes("d\nopen('PWNED_DIR', 'w')\n#"))).toBe(true); // DATA_PATH, relative to the output directory
      const run = spawnSync(PY, [join(out, py), "--help"], { cwd: base, encoding: "utf8", timeout: 120_000 });
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^usage: /);
      expect(readdirSync(base).filter((f) => f.startsWith("PWNED"))).toEqual([]);
    },
    120_000,
  );
});

describe.skipIf(!hasPython)("HTML and SVG report", () => {
  it("every hostile string as run name and class name: the benign element shape, no script or comment, every SVG well-formed, the names shown as plainText", async () => {
    const { findings } = await fuzz.checkHtml(
      HOSTILE.flatMap((h) => [
        { name: h, cls: h },
        { name: h, cls: "ok" },
        { name: "run", cls: h },
      ]),
    );
    expect(show(findings)).toEqual([]);
  });

  it("dnnc report over run directories named like markup (and a run.json name with `</script>`): report.html and every .svg file parse with the same elements as a benign report's", () => {
    const base = mkdtempSync(join(tmpdir(), "dnnc-inject-report-"));
    const write = (dir: string, classes: string[], name?: string) => {
      const d = join(base, dir);
      mkdirSync(d);
      writeFileSync(
        join(d, "metrics.jsonl"),
        [1, 2].map((e) => JSON.stringify({ epoch: e, train_loss: 1 / e, train_acc: 0.5, val_loss: 1 / e, val_acc: 0.6, lr: 0.1 })).join("\n") + "\n",
      );
      writeFileSync(
        join(d, "confusion.json"),
        JSON.stringify({
          matrix: [
            [3, 1],
            [0, 4],
          ],
          classes,
        }),
      );
      if (name !== undefined) writeFileSync(join(d, "run.json"), JSON.stringify({ name }));
      return d;
    };
    const dirName = "<script>alert(1)<!--\u202e\"'&\n"; // a file name cannot hold "/"
    const runName = "</title><script>alert(1)</script>\0\u2028";
    const cls = ['"><svg onload=alert(1)>', "\0\u2028]]>"];
    const same = (s: string) => "c".repeat(s.length);
    const a = writeReport([write(dirName, cls), write("r1", cls, runName)], join(base, "out-hostile"));
    const b = writeReport([write(same(dirName), cls.map(same)), write("r2", cls.map(same), same(runName))], join(base, "out-benign"));
    const docs = (r: { html: string; svgs: string[] }) => [
      // the page's one script is the constant PAGE_SCRIPT: taken out (exactly once), any other shows
      { op: "html", text: fuzz.withoutPageScript(readFileSync(r.html, "utf8"))! },
      ...r.svgs.map((f) => ({ op: "xml", text: readFileSync(f, "utf8") })),
    ];
    const got = fuzz.oracle(docs(a));
    const want = fuzz.oracle(docs(b));
    expect(got.map((x) => [x.ok, x.shape, x.tags])).toEqual(want.map((x) => [x.ok, x.shape, x.tags]));
    expect(got[0].tags).not.toContain("script");
    expect(got[0].comments).toEqual([]);
    expect(got[0].texts).toContain(plainText(dirName));
    expect(got[0].texts).toContain(plainText(runName));
    expect(
      (got.slice(1) as unknown as { texts: string[] }[]).some((x) =>
        x.texts.some((t) => t.startsWith(`true ${plainText(cls[1])}, predicted ${plainText(cls[0])}`)),
      ),
    ).toBe(true);
  });
});

describe("ONNX export", () => {
  it("every hostile string as the spec's file, doc string, graph name, metadata key and value: strict UTF-8 that decodes to it exactly; onnxruntime loads each model", async () => {
    const { stats, findings } = await fuzz.checkOnnx(HOSTILE);
    expect(show(findings)).toEqual([]);
    expect(stats.ortLoads).toBe(2 * HOSTILE.length);
  });

  it("dnnc export of a run directory named like code: the doc string holds the path exactly and the model runs", async () => {
    const base = mkdtempSync(join(tmpdir(), "dnnc-inject-onnx-"));
    const run = join(base, 'r\n"<script>\u2028\u202e'); // a file name cannot hold "/" or NUL
    mkdirSync(run);
    const spec = `model m {\n  input [4]\n  dense(3) -> relu\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata { source csv("d.csv") }\ntrain { batch 4\n  optimizer sgd(lr=0.1) }\n`;
    writeFileSync(join(run, "spec.dnn"), spec);
    const ir = compileToIr(spec, "spec.dnn", { passes: "lower" }).ir!;
    const tensors = ir.params.map((p, i) => ({ name: p.name, shape: p.shape, data: Float32Array.from({ length: p.size }, (_, j) => ((i + j) % 5) / 10) }));
    writeFileSync(join(run, "model.safetensors"), encodeSafetensors(tensors, { spec_sha256: ir.specHash }));
    const e = exportRun(run);
    const got = fuzz.decodeOnnxStrings(e.bytes);
    expect(got.docString).toBe(
      `m from ${join(run, "spec.dnn")}; input: raw values as dnnc predict reads them (scale, shift and preprocessing are in the graph)`,
    );
    expect(got.graphName).toBe("m");
    const s = await ort.InferenceSession.create(e.bytes);
    const res = await s.run({ input: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [1, 4]) });
    expect([...(res.logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });
});

describe("spec text written back: search values and best.dnn", () => {
  it("every hostile string as a search value on every kind of path, and as the searched spec's path: the spec parses, the value reads back exactly, nothing is added", async () => {
    const { findings } = await fuzz.checkDnn(HOSTILE.flatMap((h) => fuzz.DNN_PATHS.map((path) => ({ h, path }))));
    expect(show(findings)).toEqual([]);
  });

  it('choice("a\\nmodel evil {") for the optimizer: a string literal in the trial\'s spec (a diagnostic), never a second model block', () => {
    const src = `model m {\n  input [2]\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata { source csv("d.csv") }\ntrain {\n  optimizer sgd(lr=0.1)\n}\nsearch {\n  trials 3\n  train.optimizer: choice(adam, ${dnnString("sgd\n}\nmodel evil {\n  input [1]")}, "rmsprop")\n}\n`;
    const parsed = parseSpec(src, "s.dnn");
    const checked = check(parsed.ast!);
    expect(checked.diagnostics).toEqual([]);
    const values = checked.spec!.search!.entries[0].dist as { values: string[] };
    expect(values.values).toEqual(["adam", "sgd\n}\nmodel evil {\n  input [1]", "rmsprop"]);
    const texts = values.values.map((v) => printSpec(applyConfig(parsed.ast!, { "train.optimizer": v }).ast));
    expect(texts[0]).toContain("optimizer adam(lr=0.1)");
    expect(texts[2]).toContain("optimizer rmsprop(lr=0.1)"); // a name given as a string stays a name
    expect(texts[1]).toContain('optimizer "sgd\\n}\\nmodel evil {\\n  input [1]"');
    const back = parseSpec(texts[1], "trial.dnn");
    expect(back.ast!.blocks.map((b) => b.kind)).toEqual(["model", "data", "train"]);
    const r = compileToIr(texts[1], "trial.dnn");
    expect(r.ir).toBeUndefined();
    expect(r.diagnostics.length).toBeGreaterThan(0);
  });

  it("dnnc search from a directory whose name holds spec text: best.dnn has one comment line and checks", () => {
    const base = mkdtempSync(join(tmpdir(), "dnnc-inject-search-"));
    const d = join(base, "s\n}\nmodel evil {\n#");
    mkdirSync(d);
    copyFileSync("specs/data/two-moons/train.csv", join(d, "train.csv"));
    copyFileSync("specs/data/two-moons/test.csv", join(d, "test.csv"));
    writeFileSync(
      join(d, "s.dnn"),
      `model s {\n input [2]\n dense(8) -> relu\n dense(2)\n loss softmax_cross_entropy\n}\ndata {\n source csv(".")\n validation 0.2\n}\ntrain {\n seed 1\n batch 32\n epochs 1\n optimizer sgd(lr=0.1)\n}\nsearch {\n trials 2\n parallel 1\n train.optimizer.lr: loguniform(1e-3, 1)\n}\n`,
    );
    const out = join(base, "out");
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "search", join(d, "s.dnn"), "-o", out, "--quiet"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const best = readFileSync(join(out, "best.dnn"), "utf8");
    expect(best.split("\n")[0]).toBe(`# best configuration found by dnnc search over ${join(base, "s\\n}\\nmodel evil {\\n#", "s.dnn")}`);
    const p = parseSpec(best, "best.dnn");
    expect(p.diagnostics).toEqual([]);
    expect(p.ast!.blocks.map((b) => [b.kind, b.name ?? ""])).toEqual([
      ["model", "s"],
      ["data", ""],
      ["train", ""],
    ]);
    expect(existsSync(join(out, "best.dnn"))).toBe(true);
  }, 120_000);
});
