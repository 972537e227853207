// Syntax colouring from the TextMate grammar the editors use (editors/dnn.tmLanguage.json): its
// patterns are JavaScript-compatible regular expressions, applied line by line the TextMate way
// (at each position the leftmost match of any pattern wins, ties to the earlier pattern; a
// begin/end rule runs to its end on the same line). Output: HTML with one <span class="tm-…">
// per token and the diagnostics' spans wrapped in <mark>.
import grammar from "../../editors/dnn.tmLanguage.json";

interface RawRule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  include?: string;
  patterns?: RawRule[];
  captures?: Record<string, { name: string }>;
}
interface Rule {
  name?: string;
  re: RegExp;
  end?: RegExp;
  captures?: Record<string, { name: string }>;
}

function flatten(rules: RawRule[], repo: Record<string, RawRule>, out: Rule[], seen = new Set<string>()): Rule[] {
  for (const r of rules) {
    if (r.include?.startsWith("#")) {
      const key = r.include.slice(1);
      if (seen.has(key)) continue;
      const target = repo[key];
      if (target) flatten(target.patterns ?? [target], repo, out, new Set([...seen, key]));
    } else if (r.match) out.push({ name: r.name, re: new RegExp(r.match, "gd"), captures: r.captures });
    else if (r.begin && r.end) out.push({ name: r.name, re: new RegExp(r.begin, "gd"), end: new RegExp(r.end, "gd") });
  }
  return out;
}

const RULES = flatten((grammar as { patterns: RawRule[] }).patterns, (grammar as { repository: Record<string, RawRule> }).repository, []);

export interface Token {
  start: number;
  end: number;
  scope: string;
}

/** Tokens of one line (offsets within the line). */
export function tokenizeLine(line: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  while (i < line.length) {
    let best: { rule: Rule; m: RegExpExecArray } | undefined;
    for (const rule of RULES) {
      rule.re.lastIndex = i;
      const m = rule.re.exec(line);
      if (m && m[0].length > 0 && (!best || m.index < best.m.index)) best = { rule, m };
    }
    if (!best) break;
    const { rule, m } = best;
    let end = m.index + m[0].length;
    if (rule.end) {
      rule.end.lastIndex = end;
      const e = rule.end.exec(line);
      end = e ? e.index + e[0].length : line.length;
      toks.push({ start: m.index, end, scope: rule.name ?? "" });
    } else if (rule.captures && m.indices) {
      for (const [k, c] of Object.entries(rule.captures)) {
        const ix = m.indices[Number(k)];
        if (ix) toks.push({ start: ix[0], end: ix[1], scope: c.name });
      }
    } else if (rule.name) toks.push({ start: m.index, end, scope: rule.name });
    i = end;
  }
  return toks;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** CSS class of a scope: its first two parts, e.g. constant.numeric.dnn → tm-constant-numeric. */
export const scopeClass = (scope: string) => "tm-" + scope.split(".").slice(0, 2).join("-");

/** The source as highlighted HTML; `marks` are [start, end) character ranges to underline. */
export function highlight(source: string, marks: { start: number; end: number; severity: string }[] = []): string {
  // per-character classes, then runs of equal classes: simple and plenty fast for a spec
  const cls: string[] = new Array(source.length).fill("");
  const mark: string[] = new Array(source.length).fill("");
  let off = 0;
  for (const line of source.split("\n")) {
    for (const t of tokenizeLine(line)) for (let k = t.start; k < t.end; k++) cls[off + k] = scopeClass(t.scope);
    off += line.length + 1;
  }
  for (const m of marks) for (let k = m.start; k < Math.min(m.end, source.length); k++) if (source[k] !== "\n") mark[k] = m.severity;
  let html = "";
  let k = 0;
  while (k < source.length) {
    let j = k + 1;
    while (j < source.length && cls[j] === cls[k] && mark[j] === mark[k]) j++;
    let piece = esc(source.slice(k, j));
    if (cls[k]) piece = `<span class="${cls[k]}">${piece}</span>`;
    if (mark[k]) piece = `<mark class="diag-${mark[k]}">${piece}</mark>`;
    html += piece;
    k = j;
  }
  // a trailing newline needs a character after it for the <pre> to keep the last line's height
  return html + " ";
}
