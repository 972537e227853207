// The dnnc language server: LSP over any pair of byte streams (stdio for editors, in-memory
// streams in tests). Full-text document sync; on every open and change the document goes through
// the compiler's front end (parse, check, lower) and the diagnostics are published with 0-based
// ranges. Hover shows a construct's documentation and arguments; completion offers layer names,
// settings, argument names inside `name(` and values after `key=`.
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ErrorCodes, frame, MessageReader, type Id, type Message } from "./jsonrpc";
import { complete, diagnose, hover } from "./features";
import type { Position } from "./context";

export interface LanguageServer {
  /** Resolves when the input ends or the client sends `exit`; `code` is 0 after a `shutdown`. */
  done: Promise<{ code: number }>;
  /** Stop reading input (the output is left open). */
  close(): void;
}

class RequestError extends Error {
  constructor(
    public code: number,
    message: string,
  ) {
    super(message);
  }
}

interface TextDocumentItem {
  uri: string;
  languageId?: string;
  version?: number;
  text: string;
}
interface PositionParams {
  textDocument: { uri: string };
  position: Position;
}

function fileOf(uri: string): string {
  try {
    return uri.startsWith("file:") ? fileURLToPath(uri) : uri;
  } catch {
    return uri;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function positionParams(p: unknown): PositionParams {
  if (!isObj(p) || !isObj(p.textDocument) || typeof p.textDocument.uri !== "string" || !isObj(p.position))
    throw new RequestError(ErrorCodes.InvalidParams, "expected {textDocument: {uri}, position: {line, character}}");
  const { line, character } = p.position;
  if (typeof line !== "number" || typeof character !== "number") throw new RequestError(ErrorCodes.InvalidParams, "position needs numeric line and character");
  return p as unknown as PositionParams;
}

export function startLanguageServer(input: Readable, output: Writable): LanguageServer {
  const docs = new Map<string, string>();
  let initialized = false;
  let shutdown = false;
  let finish!: (r: { code: number }) => void;
  const done = new Promise<{ code: number }>((res) => (finish = res));
  let ended = false;

  const send = (m: Message) => {
    if (!ended) output.write(frame(m));
  };
  const notify = (method: string, params: unknown) => send({ jsonrpc: "2.0", method, params });
  const log = (message: string) => notify("window/logMessage", { type: 3, message });

  const publish = (uri: string) => {
    const text = docs.get(uri);
    notify("textDocument/publishDiagnostics", { uri, diagnostics: text === undefined ? [] : diagnose(text, fileOf(uri)) });
  };

  const requests: Record<string, (params: unknown) => unknown> = {
    initialize: () => {
      initialized = true;
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: 1 },
          hoverProvider: true,
          completionProvider: { triggerCharacters: ["(", ",", "=", " ", ">"] },
        },
        serverInfo: { name: "dnnc", version: "0.1.0" },
      };
    },
    shutdown: () => {
      shutdown = true;
      return null;
    },
    "textDocument/hover": (p) => {
      const { textDocument, position } = positionParams(p);
      const text = docs.get(textDocument.uri);
      return text === undefined ? null : (hover(text, position) ?? null);
    },
    "textDocument/completion": (p) => {
      const { textDocument, position } = positionParams(p);
      const text = docs.get(textDocument.uri);
      return { isIncomplete: false, items: text === undefined ? [] : complete(text, position) };
    },
  };

  const notifications: Record<string, (params: unknown) => void> = {
    initialized: () => {},
    exit: () => stop(shutdown ? 0 : 1),
    "$/cancelRequest": () => {},
    "$/setTrace": () => {},
    "textDocument/didOpen": (p) => {
      const doc = (p as { textDocument?: TextDocumentItem })?.textDocument;
      if (!doc || typeof doc.uri !== "string" || typeof doc.text !== "string") return log("didOpen without textDocument {uri, text}");
      docs.set(doc.uri, doc.text);
      publish(doc.uri);
    },
    "textDocument/didChange": (p) => {
      const q = p as { textDocument?: { uri?: string }; contentChanges?: { text?: string; range?: unknown }[] };
      const uri = q?.textDocument?.uri;
      const changes = q?.contentChanges;
      if (typeof uri !== "string" || !Array.isArray(changes) || changes.length === 0) return log("didChange without textDocument.uri and contentChanges");
      // full sync: the last change carries the whole text
      const last = changes[changes.length - 1];
      if (typeof last.text !== "string" || last.range !== undefined) return log("didChange: only full-text changes are supported (textDocumentSync.change = 1)");
      docs.set(uri, last.text);
      publish(uri);
    },
    "textDocument/didClose": (p) => {
      const uri = (p as { textDocument?: { uri?: string } })?.textDocument?.uri;
      if (typeof uri !== "string") return;
      docs.delete(uri);
      publish(uri);
    },
    "textDocument/didSave": () => {},
  };

  const respondError = (id: Id | null, code: number, message: string) => send({ jsonrpc: "2.0", id, error: { code, message } });

  const handle = (raw: unknown) => {
    if (!isObj(raw) || raw.jsonrpc !== "2.0") return respondError(null, ErrorCodes.InvalidRequest, "not a JSON-RPC 2.0 message");
    const id = raw.id as Id | undefined;
    const method = raw.method;
    if (typeof method !== "string") return; // a response to something we never asked: ignore
    if (id === undefined) {
      const n = notifications[method];
      if (!n) return; // unknown notifications (and $/...) are ignored, as the spec says
      if (!initialized && method !== "exit") return;
      try {
        n(raw.params);
      } catch (e) {
        log(`${method} failed: ${(e as Error).message}`);
      }
      return;
    }
    if (!initialized && method !== "initialize") return respondError(id, ErrorCodes.ServerNotInitialized, "the server is not initialized");
    if (shutdown) return respondError(id, ErrorCodes.InvalidRequestAfterShutdown, "the server is shutting down");
    const r = requests[method];
    if (!r) return respondError(id, ErrorCodes.MethodNotFound, `unhandled method ${method}`);
    try {
      send({ jsonrpc: "2.0", id, result: r(raw.params) });
    } catch (e) {
      if (e instanceof RequestError) respondError(id, e.code, e.message);
      else respondError(id, ErrorCodes.InternalError, `${method} failed: ${(e as Error)?.message ?? String(e)}`);
    }
  };

  const reader = new MessageReader(handle, (why) => respondError(null, ErrorCodes.ParseError, why));
  const onData = (chunk: Buffer | string) => reader.push(chunk);
  const onEnd = () => stop(shutdown ? 0 : 1);
  function stop(code: number) {
    if (ended) return;
    ended = true;
    input.off("data", onData);
    input.off("end", onEnd);
    finish({ code });
  }
  input.on("data", onData);
  input.on("end", onEnd);
  return { done, close: () => stop(shutdown ? 0 : 1) };
}

/**
 * Serve LSP on this process's stdin/stdout until `exit` or the end of input; resolves to the exit
 * code (0 after a `shutdown`, else 1). Nothing else may write to stdout meanwhile. For `dnnc lsp`.
 */
export async function runLanguageServer(): Promise<number> {
  const server = startLanguageServer(process.stdin, process.stdout);
  const { code } = await server.done;
  return code;
}
