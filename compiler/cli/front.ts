// `dnnc check` and `dnnc compile`, and the helpers every verb that compiles a spec shares
// (reading it, the front end with its diagnostics, writing the trainer files).
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { compileToIr } from "../pipeline";
import { checkTarget, type Target } from "../check-targets";
import { dataPathOf, readDataFacts } from "../data-facts";
import { checkData } from "../check-data";
import type { DataFacts, Spec } from "../spec";
import { decodeSafetensors } from "../../runtime/safetensors";
import { initFromFile, readInitFrom } from "../../runtime/node/init-from-file";
import type { IR } from "../ir";
import { renderDiagnostics, type Diagnostic } from "../../grammar/diagnostics";
import { DnncError } from "../../runtime/errors";
import { writeFileAtomicSync } from "../../runtime/node/atomic";
import { describeFsError, ensureDir } from "../../runtime/node/fs-errors";
import { makeOut, type Out } from "./io";
import { runSpecText, type SetFlag } from "./run-spec";

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

/**
 * A spec's text other than its file's: `source` (overridden by --set, a run's spec with its data
 * path rewritten), whose relative paths are relative to `baseDir` (default: the file's directory).
 * Diagnostics still name the file.
 */
export interface SpecText {
  source?: string;
  baseDir?: string;
  /** The flags that changed the text (`--set train.batch=0`), named in the error line. */
  overrides?: string;
}

/** Where a spec's relative paths are relative to, as a path in that directory (for dataPathOf and dataPathFor). */
const resolvedAs = (path: string, t: SpecText) => (t.baseDir !== undefined ? join(t.baseDir, "spec.dnn") : path);

/** The pipeline on a spec file, its diagnostics reported; with `target`, also what that target cannot map (E0405). */
export function frontEnd(path: string, out: Out = quietOut, passes: "all" | "lower" = "all", target?: Target, data?: string, text: SpecText = {}) {
  const source = text.source ?? readSpec(path);
  out.info(`spec ${resolve(path)} (${source.length} characters${text.source !== undefined ? ", with the command line's overrides" : ""})`);
  // the data's vocabulary and classes, for `auto` sizes (read only for the sequence sources)
  const facts = (spec: Spec) => withInitFrom(readDataFacts(spec, dataPathOf(spec, resolvedAs(path, text), data)), spec, resolvedAs(path, text));
  const r = out.time(`front end (parse, check, lower${passes === "all" ? ", fuse, plan memory" : ""})`, () =>
    compileToIr(source, path, { passes, onPass: passTimer(out), facts }),
  );
  if (r.ir && target) {
    const refused = checkTarget(r.ir, target, r.spec);
    if (refused.length > 0) Object.assign(r, { ir: undefined, diagnostics: [...r.diagnostics, ...refused] });
  }
  report(out, r.diagnostics, source);
  // under --json the diagnostics travel in the error document (cli.ts)
  if (!r.ir)
    throw Object.assign(new DnncError(`${path}${text.overrides ? ` (with ${text.overrides})` : ""}: compilation failed`, 1), {
      diagnostics: r.diagnostics.map(jsonDiag),
    });
  return { ...r, ir: r.ir, source };
}

/** The facts with the spec's init_from file read (fine-tuning): its tensor shapes, or why it cannot be used (E0801 at the spec's init_from). */
function withInitFrom(facts: DataFacts, spec: Spec, specPath: string): DataFacts {
  const p = spec.finetune?.initFrom?.path;
  if (p === undefined) return facts;
  const abs = resolve(dirname(specPath), p);
  try {
    const { file, bytes } = readInitFrom(abs);
    const shapes = Object.fromEntries(decodeSafetensors(bytes, file).tensors.map((t) => [t.name, t.shape]));
    return { ...facts, initFrom: { file, shapes } };
  } catch (e) {
    if (!(e instanceof DnncError)) throw e;
    return { ...facts, initFrom: { file: abs, error: e.message } };
  }
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
  text: SpecText = {},
): Promise<CompiledFiles> {
  const fe = frontEnd(specPath, out, "all", undefined, data, text);
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
    generateTrainer(fe.ir, {
      dataPath: dataPathFor(resolvedAs(specPath, text), fe.ir.data.source.path, dataBase),
      ...(fe.ir.initFrom !== undefined
        ? { initFrom: dataPathFor(resolvedAs(specPath, text), initFromFile(resolve(dirname(resolvedAs(specPath, text)), fe.ir.initFrom)), dataBase) }
        : {}),
    }),
  );
  files.ts = join(outDir, `${stem}.trainer.ts`);
  // every generated file is written atomically (a temporary file renamed over it): a full disk or a
  // kill never leaves a truncated trainer behind
  writeFileAtomicSync(files.ts, src.text);
  files.mjs = join(outDir, `${stem}.trainer.mjs`);
  const bundled = await out.time("bundle trainer.mjs (esbuild)", () => bundleTrainer(src.text, `${stem}.trainer.ts`));
  writeFileAtomicSync(files.mjs, bundled);
  // its declarations (a compiled trainer is a library when imported: docs/library.md)
  const { generateTrainerTypes } = await import("../codegen/emit-trainer-types");
  writeFileAtomicSync(join(outDir, `${stem}.trainer.d.mts`), generateTrainerTypes(fe.ir, `${stem}.trainer.mjs`));
  if (emit === "all") {
    files.ir = join(outDir, `${stem}.ir.txt`);
    writeFileAtomicSync(files.ir, printIr(fe.ir));
  }
  for (const f of [files.ts, files.mjs, files.ir]) if (f) out.info(`wrote ${resolve(f)}`);
  return files;
}

/** `dnnc check SPEC...`: exit 1 when any spec has an error (or cannot be read). `data`: --data, `sets`: --set, for every spec. */
export function checkCommand(files: string[], out: Out, data?: string, sets: SetFlag[] = []): number {
  const results: { file: string; ok: boolean; error?: string; diagnostics: ReturnType<typeof jsonDiag>[] }[] = [];
  for (const f of files) {
    let source: string;
    try {
      source = readSpec(f);
      if (sets.length > 0) source = runSpecText(source, { specPath: f, sets, verb: "check" });
    } catch (e) {
      if (e instanceof DnncError && e.exitCode === 2) throw e; // a --set path that names nothing: usage
      if (!(e instanceof DnncError)) throw e;
      if (!out.json) process.stderr.write(`error: ${e.message}\n`);
      results.push({ file: f, ok: false, error: e.message, diagnostics: [] });
      continue;
    }
    const r = out.time(`check ${f}`, () =>
      compileToIr(source, f, {
        passes: "lower",
        onPass: passTimer(out),
        facts: (spec) => withInitFrom(readDataFacts(spec, dataPathOf(spec, f, data)), spec, f),
      }),
    );
    // the data, when it can be reached: what would stop `train` is reported here (compiler/check-data.ts)
    const diagnostics =
      r.ir && r.spec ? [...r.diagnostics, ...out.time(`check the data of ${f}`, () => checkData(r.spec!, r.ir!, dataPathOf(r.spec!, f, data)))] : r.diagnostics;
    report(out, diagnostics, source);
    const ok = !!r.ir && !diagnostics.some((d) => d.severity === "error");
    if (!ok && sets.length > 0 && !out.json) process.stderr.write(`note: ${f} as changed by ${sets.map((x) => `--set ${x.text}`).join(" ")}\n`);
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
  target: "ts" | "pytorch" | "browser";
  /** --set PATH=VALUE overrides, applied to the spec's text before it is compiled. */
  set?: SetFlag[];
}

/** `dnnc compile SPEC`: the trainer files and the memory report. */
export async function compileCommand(specArg: string, o: CompileOptions, out: Out): Promise<number> {
  const overrides = (o.set ?? []).map((x) => `--set ${x.text}`).join(" ");
  let given: SpecText = overrides ? { source: runSpecText(readSpec(specArg), { specPath: specArg, sets: o.set, verb: "compile" }), overrides } : {};
  // with --set, the trainer is compiled from OUT/<name>.dnn, the spec as overridden (its data path
  // relative to OUT), written first: the trainer and the weights it writes name that file, whose
  // hash they carry (dnnc evaluate, predict and export find it there)
  let spec = specArg;
  let written: string | undefined;
  if (overrides && o.emit !== "ir") {
    written = join(o.out, `${specStem(specArg)}.dnn`);
    if (resolve(written) === resolve(specArg))
      throw new DnncError(`${written}: compile --set would replace the spec itself with the overridden one; give another -o directory`);
    const text = runSpecText(readSpec(specArg), { specPath: specArg, sets: o.set, verb: "compile", writtenTo: o.out });
    ensureDir(o.out);
    writeFileAtomicSync(written, text);
    out.say(`wrote ${written} (${specArg} with ${overrides})`);
    spec = written;
    given = { overrides };
  }
  if (o.emit === "ir") {
    const fe = frontEnd(spec, out, "all", undefined, o.data, given);
    const { printIr } = await import("../ir");
    const text = printIr(fe.ir);
    if (out.json) out.emit({ ok: true, spec: specArg, ir: text });
    else process.stdout.write(text);
    return 0;
  }
  if (o.target === "pytorch") {
    const fe = frontEnd(spec, out, "all", "pytorch", o.data, given);
    const { generatePytorchTrainer } = await import("../codegen-pytorch/emit-python");
    let py: string;
    try {
      py = out.time("emit trainer.py", () =>
        generatePytorchTrainer(fe.ir, {
          dataPath: dataPathFor(spec, fe.ir.data.source.path, o.out),
          ...(fe.ir.initFrom !== undefined ? { initFrom: dataPathFor(spec, initFromFile(resolve(dirname(spec), fe.ir.initFrom)), o.out) } : {}),
        }),
      );
    } catch (e) {
      throw new DnncError(`${spec}: cannot compile for PyTorch: ${(e as Error).message}`);
    }
    ensureDir(o.out);
    const f = join(o.out, `${specStem(spec)}.trainer.py`);
    writeFileAtomicSync(f, py);
    out.say(`wrote ${f}`);
    if (out.json) out.emit({ ok: true, spec: specArg, target: "pytorch", files: { py: f, ...(written ? { spec: written } : {}) } });
    return 0;
  }
  if (o.target === "browser") return compileBrowser(spec, o, out, given);
  const files = await compileSpec(spec, o.out, o.emit, out, o.out, o.data, given);
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
      spec: specArg,
      target: "ts",
      files: { ts: files.ts, mjs: files.mjs, ...(files.ir ? { ir: files.ir } : {}), ...(written ? { spec: written } : {}) },
      memory: { batch: files.program.batch, heapFloats, heapBytes: heapFloats * 4, params: est.params, report: text.split("\n") },
    });
  }
  return 0;
}

/** `dnnc compile SPEC --target browser`: NAME.browser.mjs (one ES module, no Node built-ins; docs/browser.md) and its .d.mts (the declaration file TypeScript reads for a .mjs). */
async function compileBrowser(spec: string, o: CompileOptions, out: Out, given: SpecText = {}): Promise<number> {
  const fe = frontEnd(spec, out, "all", undefined, o.data, given);
  const stem = specStem(spec);
  const { generateTrainer } = await import("../codegen/emit-trainer");
  const { bundleBrowserTrainer } = await import("../codegen/bundle-browser");
  const { generateTrainerTypes } = await import("../codegen/emit-trainer-types");
  const src = await out.time("emit trainer.ts (browser entry)", () => generateTrainer(fe.ir, { dataPath: fe.ir.data.source.path, entry: "browser" }));
  const js = await out.time("bundle browser.mjs (esbuild)", () => bundleBrowserTrainer(src.text, `${stem}.browser.ts`));
  ensureDir(o.out);
  const mjs = join(o.out, `${stem}.browser.mjs`);
  const dts = join(o.out, `${stem}.browser.d.mts`);
  writeFileAtomicSync(mjs, js);
  writeFileAtomicSync(dts, generateTrainerTypes(fe.ir, `${stem}.browser.mjs`, true));
  for (const f of [mjs, dts]) out.say(`wrote ${f}`);
  if (out.json) out.emit({ ok: true, spec, target: "browser", files: { mjs, dts } });
  return 0;
}
