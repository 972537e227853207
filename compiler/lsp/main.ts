// `dnnc lsp` / `npx tsx compiler/lsp/main.ts`: the language server on stdin/stdout. Nothing else
// may write to stdout while it runs (it carries the protocol); logs go to the client as
// window/logMessage. Editors usually pass `--stdio`, which is the only transport and is ignored.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startLanguageServer } from "./server";

/** Serve LSP on this process's stdio until `exit` or end of input; returns the exit code. */
export async function runLanguageServer(): Promise<number> {
  const server = startLanguageServer(process.stdin, process.stdout);
  const { code } = await server.done;
  return code;
}

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
