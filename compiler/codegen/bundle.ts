// Code generation, part 3: bundle the generated trainer with the runtime it uses (tree-shaken)
// into one self-contained ES module that runs with Node >= 20 from any directory, importing
// nothing but Node's built-ins.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tsComment } from "../escape";

/** The runtime sources: found upwards from this module (source tree or dist/ bundle alike). */
function findRuntimeDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, "runtime", "index.ts"))) return join(d, "runtime") + "/";
    d = dirname(d);
  }
  throw new Error("dnnc: cannot find the runtime sources (runtime/index.ts)");
}
export const runtimeDir = findRuntimeDir();

export async function bundleTrainer(tsSource: string, fileName: string): Promise<string> {
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    stdin: { contents: tsSource, loader: "ts", sourcefile: fileName, resolveDir: runtimeDir },
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    treeShaking: true,
    legalComments: "none",
    alias: { "dnnc/runtime/node": runtimeDir + "node/index.ts", "dnnc/runtime": runtimeDir + "index.ts" },
    banner: { js: `// ${tsComment(fileName.replace(/\.ts$/, ".mjs"))}: bundled by dnnc; self-contained (runtime included).` },
    logLevel: "silent",
  });
  return r.outputFiles[0].text;
}
