// A minimal LSP client for the tests: framed JSON-RPC written as bytes (so tests can also write
// broken bytes), answers read with vscode-jsonrpc's own stream reader.
import type { Readable, Writable } from "node:stream";
import { StreamMessageReader, type Message } from "vscode-languageserver/node";

/** One message as LSP base-protocol bytes. */
export function frame(m: object): Buffer {
  const body = Buffer.from(JSON.stringify(m), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]);
}

/** A minimal LSP client: requests with ids, and a queue of notifications to wait on (reads with vscode-jsonrpc's reader). */
export class Client {
  private next = 1;
  private pending = new Map<number | string | null, (m: Record<string, unknown>) => void>();
  private notes: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  /** Answers with id null (to bytes that were not a message), in order. */
  readonly orphans: Record<string, unknown>[] = [];
  readonly errors: string[] = [];

  constructor(
    private toServer: Writable,
    fromServer: Readable,
  ) {
    const reader = new StreamMessageReader(fromServer);
    reader.onError((e) => this.errors.push(e.message));
    reader.listen((m: Message) => {
      const msg = m as unknown as Record<string, unknown>;
      if (!("method" in msg) && msg.id === null) this.orphans.push(msg);
      else if (!("method" in msg)) this.pending.get(msg.id as number)?.(msg);
      else this.notes.push(msg);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  send(m: object, chunked = false): void {
    const bytes = frame(m);
    if (!chunked) {
      this.toServer.write(bytes);
      return;
    }
    // cut the frame into 3-byte pieces: the header and multi-byte characters get split
    for (let i = 0; i < bytes.length; i += 3) this.toServer.write(bytes.subarray(i, i + 3));
  }

  /** Send a request (any id, even an odd one) and wait for its answer. */
  request(method: string, params?: unknown, id: number | string = this.next++): Promise<Record<string, unknown>> {
    return new Promise((res) => {
      this.pending.set(id, res);
      this.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** The answer to request `id`, sent some other way (as raw bytes). */
  answer(id: number | string): Promise<Record<string, unknown>> {
    return new Promise((res) => this.pending.set(id, res));
  }

  notify(method: string, params?: unknown, chunked = false): void {
    this.send({ jsonrpc: "2.0", method, params }, chunked);
  }

  /** The next notification of `method` (consumed), waiting for it if needed. */
  async notification(method: string): Promise<Record<string, unknown>> {
    for (;;) {
      const i = this.notes.findIndex((n) => n.method === method);
      if (i >= 0) return this.notes.splice(i, 1)[0];
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Wait until `n` id-null answers have come. */
  async orphanAnswers(n: number): Promise<Record<string, unknown>[]> {
    while (this.orphans.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.orphans.slice(0, n);
  }
}
