// JSON-RPC 2.0 over a byte stream with LSP's base protocol framing:
//
//   Content-Length: <bytes>\r\n
//   (other headers, ignored)\r\n
//   \r\n
//   <that many bytes of UTF-8 JSON>
//
// `MessageReader` reassembles messages from chunks cut anywhere (even inside a header or a
// multi-byte character); `frame` writes one. No dependencies.

export type Id = number | string;

export interface RequestMessage {
  jsonrpc: "2.0";
  id: Id;
  method: string;
  params?: unknown;
}
export interface NotificationMessage {
  jsonrpc: "2.0";
  method: string;
  params?: unknown;
}
export interface ResponseMessage {
  jsonrpc: "2.0";
  id: Id | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}
export type Message = RequestMessage | NotificationMessage | ResponseMessage;

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerNotInitialized: -32002,
  InvalidRequestAfterShutdown: -32600,
} as const;

/** One framed message as bytes. */
export function frame(msg: Message): Buffer {
  const body = Buffer.from(JSON.stringify(msg), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]);
}

const HEADER_END = Buffer.from("\r\n\r\n", "ascii");

/**
 * Feed it chunks; it calls `onMessage` with each complete message's parsed JSON, or `onError`
 * with a description when a header or body is malformed (the bad message is skipped).
 */
export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private need = -1;

  constructor(
    private onMessage: (m: unknown) => void,
    private onError: (why: string) => void,
  ) {}

  push(chunk: Buffer | string): void {
    const b = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    this.buf = this.buf.length === 0 ? b : Buffer.concat([this.buf, b]);
    for (;;) {
      if (this.need < 0) {
        const end = this.buf.indexOf(HEADER_END);
        if (end < 0) {
          if (this.buf.length > 65536) {
            this.onError("header longer than 64 KiB without a blank line; dropping input");
            this.buf = Buffer.alloc(0);
          }
          return;
        }
        const header = this.buf.subarray(0, end).toString("ascii");
        this.buf = this.buf.subarray(end + HEADER_END.length);
        const m = /^content-length:\s*(\d+)\s*$/im.exec(header);
        if (!m) {
          this.onError(`header without Content-Length: ${JSON.stringify(header.slice(0, 80))}`);
          continue;
        }
        this.need = Number(m[1]);
      }
      if (this.buf.length < this.need) return;
      const body = this.buf.subarray(0, this.need).toString("utf8");
      this.buf = this.buf.subarray(this.need);
      this.need = -1;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch (e) {
        this.onError(`body is not JSON: ${(e as Error).message}`);
        continue;
      }
      this.onMessage(parsed);
    }
  }
}
