// Build dist/cli.mjs (the compiler), dist/trial-worker.mjs (one search trial, run in a worker
// thread) and dist/compile-child.mjs (`dnnc train`'s compiler, run in a child process so that the
// process that trains never loads it) with esbuild. chevrotain (with lodash-es) and ajv are
// bundled in: opening their hundreds of module files cost `dnnc check` more than the check itself.
// The heavy code-generation packages stay external and are loaded lazily, only by `compile` and
// `train` (in its child). The CLI is split into chunks
// (dist/chunk-*.mjs): a verb's code is loaded when the verb runs, so `dnnc check` parses only the
// front end and the argument parser. The runtime stays as TypeScript
// source: compiled trainers bundle the parts they use.
// Start-up (docs/performance.md, "Startup"): the schemas are compiled to plain functions here, at
// build time (compiler/generated/standalone.ts replaces runtime-ajv.ts in the bundle, so ajv is not
// in it), and `__DNNC_BUNDLE__` tells the grammar to skip chevrotain's self-validation (the tests
// build the parser with it).
import { build as esbuild } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { basename, dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["ts-morph", "prettier", "esbuild", "cli-progress", "wabt"],
  banner: { js: "import { createRequire as __dnncCreateRequire } from 'node:module'; const require = __dnncCreateRequire(import.meta.url);" },
  logLevel: "warning",
  define: { __DNNC_BUNDLE__: "true" },
};

/** The source of the precompiled validators (generated/standalone.ts, bundled and run here). */
async function standaloneValidators() {
  const tmp = join(dist, `.standalone-${process.pid}.mjs`);
  await esbuild({ ...common, define: {}, external: [], entryPoints: [join(root, "compiler", "generated", "standalone.ts")], outfile: tmp });
  try {
    const { generateStandaloneModule } = await import(pathToFileURL(tmp).href);
    return generateStandaloneModule();
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** An esbuild plugin: `./generated/runtime-ajv` (ajv at run time) becomes the precompiled module. */
function precompiledValidators(contents) {
  return {
    name: "dnnc-precompiled-validators",
    setup(b) {
      b.onResolve({ filter: /(^|\/)generated\/runtime-ajv$/ }, () => ({ path: "precompiled-validators", namespace: "dnnc" }));
      b.onLoad({ filter: /.*/, namespace: "dnnc" }, () => ({ contents, loader: "js" }));
    },
  };
}

/** The esbuild options of dist/cli.mjs and its chunks (test/startup.test.ts builds them in memory). */
export function cliBundleOptions(validators) {
  return {
    ...common,
    plugins: [precompiledValidators(validators)],
    entryPoints: { cli: join(root, "compiler", "entry.ts") },
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    splitting: true,
  };
}

export async function build() {
  const validators = await standaloneValidators();
  const r = await esbuild({ ...cliBundleOptions(validators), outdir: dist, metafile: true });
  await esbuild({
    ...common,
    plugins: [precompiledValidators(validators)],
    entryPoints: [join(root, "compiler", "search-worker.ts")],
    outfile: join(dist, "trial-worker.mjs"),
  });
  // `dnnc train` compiles in a child process that has exited before training (compiler/cli/compile-child.ts)
  await esbuild({
    ...common,
    plugins: [precompiledValidators(validators)],
    entryPoints: [join(root, "compiler", "cli", "compile-child.ts")],
    outfile: join(dist, "compile-child.mjs"),
  });
  const lib = await buildLibrary(validators);
  // chunks of earlier builds: removed after a day (a long `dnnc train` started before this build
  // may still load one; train loads the ones it needs up front, but other verbs may not), and at
  // once when npm packs or publishes (the tarball ships dist/: only this build's chunks)
  const packing = process.env.npm_command === "pack" || process.env.npm_command === "publish";
  const stale = (dir, current) => {
    for (const f of readdirSync(dir))
      if (/^chunk-.*\.mjs$/.test(f) && !current.has(f) && (packing || Date.now() - statSync(join(dir, f)).mtimeMs > 86_400_000))
        rmSync(join(dir, f), { force: true });
  };
  stale(dist, new Set(Object.keys(r.metafile.outputs).map((p) => basename(p))));
  stale(join(dist, "lib"), new Set(Object.keys(lib.metafile.outputs).map((p) => basename(p))));
}

/**
 * The package's library entry points (package.json "exports", docs/library.md), in dist/lib/:
 * index.mjs (`import { compile } from "dnnc"`; the compiler is a chunk loaded on the first
 * compile), runtime.mjs (`dnnc/runtime`, what generated trainer sources import) and
 * runtime-node.mjs (`dnnc/runtime/node`), sharing one runtime chunk; with their declarations
 * (runtime/api-types.ts is declarations only, copied as api-types.d.ts).
 */
async function buildLibrary(validators) {
  const out = join(dist, "lib");
  mkdirSync(out, { recursive: true });
  const r = await esbuild({
    ...common,
    plugins: [precompiledValidators(validators)],
    entryPoints: {
      index: join(root, "compiler", "library", "index.ts"),
      runtime: join(root, "runtime", "index.ts"),
      "runtime-node": join(root, "runtime", "node", "index.ts"),
    },
    outdir: out,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    splitting: true,
    metafile: true,
  });
  const types = readFileSync(join(root, "runtime", "api-types.ts"), "utf8");
  writeFileSync(join(out, "api-types.d.ts"), types);
  const head = "// Declarations of dnnc's library API (docs/library.md); written by scripts/build.mjs.\n";
  writeFileSync(
    join(out, "index.d.ts"),
    head +
      'import type { CompileOptions, SpecDiagnostic, Trainer } from "./api-types.js";\n' +
      'export type * from "./api-types.js";\n' +
      "/** A spec that does not compile: `diagnostics` holds every error, with its line, column and hint. */\n" +
      "export declare class SpecError extends Error {\n  readonly diagnostics: SpecDiagnostic[];\n}\n" +
      "/** Compile a spec's text to a trainer (reads no file and no data). Throws SpecError on a bad spec. */\n" +
      "export declare function compile(spec: string, options?: CompileOptions): Promise<Trainer>;\n",
  );
  const runtimeTypes =
    head +
    'import type { Trainer } from "./api-types.js";\n' +
    'export type * from "./api-types.js";\n' +
    "/** fit, load, predict, evaluate and save for a generated trainer's `program`. */\n" +
    "export declare function trainerApi(program: object): Trainer;\n";
  writeFileSync(join(out, "runtime.d.ts"), runtimeTypes);
  writeFileSync(
    join(out, "runtime-node.d.ts"),
    head +
      "/** Run a generated trainer's command line when its file is the process's entry point. */\nexport declare function runMain(program: object, trainerUrl: string): void;\n",
  );
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await build();
