// Where the cursor is, syntactically, in a possibly half-typed spec: which block, which call's
// parentheses (and after which `key=`), and where in the current statement. Uses the real lexer
// on the text before the cursor, so strings and comments are skipped exactly as the compiler
// skips them; lexer errors (an unterminated string) only drop the bad characters.
import type { IToken } from "chevrotain";
import { dnnLexer } from "../../grammar/lexer";

export interface Position {
  /** 0-based line and UTF-16 character, as LSP counts. */
  line: number;
  character: number;
}

export interface CursorContext {
  /** The identifier characters just before the cursor (what is being typed). */
  prefix: string;
  /** The innermost block: "model", "data", "train", "search", another name, or undefined at top level. */
  block?: string;
  /** Inside `residual { ... }` (or another element's braces) within the block. */
  inBody: boolean;
  /** The element whose braces are innermost when inBody: `residual`, `repeat`, `augment`. */
  bodyHead?: string;
  /** The innermost open parenthesis belongs to this name, e.g. `dense` in `dense(256, ini|`. */
  call?: string;
  /** Inside `call(...)` right after `key=`. */
  argKey?: string;
  /** Argument keys already written in the innermost call. */
  givenKeys: string[];
  /** Complete positional arguments before the cursor in the innermost call. */
  positionalGiven: number;
  /** Tokens of the current statement before the prefix (no newlines). */
  statement: IToken[];
  /** The statement so far ends with `->` or is empty: a layer or setting name goes here. */
  atHead: boolean;
}

/** Offset of an LSP position in `text` (clamped to the text). */
export function offsetAt(text: string, pos: Position): number {
  let off = 0;
  for (let l = 0; l < pos.line; l++) {
    const nl = text.indexOf("\n", off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  const lineEnd = text.indexOf("\n", off);
  const end = lineEnd < 0 ? text.length : lineEnd;
  return Math.min(off + Math.max(0, pos.character), end);
}

/** LSP position of an offset. */
export function positionAt(text: string, offset: number): Position {
  let line = 0;
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, character: offset - start };
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*$/;

/** The identifier that contains `offset` (or touches it from either side), with its range. */
export function wordAt(text: string, offset: number): { word: string; start: number; end: number } | undefined {
  let s = offset;
  let e = offset;
  while (s > 0 && /[A-Za-z0-9_]/.test(text[s - 1])) s--;
  while (e < text.length && /[A-Za-z0-9_]/.test(text[e])) e++;
  const word = text.slice(s, e);
  if (!/^[A-Za-z_]/.test(word)) return undefined;
  return { word, start: s, end: e };
}

interface Open {
  kind: "{" | "(" | "[";
  /** For `{`: the first identifier of the statement that opened it; for `(`: the callee. */
  head?: string;
  /** Index in `tokens` just after the opening token. */
  at: number;
}

export function contextAt(text: string, offset: number): CursorContext {
  const before = text.slice(0, offset);
  const prefix = WORD.exec(before)?.[0] ?? "";
  // a number like `5e` is not a word being typed
  const numberTail = prefix !== "" && /[0-9.]$/.test(before.slice(0, before.length - prefix.length));
  const upto = before.slice(0, before.length - (numberTail ? 0 : prefix.length));
  const tokens = dnnLexer.tokenize(upto).tokens;
  const stack: Open[] = [];
  let stmtStart = 0;
  const statementHead = (from: number, to: number): string | undefined => {
    for (let i = from; i < to; i++) if (tokens[i].tokenType.name === "Identifier") return tokens[i].image;
    return undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i].tokenType.name;
    if (t === "LBrace") {
      stack.push({ kind: "{", head: statementHead(stmtStart, i), at: i + 1 });
      stmtStart = i + 1;
    } else if (t === "LParen") {
      const prev = tokens[i - 1];
      stack.push({ kind: "(", head: prev && prev.tokenType.name === "Identifier" ? prev.image : undefined, at: i + 1 });
    } else if (t === "LBracket") stack.push({ kind: "[", at: i + 1 });
    else if (t === "RBrace" || t === "RParen" || t === "RBracket") {
      const want = t === "RBrace" ? "{" : t === "RParen" ? "(" : "[";
      const j = stack.map((o) => o.kind).lastIndexOf(want);
      if (j >= 0) stack.length = j;
      if (t === "RBrace") stmtStart = i + 1;
    } else if ((t === "Newline" || t === "Semicolon") && !stack.some((o) => o.kind !== "{")) {
      // a newline inside () or [] does not end the statement; nor after `->`, `,`, `=` (continuation)
      const prev = tokens[i - 1]?.tokenType.name;
      if (prev !== "Arrow" && prev !== "Comma" && prev !== "Equals" && prev !== "LParen" && prev !== "LBracket") stmtStart = i + 1;
    }
  }
  const braces = stack.filter((o) => o.kind === "{");
  const block = braces[0]?.head;
  const inner = stack[stack.length - 1];
  const ctx: CursorContext = {
    prefix: numberTail ? "" : prefix,
    block,
    inBody: braces.length > 1,
    bodyHead: braces.length > 1 ? braces[braces.length - 1].head : undefined,
    givenKeys: [],
    positionalGiven: 0,
    statement: [],
    atHead: false,
  };
  if (inner && inner.kind === "(") {
    ctx.call = inner.head;
    const inside = tokens.slice(inner.at);
    let depth = 0;
    let segStart = 0;
    for (let i = 0; i < inside.length; i++) {
      const n = inside[i].tokenType.name;
      if (n === "LParen" || n === "LBracket") depth++;
      else if (n === "RParen" || n === "RBracket") depth--;
      else if (depth === 0 && n === "Equals" && inside[i - 1]?.tokenType.name === "Identifier") ctx.givenKeys.push(inside[i - 1].image);
      else if (depth === 0 && n === "Comma") {
        // a finished argument: positional unless it starts with `key=`
        const keyed = inside[segStart + 1]?.tokenType.name === "Equals";
        if (!keyed && i > segStart) ctx.positionalGiven++;
        segStart = i + 1;
      }
    }
    const last = inside[inside.length - 1];
    const prev = inside[inside.length - 2];
    if (last && last.tokenType.name === "Equals" && prev && prev.tokenType.name === "Identifier") ctx.argKey = prev.image;
  }
  const stmt = tokens.slice(stmtStart).filter((t) => t.tokenType.name !== "Newline");
  ctx.statement = stmt;
  const lastName = stmt[stmt.length - 1]?.tokenType.name;
  ctx.atHead = stmt.length === 0 || lastName === "Arrow";
  return ctx;
}
