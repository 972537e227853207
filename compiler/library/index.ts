// The package's entry point, `import { compile } from "dnnc"` (docs/library.md): a spec's text to
// a trainer (fit, load, predict, evaluate, save) in this process. The compiler (chevrotain,
// ts-morph, prettier, esbuild) loads on the first compile, not on import.
import type { CompileOptions, SpecDiagnostic, Trainer } from "../../runtime/api-types";

export type * from "../../runtime/api-types";

/** A spec that does not compile: `diagnostics` holds every error, with its line, column and hint. */
export class SpecError extends Error {
  readonly diagnostics: SpecDiagnostic[];
  constructor(file: string, diagnostics: SpecDiagnostic[]) {
    super(
      `${file}: ${diagnostics.length} error${diagnostics.length === 1 ? "" : "s"}\n${diagnostics.map((d) => `${file}:${d.line}:${d.col}: error[${d.code}]: ${d.message}${d.hint ? ` (hint: ${d.hint})` : ""}`).join("\n")}`,
    );
    this.name = "SpecError";
    this.diagnostics = diagnostics;
  }
}

/**
 * Compile a spec's text to a trainer. Reads no file and no data: the spec's `data` block may be
 * left out, or name a source that fit ignores for the arrays it is given (its scale, shift,
 * preprocessing, augmentation and validation settings still apply). Throws SpecError on a bad spec.
 */
export async function compile(spec: string, options: CompileOptions = {}): Promise<Trainer> {
  const { compileTrainer } = await import("./compile");
  return compileTrainer(spec, options, (file, d) => new SpecError(file, d));
}
