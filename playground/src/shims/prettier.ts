// Browser stand-in for `prettier`, aliased by playground/vite.config.ts: compiler/codegen/
// emit-trainer.ts calls prettier.format(text, { parser: "typescript", ... }); Node's prettier
// finds its parsers itself, the standalone build needs them passed as plugins.
import * as standalone from "prettier/standalone";
import * as typescript from "prettier/plugins/typescript";
import * as estree from "prettier/plugins/estree";
import type { Options } from "prettier";

export function format(source: string, options: Options = {}): Promise<string> {
  return standalone.format(source, { ...options, plugins: [typescript, estree, ...(options.plugins ?? [])] });
}

export default { format };
