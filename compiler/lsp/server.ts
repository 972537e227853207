// The dnnc language server: LSP over any pair of byte streams (stdio for editors, in-memory
// streams in tests), on vscode-languageserver: the library routes messages (its handler tables
// are Maps, unknown methods get MethodNotFound), keeps the documents (its TextDocuments manager,
// incremental sync), runs the initialize/shutdown/exit lifecycle and writes the frames; frames
// are read by ./message-reader (bounded, back in step after a wrong Content-Length, and the end
// of the input arrives as an `exit` behind the messages before it). On every
// open and change a document goes through the compiler's front end (parse, check, lower) and the
// diagnostics are published with 0-based ranges. Hover shows a construct's documentation and
// arguments; completion offers layer names, settings, argument names inside `name(` and values
// after `key=` (./features).
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  createConnection,
  createProtocolConnection,
  ErrorCodes,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeResult,
  type ResponseMessage,
  type WatchDog,
} from "vscode-languageserver";
import { StreamMessageWriter } from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { complete, diagnose, hover } from "./features";
import { BoundedMessageReader, FrameError } from "./message-reader";
import type { Position } from "./context";

export interface LanguageServer {
  /** Resolves when the input ends or the client sends `exit`; `code` is 0 after a `shutdown`, else 1. */
  done: Promise<{ code: number }>;
  /** Stop serving (the output is left open). */
  close(): void;
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

/** `{textDocument: {uri}, position: {line, character}}` checked; InvalidParams otherwise. */
function positionParams(p: unknown): { uri: string; position: Position } {
  if (!isObj(p) || !isObj(p.textDocument) || typeof p.textDocument.uri !== "string" || !isObj(p.position))
    throw new ResponseError(ErrorCodes.InvalidParams, "expected {textDocument: {uri}, position: {line, character}}");
  const { line, character } = p.position;
  if (typeof line !== "number" || typeof character !== "number") throw new ResponseError(ErrorCodes.InvalidParams, "position needs numeric line and character");
  return { uri: p.textDocument.uri, position: { line, character } };
}

/** How long answers given before `exit` may take to go out before the server ends anyway. */
const FLUSH_MS = 2000;

/** Serve LSP on `input`/`output` until `exit`, the end of the input, or the death of the client process named in `initialize`. */
export function startLanguageServer(input: Readable, output: Writable): LanguageServer {
  let initialized = false;
  let finish!: (r: { code: number }) => void;
  const done = new Promise<{ code: number }>((res) => (finish = res));
  let parentWatch: ReturnType<typeof setInterval> | undefined;

  const reader = new BoundedMessageReader(input);
  const writer = new StreamMessageWriter(output);
  // what has been handed to the writer and not yet to `output` (the writer queues behind a lock
  // that runs on later ticks): an answer to `shutdown` must go out before `exit` ends the process
  const writing = new Set<Promise<void>>();
  const write = writer.write.bind(writer);
  writer.write = (msg) => {
    const p = write(msg);
    writing.add(p);
    const settle = () => void writing.delete(p);
    p.then(settle, settle);
    return p;
  };
  // bytes that are not a message: answered (with the id when there was one), as JSON-RPC asks
  reader.onError((e) => {
    if (!(e instanceof FrameError)) return;
    const answer: ResponseMessage = { jsonrpc: "2.0", id: e.id, error: { code: e.code, message: e.message } };
    writer.write(answer).catch(() => {});
  });

  // the library's lifecycle calls these: initialize (the client's process id), exit (after the
  // `exit` notification, 0 when `shutdown` came first)
  const watchDog: WatchDog = {
    shutdownReceived: false,
    initialize(params) {
      const pid = params.processId;
      if (typeof pid === "number" && pid > 0 && parentWatch === undefined) {
        parentWatch = setInterval(() => {
          try {
            process.kill(pid, 0);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ESRCH") void stop(watchDog.shutdownReceived ? 0 : 1);
          }
        }, 3000);
        parentWatch.unref();
      }
    },
    exit: (code) => void stop(code),
  };
  const connection = createConnection((logger) => createProtocolConnection(reader, writer, logger), watchDog);
  const documents = new TextDocuments(TextDocument);

  let stopping = false;
  async function stop(code: number) {
    if (stopping) return;
    stopping = true;
    if (parentWatch !== undefined) clearInterval(parentWatch);
    parentWatch = undefined;
    reader.dispose(); // nothing more is read
    // the answers already given go out first; a client that stopped reading gets 2 s
    const flushed = (async () => {
      while (writing.size > 0) await Promise.allSettled([...writing]);
    })();
    await Promise.race([flushed, new Promise((r) => setTimeout(r, FLUSH_MS).unref())]);
    connection.dispose();
    finish({ code });
  }

  /** Requests are answered only between initialize and shutdown. */
  const ready = () => {
    if (!initialized) throw new ResponseError(ErrorCodes.ServerNotInitialized, "the server is not initialized");
    if (watchDog.shutdownReceived) throw new ResponseError(ErrorCodes.InvalidRequest, "the server is shutting down");
  };

  connection.onInitialize((): InitializeResult => {
    initialized = true;
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: ["(", ",", "=", " ", ">"] },
      },
      serverInfo: { name: "dnnc", version: "0.1.0" },
    };
  });

  const publish = (uri: unknown, text: unknown) => {
    if (!initialized) return; // nothing but the initialize answer may go out before it
    if (typeof uri !== "string") return; // a didOpen without a uri: the library keeps it, nobody can ask for it
    void connection.sendDiagnostics({ uri, diagnostics: typeof text === "string" ? diagnose(text, fileOf(uri)) : [] });
  };
  documents.onDidChangeContent((e) => publish(e.document.uri, e.document.getText()));
  documents.onDidClose((e) => publish(e.document.uri, undefined));

  connection.onHover((p) => {
    ready();
    const { uri, position } = positionParams(p);
    const doc = documents.get(uri);
    return doc === undefined ? null : (hover(doc.getText(), position) ?? null);
  });
  connection.onCompletion((p) => {
    ready();
    const { uri, position } = positionParams(p);
    const doc = documents.get(uri);
    return { isIncomplete: false, items: doc === undefined ? [] : complete(doc.getText(), position) };
  });

  documents.listen(connection);
  connection.listen();
  return { done, close: () => void stop(watchDog.shutdownReceived ? 0 : 1) };
}

/**
 * Serve LSP on this process's stdin/stdout; at `exit` (or the end of stdin, or the client's
 * death) end the process, 0 after a `shutdown`, else 1, as the LSP specification says, even
 * while the client keeps stdin open. Never returns. For `dnnc lsp`.
 */
export async function runLanguageServer(): Promise<number> {
  // stdout carries the protocol: anything printed goes to stderr (editors show it in their log)
  for (const k of ["log", "info", "debug", "warn"] as const) console[k] = console.error;
  const { code } = await startLanguageServer(process.stdin, process.stdout).done;
  process.stdin.destroy();
  // once what was written has gone out (stdout may be a pipe the client reads slowly, or not at all)
  await Promise.race([new Promise<void>((res) => process.stdout.write("", () => res())), new Promise((r) => setTimeout(r, FLUSH_MS).unref())]);
  process.exit(code);
}
