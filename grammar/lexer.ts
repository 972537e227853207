// Tokens of the .dnn language, and the lexer built once from them.
//
// Newlines end statements, except where a statement obviously goes on: inside ( ) and [ ],
// after `->`, `,` or `=`, and before a line that starts with `->`, `)` or `]`. `filterNewlines`
// drops those newlines after lexing so that the parser can treat NEWLINE as a plain separator.
import { createToken, Lexer, type ILexerConfig, type IToken, type TokenType } from "chevrotain";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\f\v]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /(?:#|\/\/)[^\n]*/, group: Lexer.SKIPPED });
export const Newline = createToken({ name: "Newline", pattern: /\n/, line_breaks: true });
export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/ });
export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const Slash = createToken({ name: "Slash", pattern: /\// });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
// Numbers: 42, 0.5, .5, 5e-4, 1E3, 60_000. Must come before Dot so `.5` is a number.
export const NumberLit = createToken({
  name: "NumberLit",
  pattern: /(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/,
});
export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/ });
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Newline,
  Arrow,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Equals,
  Colon,
  NumberLit,
  Dot,
  Slash,
  Star,
  Minus,
  Plus,
  StringLit,
  Identifier,
];

/** Set by scripts/build.mjs in the bundled CLI only (see skipGrammarValidations in parser.ts). */
declare const __DNNC_BUNDLE__: boolean | undefined;
const skipLexerValidations = typeof __DNNC_BUNDLE__ !== "undefined" && __DNNC_BUNDLE__ === true;

// Only "\n" ends a line (renderDiagnostics splits on it too): a bare "\r" is whitespace.
export const lexerConfig: ILexerConfig = {
  positionTracking: "full",
  ensureOptimizations: false,
  lineTerminatorsPattern: /\n/g,
  lineTerminatorCharacters: ["\n"],
};
export const dnnLexer = new Lexer(allTokens, { ...lexerConfig, skipValidations: skipLexerValidations });

const continuesAfter = new Set([Arrow, LParen, LBracket, Comma, Equals, Colon, LBrace]);
const continuesBefore = new Set([Arrow, RParen, RBracket]);

/** Drop the newlines that do not end a statement (see the file comment). Collapses runs. */
export function filterNewlines(tokens: IToken[]): IToken[] {
  const out: IToken[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const type = t.tokenType;
    if (type === LParen || type === LBracket) depth++;
    else if ((type === RParen || type === RBracket) && depth > 0) depth--;
    if (type !== Newline) {
      out.push(t);
      continue;
    }
    if (depth > 0) continue;
    const prev = out.length > 0 ? out[out.length - 1] : undefined;
    if (!prev || prev.tokenType === Newline || prev.tokenType === Semicolon) continue;
    if (continuesAfter.has(prev.tokenType)) continue;
    let j = i + 1;
    while (j < tokens.length && tokens[j].tokenType === Newline) j++;
    if (j < tokens.length && continuesBefore.has(tokens[j].tokenType)) continue;
    out.push(t);
  }
  return out;
}
