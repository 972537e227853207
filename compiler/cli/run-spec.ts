// The spec a run trains: the user's spec with the command line's overrides written into it
// (`--set PATH=VALUE`, the search block's path syntax, compiler/search-apply.ts; `--epochs N` and
// `--seed N` are `train.epochs` and `train.seed`), and its relative data path rewritten relative
// to the directory the spec is written to (a run directory's spec.dnn, a search's best.dnn), so
// that the file can be trained again where it lies. The text is edited in place, element by
// element, so that comments and layout stay (an element the overrides change is printed again;
// a setting the spec lacks is added at the end of its block); when the edited text would not
// parse back to the overridden spec, the whole spec is printed instead (comments are then lost).
// Beside a run's spec.dnn, run-command.json records where it came from (run-record.ts).
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { printArg, printSpec, type Block, type Element, type SpecFile, type Statement } from "../../grammar/ast";
import { dnnName } from "../../grammar/quote";
import { parseSpec } from "../../grammar/to-ast";
import { applyPath, type ConfigValue } from "../search-apply";
import { usageError } from "./io";

export interface SetFlag {
  path: string;
  value: ConfigValue;
  /** As given: PATH=VALUE. */
  text: string;
}

/** `--set PATH=VALUE`: a number when VALUE reads as one (1e-3, 64, 1/255 stays text), else a name or text. */
export function parseSetFlag(s: string, verb = "train"): SetFlag {
  const eq = s.indexOf("=");
  if (eq <= 0) throw usageError(verb, `--set expects PATH=VALUE (such as train.optimizer.lr=0.01), got "${s}"`);
  const path = s.slice(0, eq).trim();
  const raw = s.slice(eq + 1).trim();
  if (raw === "") throw usageError(verb, `--set ${path}: no value after "="`);
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
  return { path, value: Number.isFinite(n) ? n : raw, text: `${path}=${raw}` };
}

/** The text of the element as the printer writes it, without its body. */
function printHead(e: Element): string {
  let s = dnnName(e.name, true);
  if (e.args) s += `(${e.args.map(printArg).join(", ")})`;
  if (e.values.length > 0) s += " " + e.values.map(printArg).join(" ");
  return s;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The edits that turn `before` (parsed from `source`) into `after` (the same AST, overridden), or undefined where a change is not local. */
function diffBodies(source: string, before: Statement[], after: Statement[], edits: Edit[], blockEnd: number): boolean {
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    const b = after[i];
    if (!b || a.elements.length !== b.elements.length) return false;
    for (let j = 0; j < a.elements.length; j++) {
      const ea = a.elements[j];
      const eb = b.elements[j];
      if (!!ea.body !== !!eb.body) return false;
      if (printHead(ea) !== printHead(eb)) {
        // with a body, the head ends where the body's brace opens
        const end = ea.body ? source.indexOf("{", ea.nameSpan.endOffset) : ea.span.endOffset;
        if (end < 0) return false;
        edits.push({ start: ea.span.offset, end, text: printHead(eb) + (ea.body ? " " : "") });
      }
      if (ea.body && !diffBodies(source, ea.body, eb.body!, edits, -1)) return false;
    }
  }
  if (after.length > before.length) {
    // settings the spec did not have: added before the block's closing brace, one per line
    if (blockEnd < 0) return false;
    const indent = /\n([ \t]*)\S[^\n]*\n[ \t]*$/.exec(source.slice(0, blockEnd))?.[1] ?? "  ";
    const lines = after.slice(before.length).map((st) => indent + st.elements.map(printHead).join(" -> ") + "\n");
    const at = source.lastIndexOf("\n", blockEnd - 1) + 1;
    edits.push({ start: at, end: at, text: lines.join("") });
  }
  return true;
}

function editedText(source: string, before: SpecFile, after: SpecFile): string | undefined {
  const edits: Edit[] = [];
  for (let i = 0; i < before.blocks.length; i++) {
    const ba: Block = before.blocks[i];
    if (!diffBodies(source, ba.body, after.blocks[i].body, edits, ba.span.endOffset - 1)) return undefined;
  }
  let text = source;
  for (const e of edits.sort((x, y) => y.start - x.start)) text = text.slice(0, e.start) + e.text + text.slice(e.end);
  return text;
}

/** The source call's path argument (`idx("data/x")`, `csv(path="x.csv")`), as a string value of the AST. */
export function sourcePath(ast: SpecFile): { value: string; set(v: string): void } | undefined {
  const data = ast.blocks.find((b) => b.kind === "data");
  const st = data?.body.find((s) => s.elements.length === 1 && s.elements[0].name === "source");
  const v = st?.elements[0].values[0]?.value;
  if (!v || v.kind !== "call") return undefined;
  const arg = v.args.find((a) => a.key === "path") ?? v.args.find((a) => a.key === undefined);
  if (!arg || arg.value.kind !== "string") return undefined;
  const s = arg.value;
  return { value: s.value, set: (x) => (s.value = x) };
}

/** The train block's `init_from "path"` (fine-tuning), as a string value of the AST. */
export function initFromPath(ast: SpecFile): { value: string; set(v: string): void } | undefined {
  const train = ast.blocks.find((b) => b.kind === "train");
  const st = train?.body.find((s) => s.elements.length === 1 && s.elements[0].name === "init_from");
  const v = st?.elements[0].values[0]?.value;
  if (!v || v.kind !== "string") return undefined;
  return { value: v.value, set: (x) => (v.value = x) };
}

export interface RunSpecOptions {
  /** The spec's path as given (its relative data path is relative to its directory). */
  specPath: string;
  sets?: SetFlag[];
  /** The directory the text will be written to: a relative data path (and init_from's) is rewritten relative to it. */
  writtenTo?: string;
  /** Name of the flag in errors ("--set"). */
  verb?: string;
}

/**
 * The spec text with the overrides applied and the data path rewritten. A path that names nothing
 * is a usage error naming the flag; a value the spec does not accept is left to the compiler's
 * diagnostics (on the returned text, which keeps the spec's lines).
 */
export function runSpecText(source: string, o: RunSpecOptions): string {
  const parsed = parseSpec(source, o.specPath);
  // a spec that does not parse: its diagnostics come from the compiler, on the text as it is
  if (!parsed.ast) return source;
  const after = structuredClone(parsed.ast) as SpecFile;
  for (const s of o.sets ?? []) {
    const err = applyPath(after, s.path, s.value);
    if (err) throw usageError(o.verb ?? "train", `--set ${s.text}: ${err}`);
  }
  if (o.writtenTo !== undefined)
    // the data path and init_from's file: relative to where the text is written
    for (const p of [sourcePath(after), initFromPath(after)])
      if (p && !isAbsolute(p.value))
        p.set(
          relative(resolve(o.writtenTo), resolve(dirname(o.specPath), p.value))
            .split("\\")
            .join("/") || ".",
        );
  let text = editedText(source, parsed.ast, after);
  if (text !== undefined) {
    const back = parseSpec(text, o.specPath);
    if (!back.ast || printSpec(back.ast) !== printSpec(after)) text = undefined;
  }
  return text ?? printSpec(after);
}
