// No code injection: hostile text in a spec (string literals, the spec's file name, model names,
// extreme numbers) must either be rejected with a diagnostic or generate a trainer whose
// TypeScript syntax tree has exactly the shape of a benign spec's, with the hostile text showing
// up only as the value of the literals (or the comment) it belongs in. Comments count too: a
// line terminator in a `//` comment (\n, \r, U+2028, U+2029) would turn the rest into code.
import { describe, expect, it } from "vitest";
import ts from "typescript";
import { compileToIr } from "../compiler/pipeline";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../compiler/codegen/bundle";

interface Shape {
  /** Every node's kind, identifiers by name, literals as placeholders. */
  tree: string[];
  strings: string[];
  numbers: string[];
  comments: string[];
}

function shape(code: string, kind = ts.ScriptKind.TS): Shape {
  const sf = ts.createSourceFile("t.ts", code, ts.ScriptTarget.ES2022, true, kind);
  expect((sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "))).toEqual([]);
  const out: Shape = { tree: [], strings: [], numbers: [], comments: [] };
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n)) out.tree.push(`id:${n.text}`);
    else if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
      out.tree.push("STR");
      out.strings.push(/^[0-9a-f]{64}$/.test(n.text) ? "SHA256" : n.text); // the spec's hash differs, of course
    } else if (ts.isNumericLiteral(n)) {
      out.tree.push("NUM");
      out.numbers.push(n.text);
    } else out.tree.push(ts.SyntaxKind[n.kind]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, code);
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan())
    if (t === ts.SyntaxKind.SingleLineCommentTrivia || t === ts.SyntaxKind.MultiLineCommentTrivia)
      out.comments.push(scanner.getTokenText().replace(/\b[0-9a-f]{16}\b/, "SHA256"));
  return out;
}

/** A .dnn double-quoted string literal holding `s` exactly. */
const dnnString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`;

const spec = (o: { name?: string; source?: string; eps?: string; lr?: string; slope?: string } = {}) => `model ${o.name ?? "m"} {
  input [1, 4, 4]
  conv2d(2, 3, padding=same) -> bn(eps=${o.eps ?? "0.001"}) -> leaky_relu(${o.slope ?? "0.25"}) -> dropout(0.5)
  flatten
  dense(3)
  loss softmax_cross_entropy
}
data { source ${o.source ?? 'idx("data/benign")'} }
train { batch 4
  optimizer sgd(lr=${o.lr ?? "0.125"}, momentum=0.5) }
`;

const cache = new Map<string, Promise<string | undefined>>();
function trainerOf(src: string, file = "spec.dnn", dataPath = "data/benign"): Promise<string | undefined> {
  const key = JSON.stringify([src, file, dataPath]);
  if (!cache.has(key)) cache.set(key, generate(src, file, dataPath));
  return cache.get(key)!;
}
async function generate(src: string, file: string, dataPath: string): Promise<string | undefined> {
  const r = compileToIr(src, file);
  if (!r.ir) {
    expect(r.diagnostics.length, "rejected without a diagnostic").toBeGreaterThan(0);
    return undefined;
  }
  return (await generateTrainer(r.ir, { dataPath })).text;
}

const HOSTILE = [
  '"',
  "'",
  "`",
  "${process.exit(1)}",
  "`${process.exit(1)}`",
  "*/ process.exit(1); /*",
  "\n process.exit(1) //",
  '");\nprocess.exit(1);\n("',
  "'); process.exit(1); ('",
  "\\",
  "\\u0022",
  "\u2028process.exit(1)//",
  "\u2029process.exit(1)//",
  "\r process.exit(1)",
  "</script><script>alert(1)</script>",
  "<!--",
  '"""',
  "\0",
  "\x85",
  "\u202e",
  "\ufeff",
  "__proto__",
  "constructor",
  "\ud800",
  "\u{1F600}",
  "x".repeat(10_000),
];

describe("hostile strings in the spec stay inside their literals", () => {
  it("the benign trainer parses and holds the data path as a literal", async () => {
    const s = shape((await trainerOf(spec()))!);
    expect(s.strings).toContain("data/benign");
  });

  for (const h of HOSTILE) {
    it(`idx(${JSON.stringify(h.slice(0, 40))}) and the data path`, async () => {
      const benign = shape((await trainerOf(spec()))!);
      const text = await trainerOf(spec({ source: `idx(${dnnString(h)})` }), "spec.dnn", h);
      if (text === undefined) return; // rejected with a diagnostic
      const s = shape(text);
      expect(s.tree).toEqual(benign.tree);
      expect(s.strings).toEqual(benign.strings.map((x) => (x === "data/benign" ? h : x)));
      expect(s.comments).toEqual(benign.comments);
    });
  }

  it("csv label names are literals too", async () => {
    const base = shape((await trainerOf(spec({ source: 'csv("d.csv", label="y")' })))!);
    for (const h of HOSTILE.slice(0, 12)) {
      const text = await trainerOf(spec({ source: `csv("d.csv", label=${dnnString(h)})` }));
      if (text === undefined) continue;
      const s = shape(text);
      expect(s.tree).toEqual(base.tree);
      expect(s.strings).toEqual(base.strings.map((x) => (x === "y" ? h : x)));
    }
  });

  it("hostile text in enum-valued arguments is rejected with a diagnostic", () => {
    for (const h of ['kaiming"); process.exit(1); ("', "`${1}`", "__proto__"]) {
      const r = compileToIr(spec().replace("conv2d(2, 3,", `conv2d(2, 3, init=${dnnString(h)},`), "spec.dnn");
      expect(r.ir).toBeUndefined();
      expect(r.diagnostics.map((d) => d.code)).toContain("E0205");
    }
  });
});

describe("model names (identifiers) only ever become string values", () => {
  for (const name of ["__proto__", "constructor", "toString", "process", "H", "gemm", "program", "runMain", "M".repeat(5000)]) {
    it(`model ${name.slice(0, 20)}`, async () => {
      const benign = shape((await trainerOf(spec()))!);
      const text = await trainerOf(spec({ name }));
      if (text === undefined) return;
      const s = shape(text);
      expect(s.tree).toEqual(benign.tree);
      expect(s.strings).toEqual(benign.strings.map((x) => (x === "m" ? name : x)));
    });
  }
});

describe("extreme numbers become numeric literals of the same value", () => {
  for (const [eps, lr, slope] of [
    ["1e308", "1e308", "1e308"],
    ["5e-324", "5e-324", "5e-324"],
    ["1e-7", "0.1", "0"],
    ["1.7976931348623157e308", "4e-320", "123456789012345680000"],
  ]) {
    it(`eps=${eps}, lr=${lr}, slope=${slope}`, async () => {
      const benign = shape((await trainerOf(spec()))!);
      const text = await trainerOf(spec({ eps, lr, slope }));
      if (text === undefined) return;
      const s = shape(text);
      expect(s.tree).toEqual(benign.tree);
      for (const v of [eps, lr, slope]) if (Number(v) !== 0) expect(s.numbers.map(Number)).toContain(Number(v));
    });
  }

  it("non-finite numbers never reach the code: 1e999, 1e999/1e999, -1e999 are diagnostics", () => {
    for (const bad of ["1e999", "1e999/1e999", "-1e999"]) {
      const r = compileToIr(spec({ lr: bad }), "spec.dnn");
      expect(r.ir).toBeUndefined();
      expect(r.diagnostics.length).toBeGreaterThan(0);
    }
  });
});

describe("the spec's file name flows into comments and JSON literals only", () => {
  const names = [
    "specs/odd name with spaces.dnn",
    "a*/b.dnn",
    "x\nprocess.exit(1)//.dnn",
    "x\rprocess.exit(1)//.dnn",
    "x\u2028process.exit(1)//.dnn",
    "x\u2029process.exit(1)//.dnn",
    "x\0\x85\u202e*/process.exit(1)/*.dnn",
    'x"`${process.exit(1)}`.dnn',
  ];
  for (const file of names) {
    it(`generated trainer for ${JSON.stringify(file)}`, async () => {
      const benign = shape((await trainerOf(spec(), "spec.dnn"))!);
      const s = shape((await trainerOf(spec(), file))!);
      expect(s.tree).toEqual(benign.tree);
      expect(s.strings).toEqual(benign.strings.map((x) => (x === "spec.dnn" ? file : x)));
      expect(s.comments.length).toBe(benign.comments.length);
    });
  }

  it("bundled trainer banner, for every hostile name", async () => {
    const ts0 = (await trainerOf(spec()))!;
    const benign = shape(await bundleTrainer(ts0, "spec.trainer.ts"), ts.ScriptKind.JS);
    for (const file of names.map((n) => n.replace(/\.dnn$/, ".trainer.ts"))) {
      const s = shape(await bundleTrainer(ts0, file), ts.ScriptKind.JS);
      expect(s.tree.length, `bundle banner for ${JSON.stringify(file)}`).toBe(benign.tree.length);
      expect(s.comments.length, `bundle banner for ${JSON.stringify(file)}`).toBe(benign.comments.length);
    }
  });
});
