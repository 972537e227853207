// One line per diagnostic code of the catalogue, esbuild style (`expectParseError(input, message)`):
// each case is a spec, the code it must raise, the line:col of that diagnostic and a fragment of its
// message. This file is the one place to see every code fire; the last test fails when a code of
// `messages` has no case here. The diagnostic must also read as its catalogue template says (so a
// pass with its own copy of a message, like check-resources.ts, cannot drift from the catalogue).
// Imports go through as few paths as possible, so that moving the catalogue is a one-line change.
import { describe, expect, it } from "vitest";
import { compileToIr, type FrontEndResult } from "../compiler/pipeline";
import { messages, renderDiagnostics, type Code } from "../grammar/diagnostics";
import { checkResources, DEFAULT_LIMITS } from "../compiler/check-resources";
import { checkData } from "../compiler/check-data";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const FILE = "t.dnn";

/**
 * A minimal valid spec, one line per field, so a case replaces whole lines and its line:col reads
 * off the text: 1 `model m {`, 2 input, 3 layers, 4 loss, 5 `}`, 6 data, 7 train, 8 extra.
 * An empty string leaves a blank line (the line numbers of the others stay the same).
 */
const BASE = {
  head: "model m {",
  input: "  input [4]",
  layers: "  dense(2)",
  loss: "  loss softmax_cross_entropy",
  close: "}",
  data: 'data { source idx("d") }',
  train: "train { batch 2 }",
  extra: "",
};
const spec = (lines: Partial<typeof BASE> = {}) => Object.values({ ...BASE, ...lines }).join("\n") + "\n";

type Front = (source: string) => FrontEndResult;
/** The whole front end, as `dnnc compile` runs it. */
const compile: Front = (source) => compileToIr(source, FILE);
/** The front end, then the dataset-size limit that only a caller knowing the data's size can check. */
const withDataset =
  (bytes: number, limit: number): Front =>
  (source) => {
    const r = compileToIr(source, FILE);
    if (!r.ir) return r;
    return { ...r, diagnostics: checkResources(r.ir, { ...DEFAULT_LIMITS, maxDatasetBytes: limit }, { spec: r.spec, datasetBytes: bytes }) };
  };

/** The catalogue template as a pattern: every `{placeholder}` stands for some text. */
const templatePattern = (code: Code) =>
  new RegExp(
    "^" +
      messages[code]
        .split(/\{\w+\}/)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("[\\s\\S]+") +
      "$",
  );

const covered = new Set<string>();

/** `source` raises `code` at `at` ("line:col") with a message matching `message`; errors give no IR. */
function expectDiag(source: string, code: Code, at: string, message: RegExp, front: Front = compile, severity = code.startsWith("W") ? "warning" : "error") {
  covered.add(code);
  it(`${code} at ${at}: ${message.source}`, () => {
    const r = front(source);
    const shown = renderDiagnostics(r.diagnostics, source) || "(no diagnostics)";
    const d = r.diagnostics.find((x) => x.code === code && `${x.span.line}:${x.span.col}` === at);
    expect(d, `expected ${code} at ${FILE}:${at}, got:\n${shown}`).toBeDefined();
    expect(d!.message).toMatch(message);
    expect(d!.message).toMatch(templatePattern(code));
    expect(d!.span.file).toBe(FILE);
    expect(d!.severity).toBe(severity);
    if (d!.severity === "error" && front === compile) expect(r.ir).toBeUndefined();
  });
}

describe("the base spec", () => {
  it("compiles without a diagnostic, so each case's error comes from its own edit", () => {
    const r = compile(spec());
    expect(renderDiagnostics(r.diagnostics, spec())).toBe("");
    expect(r.ir).toBeDefined();
  });
});

describe("every diagnostic code fires", () => {
  // lexer and parser (grammar/to-ast.ts)
  expectDiag(spec({ layers: "  dense(2) $" }), "E0001", "3:12", /^unexpected character `\$`$/);
  expectDiag(spec({ layers: "  dense(2))" }), "E0002", "3:11", /^syntax error: unexpected `\)`/);
  expectDiag(spec({ data: 'data { source idx("d) }' }), "E0003", "6:19", /^unterminated string$/);
  expectDiag(spec({ data: 'data { source idx("d"); scale a/255 }' }), "E0501", "6:31", /^arithmetic only works on numbers$/);
  expectDiag(spec({ data: 'data { source idx("d"); scale -a }' }), "E0501", "6:31", /^arithmetic only works on numbers$/);
  expectDiag(spec({ data: 'data { source idx("d"); scale 1/0 }' }), "E0502", "6:33", /^division by zero$/);

  // blocks and settings (compiler/check.ts)
  expectDiag(spec({ extra: "foo { }" }), "E0101", "8:1", /^unknown block `foo`$/);
  expectDiag(spec({ extra: "train { batch 4 }" }), "E0102", "8:1", /^block `train` appears more than once$/);
  expectDiag(spec({ data: "" }), "E0103", "1:1", /^missing `data` block$/);
  expectDiag(spec({ train: "train { bach 2 }" }), "E0104", "7:9", /^unknown setting `bach` in `train`$/);
  expectDiag(spec({ train: "train { batch 2; batch 4 }" }), "E0105", "7:18", /^setting `batch` given more than once$/);
  expectDiag(spec({ train: "train { batch two }" }), "E0106", "7:15", /^`batch` expects an integer >= 1 and <= 65536$/);
  expectDiag(spec({ data: "data { validation 0.1 }" }), "E0107", "6:1", /^missing setting `source` in `data`$/);
  expectDiag(spec({ data: 'data d { source idx("d") }' }), "E0110", "6:6", /^the `data` block does not take a name$/);

  // layers and arguments
  expectDiag(spec({ layers: "  dense(2) -> rellu" }), "E0201", "3:15", /^unknown layer `rellu`$/);
  expectDiag(spec({ layers: "  dense(2, unit=3)" }), "E0202", "3:12", /^unknown argument `unit` for `dense`$/);
  expectDiag(spec({ layers: "  dense(2, 3)" }), "E0203", "3:12", /^`dense` takes at most 1 positional argument\(s\), got 2$/);
  expectDiag(spec({ layers: "  dense()" }), "E0204", "3:3", /^`dense` is missing its required argument `units`$/);
  expectDiag(spec({ layers: "  dense(0)" }), "E0205", "3:9", /^bad value for `units` of `dense`: 0 must be >= 1$/);
  expectDiag(spec({ layers: "  dense(2, units=2)" }), "E0206", "3:12", /^argument `units` given twice$/);
  expectDiag(spec({ layers: "  dense(2) { relu }" }), "E0207", "3:3", /^`dense` does not take a body in braces$/);
  expectDiag(spec({ layers: "  dense(2) relu" }), "E0208", "3:12", /^`dense` takes no values after it/);
  expectDiag(spec({ layers: "  dense(2) -> input [4]" }), "E0209", "3:15", /^a chain step cannot be a setting: `input`$/);
  expectDiag(spec({ train: "train { batch 2 -> relu }" }), "E0209", "7:20", /^a chain step cannot be a setting: `relu`$/);

  // shapes and the model block (check.ts, lower.ts)
  expectDiag(
    spec({ input: "  input [1, 4, 4]", layers: "  conv2d(2, 5) -> flatten -> dense(2)" }),
    "E0301",
    "3:3",
    /^shape mismatch: a 5x5 kernel does not fit input \[1, 4, 4\]$/,
  );
  expectDiag(spec({ layers: "  conv2d(2, 3)" }), "E0302", "3:3", /^`conv2d` needs input of rank 3 \(\[C, H, W\]\), got shape \[4\]$/);
  expectDiag(spec({ layers: "" }), "E0303", "1:1", /^the model has no layers$/);
  expectDiag(
    spec({ layers: "  dense(1)" }),
    "E0304",
    "4:8",
    /^the model's output shape \[1\] does not fit loss `softmax_cross_entropy`: it needs at least 2 classes$/,
  );
  expectDiag(spec({ input: "  input [0]" }), "E0305", "2:9", /^`input` must be a list of positive integers/);
  expectDiag(spec({ input: "" }), "E0306", "1:1", /^missing `input` in the model block$/);
  expectDiag(spec({ loss: "" }), "E0307", "1:1", /^missing `loss` in the model block$/);

  // training settings
  expectDiag(spec({ train: "train { optimizer adma }" }), "E0401", "7:19", /^unknown optimizer `adma`$/);
  expectDiag(spec({ train: "train { batch 0 }" }), "E0402", "7:15", /^bad value for `batch`: 0 is out of range$/);

  // E0403, one case per place that raises it
  expectDiag(spec({ layers: "  residual" }), "E0403", "3:3", /^`residual` needs a body/);
  expectDiag(spec({ train: "train { optimizer sgd(lr=0.1, nesterov=true) }" }), "E0403", "7:19", /^Nesterov momentum needs momentum > 0 and dampening 0/);
  expectDiag(spec({ train: "train { early_stopping on }" }), "E0403", "7:9", /^early stopping needs a validation split$/);
  expectDiag(
    spec({ train: "train { optimizer adamw; weight_decay 0.1 }" }),
    "E0403",
    "7:26",
    /^both coupled L2 \(`weight_decay`\) and AdamW's decoupled decay/,
  );
  expectDiag(
    spec({ extra: "search { train.batch: choice(2, 4); model.conv2d[0].filters: int(2, 8) }" }),
    "E0403",
    "8:37",
    /^search path: model.conv2d\[0\].filters: the model has 0 conv2d layer\(s\)$/,
  );
  expectDiag(spec({ extra: "search { trials 2 }" }), "E0403", "8:1", /^the search block names no hyperparameter$/);
  expectDiag(
    spec({ extra: "search { strategy grid; steps 30; trials 5; train.batch: int(2, 64) }" }),
    "E0404",
    "8:25",
    /^search: the grid has 30 configurations/,
  );
  expectDiag(spec({ layers: "  dense(2) -> dropout(0.5)" }), "E0403", "3:15", /^dropout on the output layer drops logits/);
  expectDiag(spec({ layers: "  dense(2) -> bn", train: "train { batch 1 }" }), "E0403", "3:15", /^batch norm with batch size 1 in training/);
  expectDiag(
    spec({ data: 'data { source idx("d"); augment { flip_h(0.5) } }' }),
    "E0403",
    "6:35",
    /^augmentation `flip_h` needs image input \[C, H, W\], but the model's input is \[4\]$/,
  );
  expectDiag(
    spec({ data: 'data { source idx("d"); preprocess pca(3) }' }),
    "E0403",
    "6:36",
    /^pca\(k=3\) gives 3 features per sample, but the model's input is \[4\]$/,
  );
  expectDiag(spec({ data: 'data { source idx("d"); preprocess standardize(channel) }' }), "E0403", "6:36", /^per-channel standardization needs image input/);
  // E0405: an op a target does not support (here the penalties, which need second derivatives)
  expectDiag(
    spec({ layers: "  dense(2) -> bn", train: "train { batch 2; input_grad_penalty 0.1 }" }),
    "E0405",
    "3:15",
    /^`bn` \(bn_0\) is not supported by the smoothness penalties: /,
  );

  // resource limits (compiler/check-resources.ts)
  expectDiag(
    spec({ layers: "  dense(100000) -> relu -> dense(2)", train: "train { batch 4096 }" }),
    "E0601",
    "3:3",
    /^the trainer needs \d+\.\d\d GiB of heap memory, more than the limit of 2\.00 GiB$/,
  );
  expectDiag(
    spec({ input: "  input [1000]", layers: "  dense(140000)" }),
    "E0602",
    "3:3",
    /^the model has 140,140,000 parameters, more than the limit of 134,217,728$/,
  );
  expectDiag(spec(), "E0603", "6:15", /^the training data takes 1001 B, more than the limit of 1000 B$/, withDataset(1001, 1000));

  // fine-tuning (compiler/finetune.ts): the init_from file as the CLI read it, layer names, what cannot be frozen
  expectDiag(
    spec({ train: 'train { batch 2; init_from "w.safetensors" }' }),
    "E0801",
    "7:28",
    /^init_from: w\.safetensors: no such file or directory$/,
    (source) => compileToIr(source, FILE, { facts: { initFrom: { file: "w.safetensors", error: "w.safetensors: no such file or directory" } } }),
  );
  expectDiag(spec({ train: "train { batch 2; freeze dense_9 }" }), "E0802", "7:25", /^unknown layer `dense_9` in `freeze`$/);
  expectDiag(spec({ train: "train { batch 2; freeze dense_0 }" }), "E0803", "7:18", /^fine-tuning: every parameter is frozen: nothing would be trained$/);
});

// the data checks of dnnc check (compiler/check-data.ts), on data written beside the test
describe("data checks", () => {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-codes-data-"));
  writeFileSync(join(dir, "d.csv"), "a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n");
  const withData: Front = (source) => {
    const r = compileToIr(source, FILE);
    if (!r.ir || !r.spec) return r;
    return { ...r, diagnostics: checkData(r.spec, r.ir, resolve(dir, r.spec.data.source.path)) };
  };
  // E0701 is a warning: check still passes where the data is not (a spec may be checked without it)
  expectDiag(
    spec({ data: 'data { source csv("nothere.csv") }' }),
    "E0701",
    "6:15",
    /^cannot read the data: .*nothere\.csv: no such file or directory$/,
    withData,
    "warning",
  );
  expectDiag(
    spec({ data: 'data { source csv("d.csv", label="y") }' }),
    "E0702",
    "6:15",
    /^the data source is refused: .*d\.csv:1: no column named "y"/,
    withData,
  );
  expectDiag(
    spec({ input: "  input [5]", data: 'data { source csv("d.csv") }' }),
    "E0703",
    "2:9",
    /^the data does not fit the model: training data: samples have shape \[4\]/,
    withData,
  );
});

describe("the catalogue", () => {
  it("has a case above for every code", () => {
    expect(Object.keys(messages).filter((code) => !covered.has(code))).toEqual([]);
  });
});
