// The sequence layers' user errors, each fed its bad input: at compile time a diagnostic with its
// code, message, span and hint (and `dnnc check` exits 1 with the rendered form); at run time a
// token id outside the vocabulary stops `dnnc train` with one line naming it, exit 1, no stack
// trace. And the good path end to end: a small 1-D CNN on token ids from a CSV learns its task.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { Rng } from "../runtime/rng";

const spec = (input: string, body: string) => `model m {
  input [${input}]
  ${body}
  loss mse
}
data { source csv("d.csv") }
train { batch 4 }
`;

/** The one diagnostic of a spec: code, message, line:col, hint. */
function diagnose(input: string, body: string) {
  const r = compileToIr(spec(input, body), "s.dnn");
  expect(r.ir).toBeUndefined();
  expect(r.diagnostics).toHaveLength(1);
  const d = r.diagnostics[0];
  return { code: d.code, message: d.message, at: `${d.span.line}:${d.span.col}`, hint: d.hint };
}

describe("compile-time errors of the sequence layers", () => {
  const cases: [string, string, string, { code: string; message: string; at: string; hint?: string }][] = [
    [
      "embedding after another layer",
      "16",
      "dense(4)\n  embedding(10, 8)",
      {
        code: "E0301",
        message: "shape mismatch: `embedding` looks up the token ids of the model's input; here its input is the output of another layer",
        at: "4:3",
        hint: "put `embedding` first, on `input [T]`",
      },
    ],
    [
      "embedding on features per time step",
      "16, 3",
      "embedding(10, 8)",
      {
        code: "E0302",
        message: "`embedding` needs input of rank 1 ([T]: token ids), got shape [16, 3]",
        at: "3:3",
        hint: "a sample of token ids is `input [T]`; `embedding` comes first",
      },
    ],
    [
      "padding_idx outside the vocabulary",
      "16",
      "embedding(10, 8, padding_idx=10)",
      { code: "E0205", message: "bad value for `padding_idx` of `embedding`: 10 is not a token id of a vocabulary of 10 (0 to 9)", at: "3:3" },
    ],
    [
      "conv1d same padding with a stride",
      "16, 4",
      "conv1d(4, 3, stride=2, padding=same)",
      { code: "E0205", message: "bad value for `padding` of `conv1d`: `same` padding needs stride 1 (as in PyTorch)", at: "3:3" },
    ],
    [
      "conv1d groups that do not divide the channels",
      "16, 6",
      "conv1d(4, 3, groups=4)",
      { code: "E0301", message: "shape mismatch: groups=4 must divide both the input channels (6) and filters (4)", at: "3:3" },
    ],
    [
      "conv1d kernel longer than the sequence",
      "16, 6",
      "conv1d(4, 9, dilation=2)",
      { code: "E0301", message: "shape mismatch: a kernel of 9 (dilation 2) does not fit input [16, 6]", at: "3:3" },
    ],
    [
      "conv1d on features",
      "16",
      "conv1d(4, 3)",
      {
        code: "E0302",
        message: "`conv1d` needs input of rank 2 ([T, F]), got shape [16]",
        at: "3:3",
        hint: "this layer needs a sequence [T, F]; set `input [T, F]`, or put `embedding(vocab, dim)` before it for token ids [T]",
      },
    ],
    [
      "maxpool1d padding over half the kernel",
      "16, 4",
      "maxpool1d(2, padding=2)",
      { code: "E0205", message: "bad value for `padding` of `maxpool1d`: padding must be at most half the kernel size", at: "3:3" },
    ],
    [
      "avgpool1d longer than the sequence",
      "8, 4",
      "avgpool1d(9)",
      { code: "E0301", message: "shape mismatch: a pool of 9 does not fit input [8, 4]", at: "3:3" },
    ],
    [
      "global_maxpool on features",
      "8",
      "global_maxpool",
      {
        code: "E0302",
        message: "`global_maxpool` needs input of rank 2 ([T, F]) or 3 ([C, H, W]), got shape [8]",
        at: "3:3",
        hint: "this layer needs a sequence [T, F]; set `input [T, F]`, or put `embedding(vocab, dim)` before it for token ids [T]",
      },
    ],
    ["last on an image", "1, 4, 4", "last", { code: "E0302", message: "`last` needs input of rank 2 ([T, F]), got shape [1, 4, 4]", at: "3:3" }],
  ];
  for (const [what, input, body, want] of cases)
    it(what, () => {
      const got = diagnose(input, body);
      expect({ ...got, hint: got.hint ?? undefined }).toEqual({ hint: undefined, ...want });
    });

  it("`dnnc check` renders it with the source line and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-seqops-err-"));
    const file = join(dir, "bad.dnn");
    writeFileSync(file, spec("16", "embedding(10, 8, padding_idx=12)"));
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "check", file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `error[E0205]: bad value for \`padding_idx\` of \`embedding\`: 12 is not a token id of a vocabulary of 10 (0 to 9)\n --> ${file}:3:3`,
    );
    expect(r.stderr).toContain("embedding(10, 8, padding_idx=12)\n  |   ^^^^");
  });
});

// ---- end to end, through the CLI, on token ids in CSV files ----------------------------------------

/** Rows of T token ids in [0, 6) and a label: does the sequence hold a 3? (half the rows have none) */
function rows(n: number, T: number, rng: Rng, bad?: { row: number; id: number }): string {
  const out = [[...Array.from({ length: T }, (_, t) => `t${t}`), "label"].join(",")];
  for (let i = 0; i < n; i++) {
    const ids = Array.from({ length: T }, () => Math.floor(rng.range(0, 6))).map((v) => (i % 2 === 0 && v === 3 ? 4 : v));
    if (bad && bad.row === i) ids[1] = bad.id;
    out.push([...ids, ids.includes(3) ? 1 : 0].join(","));
  }
  return out.join("\n") + "\n";
}

const TEXT_SPEC = (dir: string) => `model find3 {
  input [10]
  embedding(6, 8)
  conv1d(8, 3, padding=same) -> relu
  global_maxpool
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv("${dir}", label="label")
  validation 0.1
}
train {
  seed 1
  batch 32
  epochs 6
  optimizer adam(lr=0.01)
}
`;

function textRun(name: string, bad?: { row: number; id: number }) {
  const dir = join(mkdtempSync(join(tmpdir(), "dnnc-seqops-cli-")), name);
  mkdirSync(dir);
  const rng = new Rng(7, 1);
  writeFileSync(join(dir, "train.csv"), rows(600, 10, rng));
  writeFileSync(join(dir, "test.csv"), rows(200, 10, rng, bad));
  writeFileSync(join(dir, "m.dnn"), TEXT_SPEC(dir));
  const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", join(dir, "m.dnn"), "-o", join(dir, "run"), "--no-report", "--quiet"], { encoding: "utf8" });
  return { ...r, dir };
}

describe("dnnc train on token ids", () => {
  it("a 1-D CNN learns whether a sequence holds a token (test accuracy >= 0.95)", () => {
    const r = textRun("good");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = readFileSync(join(r.dir, "run", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n");
    const final = JSON.parse(lines[lines.length - 1]) as { test_acc: number };
    expect(final.test_acc).toBeGreaterThanOrEqual(0.95);
  });

  it("a token id outside the vocabulary: one line naming it, exit 1", () => {
    const r = textRun("bad-id", { row: 3, id: 9 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: embedding_0 \(spec line 3\): token id 9 \(sample \d+ of the batch, position 1\) is not an integer in \[0, 6\); the vocabulary has 6 tokens\n$/,
    );
  });
});
