// `dnnc check` and `dnnc compile`, and the helpers every verb that compiles a spec shares
// (reading it, the front end with its diagnostics, writing the trainer files).
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { compileToIr } from "../pipeline";
import { checkTarget, type Target } from "../check-targets";
import { dataPathOf, readDataFacts } from "../data-facts";
import { checkData } from "../check-data";
import type { Spec } from "../spec";
import type { IR } from "../ir";
import { renderDiagnostics, type Diagnostic } from "../../grammar/diagnostics";
import { DnncError } from "../../runtime/errors";
import { writeFileAtomicSync } from "../../runtime/node/atomic";
import { describeFsError, ensureDir } from "../../runtime/node/fs-errors";
import { makeOut, type Out } from "./io";

const quietOut = makeOut({ quiet: true });

export function readSpec(path: string): string {
  if (!existsSync(path)) throw new DnncError(`${path}: no such file`, 1);
  if (statSync(path).isDirectory()) throw new DnncError(`${path}: is a directory, expected a spec file (.dnn)`, 1);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new DnncError(describeFsError(e, path) ?? `${path}: cannot read (${(e as Error).message})`, 1);
  }
}

/** Diagnostics on stderr (under --quiet only errors; under --json none: they are in the document). */
function report(out: Out, diags: Diagnostic[], source: string): void {
  if (out.json) return;
  const shown = out.quiet ? diags.filter((d) => d.severity === "error") : diags;
  if (shown.length > 0) process.stderr.write(renderDiagnostics(shown, source, out.color) + "\n");
}

export const jsonDiag = (d: Diagnostic) => ({
  file: d.span.file,
  line: d.span.line,
  col: d.span.col,
  endLine: d.span.endLine,
  endCol: d.span.endCol,
  severity: d.severity,
  code: d.code,
  message: d.message,
  ...(d.hint ? { hint: d.hint } : {}),
});

/** Under --verbose, one line per front-end pass (compileToIr's onPass). */
function passTimer(out: Out): ((name: string, ms: number) => void) | undefined {
  return out.verbose ? (name, ms) => out.info(`  pass ${name}: ${ms.toFixed(1)} ms`) : undefined;
}

/** The pipeline on a spec file, its diagnostics reported; with `target`, also what that target cannot map (E0405). */
export function frontEnd(path: string, out: Out = quietOut, passes: "all" | "lower" = "all", target?: Target, data?: string) {
  const source = readSpec(path);
  out.info(`spec ${resolve(path)} (${source.length} characters)`);
  // the data's vocabulary and classes, for `auto` sizes (read only for the sequence sources)
  const facts = (spec: Spec) => readDataFacts(spec, dataPathOf(spec, path, data));
  const r = out.time(`front end (parse, check, lower${passes === "all" ? ", fuse, plan memory" : ""})`, () =>
    compileToIr(source, path, { passes, onPass: passTimer(out), facts }),
  );
  if (r.ir && target) {
    const refused = checkTarget(r.ir, target, r.spec);
    if (refused.length > 0) Object.assign(r, { ir: undefined, diagnostics: [...r.diagnostics, ...refused] });
  }
  report(out, r.diagnostics, source);
  // under --json the diagnostics travel in the error document (cli.ts)
  if (!r.ir) throw Object.assign(new DnncError(`${path}: compilation failed`, 1), { diagnostics: r.diagnostics.map(jsonDiag) });
  return { ...r, ir: r.ir, source };
}

export function specStem(path: string): string {
  return basename(path).replace(/\.dnn$/, "");
}

/** The trainer's default data path, relative to the output directory. */
export function dataPathFor(specPath: string, sourcePath: string, outDir: string): string {
  if (isAbsolute(sourcePath)) return sourcePath;
  const abs = resolve(dirname(specPath), sourcePath);
  return relative(resolve(outDir), abs) || ".";
}

export interface CompiledFiles {
  ts?: string;
  mjs?: string;
  ir?: string;
  program: IR;
}

/** `dataBase`: the directory the trainer will run from, when it is written elsewhere first (dnnc train stages it). */
export async function compileSpec(
  specPath: string,
  outDir: string,
  emit: "ts" | "ir" | "all" = "all",
  out: Out = quietOut,
  dataBase = outDir,
  data?: string,
): Promise<CompiledFiles> {
  const fe = frontEnd(specPath, out, "all", undefined, data);
  const stem = specStem(specPath);
  ensureDir(outDir);
  const files: CompiledFiles = { program: fe.ir };
  const { printIr } = await import("../ir");
  if (emit === "ir") {
    files.ir = join(outDir, `${stem}.ir.txt`);
    writeFileAtomicSync(files.ir, printIr(fe.ir));
    return files;
  }
  const { generateTrainer } = await import("../codegen/emit-trainer");
  const { bundleTrainer } = await import("../codegen/bundle");
  const src = await out.time("emit trainer.ts (ts-morph and prettier, loaded on first use)", () =>
    generateTrainer(fe.ir, { dataPath: dataPathFor(specPath, fe.ir.data.source.path, dataBase) }),
  );
  files.ts = join(outDir, `${stem}.trainer.ts`);
  // every generated file is written atomically (a temporary file renamed over it): a full disk or a
  // kill never leaves a truncated trainer behind
  writeFileAtomicSync(files.ts, src.text);
  files.mjs = join(outDir, `${stem}.trainer.mjs`);
  const bundled = await out.time("bundle trainer.mjs (esbuild)", () => bundleTrainer(src.text, `${stem}.trainer.ts`));
  writeFileAtomicSync(files.mjs, bundled);
  if (emit === "all") {
    files.ir = join(outDir, `${stem}.ir.txt`);
    writeFileAtomicSync(files.ir, printIr(fe.ir));
  }
  for (const f of [files.ts, files.mjs, files.ir]) if (f) out.info(`wrote ${resolve(f)}`);
  return files;
}

/** `dnnc check SPEC...`: exit 1 when any spec has an error (or cannot be read). `data`: --data, for every spec. */
export function checkCommand(files: string[], out: Out, data?: string): number {
  const results: { file: string; ok: boolean; error?: string; diagnostics: ReturnType<typeof jsonDiag>[] }[] = [];
  for (const f of files) {
    let source: string;
    try {
      source = readSpec(f);
    } catch (e) {
      if (!(e instanceof DnncError)) throw e;
      if (!out.json) process.stderr.write(`error: ${e.message}\n`);
      results.push({ file: f, ok: false, error: e.message, diagnostics: [] });
      continue;
    }
    const r = out.time(`check ${f}`, () =>
      compileToIr(source, f, { passes: "lower", onPass: passTimer(out), facts: (spec) => readDataFacts(spec, dataPathOf(spec, f, data)) }),
    );
    // the data, when it can be reached: what would stop `train` is reported here (compiler/check-data.ts)
    const diagnostics =
      r.ir && r.spec ? [...r.diagnostics, ...out.time(`check the data of ${f}`, () => checkData(r.spec!, r.ir!, dataPathOf(r.spec!, f, data)))] : r.diagnostics;
    report(out, diagnostics, source);
    const ok = !!r.ir && !diagnostics.some((d) => d.severity === "error");
    results.push({ file: f, ok, diagnostics: diagnostics.map(jsonDiag) });
    if (ok && diagnostics.length === 0) out.say(`${f}: ok`);
  }
  const ok = results.every((r) => r.ok);
  if (out.json) {
    const all = results.flatMap((r) => r.diagnostics);
    const errors = all.filter((d) => d.severity === "error").length + results.filter((r) => r.error).length;
    out.emit({ ok, errors, warnings: all.length - all.filter((d) => d.severity === "error").length, files: results });
  }
  return ok ? 0 : 1;
}

export interface CompileOptions {
  out: string;
  /** --data: the data the trainer's `auto` sizes and vocabulary are read from (default: the spec's source). */
  data?: string;
  emit: "ts" | "ir" | "all";
  target: "ts" | "pytorch";
}

/** `dnnc compile SPEC`: the trainer files and the memory report. */
export async function compileCommand(spec: string, o: CompileOptions, out: Out): Promise<number> {
  if (o.emit === "ir") {
    const fe = frontEnd(spec, out, "all", undefined, o.data);
    const { printIr } = await import("../ir");
    const text = printIr(fe.ir);
    if (out.json) out.emit({ ok: true, spec, ir: text });
    else process.stdout.write(text);
    return 0;
  }
  if (o.target === "pytorch") {
    const fe = frontEnd(spec, out, "all", "pytorch", o.data);
    const { generatePytorchTrainer } = await import("../codegen-pytorch/emit-python");
    let py: string;
    try {
      py = out.time("emit trainer.py", () => generatePytorchTrainer(fe.ir, { dataPath: dataPathFor(spec, fe.ir.data.source.path, o.out) }));
    } catch (e) {
      throw new DnncError(`${spec}: cannot compile for PyTorch: ${(e as Error).message}`);
    }
    ensureDir(o.out);
    const f = join(o.out, `${specStem(spec)}.trainer.py`);
    writeFileAtomicSync(f, py);
    out.say(`wrote ${f}`);
    if (out.json) out.emit({ ok: true, spec, target: "pytorch", files: { py: f } });
    return 0;
  }
  const files = await compileSpec(spec, o.out, o.emit, out, o.out, o.data);
  for (const f of [files.ts, files.mjs, files.ir]) if (f) out.say(`wrote ${f}`);
  // the memory the trainer will use (its heap; the data set comes on top)
  const { memoryReport, estimateMemory } = await import("../check-resources");
  const text = memoryReport(files.program).trimEnd();
  out.say(text);
  if (out.json) {
    const est = estimateMemory(files.program);
    const heapFloats = files.program.layout?.heapFloats ?? est.total;
    out.emit({
      ok: true,
      spec,
      target: "ts",
      files: { ts: files.ts, mjs: files.mjs, ...(files.ir ? { ir: files.ir } : {}) },
      memory: { batch: files.program.batch, heapFloats, heapBytes: heapFloats * 4, params: est.params, report: text.split("\n") },
    });
  }
  return 0;
}
