// The recurrent layers' user errors, each fed its bad input: a diagnostic with its code, message,
// span and hint (and `dnnc check` exits 1 with file:line:col and the source line); what is allowed
// says what it gives (bidirectional with return_sequences=false: both directions' final states).
// And the good path end to end: a character LSTM, embedding(auto, 32) -> lstm(64) -> dense(auto),
// trained by `dnnc train` on a text(...) source (the committed cut of Debian's fortunes): its loss falls.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";

const spec = (input: string, body: string, source = `csv("d.csv")`, loss = "mse") => `model m {
  input [${input}]
  ${body}
  loss ${loss}
}
data { source ${source} }
train { batch 4 }
`;

/** The one diagnostic of a spec: code, message, line:col, hint. */
function diagnose(input: string, body: string, source?: string, loss?: string) {
  const r = compileToIr(spec(input, body, source, loss), "s.dnn");
  expect(r.ir).toBeUndefined();
  expect(r.diagnostics).toHaveLength(1);
  const d = r.diagnostics[0];
  return { code: d.code, message: d.message, at: `${d.span.line}:${d.span.col}`, hint: d.hint };
}

describe("compile-time errors of lstm and gru", () => {
  const cases: [string, string, string, { code: string; message: string; at: string; hint?: string }][] = [
    ["units 0", "16, 3", "lstm(0)", { code: "E0205", message: "bad value for `units` of `lstm`: 0 must be >= 1", at: "3:8", hint: "expected an integer >= 1" }],
    [
      "layers 0",
      "16, 3",
      "gru(8, layers=0)",
      { code: "E0205", message: "bad value for `layers` of `gru`: 0 must be >= 1", at: "3:17", hint: "expected an integer >= 1" },
    ],
    [
      "dropout 1.5",
      "16, 3",
      "lstm(8, layers=2, dropout=1.5)",
      { code: "E0205", message: "bad value for `dropout` of `lstm`: 1.5 must be <= 0.99", at: "3:29", hint: "expected a number in [0, 0.99]" },
    ],
    [
      "dropout with one layer",
      "16, 3",
      "gru(8, dropout=0.2)",
      {
        code: "E0205",
        message: "bad value for `dropout` of `gru`: it drops the outputs of every layer but the last, and with layers=1 there is no such layer",
        at: "3:3",
        hint: "stack layers (`layers=2`), or put `dropout(p)` after the layer",
      },
    ],
    [
      "lstm on features [F]",
      "16",
      "lstm(8)",
      {
        code: "E0302",
        message: "`lstm` needs input of rank 2 ([T, F]: a sequence), got shape [16]",
        at: "3:3",
        hint: "a recurrent layer reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]` (a sequence source such as timeseries)",
      },
    ],
    [
      "gru on an image",
      "1, 8, 8",
      "gru(8)",
      {
        code: "E0302",
        message: "`gru` needs input of rank 2 ([T, F]: a sequence), got shape [1, 8, 8]",
        at: "3:3",
        hint: "a recurrent layer reads a sequence [T, F]: use a sequence source (text, tokens, timeseries) and `input [T]` or `[T, F]`",
      },
    ],
    [
      "lstm after return_sequences=false",
      "16, 3",
      "lstm(8, return_sequences=false)\n  lstm(4)",
      {
        code: "E0302",
        message: "`lstm` needs input of rank 2 ([T, F]: a sequence), got shape [8]",
        at: "4:3",
        hint: "a recurrent layer reads a sequence: put `embedding(vocab, dim)` before it for token ids [T], or give it `input [T, F]` (a sequence source such as timeseries)",
      },
    ],
    [
      "an unknown argument",
      "16, 3",
      "lstm(8, hidden=4)",
      {
        code: "E0202",
        message: "unknown argument `hidden` for `lstm`",
        at: "3:11",
        hint: "expected one of: units, layers, bidirectional, dropout, return_sequences, bias, weight_decay, l1, max_norm",
      },
    ],
    [
      "bidirectional not a boolean",
      "16, 3",
      "gru(8, bidirectional=2)",
      { code: "E0205", message: "bad value for `bidirectional` of `gru`: 2 must be boolean", at: "3:24", hint: "expected true or false" },
    ],
  ];
  for (const [what, input, body, want] of cases)
    it(what, () => {
      const got = diagnose(input, body);
      expect({ ...got, hint: got.hint ?? undefined }).toEqual({ hint: undefined, ...want });
    });

  it("a language model must keep the sequence: return_sequences=false on a text source says what the target is", () => {
    const got = diagnose(
      "16",
      "embedding(auto, 8)\n  lstm(8, return_sequences=false)\n  dense(auto)",
      `text("nowhere.txt", context=16)`,
      "softmax_cross_entropy",
    );
    expect(got.code).toBe("E0403");
    expect(got.message).toContain("the next character at every position");
  });

  it("bidirectional with return_sequences=false is fine: both directions' final states, [2·units]", () => {
    const r = compileToIr(spec("16, 3", "lstm(8, bidirectional=true, return_sequences=false)\n  dense(2)"), "s.dnn");
    expect(r.diagnostics).toEqual([]);
    expect(r.ir!.nodes[0].outShape).toEqual([16]);
    expect(r.ir!.nodes[1].inShape).toEqual([16]);
    // stacked, bidirectional, sequence out: [T, 2·units]
    const s = compileToIr(spec("16, 3", "gru(5, layers=3, bidirectional=true, dropout=0.1)\n  dense(2)"), "s.dnn");
    expect(s.diagnostics).toEqual([]);
    expect(s.ir!.nodes[0].outShape).toEqual([16, 10]);
    expect(s.ir!.params.filter((p) => p.name.startsWith("gru_0.")).map((p) => `${p.name} [${p.shape}]`)).toContain("gru_0.weight_ih_l2_reverse [15,10]");
  });

  it("`dnnc check` renders it with the source line and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-rnnop-err-"));
    const file = join(dir, "bad.dnn");
    writeFileSync(file, spec("16", "lstm(8)"));
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "check", file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error[E0302]: \`lstm\` needs input of rank 2 ([T, F]: a sequence), got shape [16]\n --> ${file}:3:3`);
    expect(r.stderr).toContain("lstm(8)\n  |   ^^^^^^^");
    expect(r.stderr).toContain("hint: a recurrent layer reads a sequence");
  });
});

describe("dnnc train: a character LSTM on text", () => {
  it("embedding(auto, 32) -> lstm(64) -> dense(auto) on fortunes (the committed cut): the loss falls", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-rnnop-lm-"));
    const file = join(dir, "lm.dnn");
    writeFileSync(
      file,
      `model char_lstm {
  input [32]
  embedding(auto, 32) -> lstm(64) -> dense(auto)
  loss softmax_cross_entropy
}
data {
  source text("${resolve("specs/data/fortunes-small/science")}", context=32)
  validation 0.1
}
train { seed 1; batch 32; epochs 2; optimizer adam(lr=0.01); clip_norm 1 }
`,
    );
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", file, "-o", join(dir, "run"), "--no-report", "--quiet"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const epochs = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { train_loss: number; val_loss: number; val_bpc: number })
      .slice(0, 2);
    // the vocabulary of this text has about 70 characters: a uniform guess costs ln 70 = 4.25 nats
    expect(epochs[0].train_loss).toBeLessThan(4);
    expect(epochs[1].train_loss).toBeLessThan(epochs[0].train_loss - 0.3);
    expect(epochs[1].val_loss).toBeLessThan(epochs[0].val_loss);
  });
});
