// attention's, transformer's and pos_embedding's user errors, each fed its bad input: a diagnostic with its code, message, span and hint;
// and `dnnc check` on a bad spec exits 1 naming file:line:col without a stack trace.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";

const spec = (input: string, body: string) => `model m {
  input [${input}]
  ${body}
  loss mse
}
data { source csv("d.csv") }
train { batch 4 }
`;

function diagnose(input: string, body: string) {
  const r = compileToIr(spec(input, body), "s.dnn");
  expect(r.ir).toBeUndefined();
  expect(r.diagnostics).toHaveLength(1);
  const d = r.diagnostics[0];
  return { code: d.code, message: d.message, at: `${d.span.line}:${d.span.col}`, hint: d.hint };
}

describe("compile-time errors of attention, transformer and pos_embedding", () => {
  const cases: [string, string, string, { code: string; message: string; at?: string; hint?: string }][] = [
    ["heads 0", "16, 8", "attention(0)", { code: "E0205", message: "bad value for `heads` of `attention`: 0 must be >= 1", at: "3:13" }],
    [
      "heads not dividing F",
      "16, 10",
      "attention(4)",
      {
        code: "E0205",
        message: "bad value for `heads` of `attention`: 4 heads do not divide the 10 features of its input [16, 10] (each head takes F / heads of them)",
        at: "3:3",
        hint: "use a number of heads that divides 10, or change the width before it",
      },
    ],
    ["dropout 1", "16, 8", "attention(2, dropout=1)", { code: "E0205", message: "bad value for `dropout` of `attention`: 1 must be <= 0.99" }],
    ["causal not a boolean", "16, 8", "attention(2, causal=1)", { code: "E0205", message: "bad value for `causal` of `attention`: 1 must be boolean" }],
    [
      "on features [F]",
      "16",
      "attention(2)",
      {
        code: "E0302",
        message: "`attention` needs input of rank 2 ([T, F]: a sequence), got shape [16]",
        at: "3:3",
        hint: "attention reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]`",
      },
    ],
    ["on images", "3, 8, 8", "attention(2)", { code: "E0302", message: "`attention` needs input of rank 2 ([T, F]: a sequence), got shape [3, 8, 8]" }],
    [
      "pos_embedding T not the input's",
      "16, 8",
      "pos_embedding(32, 8)",
      {
        code: "E0205",
        message: "bad value for `T` of `pos_embedding`: 32 is not the length of its input [16, 8]",
        at: "3:3",
        hint: "write pos_embedding(16, 8), or leave the sizes out",
      },
    ],
    [
      "pos_embedding dim not the input's",
      "16, 8",
      "pos_embedding(16, 4)",
      { code: "E0205", message: "bad value for `dim` of `pos_embedding`: 4 is not the width of its input [16, 8]" },
    ],
    [
      "pos_embedding kind",
      "16, 8",
      "pos_embedding(kind=rotary)",
      { code: "E0205", message: 'bad value for `kind` of `pos_embedding`: "rotary" must be equal to one of the allowed values' },
    ],
    [
      "pos_embedding on token ids",
      "16",
      "pos_embedding",
      { code: "E0302", message: "`pos_embedding` needs input of rank 2 ([T, F]: a sequence), got shape [16]" },
    ],
    ["transformer on features", "16", "transformer(2)", { code: "E0302", message: "`transformer` needs input of rank 2 ([T, F]: a sequence), got shape [16]" }],
    [
      "transformer heads not dividing F",
      "16, 10",
      "transformer(4, norm=pre)",
      {
        code: "E0205",
        message: "bad value for `heads` of `attention`: 4 heads do not divide the 10 features of its input [16, 10] (each head takes F / heads of them)",
        at: "3:3",
      },
    ],
    [
      "transformer norm",
      "16, 8",
      "transformer(2, norm=middle)",
      { code: "E0205", message: 'bad value for `norm` of `transformer`: "middle" must be equal to one of the allowed values' },
    ],
    [
      "transformer activation",
      "16, 8",
      "transformer(2, activation=tanh)",
      { code: "E0205", message: 'bad value for `activation` of `transformer`: "tanh" must be equal to one of the allowed values' },
    ],
    [
      "tie to nothing",
      "16",
      "embedding(10, 8)\n  dense(10, tie=embedding_1)",
      {
        code: "E0205",
        message: "bad value for `tie` of `dense`: no embedding layer `embedding_1` comes before this layer",
        at: "4:3",
        hint: "tie to an embedding earlier in the model: the first one is `embedding_0`",
      },
    ],
    [
      "tie with another shape",
      "16",
      "embedding(10, 8)\n  dense(12, tie=embedding_0)",
      {
        code: "E0205",
        message: "bad value for `tie` of `dense`: embedding_0's table is [10, 8] but this layer's weight is [12, 8] (units, input features)",
        hint: "the embedding's vocabulary must be the units and its dim the input's features",
      },
    ],
    [
      "tie with weight_norm",
      "16",
      "embedding(10, 8)\n  dense(10, tie=embedding_0, weight_norm=true)",
      { code: "E0205", message: "bad value for `tie` of `dense`: a tied weight cannot be weight-normalized" },
    ],
    [
      "tie to a dense",
      "16",
      "embedding(10, 8)\n  dense(8)\n  dense(10, tie=dense_0)",
      { code: "E0205", message: 'bad value for `tie` of `dense`: "dense_0" must match pattern "^embedding_[0-9]+$"' },
    ],
  ];
  for (const [name, input, body, want] of cases)
    it(name, () => {
      const got = diagnose(input, body);
      expect(got.code).toBe(want.code);
      expect(got.message).toBe(want.message);
      if (want.at) expect(got.at).toBe(want.at);
      if (want.hint) expect(got.hint).toBe(want.hint);
    });

  it("dnnc check exits 1 with file:line:col and no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-attn-err-"));
    const f = join(dir, "bad.dnn");
    writeFileSync(f, spec("16, 10", "attention(4)"));
    const r = spawnSync(process.execPath, [resolve("bin/dnnc.mjs"), "check", f], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr + r.stdout).toContain("bad.dnn:3:3");
    expect(r.stderr + r.stdout).toContain("4 heads do not divide the 10 features");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
