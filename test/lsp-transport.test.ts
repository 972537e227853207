// The language server's transport under hostile or careless clients (issue 16, item 14):
// - the frame reader (compiler/lsp/message-reader.ts) fed bytes directly: cuts anywhere, wrong
//   Content-Lengths, a huge Content-Length, endless headers, bodies that are not UTF-8 JSON or
//   not JSON-RPC, the end of the input;
// - `dnnc lsp` as a process (the bundle, as editors start it): `exit` ends it while stdin stays
//   open (0 after shutdown, 1 without), the death of the client process ends it, 2 GB announced
//   and 128 MiB sent keep its memory bounded, it is back in step after a wrong Content-Length,
//   method names of Object.prototype are unknown methods, malformed JSON is answered.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Message } from "vscode-languageserver/node";
import { BoundedMessageReader, FrameError, MAX_BODY_BYTES, MAX_DEPTH, MAX_HEADER_BYTES } from "../compiler/lsp";
import { Client, frame } from "./helpers/lsp-client";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzLspJs from "../scripts/fuzz-lsp.mjs";

const fuzzLsp = fuzzLspJs as unknown as {
  runLspCampaign(o: {
    sessions: number;
    seed: number;
    frames: number;
  }): Promise<{ stats: { checked: number; kinds: Map<string, number> }; findings: { example: string }[] }>;
};

const root = fileURLToPath(new URL("..", import.meta.url));

/** A reader on a stream we write to; what it delivers and reports, in order. */
function reader() {
  const input = new PassThrough();
  const r = new BoundedMessageReader(input);
  const got: (Message | FrameError | Error)[] = [];
  r.onError((e) => got.push(e));
  r.listen((m) => got.push(m));
  let peak = 0;
  const feed = (b: Buffer | string, piece = Infinity) => {
    const bytes = Buffer.isBuffer(b) ? b : Buffer.from(b, "latin1");
    for (let i = 0; i < bytes.length; i += piece) {
      r.push(bytes.subarray(i, Math.min(bytes.length, i + piece)));
      peak = Math.max(peak, r.buffered);
    }
  };
  return { r, input, got, feed, peak: () => peak };
}

const req = (id: number, extra = "") => ({
  jsonrpc: "2.0",
  id,
  method: "textDocument/hover",
  params: { textDocument: { uri: `file:///a${extra}.dnn` }, position: { line: 0, character: 0 } },
});
const ids = (got: unknown[]) =>
  got.map((m) =>
    m instanceof FrameError ? `E${m.code}` : m instanceof Error ? "error" : ((m as { id?: number; method?: string }).id ?? (m as { method: string }).method),
  );

describe("the frame reader", () => {
  it("delivers messages cut anywhere (inside headers and UTF-8 characters), in order", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 50 }), (texts, piece) => {
        const { got, feed } = reader();
        const msgs = texts.map((t, i) => ({ ...req(i), params: { text: `ü✓${t}` } }));
        feed(Buffer.concat(msgs.map(frame)), piece);
        expect(got).toEqual(msgs);
      }),
      { seed: 3, numRuns: 200 },
    );
    // other headers are allowed, names in any case
    const { got, feed } = reader();
    const body = JSON.stringify(req(1));
    feed(`content-length: ${body.length}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${body}`);
    expect(got).toEqual([req(1)]);
  });

  it("is back in step after a wrong Content-Length: at most the mis-framed message and the next are lost, each answered", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: -60, max: 60 }).filter((d) => d !== 0),
        fc.integer({ min: 1, max: 4096 }),
        (bad, delta, piece) => {
          const { got, feed } = reader();
          const msgs = Array.from({ length: 10 }, (_, i) => req(i, "x".repeat(i)));
          const bytes = msgs.map((m, i) => {
            if (i !== bad) return frame(m);
            const body = Buffer.from(JSON.stringify(m));
            return Buffer.concat([Buffer.from(`Content-Length: ${Math.max(0, body.length + delta)}\r\n\r\n`), body]);
          });
          feed(Buffer.concat(bytes), piece);
          const delivered = got.filter((m) => !(m instanceof Error)).map((m) => (m as { id: number }).id);
          const errors = got.filter((m) => m instanceof FrameError) as FrameError[];
          // every message before the bad one, and every one from bad + 2 on, arrives
          for (let i = 0; i < 10; i++) if (i < bad || i >= bad + 2) expect(delivered, `message ${i}`).toContain(i);
          expect(delivered).not.toContain(bad);
          expect(errors.length).toBeGreaterThanOrEqual(1);
          expect(errors.length).toBeLessThanOrEqual(2);
          for (const e of errors) expect(e.code).toBe(-32700);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });

  it("does not buffer a body over the limit (2 GB announced, 40 MiB sent): reports it and reads the next message", () => {
    const { got, feed, peak } = reader();
    feed("Content-Length: 2000000000\r\n\r\n");
    const junk = Buffer.alloc(65536, "{");
    for (let i = 0; i < 640; i++) feed(junk);
    feed(frame(req(7)));
    expect(ids(got)).toEqual(["E-32700", 7]);
    expect((got[0] as FrameError).message).toBe(`message of 2000000000 bytes is over the limit of ${MAX_BODY_BYTES} bytes; dropped`);
    expect(peak()).toBeLessThanOrEqual(65536 + 64 + 200);
    // a body at the limit is read
    const at = reader();
    const text = "x".repeat(MAX_BODY_BYTES - 100);
    const body = JSON.stringify({ jsonrpc: "2.0", method: "n", params: { t: text } });
    const pad = " ".repeat(MAX_BODY_BYTES - body.length);
    at.feed(`Content-Length: ${MAX_BODY_BYTES}\r\n\r\n${body}${pad}`, 1 << 16);
    expect(ids(at.got)).toEqual(["n"]);
  });

  it("drops a header block that never ends and a malformed one, then reads on", () => {
    const { got, feed, peak } = reader();
    feed(Buffer.alloc(1 << 20, "a"), 4096); // no CR LF at all
    feed(frame(req(1)));
    feed("Content-Length: twelve\r\n\r\n{}");
    feed(frame(req(2)));
    feed("no colon here\r\n\r\n");
    feed(frame(req(3)));
    // resynchronising inside a bad block can cost the next message: here the reader picks up at
    // `Content-Length: 6`, whose 6 bytes are the start of message 4 (not JSON), and the rest of
    // message 4's header has no Content-Length; message 5 is read
    feed("Content-Length: 5\r\nContent-Length: 6\r\n\r\n");
    feed(frame(req(4)));
    feed(frame(req(5)));
    expect(ids(got)).toEqual(["E-32700", 1, "E-32700", 2, "E-32700", 3, "E-32700", "E-32700", "E-32700", 5]);
    expect((got[0] as FrameError).message).toBe(`header block longer than ${MAX_HEADER_BYTES} bytes`);
    expect((got[2] as FrameError).message).toMatch(/^Content-Length is not a number of bytes: /);
    expect((got[4] as FrameError).message).toMatch(/^malformed header line: /);
    expect((got[6] as FrameError).message).toMatch(/^two different Content-Length headers: /);
    expect(peak()).toBeLessThanOrEqual(MAX_HEADER_BYTES + 4096 + 64);
    // a bad block that itself starts with a Content-Length line, then a message a byte at a time:
    // one report, not one per byte
    const b = reader();
    b.feed("Content-Length: 5\r\nX\r\n\r\n");
    b.feed(frame(req(9)), 1);
    expect(ids(b.got)).toEqual(["E-32700", 9]);
  });

  it("answers bodies that are not UTF-8, not JSON or not JSON-RPC, with the id when there is one", () => {
    const { got, feed } = reader();
    const raw = (b: Buffer | string) => {
      const body = Buffer.isBuffer(b) ? b : Buffer.from(b);
      feed(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    };
    raw(Buffer.from([0x7b, 0xff, 0x7d]));
    raw("{not json");
    raw("");
    raw("[1, 2]");
    raw("42");
    raw('{"id": 7, "method": "x"}');
    raw('{"jsonrpc": "1.0", "id": "s"}');
    // nesting: refused before JSON.parse spends seconds on it; brackets in strings do not count
    const deep = 1_000_000;
    raw(`{"jsonrpc":"2.0","id":9,"method":"m","params":${"[".repeat(deep)}${"]".repeat(deep)}}`);
    raw(`{"jsonrpc":"2.0","id":10,"method":"m","params":${"[".repeat(MAX_DEPTH - 1)}${"]".repeat(MAX_DEPTH - 1)}}`);
    raw(JSON.stringify({ jsonrpc: "2.0", id: 11, method: "m", params: { text: "[{".repeat(5000) } }));
    feed(frame(req(8)));
    const errors = got.filter((m) => m instanceof FrameError) as FrameError[];
    expect(errors.map((e) => [e.code, e.id])).toEqual([
      [-32700, null],
      [-32700, null],
      [-32700, null],
      [-32600, null],
      [-32600, null],
      [-32600, 7],
      [-32600, "s"],
      [-32600, null],
    ]);
    expect(errors[0].message).toBe("body is not UTF-8");
    expect(errors[1].message).toMatch(/^body is not JSON: /);
    expect(errors[7].message).toBe(`JSON nested deeper than ${MAX_DEPTH} levels`);
    expect(ids(got).slice(-3)).toEqual([10, 11, 8]);
  });

  it("delivers the end of the input as `exit` behind the messages before it, reporting a cut message", async () => {
    const tick = () => new Promise<void>((r) => setImmediate(r));
    const a = reader();
    a.feed(frame(req(1)));
    a.input.end();
    await tick();
    expect(ids(a.got)).toEqual([1, "exit"]);
    const b = reader();
    const bytes = frame(req(1));
    b.feed(bytes.subarray(0, 30));
    b.input.end();
    await tick();
    expect(ids(b.got)).toEqual(["E-32700", "exit"]);
    const headerLength = bytes.indexOf("\r\n\r\n") + 4;
    expect((b.got[0] as FrameError).message).toBe(`the input ended inside a message (${30 - headerLength} bytes)`);
  });
});

// ---- `dnnc lsp` as a process -----------------------------------------------------------------

interface Proc {
  child: ChildProcessWithoutNullStreams;
  client: Client;
  exited: Promise<{ code: number | null; ms: number }>;
  stderr: () => string;
}

function dnncLsp(): Proc {
  const child = spawn(process.execPath, ["bin/dnnc.mjs", "lsp", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const t0 = Date.now();
  const exited = new Promise<{ code: number | null; ms: number }>((res) => child.on("exit", (code) => res({ code, ms: Date.now() - t0 })));
  return { child, client: new Client(child.stdin, child.stdout), exited, stderr: () => stderr };
}

/** Resolves to "timeout" if `p` takes longer than `ms`. */
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref())]);

const status = (pid: number, field: "VmRSS" | "VmHWM") => {
  const f = `/proc/${pid}/status`;
  return existsSync(f) ? Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(f, "utf8"))![1]) / 1024 : undefined;
};

const completion = (c: Client, id?: number) =>
  c.request("textDocument/completion", { textDocument: { uri: "file:///none.dnn" }, position: { line: 0, character: 0 } }, id);

describe("dnnc lsp as a process", () => {
  it("ends at `exit` while stdin stays open: 0 after shutdown, 1 without", async () => {
    for (const shutdown of [true, false]) {
      const p = dnncLsp();
      await p.client.request("initialize", { processId: null, capabilities: {} });
      if (shutdown) expect((await p.client.request("shutdown")).result).toBeNull();
      p.client.notify("exit");
      const r = await within(p.exited, 5000);
      if (r === "timeout") p.child.kill("SIGKILL");
      expect(r, `shutdown=${shutdown}`).toMatchObject({ code: shutdown ? 0 : 1 });
      expect(p.stderr()).toBe("");
    }
  });

  it("answers a shutdown sent right before exit, then ends with 0", async () => {
    const p = dnncLsp();
    await p.client.request("initialize", { capabilities: {} });
    // one write: the server reads both at once, and the library queues the answer behind a lock
    const shutdown = p.client.answer(99);
    p.child.stdin.write(Buffer.concat([frame({ jsonrpc: "2.0", id: 99, method: "shutdown" }), frame({ jsonrpc: "2.0", method: "exit" })]));
    expect(await within(shutdown, 5000)).toMatchObject({ id: 99, result: null });
    expect(await within(p.exited, 5000)).toMatchObject({ code: 0 });
  });

  it("ends at exit even when the client has stopped reading its answers", async () => {
    const p = dnncLsp();
    p.child.stdout.pause(); // (the Client's reader is attached; nothing is read while paused)
    const text = "model m {\n  input [4]\n  \n}\n";
    const parts = [frame({ jsonrpc: "2.0", id: 1, method: "initialize", params: { capabilities: {} } })];
    parts.push(
      frame({ jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri: "file:///a.dnn", languageId: "dnn", version: 1, text } } }),
    );
    // each answer lists every layer with its documentation: far more than a pipe holds
    for (let i = 0; i < 200; i++)
      parts.push(
        frame({
          jsonrpc: "2.0",
          id: 10 + i,
          method: "textDocument/completion",
          params: { textDocument: { uri: "file:///a.dnn" }, position: { line: 2, character: 2 } },
        }),
      );
    parts.push(frame({ jsonrpc: "2.0", id: 2, method: "shutdown" }), frame({ jsonrpc: "2.0", method: "exit" }));
    p.child.stdin.write(Buffer.concat(parts));
    const r = await within(p.exited, 20000);
    if (r === "timeout") p.child.kill("SIGKILL");
    expect(r).toMatchObject({ code: 0 });
  });

  it("answers everything written before stdin closed, then ends (0 when shutdown came first)", async () => {
    const p = dnncLsp();
    const answers = [p.client.request("initialize", { capabilities: {} }), completion(p.client), p.client.request("shutdown")];
    p.child.stdin.end();
    expect((await Promise.all(answers)).map((a) => a.id)).toEqual([1, 2, 3]);
    expect(await within(p.exited, 5000)).toMatchObject({ code: 0 });
  });

  it("ends when the client process named in initialize dies", async () => {
    const parent = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    const p = dnncLsp();
    await p.client.request("initialize", { processId: parent.pid, capabilities: {} });
    parent.kill("SIGKILL");
    const r = await within(p.exited, 10000);
    if (r === "timeout") p.child.kill("SIGKILL");
    expect(r).toMatchObject({ code: 1 });
  });

  it("keeps its memory bounded when 2 GB are announced and 128 MiB sent, answers the error, then serves", async () => {
    const p = dnncLsp();
    await p.client.request("initialize", { capabilities: {} });
    const before = status(p.child.pid!, "VmRSS");
    p.child.stdin.write("Content-Length: 2000000000\r\n\r\n");
    const junk = Buffer.alloc(1 << 20, "{");
    for (let i = 0; i < 128; i++) if (!p.child.stdin.write(junk)) await new Promise((r) => p.child.stdin.once("drain", r));
    const ok = await completion(p.client);
    expect(ok.result).toEqual({ isIncomplete: false, items: [] });
    const [err] = await p.client.orphanAnswers(1);
    expect(err.error).toEqual({ code: -32700, message: `message of 2000000000 bytes is over the limit of ${MAX_BODY_BYTES} bytes; dropped` });
    const hwm = status(p.child.pid!, "VmHWM");
    if (before !== undefined && hwm !== undefined) expect(hwm - before, `peak ${hwm} MiB, ${before} MiB after initialize`).toBeLessThan(64);
    p.child.kill("SIGKILL");
  });

  it("is back in step after a wrong Content-Length (too short and too long)", async () => {
    for (const delta of [-5, 5]) {
      const p = dnncLsp();
      await p.client.request("initialize", { capabilities: {} });
      const body = Buffer.from(JSON.stringify(req(50)));
      p.child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length + delta}\r\n\r\n`), body]));
      p.child.stdin.write(frame(req(51)));
      const later = [completion(p.client, 52), completion(p.client, 53)];
      expect((await Promise.all(later)).map((a) => a.result)).toEqual([
        { isIncomplete: false, items: [] },
        { isIncomplete: false, items: [] },
      ]);
      expect((await p.client.orphanAnswers(2)).map((a) => (a.error as { code: number }).code)).toEqual([-32700, -32700]);
      p.child.kill("SIGKILL");
    }
  });

  it("treats Object.prototype's names as unknown methods (no echo), answers malformed JSON, and keeps serving", async () => {
    const p = dnncLsp();
    await p.client.request("initialize", { capabilities: {} });
    for (const method of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      p.client.notify(method, { secret: 42 });
      const a = await p.client.request(method, { secret: 42 });
      expect(a, method).toEqual({ jsonrpc: "2.0", id: a.id, error: { code: -32601, message: `Unhandled method ${method}` } });
    }
    const bad = Buffer.from('{"jsonrpc": "2.0", "id": 9, "method": ');
    p.child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${bad.length}\r\n\r\n`), bad]));
    expect((await completion(p.client)).result).toEqual({ isIncomplete: false, items: [] });
    const [parseError] = await p.client.orphanAnswers(1);
    expect(parseError.error).toMatchObject({ code: -32700, message: expect.stringMatching(/^body is not JSON: /) });
    await p.client.request("shutdown");
    p.client.notify("exit");
    expect(await within(p.exited, 5000)).toMatchObject({ code: 0 });
    expect(p.stderr()).toBe("");
  });
});

describe("the LSP fuzz campaign (scripts/fuzz-lsp.mjs), a fixed-seed slice", () => {
  it("finds nothing in 3 sessions of 80 frames, and its broken frames and checked requests are there", async () => {
    const { stats, findings } = await fuzzLsp.runLspCampaign({ sessions: 3, seed: 1, frames: 80 });
    expect(findings.map((f) => f.example)).toEqual([]);
    for (const kind of ["wrong-length", "garbage", "huge-length", "bad-body", "textDocument/didOpen"]) expect(stats.kinds.get(kind), kind).toBeGreaterThan(0);
    expect(stats.checked).toBeGreaterThan(30);
  });
});
