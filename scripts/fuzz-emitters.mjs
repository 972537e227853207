// Fuzzing the emitters: random hostile strings (quotes, backslashes, line terminators of every
// target, NUL and other controls, bidirectional overrides, lone surrogates, `*/`, `"""`,
// `</script>`, `<!--`, PEP 263 `coding:` declarations, attack snippets, very long runs) through
// every place a user's string reaches generated text, each checked by a parser of the target
// language that is not ours. Usage:
//
//   npx tsx scripts/fuzz-emitters.mjs [--surface all|escape|typescript|python|html|onnx|dnn]
//                                     [--n 2000] [--seed 1] [--ts-n 300] [--python-runs 10]
//
// Surfaces and oracles (a case "passes" when it is rejected with a diagnostic or all hold):
//   escape      each function of compiler/escape.ts on the string: tsString/tsJson parse (the
//               TypeScript compiler's parser, and JSON.parse) to the same value; tsComment stays
//               one comment in `//` and `/* */`; pyString parses (Python's ast) to the same str;
//               pyComment stays one comment and declares no encoding; htmlText/htmlAttr give
//               exactly plainText(s) as text and attribute (html.parser, expat); dnnString parses
//               back (grammar) to the same value; dnnComment adds nothing to the spec; onnxString
//               is valid UTF-8 and well-formed strings pass unchanged.
//   typescript  generateTrainer with the string as spec file name, data path, source path and
//               CSV label: the syntax tree equals a benign trainer's, literal values equal with
//               the string in place, the comments equal with tsComment(string) in the header;
//               1 in 20 also bundles (esbuild) and checks the banner.
//   python      generatePytorchTrainer, same fields: Python's ast of the file equals the benign
//               one's with str constants as placeholders, the constants and comments equal with
//               the string in place, the encoding is utf-8. The first --python-runs cases also
//               run `python3 trainer.py --help` in a directory with a marker check.
//   html        renderReport with the string as run name and class name: html.parser gives the
//               benign element/attribute shape, no comment, no script; every SVG parses with
//               expat to the benign shape; the name appears as plainText(name) in text and in
//               the data-series attribute.
//   onnx        exportOnnx with the string as spec file name, and encodeModel with it as doc
//               string, graph name and metadata key and value: the bytes decode (strict UTF-8)
//               to onnxString(string) exactly; onnxruntime-node loads the model.
//   dnn         search values written into a spec (printSpec) and best.dnn's header: the text
//               parses, the value reads back exactly, the canonical print is a fixed point, no
//               block or statement is added.
// Oracles in Python (ast, tokenize, html.parser, expat) run in scripts/emit-oracle.py, one
// process per batch. The module exports its parts: test/fuzz-emitters.test.ts runs a short slice.
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeRng, HOSTILE_TEXT } from "./fuzz.mjs";
import * as E from "../compiler/escape";
import { PAGE_SCRIPT } from "../compiler/report/page-script";

/**
 * report.html with its one script (the constant PAGE_SCRIPT: no user string reaches it) taken
 * out, so that the oracle sees any other script; undefined when the constant is not there exactly once.
 */
export function withoutPageScript(html) {
  const tag = `<script>${PAGE_SCRIPT}</script>`;
  const parts = html.split(tag);
  return parts.length === 2 ? parts.join("") : undefined;
}
import { compileToIr } from "../compiler/pipeline";
import { parseSpec } from "../grammar/to-ast";
import { printSpec } from "../grammar/ast";

export const PY = "/usr/bin/python3";
const ORACLE = new URL("./emit-oracle.py", import.meta.url).pathname;

// ---- hostile strings ------------------------------------------------------------------------------

export const ATTACKS = [
  ...HOSTILE_TEXT,
  '"""',
  "'''",
  '\\"',
  "\\\\",
  "\\n",
  "\\u2028",
  "\\x00",
  "\\",
  "\f",
  "\v",
  "\x85",
  "\u202e",
  "\u202a",
  "\u2066",
  "\u2069",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\u{10FFFF}",
  "\u{1F600}",
  "${x}",
  "{{x}}",
  "%s",
  "{0}",
  "f'{x}'",
  "\\N{BULLET}",
  "<script>alert(1)</script>",
  "</SCRIPT>",
  "<!--",
  "-->",
  "]]>",
  "<![CDATA[",
  "<?xml",
  "&amp;",
  "&#0;",
  "&lt;",
  "&",
  '" onload="alert(1)',
  "' onerror='alert(1)",
  "<img src=x onerror=alert(1)>",
  "<svg onload=alert(1)>",
  "javascript:",
  "coding:utf_7",
  "# -*- coding: latin-1 -*-",
  "coding=rot13",
  "+AAo-",
  "+ACI-",
  "\nimport os; os.system('touch MARKER')\n#",
  "\n__import__('os').system('x')\n",
  '");\nprocess.exit(1);\n("',
  "*/ process.exit(1) /*",
  "\u2028process.exit(1)//",
  "\r process.exit(1)",
  "}\nmodel y {\n",
  'source idx("x")',
  "# comment",
  "// comment",
  "\n}\ntrain { epochs 99 }\n",
  "__proto__",
  "constructor",
  "toString",
];

/** A random hostile string: 1-6 pieces (attacks, random code units, astral code points, words), now and then very long. */
export function hostileString(rng) {
  const pieces = [];
  const k = 1 + rng.int(6);
  for (let i = 0; i < k; i++) {
    const r = rng.next();
    if (r < 0.5) pieces.push(rng.pick(ATTACKS));
    else if (r < 0.7) pieces.push(String.fromCharCode(rng.int(0x10000)));
    else if (r < 0.8) pieces.push(String.fromCodePoint(0x10000 + rng.int(0x100000)));
    else if (r < 0.9) pieces.push(String.fromCharCode(rng.int(0x100)));
    else pieces.push(rng.pick(["a", "b/c", "data", "x y", "é", "ℕ", "名前", "..", "/", "C:\\"]));
  }
  let s = pieces.join("");
  if (rng.chance(0.02)) s = s.repeat(1 + rng.int(Math.ceil(20000 / Math.max(1, s.length))));
  return s;
}

const wellFormed = (s) => E.onnxString(s) === s;

// ---- the Python oracle ------------------------------------------------------------------------------

/** Answers of scripts/emit-oracle.py to `requests`, in order (one python3 process). */
export function oracle(requests) {
  if (requests.length === 0) return [];
  const input = requests.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const r = spawnSync(PY, [ORACLE], { input, encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`emit-oracle.py failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
  if (out.length !== requests.length) throw new Error(`emit-oracle.py answered ${out.length} of ${requests.length}`);
  return out;
}

export const hasPython = () => existsSync(PY);

// ---- TypeScript shape (the compiler's own parser) -------------------------------------------------

let ts;
async function tsApi() {
  ts ??= (await import("typescript")).default;
  return ts;
}

/** Node kinds (identifiers by name, literals as placeholders), literal values and comments of `code`. */
export async function tsShape(code, kind = "ts") {
  const t = await tsApi();
  const sf = t.createSourceFile("t.ts", code, t.ScriptTarget.ES2022, true, kind === "js" ? t.ScriptKind.JS : t.ScriptKind.TS);
  const errors = (sf.parseDiagnostics ?? []).map((d) => t.flattenDiagnosticMessageText(d.messageText, " "));
  const out = { errors, tree: [], strings: [], numbers: [], comments: [], statements: sf.statements.length };
  const visit = (n) => {
    if (t.isIdentifier(n)) out.tree.push(`id:${n.text}`);
    else if (t.isStringLiteral(n) || t.isNoSubstitutionTemplateLiteral(n)) {
      out.tree.push("STR");
      out.strings.push(n.text);
    } else if (t.isNumericLiteral(n)) {
      out.tree.push("NUM");
      out.numbers.push(n.text);
    } else out.tree.push(t.SyntaxKind[n.kind]);
    t.forEachChild(n, visit);
  };
  visit(sf);
  const scanner = t.createScanner(t.ScriptTarget.ES2022, false, t.LanguageVariant.Standard, code);
  for (let k = scanner.scan(); k !== t.SyntaxKind.EndOfFileToken; k = scanner.scan())
    if (k === t.SyntaxKind.SingleLineCommentTrivia || k === t.SyntaxKind.MultiLineCommentTrivia) out.comments.push(scanner.getTokenText());
  return out;
}

// ---- specs ------------------------------------------------------------------------------------------

export const BENIGN = { file: "benign_file_q7.dnn", data: "benign_data_q7", source: "benign_source_q7", label: "benign_label_q7" };

/** A small spec every target can compile; the source is idx(path) or csv(path, label=...). */
export function specText({ source = BENIGN.source, label } = {}) {
  const src = label === undefined ? `idx(${E.dnnString(source)})` : `csv(${E.dnnString(source)}, label=${E.dnnString(label)})`;
  return `model m {
  input [1, 4, 4]
  conv2d(2, 3, padding=same) -> bn -> leaky_relu(0.25) -> dropout(0.5)
  flatten
  dense(3)
  loss softmax_cross_entropy
}
data { source ${src} }
train { batch 4
  optimizer sgd(lr=0.125, momentum=0.5) }
`;
}

/** Which fields of a case hold the hostile string (at least one). */
function pickFields(rng, csv) {
  const all = ["file", "data", "source", ...(csv ? ["label"] : [])];
  const f = all.filter(() => rng.chance(0.5));
  return f.length > 0 ? f : [rng.pick(all)];
}

/** Replace every exact occurrence of benign values by their hostile ones in a list of literal values. */
const substitute = (values, map) => values.map((v) => (map.has(v) ? map.get(v) : v));
/** Replace substrings (function replacer: no `$` patterns). */
const replaceAll = (s, from, to) => s.split(from).join(to);

function compileCase(fields, h, csv) {
  const v = (k) => (fields.includes(k) ? h : BENIGN[k]);
  const src = specText({ source: v("source"), label: csv ? v("label") : undefined });
  const r = compileToIr(src, v("file"));
  return { r, dataPath: v("data"), map: new Map(fields.map((k) => [BENIGN[k], h])) };
}

// ---- campaigns ----------------------------------------------------------------------------------------

function finding(findings, surface, check, input, detail) {
  const sig = `${surface}: ${check}`;
  const f = findings.get(sig);
  if (f) f.count++;
  else findings.set(sig, { surface, check, input, detail: String(detail).slice(0, 600), count: 1 });
}

/** The escape functions themselves, each against an independent parser. */
export async function escapeCampaign({ n, seed }) {
  const rng = makeRng(seed);
  return checkEscape(Array.from({ length: n }, () => hostileString(rng)));
}

/** The escape surface's checks on the given strings. */
export async function checkEscape(strings) {
  const n = strings.length;
  const findings = new Map();
  const reqs = [];
  const expect = [];
  const enc = new TextEncoder();
  const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const benignDnn = parseSpec(specText(), "f.dnn");
  for (const s of strings) {
    const fail = (check, detail) => finding(findings, "escape", check, s, detail);
    // TypeScript string and JSON
    const lit = E.tsString(s);
    const sh = await tsShape(`x = ${lit};\n`);
    if (sh.errors.length || sh.statements !== 1 || sh.strings.length !== 1 || sh.strings[0] !== s)
      fail("tsString does not parse to the string", lit.slice(0, 200));
    try {
      const back = JSON.parse(E.tsJson({ k: s, l: [s, 1] }));
      if (back.k !== s || back.l[0] !== s) fail("tsJson does not round-trip through JSON.parse", "");
    } catch (e) {
      fail("tsJson is not JSON", e.message);
    }
    if (/<\/script|<!--/i.test(lit)) fail("tsString holds </script or <!--", lit.slice(0, 200));
    // TypeScript comments
    const c = E.tsComment(s);
    for (const code of [`// ${c}\nx;\n`, `/* ${c} */ x;\n`]) {
      const cs = await tsShape(code);
      if (cs.errors.length || cs.statements !== 1 || cs.comments.length !== 1 || cs.tree.join() !== "SourceFile,ExpressionStatement,id:x,EndOfFileToken")
        fail("tsComment ends its comment", code.slice(0, 200));
    }
    // text: one line, nothing unsafe
    const p = E.plainText(s);
    if (E.hasUnsafe(p)) fail("plainText keeps an unsafe code point", JSON.stringify(p).slice(0, 200));
    // dnn string and comment
    const d = parseSpec(specText({ source: s }), "f.dnn");
    const got = d.ast?.blocks.find((b) => b.kind === "data")?.body[0]?.elements[0]?.values[0]?.value;
    if (d.diagnostics.length || got?.kind !== "call" || got.args[0]?.value.kind !== "string" || got.args[0].value.value !== s)
      fail("dnnString does not parse back to the string", E.dnnString(s).slice(0, 200));
    const dc = parseSpec(`# ${E.dnnComment(s)}\n` + specText(), "f.dnn");
    if (dc.diagnostics.length || printSpec(dc.ast) !== printSpec(benignDnn.ast)) fail("dnnComment changes the spec", E.dnnComment(s).slice(0, 200));
    // onnx
    const o = E.onnxString(s);
    try {
      if (dec.decode(enc.encode(o)) !== o) fail("onnxString does not round-trip through UTF-8", "");
    } catch (e) {
      fail("onnxString is not valid UTF-8", e.message);
    }
    if (wellFormed(s) && o !== s) fail("onnxString changes a well-formed string", "");
    // Python and HTML: batched to the oracle
    reqs.push({ op: "pystring", lit: E.pyString(s), value: s }, { op: "pycomment", text: E.pyComment(s) });
    expect.push(["pyString does not parse to the string", s], ["pyComment ends its comment or declares an encoding", s]);
    const h = E.htmlText(s);
    const a = E.htmlAttr(s);
    reqs.push({ op: "html", text: `<p title="${a}" data-x='${a}'>${h}</p>` }, { op: "xml", text: `<svg a="${a}" b='${a}'><text>${h}</text></svg>` });
    expect.push(["htmlText/htmlAttr", s], ["htmlText/htmlAttr in XML", s]);
  }
  const answers = oracle(reqs);
  answers.forEach((ans, i) => {
    const [check, s] = expect[i];
    const p = E.plainText(s);
    if (reqs[i].op === "html" || reqs[i].op === "xml") {
      const ok =
        ans.ok &&
        ans.tags.join() === (reqs[i].op === "html" ? "p" : "svg,text") &&
        ans.attrs.length === 2 &&
        ans.attrs.every((x) => x === p) &&
        ans.texts.join("") === p &&
        (ans.comments ?? []).length === 0;
      if (!ok) finding(findings, "escape", `${check} do not hold the text exactly`, s, JSON.stringify(ans).slice(0, 400));
    } else if (!ans.ok) finding(findings, "escape", check, s, ans.error);
  });
  return { stats: { cases: n, oracleChecks: reqs.length }, findings: [...findings.values()] };
}

/** The TypeScript trainer (and its bundle banner). */
export async function typescriptCampaign({ n, seed, bundleEvery = 20 }) {
  const rng = makeRng(seed);
  return checkTypescript(randomCases(rng, n), { bundleEvery });
}

/** Cases for the trainer surfaces: a hostile string, the fields it goes into, idx or csv source. */
export function randomCases(rng, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const h = hostileString(rng);
    const csv = rng.chance(0.5);
    out.push({ h, csv, fields: pickFields(rng, csv) });
  }
  return out;
}

/** The TypeScript surface's checks: `cases` of {h, csv, fields}. */
export async function checkTypescript(cases, { bundleEvery = 20 } = {}) {
  const n = cases.length;
  const { generateTrainer } = await import("../compiler/codegen/emit-trainer");
  const { bundleTrainer } = await import("../compiler/codegen/bundle");
  const findings = new Map();
  const benign = {};
  let rejected = 0;
  let bundles = 0;
  for (const csv of [false, true]) {
    const { r } = compileCase([], "", csv);
    benign[csv] = { ir: r.ir, shape: await tsShape((await generateTrainer(r.ir, { dataPath: BENIGN.data })).text) };
  }
  const bundleBase = {};
  for (const csv of [false, true])
    bundleBase[csv] = await tsShape(await bundleTrainer((await generateTrainer(benign[csv].ir, { dataPath: BENIGN.data })).text, "benign.trainer.ts"), "js");
  for (let i = 0; i < n; i++) {
    const { h, csv, fields } = cases[i];
    const fail = (check, detail) => finding(findings, "typescript", check, JSON.stringify({ h, fields, csv }), detail);
    const { r, dataPath, map } = compileCase(fields, h, csv);
    if (!r.ir) {
      if (r.diagnostics.length === 0) fail("rejected without a diagnostic", "");
      rejected++;
      continue;
    }
    let text;
    try {
      text = (await generateTrainer(r.ir, { dataPath })).text;
    } catch (e) {
      fail("generateTrainer throws", e.stack);
      continue;
    }
    const b = benign[csv];
    const s = await tsShape(text);
    if (s.errors.length) fail("does not parse", s.errors[0]);
    if (s.tree.join("\n") !== b.shape.tree.join("\n")) fail("syntax tree differs from the benign trainer's", "");
    const want = substitute(b.shape.strings, map).map((x) => (x === b.ir.specHash ? r.ir.specHash : x));
    if (JSON.stringify(s.strings) !== JSON.stringify(want))
      fail("literal values differ", JSON.stringify(s.strings.filter((x, k) => x !== want[k])).slice(0, 300));
    if (s.numbers.join() !== b.shape.numbers.join()) fail("numbers differ", "");
    const header = replaceAll(
      replaceAll(b.shape.comments[0], E.tsComment(BENIGN.file), E.tsComment(fields.includes("file") ? h : BENIGN.file)),
      b.ir.specHash.slice(0, 16),
      r.ir.specHash.slice(0, 16),
    );
    if (JSON.stringify(s.comments) !== JSON.stringify([header, ...b.shape.comments.slice(1)])) fail("comments differ", s.comments[0]?.slice(0, 300));
    if (i % bundleEvery === 0) {
      bundles++;
      const name = (fields.includes("file") ? h : "benign") + ".trainer.ts";
      const bs = await tsShape(await bundleTrainer(text, name), "js");
      const bb = bundleBase[csv];
      if (bs.errors.length || bs.tree.join("\n") !== bb.tree.join("\n") || bs.comments.length !== bb.comments.length)
        fail(
          "the bundle differs in shape",
          bs.errors[0] ?? `${bs.tree.length} nodes, ${bs.comments.length} comments; benign ${bb.tree.length}, ${bb.comments.length}`,
        );
      const wantB = substitute(bb.strings, map).map((x) => (x === b.ir.specHash ? r.ir.specHash : x));
      if (JSON.stringify(bs.strings) !== JSON.stringify(wantB))
        fail("the bundle's literal values differ", JSON.stringify(bs.strings.filter((x, k) => x !== wantB[k])).slice(0, 300));
      if (bs.comments[0] !== `// ${E.tsComment(name.replace(/\.ts$/, ".mjs"))}: bundled by dnnc; self-contained (runtime included).`)
        fail("the bundle banner differs", bs.comments[0]?.slice(0, 300));
    }
  }
  return { stats: { cases: n, rejected, bundles }, findings: [...findings.values()] };
}

/** The PyTorch trainer: Python's own parser, and `--help` runs with a marker check. */
export async function pythonCampaign({ n, seed, runs = 0, batch = 200, prefixOnly = false }) {
  const rng = makeRng(seed);
  return checkPython(randomCases(rng, n), { runs, batch, prefixOnly });
}

/**
 * Where the PyTorch trainer's user-dependent part ends: the spec's settings (header, SPEC, DATA_PATH,
 * DATA, ...) come before this line; what follows depends on the model only.
 */
const PY_MODEL_SECTION = "\n# ---- the model ---";

/**
 * The Python surface's checks: `cases` of {h, csv, fields}; the first `runs` also run --help.
 * `prefixOnly` (quick): Python parses the part before PY_MODEL_SECTION, and the rest must be
 * byte-identical to the benign trainer's. Sound: a prefix that parses on its own ends outside any
 * string, bracket or block, so the whole file parses as prefix then the benign rest.
 */
export async function checkPython(cases, { runs = 0, batch = 200, prefixOnly = false } = {}) {
  const n = cases.length;
  const { generatePytorchTrainer } = await import("../compiler/codegen-pytorch/emit-python");
  const findings = new Map();
  const base = {};
  for (const csv of [false, true]) {
    const { r } = compileCase([], "", csv);
    const code = generatePytorchTrainer(r.ir, { dataPath: BENIGN.data });
    const cut = code.indexOf(PY_MODEL_SECTION);
    if (cut < 0) throw new Error("the PyTorch trainer has no model section");
    const [ans] = oracle([{ op: "pyfile", code: prefixOnly ? code.slice(0, cut + 1) : code }]);
    if (!ans.ok) throw new Error(`the benign PyTorch trainer does not parse: ${ans.error}`);
    base[csv] = { ir: r.ir, ans, rest: code.slice(cut) };
  }
  let rejected = 0;
  let ran = 0;
  let pending = [];
  const flush = () => {
    const answers = oracle(pending.map((p) => ({ op: "pyfile", code: prefixOnly ? p.code.slice(0, p.code.indexOf(PY_MODEL_SECTION) + 1) : p.code })));
    answers.forEach((ans, k) => {
      const { h, fields, csv, map, ir } = pending[k];
      const fail = (check, detail) => finding(findings, "python", check, JSON.stringify({ h, fields, csv }), detail);
      if (!ans.ok) return fail("does not parse", ans.error);
      const b = base[csv];
      const cut = pending[k].code.indexOf(PY_MODEL_SECTION);
      if (prefixOnly && (cut < 0 || pending[k].code.slice(cut) !== b.rest)) fail("the model section and what follows differ from the benign trainer's", "");
      if (ans.encoding !== "utf-8") fail(`declares the encoding ${ans.encoding}`, "");
      if (ans.shape !== b.ans.shape || ans.statements !== b.ans.statements) fail("syntax tree differs from the benign trainer's", "");
      const want = substitute(b.ans.strings, map).map((x) => (x === b.ir.specHash ? ir.specHash : x));
      if (JSON.stringify(ans.strings) !== JSON.stringify(want))
        fail("str constants differ", JSON.stringify(ans.strings.filter((x, j) => x !== want[j])).slice(0, 300));
      const header = replaceAll(
        replaceAll(b.ans.comments[0], E.pyComment(BENIGN.file), E.pyComment(fields.includes("file") ? h : BENIGN.file)),
        b.ir.specHash.slice(0, 16),
        ir.specHash.slice(0, 16),
      );
      if (JSON.stringify(ans.comments) !== JSON.stringify([header, ...b.ans.comments.slice(1)])) fail("comments differ", ans.comments[0]?.slice(0, 300));
    });
    pending = [];
  };
  for (const { h, csv, fields } of cases) {
    const { r, dataPath, map } = compileCase(fields, h, csv);
    if (!r.ir) {
      if (r.diagnostics.length === 0) finding(findings, "python", "rejected without a diagnostic", h, "");
      rejected++;
      continue;
    }
    let code;
    try {
      code = generatePytorchTrainer(r.ir, { dataPath });
    } catch (e) {
      finding(findings, "python", "generatePytorchTrainer throws", JSON.stringify({ h, fields }), e.stack);
      continue;
    }
    pending.push({ h, fields, csv, map, ir: r.ir, code });
    if (ran < runs) {
      ran++;
      const bad = runHelp(code);
      if (bad) finding(findings, "python", "running --help executes injected code or fails", JSON.stringify({ h, fields }), bad);
    }
    if (pending.length >= batch) flush();
  }
  flush();
  return { stats: { cases: n, rejected, helpRuns: ran }, findings: [...findings.values()] };
}

/**
 * Run `python3 trainer.py --help` (torch imported for real) in a fresh directory whose only file
 * is the trainer: undefined when it prints the usage, exits 0 and leaves the directory as it was.
 */
export function runHelp(code) {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-pyhelp-"));
  try {
    writeFileSync(join(dir, "t.trainer.py"), code);
    const r = spawnSync(PY, ["t.trainer.py", "--help"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    const files = readdirSync(dir).filter((f) => f !== "__pycache__");
    if (r.status !== 0) return `exit ${r.status}: ${(r.stderr ?? "").slice(-400)}`;
    if (!/^usage: /m.test(r.stdout)) return `no usage: ${r.stdout.slice(0, 200)}`;
    if (files.length !== 1) return `files created: ${files.join(", ")}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The run report: html.parser and expat. */
export async function htmlCampaign({ n, seed, batch = 100 }) {
  const rng = makeRng(seed);
  return checkHtml(
    Array.from({ length: n }, () => ({ name: hostileString(rng), cls: hostileString(rng) })),
    { batch },
  );
}

/** The report surface's checks: `cases` of {name (a run name), cls (a class name)}. */
export async function checkHtml(cases, { batch = 100 } = {}) {
  const n = cases.length;
  const { renderReport } = await import("../compiler/report/render");
  const findings = new Map();
  const runsFor = (name, cls) => [
    {
      name,
      metrics: [1, 2, 3].map((e) => ({
        epoch: e,
        train_loss: 1 / e,
        train_acc: 0.5 + e / 10,
        val_loss: 1.2 / e,
        val_acc: 0.4 + e / 10,
        lr: 0.1 / e,
        seconds: 1,
      })),
      final: { test_loss: 0.4, test_acc: 0.8 },
      confusion: [
        [5, 1, 0],
        [1, 4, 1],
        [0, 2, 6],
      ],
      classes: [cls, "b", cls + "2"],
      bestEpoch: 2,
      stoppedEarly: true,
    },
    { name: "other", metrics: [1, 2, 3].map((e) => ({ epoch: e, train_loss: 2 / e, train_acc: null, val_loss: null, val_acc: 0.3, lr: 0.1, seconds: null })) },
  ];
  let pending = [];
  const flush = () => {
    const reqs = pending.flatMap((p) => p.docs);
    const answers = oracle(reqs);
    let k = 0;
    for (const p of pending) {
      const got = answers.slice(k, k + p.docs.length);
      k += p.docs.length;
      const fail = (check, detail) => finding(findings, "html", check, JSON.stringify({ name: p.name, cls: p.cls }), detail);
      const html = got[0];
      const base = got[p.docs.length / 2];
      if (!html.ok || !base.ok) {
        fail("does not parse", html.error ?? base.error);
        continue;
      }
      if (html.shape !== base.shape) fail("HTML element/attribute shape differs from the benign report's", "");
      if (html.tags.includes("script") || html.comments.length || html.decls.join() !== "DOCTYPE html")
        fail("a script, comment or declaration appeared", JSON.stringify([html.tags, html.comments, html.decls]).slice(0, 300));
      const pn = E.plainText(p.name);
      if (!html.attrs.includes(`${pn} — training`) || !html.attrs.includes(`${pn} — validation`)) fail("the run name is not exactly in data-series", "");
      if (!html.texts.includes(pn)) fail("the run name is not exactly in a text node", "");
      if (!html.texts.some((t) => t.startsWith(`true ${E.plainText(p.cls)}, predicted ${E.plainText(p.cls)}: `)))
        fail("the class name is not exactly in the cell titles", "");
      const half = p.docs.length / 2;
      for (let j = 1; j < half; j++) {
        const svg = got[j];
        const svgBase = got[half + j];
        if (!svg.ok) fail("an SVG is not well-formed XML", svg.error);
        else if (svg.shape !== svgBase.shape) fail("an SVG's shape differs from the benign one's", "");
      }
    }
    pending = [];
  };
  for (const c of cases) {
    let name = c.name;
    if (name === "" || name === "other") name += "x";
    const cls = c.cls;
    let rep;
    let base;
    try {
      rep = renderReport(runsFor(name, cls));
      // the benign report: names of the same lengths (truncation and layout depend on length only)
      base = renderReport(runsFor("n".repeat(name.length), "c".repeat(cls.length)));
    } catch (e) {
      finding(findings, "html", "renderReport throws", JSON.stringify({ name, cls }), e.stack);
      continue;
    }
    const keys = Object.keys(rep.svgs);
    const baseKeys = Object.keys(base.svgs);
    if (keys.length !== baseKeys.length) finding(findings, "html", "a different number of plots", JSON.stringify({ name, cls }), keys.join());
    const html = withoutPageScript(rep.html);
    const baseHtml = withoutPageScript(base.html);
    if (html === undefined || baseHtml === undefined) {
      finding(findings, "html", "the page's constant script is not there exactly once", JSON.stringify({ name, cls }), "");
      continue;
    }
    const docs = [{ op: "html", text: html }, ...keys.map((k) => ({ op: "xml", text: rep.svgs[k] }))];
    const baseDocs = [{ op: "html", text: baseHtml }, ...baseKeys.map((k) => ({ op: "xml", text: base.svgs[k] }))];
    if (docs.length !== baseDocs.length) continue;
    pending.push({ name, cls, docs: [...docs, ...baseDocs] });
    if (pending.length >= batch) flush();
  }
  flush();
  return { stats: { cases: n }, findings: [...findings.values()] };
}

// ---- a small protobuf reader for the ONNX oracle ----------------------------------------------------

function readFields(b) {
  const out = [];
  let p = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const byte = b[p++];
      if (byte === undefined) throw new Error("truncated varint");
      v |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) return v;
    }
  };
  while (p < b.length) {
    const tag = Number(varint());
    const field = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ field, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, bytes: b.subarray(p, p + len) });
      p += len;
      if (p > b.length) throw new Error("truncated field");
    } else if (wire === 5) {
      out.push({ field, bytes: b.subarray(p, p + 4) });
      p += 4;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

const STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** ModelProto's strings: producer, doc string, graph name and doc string, metadata (key, value). */
export function decodeOnnxStrings(bytes) {
  const m = readFields(bytes);
  const str = (f) => STRICT.decode(f.bytes);
  const graph = readFields(m.find((f) => f.field === 7).bytes);
  return {
    producer: str(m.find((f) => f.field === 2)),
    docString: m.some((f) => f.field === 6) ? str(m.find((f) => f.field === 6)) : undefined,
    graphName: str(graph.find((f) => f.field === 2)),
    graphDoc: graph.some((f) => f.field === 10) ? str(graph.find((f) => f.field === 10)) : undefined,
    metadata: m
      .filter((f) => f.field === 14)
      .map((f) => {
        const kv = readFields(f.bytes);
        return [str(kv.find((x) => x.field === 1)), str(kv.find((x) => x.field === 2))];
      }),
  };
}

/** A tiny valid model (input -> Identity -> logits) holding the given strings. */
export async function tinyOnnx({ docString, graphName, metadata }) {
  const { encodeModel } = await import("../compiler/export/onnx-proto");
  return encodeModel({
    irVersion: 8,
    opset: 17,
    producerName: "dnnc",
    producerVersion: "0.1.0",
    docString,
    metadata,
    graph: {
      name: graphName,
      nodes: [{ opType: "Identity", name: "logits", inputs: ["input"], outputs: ["logits"] }],
      initializers: [],
      inputs: [{ name: "input", shape: ["N", 2] }],
      outputs: [{ name: "logits", shape: ["N", 2] }],
      docString,
    },
  });
}

/** ONNX: exportOnnx with a hostile spec file name, encodeModel with hostile strings everywhere. */
export async function onnxCampaign({ n, seed, loadEvery = 1 }) {
  const rng = makeRng(seed);
  return checkOnnx(
    Array.from({ length: n }, () => hostileString(rng)),
    { loadEvery },
  );
}

/** The ONNX surface's checks on the given strings. */
export async function checkOnnx(strings, { loadEvery = 1 } = {}) {
  const n = strings.length;
  const { exportOnnx } = await import("../compiler/export/onnx");
  const ort = await import("onnxruntime-node");
  const findings = new Map();
  const r = compileToIr(specText(), BENIGN.file, { passes: "lower" }); // export reads the unfused IR
  const tensors = [...r.ir.params, ...r.ir.stats].map((p) => ({
    name: p.name,
    shape: p.shape,
    data: new Float32Array(p.size).fill(p.name.includes("var") ? 1 : 0.01),
  }));
  const benignDoc = exportOnnx(r.ir, tensors, {}).model.docString;
  let loads = 0;
  for (let i = 0; i < n; i++) {
    const h = strings[i];
    const fail = (check, detail) => finding(findings, "onnx", check, h, detail);
    try {
      const ir = { ...r.ir, file: h };
      const e = exportOnnx(ir, tensors, {});
      const got = decodeOnnxStrings(e.bytes);
      if (got.docString !== E.onnxString(replaceAll(benignDoc, r.ir.file, h))) fail("exportOnnx: the doc string does not hold the file name exactly", "");
      const meta = { [h]: h, spec_name: "m", ["k" + h]: "v" };
      const bytes = await tinyOnnx({ docString: h, graphName: h, metadata: meta });
      const t = decodeOnnxStrings(bytes);
      const o = E.onnxString(h);
      if (t.docString !== (h ? o : undefined) || t.graphName !== o || t.graphDoc !== (h ? o : undefined))
        fail("encodeModel: doc string or graph name do not round-trip", "");
      const wantMeta = Object.keys(meta)
        .sort()
        .map((k) => [E.onnxString(k), E.onnxString(meta[k])]);
      if (JSON.stringify(t.metadata) !== JSON.stringify(wantMeta)) fail("encodeModel: metadata does not round-trip", "");
      if (i % loadEvery === 0) {
        loads++;
        for (const b of [e.bytes, bytes]) {
          const s = await ort.InferenceSession.create(b);
          await s.release?.();
        }
      }
    } catch (err) {
      fail("throws", err.stack ?? err);
    }
  }
  return { stats: { cases: n, ortLoads: loads * 2 }, findings: [...findings.values()] };
}

/** Spec text written back: search values through printSpec, and best.dnn's header. */
export const DNN_PATHS = [
  "model.conv2d[0].init",
  "model.dense[0].init",
  "train.optimizer",
  "train.optimizer.momentum",
  "train.schedule",
  "model.leaky_relu[0].slope",
];

export async function dnnCampaign({ n, seed }) {
  const rng = makeRng(seed);
  return checkDnn(Array.from({ length: n }, () => ({ h: hostileString(rng), path: rng.pick(DNN_PATHS) })));
}

/** The spec-writing surface's checks: `cases` of {h (a search value and a spec path), path (the hyperparameter)}. */
export async function checkDnn(cases) {
  const n = cases.length;
  const { applyConfig } = await import("../compiler/search-apply");
  const { bestSpecText } = await import("../compiler/search-command");
  const findings = new Map();
  const base = parseSpec(specText(), "f.dnn").ast;
  for (const { h, path } of cases) {
    const fail = (check, detail) => finding(findings, "dnn", check, JSON.stringify({ h, path }), detail);
    try {
      const { ast, errors } = applyConfig(base, { [path]: h });
      if (errors.length) {
        fail("applyConfig refuses a path it accepted before", errors.join("; "));
        continue;
      }
      const text = printSpec(ast);
      const back = parseSpec(text, "best.dnn");
      if (back.diagnostics.length || !back.ast) {
        fail("the written spec does not parse", back.diagnostics[0]?.message);
        continue;
      }
      if (printSpec(back.ast) !== text) fail("printSpec is not a fixed point", "");
      if (
        back.ast.blocks.length !== ast.blocks.length ||
        back.ast.blocks.some((b, k) => b.kind !== ast.blocks[k].kind || b.body.length !== ast.blocks[k].body.length)
      )
        fail("a block or statement was added", "");
      const { ast: again } = applyConfig(back.ast, {});
      if (JSON.stringify(strip(again)) !== JSON.stringify(strip(ast))) fail("the value does not read back exactly", "");
      // best.dnn: the header comment changes nothing
      const best = parseSpec(bestSpecText(h, text), "best.dnn");
      if (best.diagnostics.length || printSpec(best.ast) !== text) fail("the best.dnn header changes the spec", bestSpecText(h, "").slice(0, 200));
    } catch (err) {
      fail("throws", err.stack ?? err);
    }
  }
  return { stats: { cases: n }, findings: [...findings.values()] };
}

/** An AST without spans (positions differ between the applied and the re-parsed spec). */
function strip(v) {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !/span$/i.test(k) && k !== "file" && k !== "source" && k !== "text")
        .map(([k, x]) => [k, strip(x)]),
    );
  return v;
}

export const CAMPAIGNS = {
  escape: escapeCampaign,
  typescript: typescriptCampaign,
  python: pythonCampaign,
  html: htmlCampaign,
  onnx: onnxCampaign,
  dnn: dnnCampaign,
};

// ---- command line ---------------------------------------------------------------------------------------

async function main(argv) {
  const arg = (name, d) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : d;
  };
  const surface = arg("--surface", "all");
  const n = Number(arg("--n", "2000"));
  const tsN = Number(arg("--ts-n", "300"));
  const seed = Number(arg("--seed", "1"));
  const runs = Number(arg("--python-runs", "10"));
  const names = surface === "all" ? Object.keys(CAMPAIGNS) : surface.split(",");
  let total = 0;
  for (const name of names) {
    const run = CAMPAIGNS[name];
    if (!run) throw new Error(`unknown surface ${name}: one of ${Object.keys(CAMPAIGNS).join(", ")}`);
    const t0 = performance.now();
    const { stats, findings } = await run({ n: name === "typescript" ? tsN : n, seed, runs });
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify(
        { surface: name, seed, ...stats, seconds: +seconds.toFixed(1), findings: findings.map((f) => ({ ...f, input: f.input.slice(0, 300) })) },
        null,
        1,
      ),
    );
    total += findings.length;
  }
  return total > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
