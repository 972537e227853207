// The spec → the trainer dnnc generates for it → a live `Program`, in the browser (worker side).
// Same path as `dnnc compile`: compileToIr (grammar + check + passes) and generateTrainer
// (ts-morph + prettier) give the very trainer.ts the CLI writes; TypeScript's transpileModule
// strips its types; the trainer is generated without its Node entry point (entry "none": the
// worker trains through the library API it exports, runtime/api.ts), so its one import,
// "dnnc/runtime", is pointed at a blob module re-exporting the runtime this worker bundles.
import { compileToIr } from "../../compiler/pipeline";
import { generateTrainer } from "../../compiler/codegen/emit-trainer";
import type { Program } from "../../runtime/program";
import * as runtime from "../../runtime/index";

export interface CompiledTrainer {
  program: Program;
  trainerTs: string;
  trainerJs: string;
  frontMs: number;
  codegenMs: number;
  transpileMs: number;
}

export class SpecError extends Error {
  constructor(public diagnostics: { line: number; col: number; message: string }[]) {
    super(diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`).join("\n"));
  }
}

const blobUrl = (code: string) => URL.createObjectURL(new Blob([code], { type: "text/javascript" }));

let runtimeUrls: { runtime: string } | undefined;
/** A blob module standing for "dnnc/runtime" (every export of runtime/index.ts). */
function linkTargets(): { runtime: string } {
  if (runtimeUrls) return runtimeUrls;
  (globalThis as { __dnncRuntime?: unknown }).__dnncRuntime = runtime;
  const names = Object.keys(runtime).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k));
  const re = `const R = globalThis.__dnncRuntime;\n${names.map((n) => `export const ${n} = R.${n};`).join("\n")}\n`;
  runtimeUrls = { runtime: blobUrl(re) };
  return runtimeUrls;
}

/**
 * TypeScript → JavaScript with its "dnnc/runtime*" imports rewritten to `targets` (module specifiers
 * found on the syntax tree); `node` is only needed for a trainer generated with its Node entry.
 */
export async function transpileAndLink(tsText: string, fileName: string, targets: { runtime: string; node?: string }): Promise<string> {
  const { ts } = await import("ts-morph");
  const out = ts.transpileModule(tsText, {
    fileName,
    reportDiagnostics: false,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: false },
  }).outputText;
  const sf = ts.createSourceFile(fileName.replace(/\.ts$/, ".js"), out, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  const edits: { start: number; end: number; text: string }[] = [];
  for (const st of sf.statements) {
    if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      const to = spec === "dnnc/runtime" ? targets.runtime : spec === "dnnc/runtime/node" ? targets.node : undefined;
      if (to === undefined) throw new Error(`generated trainer imports ${JSON.stringify(spec)}, which the playground cannot link`);
      edits.push({ start: st.moduleSpecifier.getStart(sf), end: st.moduleSpecifier.getEnd(), text: JSON.stringify(to) });
    }
  }
  let js = out;
  for (const e of edits.sort((a, b) => b.start - a.start)) js = js.slice(0, e.start) + e.text + js.slice(e.end);
  return js;
}

/** Compile a spec to its trainer and load it. Throws SpecError with the diagnostics when the spec has errors. */
export async function compileTrainer(source: string, file: string): Promise<CompiledTrainer> {
  const t0 = performance.now();
  const fe = compileToIr(source, file);
  const errors = fe.diagnostics.filter((d) => d.severity === "error");
  if (!fe.ir || errors.length > 0) throw new SpecError(errors.map((d) => ({ line: d.span.line, col: d.span.col, message: d.message })));
  const t1 = performance.now();
  // dataPath: as `dnnc compile` does for a trainer written next to the spec
  const { text } = await generateTrainer(fe.ir, { dataPath: fe.ir.data.source.path, entry: "none" });
  const t2 = performance.now();
  const fileName = `${fe.ir.name}.trainer.ts`;
  const js = await transpileAndLink(text, fileName, linkTargets());
  const url = blobUrl(`${js}\n//# sourceURL=${fileName.replace(/\.ts$/, ".js")}\n`);
  try {
    const mod = (await import(/* @vite-ignore */ url)) as { program?: Program };
    if (!mod.program) throw new Error("the generated trainer exports no `program`");
    const t3 = performance.now();
    return { program: mod.program, trainerTs: text, trainerJs: js, frontMs: t1 - t0, codegenMs: t2 - t1, transpileMs: t3 - t2 };
  } finally {
    URL.revokeObjectURL(url);
  }
}
