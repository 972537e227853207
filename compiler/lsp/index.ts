// The dnnc language server (LSP over stdio): diagnostics as you type, hover, completion.
export { runLanguageServer, startLanguageServer, type LanguageServer } from "./server";
export { complete, diagnose, hover, spanToRange, toLspDiagnostic, type CompletionItem, type Hover, type LspDiagnostic, type Range } from "./features";
export { contextAt, offsetAt, positionAt, wordAt, type CursorContext, type Position } from "./context";
export { BoundedMessageReader, FrameError, MAX_BODY_BYTES, MAX_DEPTH, MAX_HEADER_BYTES } from "./message-reader";
