// The library's compile (loaded lazily by index.ts): the spec through the whole pipeline
// (compileToIr), the trainer dnnc generates for it (generateTrainer, without its Node entry point),
// TypeScript to JavaScript (esbuild's transform, as CommonJS), and that code run with this
// process's own runtime as its `dnnc/runtime` (no file is written, no module is loaded from disk,
// and the trainer shares the runtime instance of the caller).
import type { CompileOptions, SpecDiagnostic, Trainer } from "../../runtime/api-types";
import * as runtime from "../../runtime/index";
import type { Program } from "../../runtime/program";
import { compileToIr } from "../pipeline";
import { DnncError } from "../../runtime/errors";

/** compile reads no data: an `auto` size (the data's vocabulary or classes) is a diagnostic asking for the number. */
const FACTS = { unreadable: "compile() does not read (the arrays come from fit): write the size instead of `auto`" };

/** What a spec used from code gets when it has no `data` block: a source fit never reads. */
const NO_DATA = `\ndata {\n  source csv("(arrays given to fit)")\n}\n`;

function diagnosticsOf(ds: { code: string; message: string; span: { line: number; col: number }; hint?: string }[]): SpecDiagnostic[] {
  return ds.map((d) => ({ code: d.code, message: d.message, line: d.span.line, col: d.span.col, ...(d.hint ? { hint: d.hint } : {}) }));
}

export async function compileTrainer(spec: string, options: CompileOptions, specError: (file: string, d: SpecDiagnostic[]) => Error): Promise<Trainer> {
  if (typeof spec !== "string") throw new DnncError(`compile: expected the spec's text (a string), got ${spec === null ? "null" : typeof spec}`);
  const file = options.file ?? "spec.dnn";
  if (typeof file !== "string" || file === "") throw new DnncError(`compile: options.file must be a non-empty string`);
  const noData = (d: { code: string; message: string }) => d.code === "E0103" && d.message.includes("`data`");
  let fe = compileToIr(spec, file, { facts: FACTS });
  let errors = fe.diagnostics.filter((d) => d.severity === "error");
  // a spec used from code may leave its data block out: the arrays come from fit
  if (errors.some(noData)) {
    errors = errors.filter((d) => !noData(d));
    if (errors.length === 0) {
      fe = compileToIr(spec + NO_DATA, file, { facts: FACTS });
      errors = fe.diagnostics.filter((d) => d.severity === "error");
    }
  }
  if (!fe.ir || errors.length > 0) throw specError(file, diagnosticsOf(errors));
  const { generateTrainer } = await import("../codegen/emit-trainer");
  const { text } = await generateTrainer(fe.ir, { dataPath: fe.ir.data.source.path, entry: "none" });
  const esbuild = await import("esbuild");
  const { code } = await esbuild.transform(text, { loader: "ts", format: "cjs", target: "es2022", sourcefile: `${fe.ir.name}.trainer.ts` });
  const mod = { exports: {} as { program?: Program; fit?: unknown } };
  const require = (id: string) => {
    if (id === "dnnc/runtime") return runtime;
    throw new DnncError(`compile: the generated trainer imports ${JSON.stringify(id)}, which the library cannot link`);
  };
  new Function("require", "module", "exports", code)(require, mod, mod.exports);
  const program = mod.exports.program;
  if (!program) throw new DnncError("compile: the generated trainer exports no program");
  return runtime.trainerApi(program);
}
