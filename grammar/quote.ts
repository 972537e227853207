// Writing values back as .dnn text (the spec printer, best.dnn): string literals that hold a
// string exactly by the lexer's rules, and names that may be written bare. compiler/escape.ts
// lists these with the escaping functions of every other target.

/**
 * A .dnn string literal holding `s` exactly, by the lexer's rules (grammar/lexer.ts StringLit,
 * unquoted by grammar/to-ast.ts): `"` ... `"` where `\\`, `\"`, `\n` and `\t` are the escapes and
 * anything else but a raw newline may appear as it is. A lone surrogate has no UTF-8 form: once
 * the spec is written to a file it reads back as U+FFFD (as every string read from a file would).
 */
export function dnnString(s: string): string {
  return `"${s.replace(/[\\"\n\t]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : "\\" + c))}"`;
}

/** Whether `s` can be written as a bare .dnn identifier (grammar/lexer.ts Identifier). */
export function dnnIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}

/**
 * `s` itself when it can be written bare into a .dnn file as a name: an identifier, or with
 * `path`, a statement name such as `train.optimizer.lr` or `model.dense[0].units` (identifiers,
 * dots, brackets, digits). Anything else is an internal error: a value that is not a name must
 * be written as a dnnString.
 */
export function dnnName(s: string, path = false): string {
  if (!(path ? /^[A-Za-z_][A-Za-z0-9_.[\]]*$/ : /^[A-Za-z_][A-Za-z0-9_]*$/).test(s))
    throw new Error(`internal: ${JSON.stringify(s)} is not a .dnn name; write it as a string`);
  return s;
}
