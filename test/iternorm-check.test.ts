// iternorm's group count must divide the channels: the error names the spec's line and column and
// lists the divisors; a dense iternorm trains a step without non-finite values (whitening works on
// [F] features as well as on conv channels).
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";

const spec = (groups: number) => `model m {
  input [12]
  dense(12) -> iternorm(${groups}) -> relu
  dense(2)
  loss softmax_cross_entropy
}
data { source csv("x.csv", label="label") }
train {
  batch 8
  epochs 1
}
`;

describe("iternorm checks", () => {
  it("groups that do not divide the channels: E0301 at the layer, with the divisors", () => {
    const src = spec(5);
    const r = compileToIr(src, "bad-iternorm.dnn");
    expect(r.ir).toBeUndefined();
    const text = renderDiagnostics(r.diagnostics, src);
    expect(text).toContain("E0301");
    expect(text).toContain("bad-iternorm.dnn:3:16");
    expect(text).toContain("iternorm(5) needs the group count to divide the 12 channels");
    expect(text).toContain("divisors of 12: 1, 2, 3, 4, 6, 12");
  });
  it("a dividing group count compiles, with the identity-initialized running whitening matrix", () => {
    const r = compileToIr(spec(3), "ok.dnn");
    expect(r.diagnostics).toEqual([]);
    expect(r.ir!.stats.find((s) => s.name.endsWith("running_wm"))).toMatchObject({ shape: [3, 4, 4], size: 48, eye: 4 });
  });
});
