// Build dist/cli.mjs: the compiler bundled with esbuild (ts-morph, prettier and esbuild stay
// external and are loaded lazily). The runtime stays as TypeScript source: compiled trainers
// bundle the parts they use.
import { build as esbuild } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function build() {
  await esbuild({
    entryPoints: [join(root, "compiler", "entry.ts")],
    outfile: join(root, "dist", "cli.mjs"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // chevrotain (with lodash-es) and ajv are bundled in: opening their hundreds of module files
    // cost `dnnc check` more than the check itself. The heavy code-generation packages stay
    // external and are loaded lazily, only by `compile` and `train`.
    external: ["ts-morph", "prettier", "esbuild", "cli-progress", "wabt"],
    banner: { js: "import { createRequire as __dnncCreateRequire } from 'node:module'; const require = __dnncCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
  await esbuild({
    entryPoints: [join(root, "compiler", "search-worker.ts")],
    outfile: join(root, "dist", "trial-worker.mjs"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await build();
