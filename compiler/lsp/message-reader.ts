// The reading half of the language server's transport: LSP base-protocol frames
//
//   Content-Length: <bytes>\r\n
//   (other `Name: value` headers, ignored)\r\n
//   \r\n
//   <that many bytes of UTF-8 JSON>
//
// turned into JSON-RPC messages for vscode-jsonrpc's connection (this class is a
// `MessageReader` of that library; everything above the frames, from dispatch to the document
// manager, is the library's). It replaces the library's own stream reader, which was measured
// (docs/reliability.md, "Language server") to
//   - buffer whatever a `Content-Length` announces, without a limit (a client that declares 2 GB
//     and sends it takes 2 GB, then 2 GB more to join the chunks);
//   - stay out of step for good after one wrong `Content-Length`: the bytes after it are read as
//     headers, each next message's body is glued to the header after it, and every later message
//     is dropped without an answer;
//   - drop a body that is not JSON without answering it.
//
// Here: headers are at most MAX_HEADER_BYTES, bodies at most MAX_BODY_BYTES (a bigger one is
// reported and its bytes are dropped as they arrive, never buffered) and MAX_DEPTH levels deep;
// chunks are kept in a list and each body is copied once. A body that is not UTF-8 JSON, or JSON but not a JSON-RPC 2.0 message, is reported as a
// `FrameError` (the server answers it) and the reader goes on with the next frame. A header
// block without a valid `Content-Length`, or too long, is reported and the reader
// resynchronises: it drops bytes up to the next `Content-Length: <digits>\r\n`, which cannot
// occur inside a JSON body (JSON has no raw line breaks inside strings, and the words are not
// JSON outside them). So after a wrong length the stream is back in step at the next header: at
// most the mis-framed message and the one after it are lost, each answered with an error.
import type { Readable } from "node:stream";
import { AbstractMessageReader, ErrorCodes, type DataCallback, type Disposable, type Message, type MessageReader } from "vscode-languageserver/node";

/** Longest header block accepted (real ones are about 25 bytes). */
export const MAX_HEADER_BYTES = 8192;
/** Largest message body accepted: a spec of several MiB, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of arrays and objects accepted (LSP messages nest about 6 deep; V8's JSON.parse takes ~1.4 s per million levels). */
export const MAX_DEPTH = 512;

const HEADER_END = Buffer.from("\r\n\r\n", "latin1");
/** A Content-Length header line: where the reader picks up again after a framing error. */
const RESYNC = /content-length[ \t]*:[ \t]*\d+\r\n/i;
/** Longest prefix of a RESYNC match kept across chunks while resynchronising. */
const RESYNC_TAIL = 64;

/** Bytes the reader could not turn into a message. The server answers with `code` (and `id` when the message had one). */
export class FrameError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly id: number | string | null = null,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class BoundedMessageReader extends AbstractMessageReader implements MessageReader {
  private chunks: Buffer[] = [];
  private total = 0;
  /** header: reading a header block; body: waiting for `need` bytes of body; resync: dropping bytes up to a header. */
  private state: "header" | "body" | "resync" = "header";
  private need = 0;
  private callback: DataCallback | undefined;
  private detach: (() => void) | undefined;

  constructor(private readonly input: Readable) {
    super();
  }

  /** Bytes held (for tests: bounded by MAX_HEADER_BYTES, one body, and the last chunk read). */
  get buffered(): number {
    return this.total;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer | string) => this.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    const onEnd = () => this.end();
    const onError = (e: Error) => {
      this.fireError(e);
      this.end();
    };
    this.input.on("data", onData);
    this.input.on("end", onEnd);
    this.input.on("close", onEnd);
    this.input.on("error", onError);
    this.detach = () => {
      this.input.off("data", onData);
      this.input.off("end", onEnd);
      this.input.off("close", onEnd);
      this.input.off("error", onError);
    };
    return { dispose: () => this.stop() };
  }

  /**
   * The input has ended: an `exit` notification is delivered behind the messages already read,
   * so that the connection answers them all before the library's lifecycle ends the server
   * (exit code 0 after `shutdown`, else 1, as for a real `exit`).
   */
  private end(): void {
    if (!this.callback) return;
    if (this.total > 0 && this.state !== "resync") this.report(ErrorCodes.ParseError, `the input ended inside a message (${this.total} bytes)`);
    const callback = this.callback;
    this.stop();
    callback({ jsonrpc: "2.0", method: "exit" } as Message);
  }

  override dispose(): void {
    this.stop();
    super.dispose();
  }

  private stop(): void {
    this.detach?.();
    this.detach = undefined;
    this.callback = undefined;
    this.chunks = [];
    this.total = 0;
  }

  /** Feed bytes (what `listen` does with the stream's chunks). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
    while (this.callback && this.step());
  }

  /** One step of the state machine; false when it needs more bytes. */
  private step(): boolean {
    switch (this.state) {
      case "header": {
        const head = this.peek(Math.min(this.total, MAX_HEADER_BYTES + HEADER_END.length));
        const end = head.indexOf(HEADER_END);
        if (end < 0) {
          if (this.total <= MAX_HEADER_BYTES) return false;
          this.report(ErrorCodes.ParseError, `header block longer than ${MAX_HEADER_BYTES} bytes`);
          return this.resync(1);
        }
        const length = contentLength(head.subarray(0, end).toString("latin1"));
        if (typeof length === "string") {
          this.report(ErrorCodes.ParseError, `${length}: ${JSON.stringify(head.subarray(0, Math.min(end, 80)).toString("latin1"))}`);
          return this.resync(1);
        }
        this.drop(end + HEADER_END.length);
        if (length > MAX_BODY_BYTES) {
          // not buffered: its bytes are dropped as they come, up to the next header (whether the
          // length was true or a lie, the stream is in step again there)
          this.report(ErrorCodes.ParseError, `message of ${length} bytes is over the limit of ${MAX_BODY_BYTES} bytes; dropped`);
          return this.resync(0);
        }
        this.need = length;
        this.state = "body";
        return true;
      }
      case "body": {
        if (this.total < this.need) return false;
        const body = this.take(this.need);
        this.state = "header";
        this.deliver(body);
        return true;
      }
      case "resync":
        return this.resync(0);
    }
  }

  /** Drop bytes up to the next Content-Length header at or after `from` (keeping a possible start of one). */
  private resync(from: number): boolean {
    this.state = "resync";
    const text = this.peek(this.total).toString("latin1");
    const m = RESYNC.exec(text.slice(from));
    if (m) {
      this.drop(from + m.index);
      this.state = "header";
      return true;
    }
    // keep what may be the start of a header, but never the bytes before `from` (a bad header
    // block would otherwise be found again and reported once more with each chunk)
    this.drop(Math.max(from, this.total - RESYNC_TAIL));
    return false;
  }

  private deliver(body: Buffer): void {
    if (tooDeep(body)) return this.report(ErrorCodes.InvalidRequest, `JSON nested deeper than ${MAX_DEPTH} levels`);
    let msg: unknown;
    try {
      msg = JSON.parse(utf8.decode(body));
    } catch (e) {
      const why = e instanceof TypeError ? "body is not UTF-8" : `body is not JSON: ${(e as Error).message}`;
      return this.report(ErrorCodes.ParseError, why);
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg) || (msg as { jsonrpc?: unknown }).jsonrpc !== "2.0") {
      const id = (msg as { id?: unknown } | null)?.id;
      return this.report(ErrorCodes.InvalidRequest, "not a JSON-RPC 2.0 message object", typeof id === "number" || typeof id === "string" ? id : null);
    }
    try {
      this.callback?.(msg as Message);
    } catch (e) {
      // the connection threw on a message it could not route (e.g. $/cancelRequest without params)
      this.fireError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private report(code: number, message: string, id: number | string | null = null): void {
    this.fireError(new FrameError(code, message, id));
  }

  /** The first `n` bytes as one buffer, consuming nothing (joins the chunks it spans, and only those). */
  private peek(n: number): Buffer {
    if (this.chunks.length === 0 || n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    let k = 0;
    let len = 0;
    while (len < n) len += this.chunks[k++].length;
    const joined = Buffer.concat(this.chunks.slice(0, k), len);
    this.chunks.splice(0, k, joined);
    return joined.subarray(0, n);
  }

  /** Remove and return the first `n` bytes (copied once when they span chunks). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      this.drop(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      this.drop(k);
    }
    return out;
  }

  private drop(n: number): void {
    this.total -= n;
    while (n > 0) {
      const c = this.chunks[0];
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

/** The Content-Length of a header block (without the blank line), or why there is none. */
function contentLength(header: string): number | string {
  let length: number | undefined;
  for (const line of header.split("\r\n")) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!/^[A-Za-z0-9-]+$/.test(name)) return "malformed header line";
    if (name.toLowerCase() !== "content-length") continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,15}$/.test(value)) return "Content-Length is not a number of bytes";
    if (length !== undefined && length !== Number(value)) return "two different Content-Length headers";
    length = Number(value);
  }
  return length ?? "header without Content-Length";
}

/** Whether arrays and objects nest deeper than MAX_DEPTH in `body` (brackets inside strings do not count). */
function tooDeep(body: Buffer): boolean {
  if (body.length <= 2 * MAX_DEPTH) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
