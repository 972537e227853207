#!/usr/bin/env node
// The dnnc command. Runs the bundled CLI in dist/ (built by `npm ci` through the prepare script,
// or on first use if missing). No stack traces for user errors.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

// `dnnc ... | head`: the reader went away; stop quietly like other command-line tools
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli.mjs");
if (!existsSync(cli)) {
  const { build } = await import(pathToFileURL(join(root, "scripts", "build.mjs")).href);
  await build();
}
const { run } = await import(pathToFileURL(cli).href);
await run(process.argv.slice(2));
