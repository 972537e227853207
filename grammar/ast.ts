// The typed AST of a .dnn file. Every node carries the span of source text it came from, so
// that every later diagnostic can point at the exact characters.
import { dnnName, dnnString } from "./quote";

export interface Span {
  file: string;
  /** 1-based line and column of the first character. */
  line: number;
  col: number;
  /** 1-based line and column of the last character (inclusive). */
  endLine: number;
  endCol: number;
  /** 0-based offsets, end exclusive. */
  offset: number;
  endOffset: number;
}

export type Value = NumberValue | StringValue | IdentValue | CallValue | ListValue;

export interface NumberValue {
  kind: "number";
  value: number;
  /** The text as written, e.g. `1/255` or `5e-4`. */
  text: string;
  span: Span;
}
export interface StringValue {
  kind: "string";
  value: string;
  span: Span;
}
export interface IdentValue {
  kind: "ident";
  name: string;
  span: Span;
}
export interface CallValue {
  kind: "call";
  name: string;
  nameSpan: Span;
  args: Arg[];
  span: Span;
}
export interface ListValue {
  kind: "list";
  items: Value[];
  span: Span;
}

/** A positional (`key` undefined) or named (`key=value`) argument. */
export interface Arg {
  key?: string;
  keySpan?: Span;
  value: Value;
  span: Span;
}

/**
 * One element of a statement: `dense(256, init=xavier_normal)`, `seed 42`,
 * `train.optimizer.lr: loguniform(1e-4, 1e-1)`, `residual { ... }`.
 */
export interface Element {
  /** The head as written: an identifier, or a path like `model.dense[1].units`. */
  name: string;
  nameSpan: Span;
  /** Arguments in parentheses; undefined when there were no parentheses. */
  args?: Arg[];
  /** Values after the head (and after an optional `:`). */
  values: Arg[];
  /** A nested body in braces. */
  body?: Statement[];
  span: Span;
}

/** A statement: one element, or a chain `a -> b -> c`. */
export interface Statement {
  elements: Element[];
  span: Span;
}

export interface Block {
  kind: string;
  kindSpan: Span;
  name?: string;
  nameSpan?: Span;
  body: Statement[];
  span: Span;
}

export interface SpecFile {
  file: string;
  source: string;
  blocks: Block[];
}

/** A span covering `a` through `b`. */
export function joinSpans(a: Span, b: Span): Span {
  return {
    file: a.file,
    line: a.line,
    col: a.col,
    endLine: b.endLine,
    endCol: b.endCol,
    offset: a.offset,
    endOffset: b.endOffset,
  };
}

/** Canonical text of a value, as the printer writes it. */
export function printValue(v: Value): string {
  switch (v.kind) {
    case "number":
      return v.text;
    case "string":
      return dnnString(v.value);
    case "ident":
      return dnnName(v.name);
    case "call":
      return `${dnnName(v.name)}(${v.args.map(printArg).join(", ")})`;
    case "list":
      return `[${v.items.map(printValue).join(", ")}]`;
  }
}

export function printArg(a: Arg): string {
  return a.key !== undefined ? `${dnnName(a.key)}=${printValue(a.value)}` : printValue(a.value);
}

function printElement(e: Element, indent: string): string {
  let s = dnnName(e.name, true);
  if (e.args) s += `(${e.args.map(printArg).join(", ")})`;
  if (e.values.length > 0) s += " " + e.values.map(printArg).join(" ");
  if (e.body) s += " {\n" + printBody(e.body, indent + "  ") + indent + "}";
  return s;
}

function printBody(body: Statement[], indent: string): string {
  return body.map((st) => indent + st.elements.map((e) => printElement(e, indent)).join(" -> ") + "\n").join("");
}

/** Print a file back in canonical form (used by tests and by search to write concrete specs). */
export function printSpec(f: SpecFile): string {
  return f.blocks.map((b) => `${b.kind}${b.name !== undefined ? " " + dnnName(b.name) : ""} {\n${printBody(b.body, "  ")}}\n`).join("\n");
}
