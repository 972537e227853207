// The dnnc playground (docs/playground.md): `npx vite playground` serves it, `npx vite build
// playground` writes playground/dist/. The bundled datasets (specs/data/) are the public folder,
// served at /fashion-mnist-small/... and /two-moons/.... Three Node-only modules are swapped for
// browser stand-ins (playground/src/shims/): node:crypto (check.ts hashes the spec), prettier
// (the standalone build needs its parsers passed in) and runtime/wasm/node-adapter.ts (never
// called in a browser, but its node:* imports must not enter the bundle).
import { defineConfig, type Plugin } from "vite";
import { fileURLToPath } from "node:url";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

function browserShims(): Plugin {
  return {
    name: "dnnc-browser-shims",
    enforce: "pre",
    resolveId(source, importer) {
      if (source === "node:crypto" || source === "crypto") return here("./src/shims/crypto.ts");
      if (source === "prettier") return here("./src/shims/prettier.ts");
      if (source === "./node-adapter" && importer && /[\\/]runtime[\\/]wasm[\\/]/.test(importer)) return here("./src/shims/node-adapter.ts");
      return null;
    },
  };
}

export default defineConfig({
  root: here("."),
  base: "./",
  publicDir: here("../specs/data"),
  plugins: [browserShims()],
  worker: { format: "es", plugins: () => [browserShims()] },
  build: {
    outDir: here("./dist"),
    emptyOutDir: true,
    target: "es2022",
    // the trainer compiler (ts-morph with its TypeScript, prettier) is one lazy chunk of the worker
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
  server: { fs: { allow: [here("..")] } },
  // dev server: pre-bundle the lazily imported compiler dependencies at start-up, or their
  // discovery on the first Train reloads the page
  optimizeDeps: {
    include: ["ts-morph", "prettier/standalone", "prettier/plugins/typescript", "prettier/plugins/estree", "chevrotain", "ajv"],
  },
});
