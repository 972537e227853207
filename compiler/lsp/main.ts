// `npx tsx compiler/lsp/main.ts`: the language server on stdin/stdout, for running it from a
// checkout (`dnnc lsp` calls runLanguageServer from ./server the same way; it ends the process).
// Of our modules only this one has a side effect on import, and nothing imports it. Editors often
// pass `--stdio`: stdio is the only transport. VS Code also passes `--clientProcessId=N`:
// vscode-languageserver/node (imported by ./server) then ends the server, with code 1, within
// 3 s of that process's death.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { runLanguageServer } from "./server";

const entry = process.argv[1];
if (entry && pathToFileURL(resolve(entry)).href === import.meta.url) {
  runLanguageServer().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`dnnc lsp: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(70);
    },
  );
}
