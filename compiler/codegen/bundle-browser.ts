// Code generation, part 3 for `--target browser`: the trainer generated with its browser entry
// (runtime/browser/index.ts) bundled with the runtime it uses into one ES module that a page's
// <script type="module">, a Worker or a bundler loads: platform "browser", no node:* import (the
// wasm backend's Node adapter is replaced by runtime/browser/node-adapter.ts).
import { tsComment } from "../escape";
import { runtimeDir } from "./bundle";

export async function bundleBrowserTrainer(tsSource: string, fileName: string): Promise<string> {
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    stdin: { contents: tsSource, loader: "ts", sourcefile: fileName, resolveDir: runtimeDir },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    treeShaking: true,
    legalComments: "none",
    alias: { "dnnc/runtime/browser": runtimeDir + "browser/index.ts", "dnnc/runtime": runtimeDir + "index.ts" },
    plugins: [
      {
        name: "dnnc-browser-node-adapter",
        setup(b) {
          b.onResolve({ filter: /^\.\/node-adapter$/ }, (a) =>
            /[\\/]wasm$/.test(a.resolveDir) ? { path: runtimeDir + "browser/node-adapter.ts" } : undefined,
          );
        },
      },
    ],
    banner: { js: `// ${tsComment(fileName.replace(/\.ts$/, ".mjs"))}: bundled by dnnc for browsers; self-contained (runtime included), no Node built-ins.` },
    logLevel: "silent",
  });
  const text = r.outputFiles[0].text;
  const node = /\b(?:from|import)\s*\(?\s*["'](node:[\w/]+)["']/.exec(text);
  if (node) throw new Error(`dnnc: the browser bundle of ${fileName} imports ${node[1]}`);
  return text;
}
