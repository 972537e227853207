// Every user-facing compiler message, with a stable code, in one catalogue; and the renderer that
// prints a diagnostic the way rustc and esbuild do: file:line:col, the source line, a caret under
// the span, and a hint.
import type { Span } from "./ast";

export type Severity = "error" | "warning";

export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  span: Span;
  hint?: string;
}

/** The catalogue: code → message template. `{name}` placeholders are filled from `args`. */
export const messages = {
  E0001: "unexpected character `{text}`",
  E0002: "syntax error: {detail}",
  E0003: "unterminated string",
  E0101: "unknown block `{name}`",
  E0102: "block `{name}` appears more than once",
  E0103: "missing `{name}` block",
  E0104: "unknown setting `{name}` in `{block}`",
  E0105: "setting `{name}` given more than once",
  E0106: "`{name}` expects {expected}",
  E0107: "missing setting `{name}` in `{block}`",
  E0110: "the `{block}` block does not take a name",
  E0201: "unknown layer `{name}`",
  E0202: "unknown argument `{arg}` for `{name}`",
  E0203: "`{name}` takes at most {max} positional argument(s), got {got}",
  E0204: "`{name}` is missing its required argument `{arg}`",
  E0205: "bad value for `{arg}` of `{name}`: {detail}",
  E0206: "argument `{arg}` given twice",
  E0207: "`{name}` does not take a body in braces",
  E0208: "`{name}` takes no values after it; separate statements with a newline or `;`",
  E0209: "a chain step cannot be a setting: `{name}`",
  E0301: "shape mismatch: {detail}",
  E0302: "`{name}` needs input of rank {expected}, got shape {shape}",
  E0303: "the model has no layers",
  E0304: "the model's output shape {shape} does not fit loss `{loss}`: {detail}",
  E0305: "`input` must be a list of positive integers, e.g. [1, 28, 28]",
  E0306: "missing `input` in the model block",
  E0307: "missing `loss` in the model block",
  E0401: "unknown {what} `{name}`",
  E0402: "bad value for `{name}`: {detail}",
  E0403: "{detail}",
  E0404: "search: {detail}",
  E0405: "`{op}` ({id}) is not supported by {target}: {why}",
  E0501: "arithmetic only works on numbers",
  E0502: "division by zero",
  E0601: "the trainer needs {estimate} of heap memory, more than the limit of {limit}",
  E0602: "the model has {estimate} parameters, more than the limit of {limit}",
  E0603: "the training data takes {estimate}, more than the limit of {limit}",
  E0701: "cannot read the data: {detail}",
  E0702: "the data source is refused: {detail}",
  E0703: "the data does not fit the model: {detail}",
  E0801: "init_from: {detail}",
  E0802: "unknown layer `{name}` in `{setting}`",
  E0803: "fine-tuning: {detail}",
} as const;

export type Code = keyof typeof messages;

export function diag(code: Code, span: Span, args: Record<string, string | number> = {}, hint?: string): Diagnostic {
  const template: string = messages[code];
  const message = template.replace(/\{(\w+)\}/g, (_, k: string) => (k in args ? String(args[k]) : `{${k}}`));
  return { code, severity: code.startsWith("W") ? "warning" : "error", message, span, hint };
}

/** Levenshtein distance, for did-you-mean hints. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const c = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + c);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n];
}

/** "did you mean `x`?" for the closest candidate within a small distance, else a list. */
export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3))) return `did you mean \`${best}\`?`;
  if (candidates.length > 0 && candidates.length <= 40) return `expected one of: ${candidates.join(", ")}`;
  return undefined;
}

/** Render diagnostics as text; `color` adds ANSI colours (off when not a TTY or NO_COLOR is set). */
export function renderDiagnostics(diags: Diagnostic[], source: string, color = false): string {
  const lines = source.replace(/^\uFEFF/, "").split("\n"); // a byte order mark is not shown (parseSpec skips it)
  const red = (s: string) => (color ? `\x1b[1;31m${s}\x1b[0m` : s);
  const yellow = (s: string) => (color ? `\x1b[1;33m${s}\x1b[0m` : s);
  const blue = (s: string) => (color ? `\x1b[1;34m${s}\x1b[0m` : s);
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const out: string[] = [];
  for (const d of diags) {
    const sev = d.severity === "error" ? red(`error[${d.code}]`) : yellow(`warning[${d.code}]`);
    out.push(`${sev}: ${bold(d.message)}`);
    const s = d.span;
    const gutter = String(s.line).length;
    const pad = " ".repeat(gutter);
    out.push(`${pad}${blue("-->")} ${s.file}:${s.line}:${s.col}`);
    const text = (lines[s.line - 1] ?? "").replace(/\t/g, " ").replace(/\r$/, "");
    out.push(`${pad} ${blue("|")}`);
    out.push(`${blue(String(s.line))} ${blue("|")} ${text}`);
    const endCol = s.endLine === s.line ? s.endCol : Math.max(s.col, text.length);
    const width = Math.max(1, endCol - s.col + 1);
    const caret = d.severity === "error" ? red("^".repeat(width)) : yellow("^".repeat(width));
    out.push(`${pad} ${blue("|")} ${" ".repeat(Math.max(0, s.col - 1))}${caret}`);
    if (d.hint) out.push(`${pad} ${blue("=")} hint: ${d.hint}`);
    out.push("");
  }
  const errors = diags.filter((d) => d.severity === "error").length;
  const warnings = diags.length - errors;
  if (diags.length > 0) out.push(`${errors} error${errors === 1 ? "" : "s"}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`);
  return out.join("\n");
}
