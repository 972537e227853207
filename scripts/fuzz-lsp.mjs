// Fuzzing the language server as editors run it: `dnnc lsp` (the bundle in dist/) as a process,
// fed sessions of framed messages of which some are broken. Usage:
//
//   npx tsx scripts/fuzz-lsp.mjs --sessions 200 [--frames 120] [--seed 1] [--bin PATH]
//
// --bin runs another build's bin/dnnc.mjs (to compare with an older server).
//
// A session is one server process: `initialize`, then `frames` events drawn with a seeded PRNG,
// written in chunks cut at random byte offsets (1 byte to 8 KiB):
//   - valid requests: hover and completion at random positions (also far outside the text), on
//     open and unknown documents; hover with bad params; unknown methods, among them
//     Object.prototype's names, with a marker in their params; the same names as notifications;
//   - document notifications: didOpen of a corpus spec mutated by scripts/fuzz.mjs, full and
//     incremental didChange (random ranges), didClose;
//   - broken frames that keep the stream in step: a body that is not UTF-8, not JSON, or JSON
//     but not JSON-RPC;
//   - broken frames that put it out of step: a Content-Length off by 1 to 40 bytes, random
//     garbage bytes, a header without Content-Length, a Content-Length over the limit (up to
//     4 GB) followed by up to 512 KiB of its body;
// then two padding notifications and the sentinel: 3 completion requests, `shutdown`, `exit`,
// with stdin left open.
// Oracle, per session: the sentinel and shutdown are answered and the process exits 0 within
// 5 s of `exit`; nothing on stderr; every frame it writes is well-formed (vscode-jsonrpc's own
// reader reports no error); every answer's id was sent, or is null; no answer carries the marker
// (no echo); every valid request is answered as expected (result, InvalidParams,
// MethodNotFound) unless it is out of step itself or starts within the bytes that an out-of-step
// frame before it reaches (a too-long Content-Length reaches into what follows); no request
// fails with InternalError; no diagnostic is an internal compiler error; the peak RSS stays
// under 200 MiB. Findings are deduplicated by signature and printed with their seed and session.
// test/lsp-transport.test.ts runs a fixed-seed slice.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { StreamMessageReader } from "vscode-languageserver/node";
import { HOSTILE_NAMES, loadCorpus, makeRng, mutate } from "./fuzz.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const MARK = "fuzz-lsp-marker-7f3a";
export const RSS_LIMIT_MIB = 200;
const MAX_BODY = 16 * 1024 * 1024;

const enc = (s) => Buffer.from(s, "utf8");
const frameBytes = (body) => Buffer.concat([enc(`Content-Length: ${body.length}\r\n\r\n`), body]);
const frameOf = (obj) => frameBytes(enc(JSON.stringify(obj)));

/**
 * The events of one session: `{ bytes, kind, desync?, expect? }`, where `expect` is
 * `{ id, result: true }` or `{ id, code }` for a request whose answer is checked.
 */
export function sessionEvents(rng, corpus, frames) {
  const uris = ["file:///f/a.dnn", "file:///f/b%20c.dnn", "untitled:Untitled-1"];
  const versions = new Map();
  const texts = new Map();
  let id = 10;
  const events = [];
  const pos = () =>
    rng.chance(0.9) ? { line: rng.int(40), character: rng.int(80) } : { line: rng.pick([0, 1e6, 2 ** 31 - 1]), character: rng.pick([0, 1e9, 2 ** 31 - 1]) };
  const request = (method, params, expect) => {
    const i = id++;
    events.push({ bytes: frameOf({ jsonrpc: "2.0", id: i, method, params }), kind: method, expect: { id: i, ...expect } });
  };
  const notify = (method, params, kind = method) => events.push({ bytes: frameOf({ jsonrpc: "2.0", method, params }), kind });
  const spec = () => mutate(rng.pick(corpus).text, rng, corpus);
  for (let k = 0; k < frames; k++) {
    const uri = rng.pick(uris);
    const r = rng.next();
    if (r < 0.2) request(rng.chance(0.5) ? "textDocument/hover" : "textDocument/completion", { textDocument: { uri }, position: pos() }, { result: true });
    else if (r < 0.25)
      request(
        "textDocument/hover",
        rng.pick([{}, { textDocument: { uri } }, { textDocument: { uri }, position: { line: "1", character: 0 } }, { position: 3 }]),
        { code: -32602 },
      );
    else if (r < 0.31) request(rng.pick([...HOSTILE_NAMES.slice(0, 7), "textDocument/formatting", "workspace/symbol"]), { marker: MARK }, { code: -32601 });
    else if (r < 0.34) notify(rng.pick(HOSTILE_NAMES.slice(0, 7)), { marker: MARK }, "prototype-notification");
    else if (r < 0.44) {
      const text = spec();
      versions.set(uri, 1);
      texts.set(uri, text);
      notify("textDocument/didOpen", { textDocument: { uri, languageId: "dnn", version: 1, text } });
    } else if (r < 0.56) {
      const v = (versions.get(uri) ?? 0) + 1;
      versions.set(uri, v);
      const incremental = rng.chance(0.5);
      const change = incremental
        ? { range: { start: pos(), end: pos() }, text: rng.pick(["", "dense(", "-> relu", "\n", "ü✓", spec().slice(0, 40)]) }
        : { text: spec() };
      notify(
        "textDocument/didChange",
        { textDocument: { uri, version: v }, contentChanges: [change] },
        incremental ? "didChange-incremental" : "didChange-full",
      );
    } else if (r < 0.6) notify("textDocument/didClose", { textDocument: { uri } });
    else if (r < 0.68) {
      // in step: the frame is intact, its body is not a message
      const body = rng.pick([
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
        enc("{not json"),
        enc(""),
        enc("[]"),
        enc("42"),
        enc('{"id":"bad","method":"x"}'),
        enc('{"jsonrpc":"2.0","id":'),
        enc("null"),
      ]);
      events.push({ bytes: frameBytes(body), kind: "bad-body" });
    } else if (r < 0.76) {
      const body = enc(JSON.stringify({ jsonrpc: "2.0", id: id++, method: "textDocument/hover", params: { textDocument: { uri }, position: pos() } }));
      const delta = (1 + rng.int(40)) * (rng.chance(0.5) ? 1 : -1);
      const header = enc(`Content-Length: ${Math.max(0, body.length + delta)}\r\n\r\n`);
      // `reach`: the bytes the reader takes as this frame (past its end when the length is too long)
      events.push({ bytes: Buffer.concat([header, body]), kind: "wrong-length", desync: true, reach: header.length + Math.max(0, body.length + delta) });
    } else if (r < 0.84) {
      const n = 1 + rng.int(300);
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = rng.chance(0.7) ? 32 + rng.int(95) : rng.int(256);
      events.push({ bytes, kind: "garbage", desync: true });
    } else if (r < 0.9) {
      const header = rng.pick(["Content-Type: application/json\r\n\r\n", "Content-Length: -5\r\n\r\n", "Content-Length: 1e3\r\n\r\n", "X\r\n\r\n"]);
      events.push({
        bytes: Buffer.concat([enc(header), enc(JSON.stringify({ jsonrpc: "2.0", method: "initialized", params: {} }))]),
        kind: "no-length",
        desync: true,
      });
    } else if (r < 0.93) {
      const declared = rng.pick([MAX_BODY + 1, 2e9, 4294967295, 99999999999]);
      const sent = rng.int(512 * 1024);
      events.push({
        bytes: Buffer.concat([enc(`Content-Length: ${declared}\r\n\r\n`), Buffer.alloc(sent, rng.pick(["{", "a", " ", '"']))]),
        kind: "huge-length",
        desync: true,
      });
    } else notify("$/fuzz/pad", { pad: "p".repeat(rng.int(200)) }, "pad");
  }
  return events;
}

function vmHwm(pid) {
  const f = `/proc/${pid}/status`;
  if (!existsSync(f)) return undefined;
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync(f, "utf8"));
  return m ? Number(m[1]) / 1024 : undefined;
}

/** Run one session; resolves to `{ problems: string[], stats }`. */
export async function runSession(seed, session, { frames = 120, corpus = loadCorpus(join(root, "specs")), bin = join(root, "bin", "dnnc.mjs") } = {}) {
  const rng = makeRng(seed * 100003 + session);
  const events = sessionEvents(rng, corpus, frames);
  const problems = [];
  const child = spawn(process.execPath, [bin, "lsp", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  child.stdin.on("error", () => {});
  const exited = new Promise((res) => child.on("exit", (code, signal) => res({ code, signal, at: Date.now() })));
  const answers = new Map();
  const orphans = [];
  let internalDiagnostics = 0;
  let wakeups = [];
  const reader = new StreamMessageReader(child.stdout);
  reader.onError((e) => problems.push(`unreadable output: ${e.message}`));
  reader.listen((m) => {
    if ("id" in m && !("method" in m)) {
      if (m.id === null) orphans.push(m);
      else answers.set(m.id, m);
    } else if (m.method === "textDocument/publishDiagnostics") {
      for (const d of m.params?.diagnostics ?? []) if (d.code === "internal") internalDiagnostics++;
    }
    // (answers with id null may quote the bytes of a malformed header, which can be anything)
    if (m.id !== null && JSON.stringify(m).includes(MARK)) problems.push(`echo of params in ${JSON.stringify(m).slice(0, 120)}`);
    wakeups.splice(0).forEach((w) => w());
  });
  const waitFor = async (ids, ms) => {
    const end = Date.now() + ms;
    while (!ids.every((i) => answers.has(i)) && Date.now() < end) await new Promise((r) => (wakeups.push(r), setTimeout(r, 100)));
    return ids.every((i) => answers.has(i));
  };
  const write = async (bytes) => {
    if (child.exitCode !== null) return;
    if (!child.stdin.write(bytes)) await new Promise((r) => child.stdin.once("drain", r));
  };
  const t0 = Date.now();
  await write(frameOf({ jsonrpc: "2.0", id: 1, method: "initialize", params: { processId: null, capabilities: {} } }));
  await write(frameOf({ jsonrpc: "2.0", method: "initialized", params: {} }));
  const all = Buffer.concat(events.map((e) => e.bytes));
  for (let i = 0; i < all.length;) {
    const n = 1 + rng.int(rng.chance(0.2) ? 16 : 8192);
    await write(all.subarray(i, i + n));
    i += n;
  }
  const pad = frameOf({ jsonrpc: "2.0", method: "$/fuzz/pad", params: { pad: "p".repeat(120) } });
  await write(Buffer.concat([pad, pad]));
  const sentinel = [1, 2, 3].map((k) => 1_000_000 + k);
  for (const i of sentinel)
    await write(
      frameOf({
        jsonrpc: "2.0",
        id: i,
        method: "textDocument/completion",
        params: { textDocument: { uri: "file:///none.dnn" }, position: { line: 0, character: 0 } },
      }),
    );
  await write(frameOf({ jsonrpc: "2.0", id: 2_000_000, method: "shutdown" }));
  if (!(await waitFor([...sentinel, 2_000_000], 30_000))) problems.push("sentinel requests or shutdown not answered within 30 s");
  const hwm = vmHwm(child.pid);
  if (hwm !== undefined && hwm > RSS_LIMIT_MIB) problems.push(`peak RSS ${hwm.toFixed(0)} MiB over ${RSS_LIMIT_MIB} MiB`);
  const exitSent = Date.now();
  await write(frameOf({ jsonrpc: "2.0", method: "exit" })); // stdin stays open
  const ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 5000))]);
  if (!ex) {
    problems.push("still running 5 s after exit with stdin open");
    child.kill("SIGKILL");
  } else if (ex.code !== 0) problems.push(`exit code ${ex.code ?? ex.signal} after shutdown and exit`);
  child.stdin.destroy();
  if (stderr) problems.push(`stderr: ${stderr.slice(0, 200)}`);
  if (internalDiagnostics) problems.push(`internal compiler error in ${internalDiagnostics} diagnostics`);

  // the valid requests: a frame may be lost when it is out of step itself, or starts before the end of the bytes an
  // out-of-step frame before it reaches (a too-long Content-Length takes the start of what
  // follows; the reader is back in step at the first header after that)
  let reachEnd = -1;
  let offset = 0;
  let checked = 0;
  const sentIds = new Set([1, 2_000_000, ...sentinel]);
  events.forEach((e) => {
    const start = offset;
    offset += e.bytes.length;
    const mayBeLost = e.desync || start < reachEnd;
    if (e.desync) reachEnd = Math.max(reachEnd, start + (e.reach ?? e.bytes.length));
    if (!e.expect) return;
    sentIds.add(e.expect.id);
    const a = answers.get(e.expect.id);
    if (mayBeLost) return;
    checked++;
    if (!a) return problems.push(`${e.kind} (id ${e.expect.id}) not answered`);
    if (a.error?.code === -32603) return problems.push(`${e.kind} failed with InternalError: ${a.error.message.slice(0, 160)}`);
    if (e.expect.result && !("result" in a)) problems.push(`${e.kind} answered ${JSON.stringify(a.error).slice(0, 120)} instead of a result`);
    if (e.expect.code !== undefined && a.error?.code !== e.expect.code)
      problems.push(`${e.kind} answered ${JSON.stringify(a.error ?? a.result).slice(0, 120)}, expected error ${e.expect.code}`);
  });
  // (the requests inside mis-framed frames must not be read, so their ids must not be answered)
  for (const i of answers.keys()) if (!sentIds.has(i) && i !== "bad") problems.push(`answer to id ${i}, not a request that was sent whole`);
  const kinds = new Map();
  for (const e of events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  return {
    problems,
    stats: {
      frames: events.length,
      bytes: all.length,
      kinds,
      checked,
      answered: answers.size,
      errorAnswers: orphans.length,
      ms: Date.now() - t0,
      exitMs: ex ? ex.at - exitSent : undefined,
      hwm,
    },
  };
}

/** `sessions` sessions from `seed`; findings deduplicated by signature (the problem with numbers blanked). */
export async function runLspCampaign({ sessions, seed = 1, frames = 120, bin, onProgress } = {}) {
  const corpus = loadCorpus(join(root, "specs"));
  const findings = new Map();
  const total = { sessions: 0, frames: 0, bytes: 0, checked: 0, answered: 0, errorAnswers: 0, ms: 0, maxExitMs: 0, maxHwmMiB: 0, kinds: new Map() };
  for (let s = 0; s < sessions; s++) {
    const { problems, stats } = await runSession(seed, s, { frames, corpus, bin });
    total.sessions++;
    for (const k of ["frames", "bytes", "checked", "answered", "errorAnswers", "ms"]) total[k] += stats[k];
    total.maxExitMs = Math.max(total.maxExitMs, stats.exitMs ?? Infinity);
    total.maxHwmMiB = Math.max(total.maxHwmMiB, stats.hwm ?? 0);
    for (const [k, n] of stats.kinds) total.kinds.set(k, (total.kinds.get(k) ?? 0) + n);
    for (const p of problems) {
      const sig = p.replace(/\d+/g, "N");
      const f = findings.get(sig) ?? { signature: sig, example: p, seed, session: s, count: 0 };
      f.count++;
      findings.set(sig, f);
    }
    onProgress?.(total, s);
  }
  return { stats: total, findings: [...findings.values()] };
}

async function main(argv) {
  const arg = (name, d) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : d;
  };
  const sessions = Number(arg("--sessions", "100"));
  const seed = Number(arg("--seed", "1"));
  const frames = Number(arg("--frames", "120"));
  const bin = arg("--bin", join(root, "bin", "dnnc.mjs"));
  if (!existsSync(join(dirname(bin), "..", "dist", "cli.mjs"))) {
    console.error(`fuzz-lsp: ${join(dirname(bin), "..", "dist", "cli.mjs")} is missing: run \`node scripts/build.mjs\` first`);
    return 2;
  }
  console.log(`fuzz-lsp: ${sessions} sessions of ${frames} frames, seed ${seed}, against ${bin} lsp`);
  const { stats, findings } = await runLspCampaign({
    sessions,
    seed,
    frames,
    bin,
    onProgress: (t, s) => (s + 1) % 20 === 0 && console.log(`  ${t.sessions} sessions, ${t.frames} frames, ${(t.ms / 1000).toFixed(1)} s`),
  });
  console.log(
    JSON.stringify(
      {
        ...stats,
        kinds: Object.fromEntries([...stats.kinds].sort()),
        seconds: +(stats.ms / 1000).toFixed(1),
        framesPerSecond: Math.round(stats.frames / (stats.ms / 1000)),
        findings,
      },
      null,
      2,
    ),
  );
  return findings.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
