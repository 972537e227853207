// Escaping: the one home of every function that writes a user's string into generated text.
// User strings are anything that comes from a spec (data paths, CSV label names, search values),
// the command line or the file system (spec file and directory names, run directories), or a data
// file (run names, class names). Each target language has its own function, and every emitter
// writes such strings only through them:
//
//   TypeScript / JavaScript   tsJson (any JSON value as an expression), tsString, tsComment
//   Python                    pyString, pyComment, pyIdentifier
//   HTML and SVG (XML)        htmlText, htmlAttr
//   .dnn specs (best.dnn)     dnnString, dnnComment, dnnIdentifier
//   ONNX protobuf strings     onnxString
//   terminal and plain text   plainText
//
// Literal functions (tsString, pyString, dnnString) return a literal that holds the string
// exactly; comment and text functions return text that cannot end the comment or element it is
// written into, with what they could not write raw shown as a visible escape (`\n`, `\u2028`).
// Never written raw anywhere: the code points of UNSAFE (line terminators of any of the targets,
// NUL and other controls, bidirectional overrides, non-characters, lone surrogates).
// `assertNoRawUnsafe` lets an emitter check its whole output: a raw one there means a string
// bypassed this module.

/**
 * Code points no emitter writes raw: C0 controls (NUL, \t, \n, \r, \f, \v, ...), DEL, C1 controls
 * (U+0085 NEL among them), U+2028/U+2029 (line terminators in JavaScript), the bidirectional
 * embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069 (they make text read in another
 * order than it runs: "Trojan Source", CVE-2021-42574), U+FEFF (a byte order mark), the
 * non-characters U+FFFE/U+FFFF, and lone surrogates (no UTF-8 form).
 */
const UNSAFE_SOURCE = String.raw`[\0-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]`;
const UNSAFE = new RegExp(UNSAFE_SOURCE, "g");
/** The same, less "\n" (generated files have their own line breaks). */
const UNSAFE_BUT_NEWLINE = new RegExp(UNSAFE_SOURCE.replace(String.raw`\0-\x1f`, String.raw`\0-\x09\x0b-\x1f`), "g");

/** Whether `s` holds a code point that no emitter writes raw. */
export function hasUnsafe(s: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s);
}

const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
/** `\n`, `\r`, `\t`, else `\uXXXX` (one UTF-16 code unit: unsafe code points are all in the BMP or lone surrogates). */
const visibleEscape = (c: string) => SHORT[c] ?? "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");

// ---- text for humans: comments, reports, terminals -----------------------------------------------

/**
 * Text that stays on one line and shows every unsafe code point as an escape: backslashes are
 * doubled (so `\n` in the output always means an escaped line break), unsafe code points become
 * `\n`, `\r`, `\t` or `\uXXXX`. Everything else (quotes, non-ASCII letters, emoji) stays as it is.
 */
export function plainText(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(UNSAFE, visibleEscape);
}

/** Text inside a `//` or `/* *\/` comment of TypeScript/JavaScript: one line, and `*\/` cannot close it. */
export function tsComment(s: string): string {
  return plainText(s).replace(/\*\//g, "*\\/");
}

/**
 * Text inside a `#` comment of Python: one line, no NUL (Python 3.11 silently ignores the rest of
 * a file after a NUL in a comment), and no `coding:`/`coding=` (a comment in the first two lines
 * matching PEP 263 would choose the file's encoding, e.g. utf_7, where `+AAo-` is a newline).
 */
export function pyComment(s: string): string {
  return plainText(s).replace(/coding([:=])/g, (_, c: string) => "coding" + visibleEscape(c));
}

/** Text inside a `#` comment of a .dnn spec (only "\n" ends it there, but editors also break at \r, U+2028, ...). */
export function dnnComment(s: string): string {
  return plainText(s);
}

const HTML_ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Text content of an HTML or SVG (XML) element. Markup characters become entities; unsafe code
 * points, most of which XML 1.0 cannot carry at all, are shown as escapes (plainText), so the
 * element holds exactly plainText(s).
 */
export function htmlText(s: string): string {
  return plainText(s).replace(/[&<>"']/g, (c) => HTML_ENTITY[c]);
}

/** A double- or single-quoted HTML/SVG attribute value (without the quotes) holding plainText(s). */
export function htmlAttr(s: string): string {
  return htmlText(s);
}

// ---- literals that hold the string exactly ----------------------------------------------------

const TS_EXTRA = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff<]/g;

/**
 * Any JSON value as a TypeScript/JavaScript expression (and as JSON: the text parses with
 * JSON.parse to the same value). Strings come out as double-quoted literals holding them exactly:
 * JSON.stringify escapes controls and lone surrogates; here also DEL, C1 controls, U+2028/U+2029,
 * bidirectional controls, U+FEFF, non-characters and `<` (so that neither `</script>` nor `<!--`
 * can appear: the text is safe inside an HTML <script> too). Outside strings JSON has none of
 * these characters, so the replacement touches string contents only.
 */
export function tsJson(v: unknown): string {
  const text = JSON.stringify(v);
  if (text === undefined) throw new Error(`tsJson: ${typeof v} is not a JSON value`);
  return text.replace(TS_EXTRA, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** A TypeScript/JavaScript string literal holding `s` exactly. */
export function tsString(s: string): string {
  return tsJson(String(s));
}

/**
 * A Python str literal holding `s` exactly (code point for code point; a lone surrogate becomes
 * the same lone surrogate in Python's str): `"..."` with `\\`, `\"`, `\n`, `\r`, `\t`, `\xNN` for
 * the other controls and `\uXXXX` for the other unsafe code points. Printable non-ASCII stays raw
 * (the file is UTF-8, Python's default source encoding).
 */
export function pyString(s: string): string {
  const body = s
    .replace(/[\\"]/g, (c) => "\\" + c)
    .replace(UNSAFE, (c) => {
      const short = SHORT[c];
      if (short) return short;
      const u = c.charCodeAt(0);
      return u < 0x100 ? "\\x" + u.toString(16).padStart(2, "0") : "\\u" + u.toString(16).padStart(4, "0");
    });
  return `"${body}"`;
}

/** `s` itself when it is a plain identifier (ASCII letters, digits, _), else an internal error: for names the checker has already restricted. */
export function pyIdentifier(s: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) throw new Error(`internal: ${JSON.stringify(s)} is not an identifier`);
  return s;
}

// .dnn string literals and names: the language's own quoting rules, beside its lexer (the spec
// printer in grammar/ast.ts uses them; grammar/ imports nothing from compiler/)
export { dnnIdentifier, dnnName, dnnString } from "../grammar/quote";

/**
 * A string for an ONNX protobuf `string` field (names, doc strings, metadata): length-delimited
 * UTF-8, so nothing can be injected; the only thing to settle is a lone surrogate, which UTF-8
 * cannot hold: it becomes U+FFFD (as TextEncoder would do silently). Well-formed strings pass
 * through unchanged and round-trip exactly.
 */
export function onnxString(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

/**
 * Throws an internal error when generated `text` holds a raw unsafe code point other than "\n":
 * some string reached it without going through this module. `what` names the output.
 */
export function assertNoRawUnsafe(text: string, what: string): void {
  UNSAFE_BUT_NEWLINE.lastIndex = 0;
  const m = UNSAFE_BUT_NEWLINE.exec(text);
  if (m) {
    const line = text.slice(0, m.index).split("\n").length;
    throw new Error(`internal: ${what} holds a raw ${visibleEscape(m[0])} at line ${line}: a string bypassed compiler/escape.ts`);
  }
}
