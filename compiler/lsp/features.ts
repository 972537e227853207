// The language features, as pure functions of (text, position): diagnostics from the compiler's
// front end (parse, check, lower), hover documentation, and completion. server.ts only routes
// LSP messages to these.
import type { CompletionItemKind } from "vscode-languageserver";
import type { Diagnostic as DnnDiagnostic } from "../../grammar/diagnostics";
import { compileToIr } from "../pipeline";
import { AUGMENTS, BLOCKS, DISTRIBUTIONS, LAYERS, argMarkdown, callMarkdown, findCall, signature, type CallInfo, type SettingInfo } from "./catalogue";
import { contextAt, offsetAt, positionAt, wordAt, type Position } from "./context";

export interface Range {
  start: Position;
  end: Position;
}

export interface LspDiagnostic {
  range: Range;
  /** 1 error, 2 warning. */
  severity: 1 | 2;
  code: string;
  source: "dnnc";
  message: string;
}

/** A compiler span (1-based, end column inclusive) as a 0-based LSP range (end exclusive). */
export function spanToRange(span: DnnDiagnostic["span"]): Range {
  return {
    start: { line: span.line - 1, character: span.col - 1 },
    end: { line: span.endLine - 1, character: span.endCol },
  };
}

export function toLspDiagnostic(d: DnnDiagnostic): LspDiagnostic {
  return {
    range: spanToRange(d.span),
    severity: d.severity === "error" ? 1 : 2,
    code: d.code,
    source: "dnnc",
    message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
  };
}

/** Diagnostics of a document: everything up to and including lowering (shapes). */
export function diagnose(text: string, file: string): LspDiagnostic[] {
  try {
    return compileToIr(text, file, { passes: "lower" }).diagnostics.map(toLspDiagnostic);
  } catch (e) {
    // a compiler bug must not take the server down; show it where the user will see it
    const msg = e instanceof Error ? e.message : String(e);
    return [
      {
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
        severity: 1,
        code: "internal",
        source: "dnnc",
        message: `internal compiler error: ${msg}`,
      },
    ];
  }
}

// ---- hover -----------------------------------------------------------------------------------

export interface Hover {
  contents: { kind: "markdown"; value: string };
  range: Range;
}

function settingMarkdown(block: string, s: SettingInfo): string {
  const values = s.values === undefined ? "" : Array.isArray(s.values) ? s.values.join(", ") : Object.keys(s.values).join(", ");
  return `\`${s.name}\` — setting of the \`${block}\` block: ${s.doc}${values ? `\n\nValues: ${values}` : ""}`;
}

export function hover(text: string, pos: Position): Hover | undefined {
  const off = offsetAt(text, pos);
  const w = wordAt(text, off);
  if (!w) return undefined;
  const range = { start: positionAt(text, w.start), end: positionAt(text, w.end) };
  const ctx = contextAt(text, w.start);
  const md = (value: string): Hover => ({ contents: { kind: "markdown", value }, range });
  // `key` of `call(key=...)`
  const after = text.slice(w.end).match(/^\s*(=?)/)![1];
  if (ctx.call && after === "=") {
    const c = findCall(ctx.call);
    const a = c?.args.find((x) => x.name === w.word);
    if (c && a) return md(argMarkdown(c, a));
  }
  if (ctx.block === undefined && BLOCKS[w.word]) return md(BLOCKS[w.word].doc);
  const blockInfo = ctx.block !== undefined ? BLOCKS[ctx.block] : undefined;
  // a setting name at the head of a statement in data/train/model
  if (blockInfo && ctx.statement.length === 0 && !ctx.inBody && blockInfo.settings[w.word]) {
    const c = findCall(w.word);
    if (c && c.what === "setting") return md(callMarkdown(c)); // early_stopping(...), golden(...), jacobian_penalty(...)
    return md(settingMarkdown(ctx.block!, blockInfo.settings[w.word]));
  }
  // a layer in the model block, or a named value (optimizer, schedule, loss, source) elsewhere
  const inModel = ctx.block === "model";
  const c = inModel && LAYERS[w.word] ? LAYERS[w.word] : findCall(w.word);
  if (c) return md(callMarkdown(c));
  return undefined;
}

// ---- completion ------------------------------------------------------------------------------

/** LSP CompletionItemKind values used here. */
const Kind = { Function: 3, Property: 10, Value: 12, Keyword: 14, EnumMember: 20 } as const;

export interface CompletionItem {
  label: string;
  kind: CompletionItemKind;
  detail?: string;
  documentation?: { kind: "markdown"; value: string };
  insertText?: string;
  sortText?: string;
}

function callItem(c: CallInfo): CompletionItem {
  return { label: c.name, kind: Kind.Function, detail: `${c.what}: ${signature(c)}`, documentation: { kind: "markdown", value: callMarkdown(c) } };
}

function tableItems(values: SettingInfo["values"]): CompletionItem[] {
  if (values === undefined) return [];
  if (Array.isArray(values)) return values.map((v) => ({ label: v, kind: Kind.EnumMember }));
  return Object.values(values).map(callItem);
}

/** Completion items at `pos`, already filtered by the word being typed (case-insensitive prefix). */
export function complete(text: string, pos: Position): CompletionItem[] {
  const ctx = contextAt(text, offsetAt(text, pos));
  let items: CompletionItem[] = [];
  if (ctx.call !== undefined) {
    const c = findCall(ctx.call);
    if (c && ctx.argKey !== undefined) {
      const a = c.args.find((x) => x.name === ctx.argKey);
      items = (a?.values ?? []).map((v) => ({ label: v, kind: Kind.EnumMember, detail: `${c.name}: ${ctx.argKey}` }));
    } else if (c) {
      // argument names not given yet, in declaration order
      items = c.args
        .filter((a) => !ctx.givenKeys.includes(a.name) && !c.positional.slice(0, ctx.positionalGiven).includes(a.name))
        .map((a, i) => ({
          label: a.name,
          kind: Kind.Property,
          detail: `${a.type}${a.required ? " (required)" : a.default !== undefined ? ` = ${a.default}` : ""}`,
          documentation: { kind: "markdown" as const, value: argMarkdown(c, a) },
          insertText: `${a.name}=`,
          sortText: String(i).padStart(3, "0"),
        }));
    }
  } else if (ctx.block === undefined) {
    items = Object.entries(BLOCKS).map(([name, b]) => ({
      label: name,
      kind: Kind.Keyword,
      detail: "block",
      documentation: { kind: "markdown" as const, value: b.doc },
    }));
  } else {
    const info = BLOCKS[ctx.block];
    const layersHere = ctx.block === "model";
    const augmentHere = ctx.block === "data" && ctx.bodyHead === "augment";
    const lastTok = ctx.statement[ctx.statement.length - 1]?.tokenType.name;
    if (ctx.block === "search" && lastTok === "Colon") items = Object.values(DISTRIBUTIONS).map(callItem);
    else if (ctx.atHead) {
      if (layersHere) items.push(...Object.values(LAYERS).map(callItem));
      if (augmentHere) items.push(...Object.values(AUGMENTS).map(callItem));
      if (info && ctx.statement.length === 0 && !ctx.inBody)
        items.push(
          ...Object.values(info.settings).map((s) => ({
            label: s.name,
            kind: Kind.Keyword,
            detail: `${ctx.block} setting`,
            documentation: { kind: "markdown" as const, value: settingMarkdown(ctx.block!, s) },
          })),
        );
    } else if (info && ctx.statement.length === 1 && ctx.statement[0].tokenType.name === "Identifier") {
      // the value of `setting <value>`
      items = tableItems(info.settings[ctx.statement[0].image]?.values);
    }
  }
  const p = ctx.prefix.toLowerCase();
  return items.filter((it) => it.label.toLowerCase().startsWith(p));
}
