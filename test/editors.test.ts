// The editor support files: the TextMate grammar is what editors/build-grammar.ts generates from
// the compiler's lists, its regexes compile, and sample lines tokenise as expected with a tiny
// TextMate-style matcher (earliest match wins, ties go to the first pattern; begin/end regions
// on one line; captures). The VS Code manifest points at files that exist.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GRAMMAR_PATHS, grammarText } from "../editors/build-grammar";
import { OPS } from "../compiler/ops";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (p: string) => readFileSync(root + p, "utf8");

interface Rule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  captures?: Record<string, { name: string }>;
  patterns?: Rule[];
  include?: string;
}
interface Grammar {
  scopeName: string;
  patterns: Rule[];
  repository: Record<string, Rule>;
}

/** Resolve `include`s into the flat, ordered list of leaf rules. */
function leaves(rules: Rule[], g: Grammar, seen = new Set<string>()): Rule[] {
  return rules.flatMap((r) => {
    if (r.include) {
      const key = r.include.slice(1);
      if (!r.include.startsWith("#") || !(key in g.repository)) throw new Error(`unresolved include ${r.include}`);
      if (seen.has(key)) throw new Error(`recursive include ${key}`);
      return leaves([g.repository[key]], g, new Set([...seen, key]));
    }
    if (r.match || r.begin) return [r];
    return leaves(r.patterns ?? [], g, seen);
  });
}

/** Oniguruma and JS agree on everything this grammar uses; compile with indices for captures. */
const rx = (src: string) => new RegExp(src, "dg");

function firstMatch(rules: Rule[], line: string, pos: number, key: "match" | "begin") {
  let best: { rule: Rule; m: RegExpExecArray } | undefined;
  for (const rule of rules) {
    const src = rule[key] ?? rule.match ?? rule.begin;
    if (!src) continue;
    const re = rx(src);
    re.lastIndex = pos;
    const m = re.exec(line);
    if (m && (!best || m.index < best.m.index)) best = { rule, m };
  }
  return best;
}

/** Scoped tokens of one line: [text, scope] for every matched piece (unscoped text is dropped). */
function tokenize(line: string, g: Grammar): [string, string][] {
  const rules = leaves(g.patterns, g);
  const out: [string, string][] = [];
  let pos = 0;
  while (pos < line.length) {
    const hit = firstMatch(rules, line, pos, "match");
    if (!hit) break;
    const { rule, m } = hit;
    if (rule.begin) {
      // a region: scan inner patterns and the end pattern from after the begin match
      let p = m.index + m[0].length;
      for (;;) {
        const end = rx(rule.end!);
        end.lastIndex = p;
        const e = end.exec(line);
        const inner = firstMatch(leaves(rule.patterns ?? [], g), line, p, "match");
        if (inner && (!e || inner.m.index < e.index)) {
          p = inner.m.index + Math.max(1, inner.m[0].length);
          continue;
        }
        const stop = e ? e.index + e[0].length : line.length;
        out.push([line.slice(m.index, stop), rule.name!]);
        pos = Math.max(stop, m.index + 1);
        break;
      }
      continue;
    }
    if (rule.captures) {
      for (const [k, c] of Object.entries(rule.captures)) {
        const span = m.indices?.[Number(k)];
        if (span && m[Number(k)] !== undefined) out.push([line.slice(span[0], span[1]), c.name]);
      }
    } else if (rule.name) out.push([m[0], rule.name]);
    pos = m.index + Math.max(1, m[0].length);
  }
  return out;
}

const grammar = JSON.parse(read("editors/dnn.tmLanguage.json")) as Grammar;

describe("TextMate grammar", () => {
  it("is what build-grammar.ts generates (run `npx tsx editors/build-grammar.ts` after changing the language)", () => {
    const text = grammarText();
    for (const p of GRAMMAR_PATHS) expect(readFileSync(p, "utf8")).toBe(text);
  });

  it("is valid JSON whose includes resolve and whose regexes compile", () => {
    expect(grammar.scopeName).toBe("source.dnn");
    const all = leaves(grammar.patterns, grammar);
    expect(all.length).toBeGreaterThan(15);
    const visit = (r: Rule) => {
      for (const k of ["match", "begin", "end"] as const) if (r[k] !== undefined) expect(() => rx(r[k]!), `${r.name ?? ""} ${k}: ${r[k]}`).not.toThrow();
      for (const c of Object.values(r.captures ?? {})) expect(c.name).toMatch(/\.dnn$/);
      if (r.name) expect(r.name).toMatch(/\.dnn$/);
      (r.patterns ?? []).forEach(visit);
    };
    Object.values(grammar.repository).forEach(visit);
  });

  it("scopes every layer of compiler/ops.ts as a layer", () => {
    for (const name of Object.keys(OPS)) expect(tokenize(`  x -> ${name}`, grammar)).toContainEqual([name, "entity.name.function.layer.dnn"]);
    expect(tokenize("  x -> densely", grammar)).not.toContainEqual(["dense", "entity.name.function.layer.dnn"]);
  });

  const cases: [string, [string, string][]][] = [
    [
      "model fashion_mlp {",
      [
        ["model", "keyword.other.block.dnn"],
        ["fashion_mlp", "entity.name.type.model.dnn"],
        ["{", "punctuation.section.block.begin.dnn"],
      ],
    ],
    [
      "data {",
      [
        ["data", "keyword.other.block.dnn"],
        ["{", "punctuation.section.block.begin.dnn"],
      ],
    ],
    [
      "  dense(256, init=kaiming_normal) -> bn -> dropout(0.5)  # p drops",
      [
        ["dense", "entity.name.function.layer.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ["256", "constant.numeric.dnn"],
        [",", "punctuation.separator.comma.dnn"],
        ["init", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["kaiming_normal", "support.constant.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
        ["->", "keyword.operator.arrow.dnn"],
        ["bn", "entity.name.function.layer.dnn"],
        ["->", "keyword.operator.arrow.dnn"],
        ["dropout", "entity.name.function.layer.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ["0.5", "constant.numeric.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
        ["# p drops", "comment.line.number-sign.dnn"],
      ],
    ],
    [
      "  scale 1/255",
      [
        ["scale", "keyword.other.setting.dnn"],
        ["1", "constant.numeric.dnn"],
        ["/", "keyword.operator.arithmetic.dnn"],
        ["255", "constant.numeric.dnn"],
      ],
    ],
    [
      "  weight_decay 5e-4; l1 1E3",
      [
        ["weight_decay", "keyword.other.setting.dnn"],
        ["5e-4", "constant.numeric.dnn"],
        [";", "punctuation.terminator.statement.dnn"],
        ["l1", "keyword.other.setting.dnn"],
        ["1E3", "constant.numeric.dnn"],
      ],
    ],
    [
      "  batch 60_000",
      [
        ["batch", "keyword.other.setting.dnn"],
        ["60_000", "constant.numeric.dnn"],
      ],
    ],
    [
      "  shift -2 // or .5",
      [
        ["shift", "keyword.other.setting.dnn"],
        ["-2", "constant.numeric.dnn"],
        ["// or .5", "comment.line.double-slash.dnn"],
      ],
    ],
    [
      '  source idx("data/a \\"b\\" #c")',
      [
        ["source", "keyword.other.setting.dnn"],
        ["idx", "support.function.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ['"data/a \\"b\\" #c"', "string.quoted.double.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
      ],
    ],
    ["  x 'it\\'s'", [["'it\\'s'", "string.quoted.single.dnn"]]],
    [
      "  optimizer sgd(lr=.5, nesterov=true)",
      [
        ["optimizer", "keyword.other.setting.dnn"],
        ["sgd", "support.function.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ["lr", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        [".5", "constant.numeric.dnn"],
        [",", "punctuation.separator.comma.dnn"],
        ["nesterov", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["true", "constant.language.boolean.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
      ],
    ],
    [
      "  input [1, 28]",
      [
        ["input", "keyword.other.setting.dnn"],
        ["[", "punctuation.section.brackets.begin.dnn"],
        ["1", "constant.numeric.dnn"],
        [",", "punctuation.separator.comma.dnn"],
        ["28", "constant.numeric.dnn"],
        ["]", "punctuation.section.brackets.end.dnn"],
      ],
    ],
    [
      "  train.optimizer.lr: loguniform(1e-4, 1e-1)",
      [
        ["train.optimizer.lr", "variable.other.path.dnn"],
        [":", "punctuation.separator.key-value.dnn"],
        ["loguniform", "support.function.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ["1e-4", "constant.numeric.dnn"],
        [",", "punctuation.separator.comma.dnn"],
        ["1e-1", "constant.numeric.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
      ],
    ],
    [
      "  model.dense[1].units: choice(64, 128)",
      [
        ["model.dense[1].units", "variable.other.path.dnn"],
        ["choice", "support.function.dnn"],
        ["64", "constant.numeric.dnn"],
        ["128", "constant.numeric.dnn"],
      ],
    ],
    [
      "  dense(10)->relu",
      [
        ["dense", "entity.name.function.layer.dnn"],
        ["(", "punctuation.section.parens.begin.dnn"],
        ["10", "constant.numeric.dnn"],
        [")", "punctuation.section.parens.end.dnn"],
        ["->", "keyword.operator.arrow.dnn"],
        ["relu", "entity.name.function.layer.dnn"],
      ],
    ],
    [
      "  early_stopping(patience=5, mode=min)",
      [
        ["early_stopping", "keyword.other.setting.dnn"],
        ["patience", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["5", "constant.numeric.dnn"],
        ["mode", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["min", "support.constant.dnn"],
      ],
    ],
    [
      "  loss softmax_cross_entropy(label_smoothing=0.1)",
      [
        ["loss", "keyword.other.setting.dnn"],
        ["softmax_cross_entropy", "support.function.dnn"],
        ["label_smoothing", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["0.1", "constant.numeric.dnn"],
      ],
    ],
    [
      "  conv2d(32, 3, padding=same) -> x1 -> conv2d_b",
      [
        ["conv2d", "entity.name.function.layer.dnn"],
        ["32", "constant.numeric.dnn"],
        ["3", "constant.numeric.dnn"],
        ["padding", "variable.parameter.dnn"],
        ["=", "keyword.operator.assignment.dnn"],
        ["same", "support.constant.dnn"],
        ["->", "keyword.operator.arrow.dnn"],
        ["->", "keyword.operator.arrow.dnn"],
      ],
    ],
  ];

  // a case that lists no punctuation is compared without it
  it.each(cases)("tokenises %j", (line, want) => {
    const withPunct = want.some(([, scope]) => scope.startsWith("punctuation."));
    expect(tokenize(line, grammar).filter(([, scope]) => withPunct || !scope.startsWith("punctuation."))).toEqual(want);
  });
});

describe("VS Code extension", () => {
  const pkg = JSON.parse(read("editors/vscode/package.json")) as {
    main: string;
    engines: { vscode: string };
    contributes: {
      languages: { id: string; extensions: string[]; configuration: string }[];
      grammars: { language: string; scopeName: string; path: string }[];
      configuration: { properties: Record<string, { default: unknown }> };
    };
    dependencies: Record<string, string>;
  };

  it("declares the language, grammar and configuration with files that exist", () => {
    const lang = pkg.contributes.languages[0];
    expect(lang.id).toBe("dnn");
    expect(lang.extensions).toEqual([".dnn"]);
    const g = pkg.contributes.grammars[0];
    expect(g).toMatchObject({ language: "dnn", scopeName: grammar.scopeName });
    for (const p of [pkg.main, lang.configuration, g.path]) expect(existsSync(root + "editors/vscode/" + p), p).toBe(true);
    expect(pkg.contributes.configuration.properties["dnnc.server.command"].default).toEqual(["dnnc", "lsp"]);
    expect(Object.keys(pkg.dependencies)).toEqual(["vscode-languageclient"]);
  });

  it("has a language configuration with # comments, balanced brackets and compiling regexes", () => {
    const conf = JSON.parse(read("editors/vscode/language-configuration.json")) as {
      comments: { lineComment: string };
      brackets: [string, string][];
      wordPattern: string;
      indentationRules: Record<string, string>;
      folding: { markers: Record<string, string> };
    };
    expect(conf.comments.lineComment).toBe("#");
    expect(conf.brackets).toEqual([
      ["{", "}"],
      ["[", "]"],
      ["(", ")"],
    ]);
    const word = new RegExp(`^(?:${conf.wordPattern})$`);
    for (const w of ["dense", "kaiming_normal", "5e-4", ".5", "60_000", "-2"]) expect(word.test(w), w).toBe(true);
    expect(new RegExp(conf.indentationRules.increaseIndentPattern).test("model m {")).toBe(true);
    expect(new RegExp(conf.indentationRules.decreaseIndentPattern).test("  }")).toBe(true);
    expect(new RegExp(conf.folding.markers.start).test("train {  # settings")).toBe(true);
  });

  it("starts the server from the configured command in extension.js", () => {
    const js = read("editors/vscode/extension.js");
    expect(js).toContain('require("vscode-languageclient/node")');
    expect(js).toContain('cfg.get("server.command"');
    expect(js).toMatch(/module\.exports = \{ activate, deactivate \}/);
  });
});
