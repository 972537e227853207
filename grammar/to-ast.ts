// Source text → AST: lex, drop continuation newlines, parse to a CST, and walk the CST into the
// typed AST of ast.ts. Lexer and parser errors become diagnostics; a CST is never lowered when
// there were any (no error recovery: we never trust a recovered tree).
import type { CstNode, IToken, CstElement } from "chevrotain";
import { dnnLexer, filterNewlines } from "./lexer";
import { parser } from "./parser";
import type { Arg, Block, Element, SpecFile, Span, Statement, Value } from "./ast";
import { joinSpans } from "./ast";
import { diag, type Diagnostic } from "./diagnostics";

export interface ParseResult {
  ast?: SpecFile;
  diagnostics: Diagnostic[];
}

function tokSpan(file: string, t: IToken): Span {
  return {
    file,
    line: t.startLine ?? 1,
    col: t.startColumn ?? 1,
    endLine: t.endLine ?? t.startLine ?? 1,
    endCol: t.endColumn ?? t.startColumn ?? 1,
    offset: t.startOffset,
    endOffset: (t.endOffset ?? t.startOffset) + 1,
  };
}

function describe(t: IToken): string {
  if (t.tokenType.name === "EOF") return "end of file";
  if (t.tokenType.name === "Newline") return "end of line";
  return `\`${t.image}\``;
}

export function parseSpec(source: string, file: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  // A UTF-8 byte order mark (U+FEFF, which some Windows editors write) is not part of the text: it
  // is lexed away, so columns are the editor's (line 1 starts after it) while offsets still index
  // `source` (each token's offset is shifted by one)
  const bom = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  const text0 = bom ? source.slice(1) : source;
  const lexed = dnnLexer.tokenize(text0);
  if (bom) {
    for (const t of lexed.tokens) {
      t.startOffset += 1;
      if (t.endOffset !== undefined) t.endOffset += 1;
    }
    for (const e of lexed.errors) e.offset += 1;
  }
  for (const e of lexed.errors) {
    const text = source.substr(e.offset, Math.max(1, e.length));
    const span: Span = {
      file,
      line: e.line ?? 1,
      col: e.column ?? 1,
      endLine: e.line ?? 1,
      endCol: (e.column ?? 1) + Math.max(1, e.length) - 1,
      offset: e.offset,
      endOffset: e.offset + Math.max(1, e.length),
    };
    if (text.startsWith('"') || text.startsWith("'")) diagnostics.push(diag("E0003", span));
    else diagnostics.push(diag("E0001", { ...span, endCol: span.col, endOffset: span.offset + 1 }, { text: text[0] === "`" ? "\\`" : text[0] }));
  }
  if (diagnostics.length > 0) return { diagnostics };
  let depth = 0; // the parser recurses per bracket: ~1,000 nested ones overflow the stack, so stop at 64
  const deep = lexed.tokens.find(
    (t) => (depth += /^L(Paren|Bracket|Brace)$/.test(t.tokenType.name) ? 1 : /^R(Paren|Bracket|Brace)$/.test(t.tokenType.name) ? -1 : 0) > 64,
  );
  if (deep) return { diagnostics: [diag("E0002", tokSpan(file, deep), { detail: "brackets nested more than 64 deep" })] };
  parser.input = filterNewlines(lexed.tokens);
  const cst = parser.file();
  for (const e of parser.errors) {
    const t = e.token;
    let span: Span;
    if (t.tokenType.name === "EOF" || Number.isNaN(t.startOffset)) {
      const lines = text0.split("\n");
      const last = lines.length;
      const col = Math.max(1, lines[last - 1].length);
      span = { file, line: last, col, endLine: last, endCol: col, offset: source.length, endOffset: source.length };
    } else span = tokSpan(file, t);
    let detail = `unexpected ${describe(t)}`;
    const ctx = e.context?.ruleStack?.[e.context.ruleStack.length - 1];
    const open = t.tokenType.name === "EOF" ? unclosed(lexed.tokens) : undefined;
    if (open) {
      span = tokSpan(file, open);
      detail = `\`${open.image}\` is never closed`;
    } else if (ctx === "block" && t.tokenType.name !== "LBrace") detail += " (a block is `name { ... }`)";
    diagnostics.push(diag("E0002", span, { detail }, hintFor(e.name, t)));
    break; // without recovery only the first parse error is meaningful
  }
  if (diagnostics.length > 0) return { diagnostics };
  const b = new AstBuilder(file, diagnostics);
  const ast: SpecFile = { file, source, blocks: b.fileBlocks(cst) };
  return diagnostics.length > 0 ? { diagnostics } : { ast, diagnostics };
}

/** The innermost bracket left open at the end of the file. */
function unclosed(tokens: IToken[]): IToken | undefined {
  const stack: IToken[] = [];
  const pairs: Record<string, string> = { RBrace: "LBrace", RParen: "LParen", RBracket: "LBracket" };
  for (const t of tokens) {
    const n = t.tokenType.name;
    if (n === "LBrace" || n === "LParen" || n === "LBracket") stack.push(t);
    else if (pairs[n] && stack.length > 0 && stack[stack.length - 1].tokenType.name === pairs[n]) stack.pop();
  }
  return stack[stack.length - 1];
}

function hintFor(_errName: string, t: IToken): string | undefined {
  if (t.tokenType.name === "RBrace") return "is a `{` or `(` missing, or one `}` too many?";
  if (t.tokenType.name === "EOF") return "add the closing bracket";
  if (t.tokenType.name === "Equals") return "named arguments go inside parentheses: `name(key=value)`";
  return undefined;
}

type Children = Record<string, CstElement[] | undefined>;

function nodes(c: Children, k: string): CstNode[] {
  return (c[k] ?? []) as CstNode[];
}
function toks(c: Children, k: string): IToken[] {
  return (c[k] ?? []) as IToken[];
}

class AstBuilder {
  constructor(
    private file: string,
    private diags: Diagnostic[],
  ) {}

  span(t: IToken): Span {
    return tokSpan(this.file, t);
  }

  /** The span from the first to the last token below a CST node. */
  nodeSpan(n: CstNode): Span {
    let first: IToken | undefined;
    let last: IToken | undefined;
    const visit = (x: CstElement) => {
      if ("image" in x) {
        if (!first || x.startOffset < first.startOffset) first = x;
        if (!last || x.startOffset > last.startOffset) last = x;
      } else for (const k of Object.keys(x.children)) for (const y of x.children[k]) visit(y);
    };
    visit(n);
    return joinSpans(this.span(first!), this.span(last!));
  }

  fileBlocks(cst: CstNode): Block[] {
    return nodes(cst.children, "block").map((b) => this.block(b));
  }

  block(n: CstNode): Block {
    const c = n.children;
    const kind = toks(c, "kind")[0];
    const name = toks(c, "name")[0];
    return {
      kind: kind.image,
      kindSpan: this.span(kind),
      name: name?.image,
      nameSpan: name ? this.span(name) : undefined,
      body: this.body(nodes(c, "body")[0]),
      span: this.nodeSpan(n),
    };
  }

  body(n: CstNode): Statement[] {
    return nodes(n.children, "statement").map((s) => ({
      elements: nodes(s.children, "element").map((e) => this.element(e)),
      span: this.nodeSpan(s),
    }));
  }

  element(n: CstNode): Element {
    const c = n.children;
    const pathNode = nodes(c, "path")[0];
    const pathToks: IToken[] = [];
    for (const k of Object.keys(pathNode.children)) pathToks.push(...(pathNode.children[k] as IToken[]));
    pathToks.sort((a, b) => a.startOffset - b.startOffset);
    const name = pathToks.map((t) => t.image).join("");
    const hasParens = toks(c, "LParen").length > 0;
    const argsNode = nodes(c, "args")[0];
    const bodyNode = nodes(c, "body")[0];
    return {
      name,
      nameSpan: joinSpans(this.span(pathToks[0]), this.span(pathToks[pathToks.length - 1])),
      args: hasParens ? (argsNode ? this.args(argsNode) : []) : undefined,
      values: nodes(c, "trailing").map((t) => this.keyed(t)),
      body: bodyNode ? this.body(bodyNode) : undefined,
      span: this.nodeSpan(n),
    };
  }

  args(n: CstNode): Arg[] {
    return nodes(n.children, "arg").map((a) => this.keyed(a));
  }

  keyed(n: CstNode): Arg {
    const key = toks(n.children, "key")[0];
    const value = this.expr(nodes(n.children, "expr")[0]);
    return {
      key: key?.image,
      keySpan: key ? this.span(key) : undefined,
      value,
      span: this.nodeSpan(n),
    };
  }

  expr(n: CstNode): Value {
    const terms = nodes(n.children, "term").map((t) => this.term(t));
    if (terms.length === 1) return terms[0];
    const ops = [...toks(n.children, "Slash"), ...toks(n.children, "Star")].sort((a, b) => a.startOffset - b.startOffset);
    const span = this.nodeSpan(n);
    let acc = terms[0];
    for (let i = 1; i < terms.length; i++) {
      const rhs = terms[i];
      if (acc.kind !== "number" || rhs.kind !== "number") {
        this.diags.push(diag("E0501", acc.kind !== "number" ? acc.span : rhs.span));
        return acc;
      }
      const op = ops[i - 1].image;
      if (op === "/" && rhs.value === 0) {
        this.diags.push(diag("E0502", rhs.span));
        return acc;
      }
      const value = op === "/" ? acc.value / rhs.value : acc.value * rhs.value;
      acc = { kind: "number", value, text: `${acc.text}${op}${rhs.text}`, span: joinSpans(acc.span, rhs.span) };
    }
    return { ...acc, span };
  }

  term(n: CstNode): Value {
    const minus = toks(n.children, "Minus")[0];
    const v = this.atom(nodes(n.children, "atom")[0]);
    if (!minus) return v;
    const span = joinSpans(this.span(minus), v.span);
    if (v.kind !== "number") {
      this.diags.push(diag("E0501", span));
      return v;
    }
    return { kind: "number", value: -v.value, text: `-${v.text}`, span };
  }

  atom(n: CstNode): Value {
    const c = n.children;
    const span = this.nodeSpan(n);
    const num = toks(c, "NumberLit")[0];
    if (num) return { kind: "number", value: Number(num.image.replace(/_/g, "")), text: num.image, span };
    const str = toks(c, "StringLit")[0];
    if (str) return { kind: "string", value: unquote(str.image), span };
    const id = toks(c, "Identifier")[0];
    if (id) {
      if (toks(c, "LParen").length > 0) {
        const argsNode = nodes(c, "args")[0];
        return { kind: "call", name: id.image, nameSpan: this.span(id), args: argsNode ? this.args(argsNode) : [], span };
      }
      return { kind: "ident", name: id.image, span };
    }
    if (toks(c, "LBracket").length > 0) return { kind: "list", items: nodes(c, "expr").map((e) => this.expr(e)), span };
    return this.expr(nodes(c, "expr")[0]);
  }
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  return body.replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch === "t" ? "\t" : ch));
}
