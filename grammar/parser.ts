// The .dnn grammar as a chevrotain CstParser (no embedded actions), built once and reused.
//
//   file      := sep* (block sep*)*
//   block     := Identifier Identifier? '{' body '}'          model m { ... }   data { ... }
//   body      := (sep | statement)*                            sep := NEWLINE | ';'
//   statement := element ('->' element)*                       dense(256) -> bn -> relu
//   element   := path ('(' args? ')')? ':'? trailing* ('{' body '}')?
//   path      := Identifier ('.' Identifier | '[' Number ']')*   (index brackets touch the name)
//   trailing  := Identifier '=' expr | expr                    seed 42   optimizer sgd(lr=0.1)
//   args      := arg (',' arg)* ','?                           arg := (Identifier '=')? expr
//   expr      := term (('/' | '*') term)*                      1/255   2*3
//   term      := '-'? atom
//   atom      := Number | String | Identifier ('(' args? ')')? | '[' (expr (',' expr)* ','?)? ']' | '(' expr ')'
import { CstParser, type IToken } from "chevrotain";
import * as T from "./lexer";

/**
 * Set (to true) by scripts/build.mjs in the bundled CLI only: the grammar is validated when the
 * parser is built everywhere else (vitest, tsx, the playground), so a grammar error cannot reach a
 * bundle; skipping chevrotain's self-validation there saves `dnnc check` start-up time.
 */
declare const __DNNC_BUNDLE__: boolean | undefined;
export const skipGrammarValidations = typeof __DNNC_BUNDLE__ !== "undefined" && __DNNC_BUNDLE__ === true;

export class DnnParser extends CstParser {
  constructor(opts: { skipValidations?: boolean } = {}) {
    super(T.allTokens, { maxLookahead: 3, recoveryEnabled: false, skipValidations: opts.skipValidations ?? skipGrammarValidations });
    this.performSelfAnalysis();
  }

  public file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Newline) }, { ALT: () => this.CONSUME(T.Semicolon) }, { ALT: () => this.SUBRULE(this.block) }]);
    });
  });

  public block = this.RULE("block", () => {
    this.CONSUME(T.Identifier, { LABEL: "kind" });
    this.OPTION(() => this.CONSUME2(T.Identifier, { LABEL: "name" }));
    this.CONSUME(T.LBrace);
    this.SUBRULE(this.body);
    this.CONSUME(T.RBrace);
  });

  public body = this.RULE("body", () => {
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Newline) }, { ALT: () => this.CONSUME(T.Semicolon) }, { ALT: () => this.SUBRULE(this.statement) }]);
    });
  });

  public statement = this.RULE("statement", () => {
    this.SUBRULE(this.element);
    this.MANY(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE2(this.element);
    });
  });

  public element = this.RULE("element", () => {
    this.SUBRULE(this.path);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.args));
      this.CONSUME(T.RParen);
    });
    this.OPTION3(() => this.CONSUME(T.Colon));
    this.MANY(() => this.SUBRULE(this.trailing));
    this.OPTION4(() => {
      this.CONSUME(T.LBrace);
      this.SUBRULE(this.body);
      this.CONSUME(T.RBrace);
    });
  });

  public path = this.RULE("path", () => {
    this.CONSUME(T.Identifier);
    this.MANY({
      GATE: () => this.LA(1).tokenType === T.Dot || touches(this.LA(0), this.LA(1)),
      DEF: () => {
        this.OR([
          {
            ALT: () => {
              this.CONSUME(T.Dot);
              this.CONSUME2(T.Identifier);
            },
          },
          {
            ALT: () => {
              this.CONSUME(T.LBracket);
              this.CONSUME(T.NumberLit);
              this.CONSUME(T.RBracket);
            },
          },
        ]);
      },
    });
  });

  public trailing = this.RULE("trailing", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: "key" });
          this.CONSUME(T.Equals);
          this.SUBRULE(this.expr);
        },
      },
      { ALT: () => this.SUBRULE2(this.expr) },
    ]);
  });

  public args = this.RULE("args", () => {
    this.SUBRULE(this.arg);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.OPTION(() => this.SUBRULE2(this.arg));
    });
  });

  public arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: "key" });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expr);
  });

  public expr = this.RULE("expr", () => {
    this.SUBRULE(this.term);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Slash) }, { ALT: () => this.CONSUME(T.Star) }]);
      this.SUBRULE2(this.term);
    });
  });

  public term = this.RULE("term", () => {
    this.OPTION(() => this.CONSUME(T.Minus));
    this.SUBRULE(this.atom);
  });

  public atom = this.RULE("atom", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => {
            this.CONSUME(T.LParen);
            this.OPTION2(() => this.SUBRULE(this.args));
            this.CONSUME(T.RParen);
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.OPTION3(() => {
            this.SUBRULE(this.expr);
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.OPTION4(() => this.SUBRULE2(this.expr));
            });
          });
          this.CONSUME(T.RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME2(T.LParen);
          this.SUBRULE3(this.expr);
          this.CONSUME2(T.RParen);
        },
      },
    ]);
  });
}

function touches(prev: IToken, next: IToken): boolean {
  return next.tokenType === T.LBracket && prev.endOffset !== undefined && next.startOffset === prev.endOffset + 1;
}

/** The one parser instance: set `parser.input` and call `parser.file()`. */
export const parser = new DnnParser();
