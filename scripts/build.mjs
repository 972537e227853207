// Build dist/cli.mjs (the compiler) and dist/trial-worker.mjs (one search trial, run in a worker
// thread) with esbuild. chevrotain (with lodash-es) and ajv are bundled in: opening their hundreds
// of module files cost `dnnc check` more than the check itself. The heavy code-generation packages
// stay external and are loaded lazily, only by `compile` and `train`. The runtime stays as
// TypeScript source: compiled trainers bundle the parts they use.
import { build as esbuild } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function bundle(entry, out) {
  return esbuild({
    entryPoints: [join(root, ...entry.split("/"))],
    outfile: join(root, "dist", out),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["ts-morph", "prettier", "esbuild", "cli-progress", "wabt"],
    banner: { js: "import { createRequire as __dnncCreateRequire } from 'node:module'; const require = __dnncCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
}

export async function build() {
  await bundle("compiler/entry.ts", "cli.mjs");
  await bundle("compiler/search-worker.ts", "trial-worker.mjs");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await build();
