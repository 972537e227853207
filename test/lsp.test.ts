// The language server, spoken to as an editor would: framed JSON-RPC over a pair of in-memory
// streams (and once over a spawned process's stdio). Diagnostics land at the compiler's spans
// converted to 0-based ranges; hover and completion come from compiler/ops.ts; the server's
// tables of settings, optimizers, schedules, losses and sources agree with the checker's.
// (The transport's failure modes, and `dnnc lsp` as a process: test/lsp-transport.test.ts.)
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { Client } from "./helpers/lsp-client";
import { startLanguageServer } from "../compiler/lsp";
import { complete, hover, offsetAt, positionAt } from "../compiler/lsp";
import {
  AUGMENTS,
  BLOCKS,
  DISTRIBUTIONS,
  EARLY_STOPPING,
  GOLDEN,
  JACOBIAN_PENALTY,
  LOSSES,
  OPTIMIZERS,
  PREPROCESS,
  SCHEDULES,
  SOURCES,
} from "../compiler/lsp/catalogue";
import { compileToIr } from "../compiler/pipeline";
import { OPS } from "../compiler/ops";

const root = fileURLToPath(new URL("..", import.meta.url));

function inMemory() {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const server = startLanguageServer(toServer, fromServer);
  return { client: new Client(toServer, fromServer), server, toServer };
}

const SPEC = `# a typo in a layer name
model m {
  input [1, 28, 28]
  flatten
  dense(256, init=kaiming_normal) -> bn -> relu -> dropuot(0.5)
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("data")
  validation 0.1
}
train {
  optimizer sgd(lr=0.05, momentum=0.9)
}
`;
const URI = "file:///work/specs/typo.dnn";

/** Position of the n-th occurrence of `needle` in SPEC, plus `delta` characters. */
function at(text: string, needle: string, delta = 0, nth = 0) {
  let i = -1;
  for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
  if (i < 0) throw new Error(`${needle} not in text`);
  return positionAt(text, i + delta);
}

type Diag = {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  message: string;
  code: string;
  severity: number;
};

describe("language server over streams", () => {
  it("initializes, publishes diagnostics at the typo, hovers over dense, completes after dro", async () => {
    const { client, server } = inMemory();
    const init = await client.request("initialize", { processId: null, rootUri: null, capabilities: {} });
    const caps = (init.result as { capabilities: Record<string, unknown> }).capabilities;
    expect(caps.hoverProvider).toBe(true);
    expect(caps.textDocumentSync).toEqual({ openClose: true, change: 2 }); // incremental
    expect(caps.completionProvider).toBeDefined();
    client.notify("initialized", {});

    client.notify("textDocument/didOpen", { textDocument: { uri: URI, languageId: "dnn", version: 1, text: SPEC } });
    const pub = (await client.notification("textDocument/publishDiagnostics")).params as { uri: string; diagnostics: Diag[] };
    expect(pub.uri).toBe(URI);
    expect(pub.diagnostics.length).toBe(1);
    const d = pub.diagnostics[0];
    expect(d.code).toBe("E0201");
    expect(d.severity).toBe(1);
    expect(d.message).toContain("unknown layer `dropuot`");
    expect(d.message).toContain("did you mean `dropout`?");
    // line 5 of the file (0-based 4), the characters of `dropuot`
    const col = SPEC.split("\n")[4].indexOf("dropuot");
    expect(d.range).toEqual({ start: { line: 4, character: col }, end: { line: 4, character: col + "dropuot".length } });

    const h = await client.request("textDocument/hover", { textDocument: { uri: URI }, position: at(SPEC, "dense", 2) });
    const hv = h.result as { contents: { kind: string; value: string }; range: unknown };
    expect(hv.contents.kind).toBe("markdown");
    expect(hv.contents.value).toContain(OPS.dense.doc);
    expect(hv.contents.value).toMatch(/\| `units` \*\(positional 1\)\* \| integer ≥ 1, or one of: auto \| \*\*required\*\* \|/);
    expect(hv.contents.value).toMatch(/\| `bias` \| true or false \| `true` \|/);
    expect(hv.range).toEqual({ start: at(SPEC, "dense"), end: at(SPEC, "dense", 5) });

    // edit: `dropuot(0.5)` becomes `dro` being typed; the diagnostics follow the text
    const edited = SPEC.replace("dropuot(0.5)", "dro");
    client.notify("textDocument/didChange", { textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: edited }] });
    const pub2 = (await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] };
    expect(pub2.diagnostics.map((x) => x.message.split("\n")[0])).toEqual(["unknown layer `dro`"]);
    const c = await client.request("textDocument/completion", { textDocument: { uri: URI }, position: at(edited, "-> dro", 6) });
    const items = (c.result as { items: { label: string; kind: number; detail: string }[] }).items;
    expect(items.map((x) => x.label)).toEqual(["dropout"]);
    expect(items[0].detail).toBe("layer: dropout(p=0.5)");

    // an incremental change (a range replaced): `dro` becomes `dropuot(0.5)` again
    const dro = at(edited, "-> dro", 3);
    client.notify("textDocument/didChange", {
      textDocument: { uri: URI, version: 3 },
      contentChanges: [{ range: { start: dro, end: { line: dro.line, character: dro.character + 3 } }, text: "dropuot(0.5)" }],
    });
    const pub3 = (await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] };
    expect(pub3.diagnostics.map((x) => x.range)).toEqual(pub.diagnostics.map((x) => x.range));
    expect(pub3.diagnostics.map((x) => x.message)).toEqual(pub.diagnostics.map((x) => x.message));

    // fixing the typo clears the diagnostics; closing the document clears them too
    client.notify("textDocument/didChange", { textDocument: { uri: URI, version: 4 }, contentChanges: [{ text: SPEC.replace("dropuot", "dropout") }] });
    expect(((await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] }).diagnostics).toEqual([]);
    client.notify("textDocument/didClose", { textDocument: { uri: URI } });
    expect(((await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] }).diagnostics).toEqual([]);

    expect((await client.request("shutdown")).result).toBeNull();
    client.notify("exit");
    expect(await server.done).toEqual({ code: 0 });
    expect(client.errors).toEqual([]);
  });

  it("reassembles messages cut anywhere, including inside UTF-8 characters", async () => {
    const { client } = inMemory();
    await client.request("initialize", { capabilities: {} });
    const text = SPEC.replace("# a typo", "# ünïcödé ✓ a typo").replace("dropuot", "dropout").replace("dense(10)", "dense(10) -> tanhh");
    client.notify("textDocument/didOpen", { textDocument: { uri: URI, languageId: "dnn", version: 1, text } }, true);
    const pub = (await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] };
    expect(pub.diagnostics.map((x) => x.code)).toEqual(["E0201"]);
    expect(pub.diagnostics[0].range.start).toEqual(at(text, "tanhh"));
  });

  it("answers errors for unknown methods, requests before initialize and bad JSON", async () => {
    const { client, toServer } = inMemory();
    const early = await client.request("textDocument/hover", { textDocument: { uri: URI }, position: { line: 0, character: 0 } });
    expect((early.error as { code: number }).code).toBe(-32002);
    await client.request("initialize", { capabilities: {} });
    const unknown = await client.request("textDocument/formatting", {});
    expect(unknown.error).toEqual({ code: -32601, message: "Unhandled method textDocument/formatting" });
    const bad = await client.request("textDocument/hover", { position: 3 });
    expect((bad.error as { code: number }).code).toBe(-32602);
    const body = Buffer.from("{not json");
    toServer.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    // the server answers the parse error (id null) and keeps serving
    const ok = await client.request("textDocument/completion", { textDocument: { uri: "file:///none.dnn" }, position: { line: 0, character: 0 } });
    expect(ok.result).toEqual({ isIncomplete: false, items: [] });
    const [parseError] = await client.orphanAnswers(1);
    expect(parseError.error).toMatchObject({ code: -32700, message: expect.stringMatching(/^body is not JSON: /) });
  });

  it("speaks LSP over a spawned process's stdio", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "compiler/lsp/main.ts", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const client = new Client(child.stdin, child.stdout);
    const init = await client.request("initialize", { capabilities: {} });
    expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe("dnnc");
    client.notify("textDocument/didOpen", { textDocument: { uri: URI, languageId: "dnn", version: 1, text: SPEC } });
    const pub = (await client.notification("textDocument/publishDiagnostics")).params as { diagnostics: Diag[] };
    expect(pub.diagnostics.map((d) => d.code)).toEqual(["E0201"]);
    await client.request("shutdown");
    client.notify("exit");
    const code = await new Promise<number | null>((res) => child.on("exit", res));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("hover and completion (pure functions)", () => {
  const complete1 = (text: string, needle: string, delta: number) => complete(text, at(text, needle, delta)).map((i) => i.label);

  it("completes layers and settings by block, arguments inside name(, and values after key=", () => {
    const t = SPEC;
    expect(complete1(t, "  flatten", 2)).toEqual([...Object.keys(OPS), "input", "loss"]);
    expect(complete1(t, "  flatten", 4)).toEqual(["flatten"]); // prefix "fl"
    expect(complete1(t, "  optimizer", 2)).toEqual(Object.keys(BLOCKS.train.settings));
    expect(complete1(t, "  source", 2)).toEqual(Object.keys(BLOCKS.data.settings));
    expect(complete1(t, "  source", 4)).toEqual(["source"]); // prefix "so"
    expect(complete1(t, "softmax", 0)).toEqual(Object.keys(LOSSES));
    expect(complete1(t, "sgd", 0)).toEqual(Object.keys(OPTIMIZERS));
    expect(complete1(t, "data {", 0)).toEqual(["model", "data", "train", "search"]); // top level: blocks
    expect(complete1(t, "data {", 2)).toEqual(["data"]);
    // inside dense( after the positional units: named arguments not yet given
    expect(complete1(t, "init=", 0)).toEqual([
      "bias",
      "weight_decay",
      "l1",
      "max_norm",
      "weight_norm",
      "init",
      "init_mode",
      "init_nonlinearity",
      "init_gain",
      "tie",
    ]);
    expect(complete1(t, "init=", 5)).toEqual((OPS.dense.schema.properties.init as { enum: string[] }).enum);
    expect(complete1(t, "init=", 6)).toEqual(["kaiming_normal", "kaiming_uniform"]); // prefix "k"
    expect(complete1(t, "momentum=", 0)).toEqual(["momentum", "dampening", "nesterov"]); // lr is given
    const withArrow = t.replace("-> relu", "-> relu ->\n    ");
    expect(complete1(withArrow, "->\n    ", 7)).toContain("dropout"); // a chain continues on the next line
    expect(complete1(t.replace("sgd(lr=0.05, momentum=0.9)", "sgd(lr=0.05, nesterov="), "nesterov=", 9)).toEqual(["true", "false"]);
    expect(complete1(t.replace('idx("data")', 'idx("da(ta") '), 'idx("da(ta") ', 13)).toEqual([]); // parens in strings do not count
    const aug = t.replace("validation 0.1", "augment {\n    flip_h(0.5)\n    tr\n  }");
    expect(complete1(aug, "    tr", 6)).toEqual(["translate"]);
    expect(complete1(aug.replace("    flip_h(0.5)", "    flip_h(0.5) -> "), "flip_h(0.5) -> ", 15)).toContain("cutout");
    const search = t + "search {\n  train.optimizer.lr: lo\n}\n";
    expect(complete1(search, "lr: lo", 6)).toEqual(["loguniform"]);
    expect(complete1(search, "  train.optimizer.lr", 2)).toEqual(Object.keys(BLOCKS.search.settings));
    expect(Object.keys(DISTRIBUTIONS)).toEqual(["uniform", "loguniform", "int", "choice"]);
  });

  it("hovers over layers, settings, argument keys and named values", () => {
    const h = (needle: string, delta = 1, nth = 0) => hover(SPEC, at(SPEC, needle, delta, nth))?.contents.value ?? "";
    expect(h("bn ->")).toContain(OPS.bn.doc);
    expect(h("init=")).toMatch(/^`init` — argument of `dense` \(layer\): one of: torch_default/);
    expect(h("validation")).toMatch(/^`validation` — setting of the `data` block/);
    expect(h("softmax_cross")).toContain("softmax_cross_entropy(label_smoothing=0)");
    expect(h("sgd")).toContain("sgd(lr, momentum=0, dampening=0, nesterov=false)");
    expect(h("lr=")).toMatch(/^`lr` — argument of `sgd` \(optimizer\): number > 0; required/);
    expect(h("model")).toContain("model NAME");
    expect(h("256")).toBe(""); // numbers have no hover
    expect(h("# a typo", 5)).toBe(""); // an unknown word in a comment
  });

  it("finds nothing for Object.prototype's names, wherever they are typed (the tables have no prototype)", () => {
    // found by scripts/fuzz-lsp.mjs: `loss hasOwnProperty` hovered, `toString((1` completed
    const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf"];
    const places = [
      (n: string) => `model m {\n  input [4]\n  ${n}\n  dense(2) -> ${n}(${n}=1)\n  loss ${n}\n}\n`,
      (n: string) => `data {\n  source ${n}("d")\n  preprocess ${n}\n  augment {\n    ${n}(0.5)\n  }\n}\n`,
      (n: string) => `train {\n  optimizer ${n}(lr=0.1, ${n}=\n  schedule ${n}\n  ${n} 1\n}\n`,
      (n: string) => `${n} {\n}\nsearch {\n  train.${n}: ${n}(1, 2)\n}\n`,
    ];
    for (const n of names)
      for (const place of places) {
        const text = place(n);
        for (let off = 0; off <= text.length; off++) {
          const pos = positionAt(text, off);
          const h = hover(text, pos);
          const items = complete(text, pos);
          if (h) expect(h.contents.value, `${n} at ${off}`).not.toContain("native code");
          for (const it of items) expect(it.label, `${n} at ${off}`).not.toBe(n);
        }
        expect(hover(text, at(text, n, 1))).toBeUndefined();
      }
    for (const t of [BLOCKS, BLOCKS.train.settings, OPTIMIZERS, LOSSES, SCHEDULES, SOURCES, PREPROCESS, AUGMENTS, DISTRIBUTIONS]) {
      expect(Object.getPrototypeOf(t)).toBeNull();
      expect(Object.isFrozen(t)).toBe(true);
    }
  });

  it("never throws on arbitrary text and positions", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."model{}()[]=,->#\"'\n dense bn x1 5e-"), maxLength: 60 }), fc.nat(80), fc.nat(5), (text, ch, line) => {
        const pos = { line, character: ch };
        complete(text, pos);
        hover(text, pos);
        expect(offsetAt(text, pos)).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the server's tables agree with the compiler", () => {
  /** The compiler lists the candidates in its hint when a name is far from all of them. */
  function hintList(source: string, code: string): string[] {
    const wrap = (train: string, data = 'source idx("d")', search = "") =>
      `model m {\n input [4]\n dense(2)\n loss mse\n}\ndata {\n ${data}\n}\ntrain {\n ${train}\n}\n${search ? `search {\n ${search}\n train.seed: int(1, 2)\n}\n` : ""}`;
    const text = source.startsWith("data:")
      ? wrap("seed 1", source.slice(5))
      : source.startsWith("search:")
        ? wrap("seed 1", 'source idx("d")', source.slice(7))
        : wrap(source);
    const d = compileToIr(text, "t.dnn", { passes: "lower" }).diagnostics.find((x) => x.code === code);
    if (!d?.hint?.startsWith("expected one of: ")) throw new Error(`no candidate list for ${source}: ${JSON.stringify(d)}`);
    return d.hint.slice("expected one of: ".length).split(", ");
  }
  const far = "qqqqqqqqqqqqqqqq";

  it("lists the same settings, optimizers, schedules, losses and sources", () => {
    expect(hintList(`${far} 1`, "E0104")).toEqual(Object.keys(BLOCKS.train.settings));
    expect(hintList(`data:${far} 1`, "E0104")).toEqual(Object.keys(BLOCKS.data.settings));
    expect(hintList(`optimizer ${far}`, "E0401")).toEqual(Object.keys(OPTIMIZERS));
    expect(hintList(`schedule ${far}`, "E0401")).toEqual(Object.keys(SCHEDULES));
    expect(hintList(`data:source ${far}("x")`, "E0401")).toEqual(Object.keys(SOURCES));
    expect(hintList(`data:preprocess ${far}`, "E0401")).toEqual(Object.keys(PREPROCESS));
    expect(hintList(`data:augment { ${far} }`, "E0401")).toEqual(Object.keys(AUGMENTS));
    expect(hintList(`search:${far} 1`, "E0104")).toEqual(Object.keys(BLOCKS.search.settings));
  });

  it("lists the same arguments for every optimizer, schedule, source and early_stopping", () => {
    for (const o of Object.values(OPTIMIZERS)) expect(hintList(`optimizer ${o.name}(${far}=1)`, "E0202")).toEqual(o.args.map((a) => a.name));
    for (const s of Object.values(SCHEDULES))
      if (s.args.length > 0) expect(hintList(`schedule ${s.name}(${far}=1)`, "E0202").sort()).toEqual(s.args.map((a) => a.name).sort());
    for (const s of Object.values(SOURCES)) expect(hintList(`data:source ${s.name}(${far}=1)`, "E0202")).toEqual(s.args.map((a) => a.name));
    expect(hintList(`early_stopping(${far}=1)`, "E0202").sort()).toEqual(EARLY_STOPPING.args.map((a) => a.name).sort());
    expect(hintList(`golden(${far}=1)`, "E0202")).toEqual(GOLDEN.args.map((a) => a.name));
    expect(hintList(`jacobian_penalty(${far}=1)`, "E0202")).toEqual(JACOBIAN_PENALTY.args.map((a) => a.name));
    for (const s of Object.values(PREPROCESS)) expect(hintList(`data:preprocess ${s.name}(${far}=1)`, "E0202")).toEqual(s.args.map((a) => a.name));
    for (const s of Object.values(AUGMENTS)) expect(hintList(`data:augment { ${s.name}(${far}=1) }`, "E0202")).toEqual(s.args.map((a) => a.name));
  });

  it("lists the same losses", () => {
    const d = compileToIr(`model m {\n input [4]\n dense(2)\n loss ${far}\n}\ndata {\n source idx("d")\n}\ntrain {\n}\n`, "t.dnn").diagnostics;
    expect(d.find((x) => x.code === "E0401")?.hint).toBe(`expected one of: ${Object.keys(LOSSES).join(", ")}`);
    for (const l of Object.values(LOSSES))
      if (l.args.length > 0) {
        const dd = compileToIr(
          `model m {\n input [4]\n dense(2)\n loss ${l.name}(${far}=1)\n}\ndata {\n source idx("d")\n}\ntrain {\n}\n`,
          "t.dnn",
        ).diagnostics;
        expect(dd.find((x) => x.code === "E0202")?.hint).toBe(`expected one of: ${l.args.map((a) => a.name).join(", ")}`);
      }
  });
});
