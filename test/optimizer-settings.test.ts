// Optimizer settings of the language reach the runtime's optimizer config unchanged (the runtime's
// update rules themselves are checked against torch.optim in test/optim.test.ts).
import { describe, expect, it } from "vitest";
import { compileProgram } from "./helpers/compile";
import { optimizerConfig } from "../runtime/train-loop";
import { compileToIr } from "../compiler/pipeline";

const spec = (opt: string) => `
model m {
  input [4]
  dense(3)
  loss softmax_cross_entropy
}
data { source csv("x.csv", label="label") }
train {
  batch 2
  epochs 1
  optimizer ${opt}
}
`;

describe("adagrad lr_decay", () => {
  it("is passed to the runtime (torch.optim.Adagrad's lr_decay)", async () => {
    const { program } = await compileProgram(spec("adagrad(lr=0.1, lr_decay=0.25, initial_accumulator=0.5)"));
    expect(optimizerConfig(program)).toEqual({ kind: "adagrad", eps: 1e-10, initialAccumulatorValue: 0.5, lrDecay: 0.25 });
  });
  it("defaults to 0", async () => {
    const { program } = await compileProgram(spec("adagrad(lr=0.1)"));
    expect(optimizerConfig(program)).toMatchObject({ kind: "adagrad", lrDecay: 0 });
  });
  it("is refused when negative, naming the value", () => {
    const r = compileToIr(spec("adagrad(lr=0.1, lr_decay=-1)"), "neg.dnn");
    expect(r.ir).toBeUndefined();
    expect(r.diagnostics.map((d) => d.message).join("\n")).toMatch(/lr_decay/);
  });
});
