// checkResources / estimateMemory / memoryReport on IR from compileToIr: the estimate must equal
// planMemory's heap on every op family, limits are enforced at their exact boundary with a
// diagnostic that states estimate and limit at the costliest layer, and IR too large for
// planMemory (sizes past 2^31 floats, Infinity) is rejected instead of wrapped.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { compileToIr } from "../compiler/pipeline";
import { checkResources, DEFAULT_LIMITS, estimateMemory, formatBytes, memoryReport } from "../compiler/check-resources";
import { renderDiagnostics } from "../grammar/diagnostics";
import { parseSpec } from "../grammar/to-ast";
import { check } from "../compiler/check";
import { lower } from "../compiler/lower";

const wrap = (model: string, train = "batch 32") => `model m {\n${model}\n}\ndata { source idx("d") }\ntrain {\n${train}\n}\n`;

/** Lowered IR without the pipeline's own resource check (compileToIr rejects these specs itself). */
function lowered(src: string) {
  const parsed = parseSpec(src, "r.dnn");
  const checked = check(parsed.ast!);
  const l = lower(checked.spec!);
  if (!l.ir) throw new Error(l.diagnostics.map((d) => d.message).join("\n"));
  return { ir: l.ir, spec: checked.spec! };
}

function ir(src: string, passes: "all" | "lower" = "all") {
  const r = compileToIr(src, "r.dnn", { passes });
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, src));
  return { ir: r.ir, spec: r.spec! };
}

const families: Record<string, string> = {
  mlp: readFileSync("specs/fashion-mlp.dnn", "utf8"),
  conv: wrap(
    `input [3, 12, 12]
conv2d(8, 3, padding=1, weight_norm=true) -> bn -> relu -> spatial_dropout(0.1)
maxpool2d(2)
conv2d(8, [3, 1], stride=[1, 2], groups=2) -> groupnorm(4) -> gelu
avgpool2d(2, padding=1) -> instancenorm
global_avgpool
dense(5, weight_norm=true) -> dropout(0.3)
dense(4)
loss softmax_cross_entropy`,
    "batch 6\noptimizer adam(lr=0.001, amsgrad=true)",
  ),
  residual: wrap(
    `input [16]
residual { dense(16) -> layernorm -> relu }
residual { dense(8) -> elu }
sigmoid
dense(3)
loss mse`,
    "batch 5\noptimizer rmsprop(lr=0.01, momentum=0.9, centered=true)",
  ),
  convResidual: wrap(
    `input [2, 8, 8]
tanh
residual { conv2d(4, 3, stride=2, padding=1) -> leaky_relu(0.1) }
flatten
dense(2)
loss bce_with_logits`,
    "batch 3\noptimizer adagrad",
  ),
};

// The estimate counts every buffer at its own place; planMemory shares memory between buffers
// never live at once, and only activations, their gradients and scratch can share.
function expectUpperBound(planned: ReturnType<typeof ir>["ir"]): void {
  const est = estimateMemory(planned);
  const heap = planned.layout!.heapFloats;
  expect(est.total).toBeGreaterThanOrEqual(heap);
  expect(est.total - heap).toBeLessThanOrEqual(est.activations + est.activationGrads + est.scratch);
}

describe("estimateMemory", () => {
  for (const [name, src] of Object.entries(families))
    it(`is an upper bound of planMemory's heap (${name})`, () => {
      const { ir: planned } = ir(src);
      expectUpperBound(planned);
      // before fusion too (every elementwise op still has its own buffers)
      expect(estimateMemory(ir(src, "lower").ir).total).toBeGreaterThanOrEqual(planned.layout!.heapFloats);
    });

  it("is an upper bound of planMemory's heap on random MLP and conv shapes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 4, max: 20 }),
        fc.constantFrom("sgd(lr=0.1)", "sgd(lr=0.1, momentum=0.9)", "adam", "rmsprop(centered=true)"),
        (batch, widths, filters, side, opt) => {
          const mlp = wrap(
            `input [${widths[0]}]\n${widths.map((w) => `dense(${w}) -> relu`).join("\n")}\ndense(2)\nloss softmax_cross_entropy`,
            `batch ${batch}\noptimizer ${opt}`,
          );
          const conv = wrap(
            `input [1, ${side}, ${side}]\nconv2d(${filters}, 3) -> bn\nmaxpool2d(2)\nflatten\ndense(2)\nloss softmax_cross_entropy`,
            `batch ${batch + 1}\noptimizer ${opt}`,
          );
          for (const src of [mlp, conv]) expectUpperBound(ir(src).ir);
        },
      ),
      { seed: 7, numRuns: 60 },
    );
  });
});

describe("checkResources", () => {
  it("accepts the example MLP with the default limits (2 GiB heap, 2^27 parameters)", () => {
    expect(DEFAULT_LIMITS).toEqual({ maxHeapBytes: 2 ** 31, maxParams: 2 ** 27 });
    const { ir: planned, spec } = ir(families.mlp);
    expect(checkResources(planned, DEFAULT_LIMITS, { spec })).toEqual([]);
    expect(checkResources(planned)).toEqual([]);
  });

  it("enforces the heap limit at its exact boundary, naming estimate and limit", () => {
    const { ir: planned } = ir(families.conv);
    const bytes = planned.layout!.heapFloats * 4;
    expect(checkResources(planned, { maxHeapBytes: bytes, maxParams: 1e9 })).toEqual([]);
    const d = checkResources(planned, { maxHeapBytes: bytes - 1, maxParams: 1e9 });
    expect(d.map((x) => x.code)).toEqual(["E0601"]);
    expect(d[0].message).toBe(`the trainer needs ${formatBytes(bytes)} of heap memory, more than the limit of ${formatBytes(bytes - 1)}`);
  });

  it("judges the heap limit by the planned heap, in compile and in check alike", () => {
    // the estimate (every buffer at its own place) is past 2 GiB, the planned heap is not
    const src = wrap(
      `input [3, 224, 224]\nconv2d(32, 3, padding=same) -> relu\nconv2d(32, 3, padding=same) -> relu\nconv2d(32, 3, padding=same) -> relu\nflatten\ndense(10)\nloss softmax_cross_entropy`,
      "batch 32",
    );
    const low = lowered(src).ir;
    expect(estimateMemory(low).total * 4).toBeGreaterThan(DEFAULT_LIMITS.maxHeapBytes);
    expect(checkResources(low, DEFAULT_LIMITS, { beforePlan: true })).toEqual([]);
    const full = compileToIr(src, "r.dnn");
    expect(full.diagnostics).toEqual([]);
    const heap = full.ir!.layout!.heapFloats * 4;
    expect(heap).toBeLessThanOrEqual(DEFAULT_LIMITS.maxHeapBytes);
    expect(compileToIr(src, "r.dnn", { passes: "lower" }).diagnostics).toEqual([]);
    // at batch 64 the planned heap is past it: both say so, with the planned size
    const big = src.replace("batch 32", "batch 64");
    for (const passes of ["all", "lower"] as const) {
      const r = compileToIr(big, "r.dnn", { passes });
      expect(r.ir).toBeUndefined();
      expect(r.diagnostics.map((d) => d.code)).toEqual(["E0601"]);
      expect(r.diagnostics[0].message).toMatch(/^the trainer needs \d\.\d\d GiB of heap memory, more than the limit of 2\.00 GiB/);
    }
  });

  it("enforces the parameter limit at its boundary, at the layer with the most parameters", () => {
    const { ir: planned, spec } = ir(families.mlp);
    const n = planned.params.reduce((a, p) => a + p.size, 0);
    expect(n).toBe(269834);
    expect(checkResources(planned, { maxHeapBytes: 2 ** 31, maxParams: n }, { spec })).toEqual([]);
    const d = checkResources(planned, { maxHeapBytes: 2 ** 31, maxParams: n - 1 }, { spec });
    expect(d.map((x) => x.code)).toEqual(["E0602"]);
    expect(d[0].message).toBe("the model has 269,834 parameters, more than the limit of 269,833");
    expect(d[0].hint).toBe("`dense` (dense_0) has 200,960 of them");
    // the span is the whole layer `dense(256, init=kaiming_normal)` on line 5
    expect(d[0].span).toMatchObject({ line: 5, col: 3, endLine: 5, endCol: 33 });
  });

  it("rejects a model whose activations do not fit, pointing at the largest layer", () => {
    const src = families.mlp.replace("dense(256) -> relu", "dense(100000) -> relu").replace("batch 128", "batch 4096");
    const { ir: low, spec } = lowered(src);
    const d = checkResources(low, DEFAULT_LIMITS, { spec });
    expect(d.map((x) => x.code)).toEqual(["E0601"]);
    expect(d[0].message).toMatch(/^the trainer needs \d+\.\d\d GiB of heap memory, more than the limit of 2\.00 GiB$/);
    expect(d[0].span.line).toBe(6);
    expect(renderDiagnostics(d, src)).toContain("6 |   dense(100000) -> relu\n  |   ^^^^^^^^^^^^^");
  });

  it("without the spec, the span is the layer's position in the IR", () => {
    const src = wrap("input [50000]\ndense(50000)\ndense(2)\nloss softmax_cross_entropy");
    const d = checkResources(lowered(src).ir);
    expect(d.map((x) => x.code)).toEqual(["E0601", "E0602"]);
    for (const x of d) expect(x.span).toMatchObject({ file: "r.dnn", line: 3, col: 1 });
  });

  it("reports sizes that planMemory would wrap (past 2^31 floats, or Infinity) instead of crashing", () => {
    for (const [model, estimate] of [
      ["input [100000]\ndense(100000)\ndense(10)", /^the trainer needs 7\d\.\d\d GiB/],
      ["input [1e5, 1e5, 1e5]\nflatten\ndense(10)", /^the trainer needs \d+\.\d\d PiB/],
      ["input [784]\ndense(1e308)\ndense(10)", /^the trainer needs an unbounded amount of heap memory/],
    ] as const) {
      const src = wrap(`${model}\nloss softmax_cross_entropy`);
      const { ir: low, spec } = lowered(src);
      const d = checkResources(low, DEFAULT_LIMITS, { spec });
      expect(d[0].code).toBe("E0601");
      expect(d[0].message).toMatch(estimate);
      expect(d.every((x) => x.span.line >= 1 && x.span.col >= 1)).toBe(true);
      // and the pipeline reports the same instead of throwing in planMemory
      const r = compileToIr(src, "r.dnn");
      expect(r.ir).toBeUndefined();
      expect(r.diagnostics.map((x) => x.message)).toContain(d[0].message);
    }
  });

  it("checks the dataset size only when the caller knows it, at the data source", () => {
    const { ir: planned, spec } = ir(families.mlp);
    const limits = { ...DEFAULT_LIMITS, maxDatasetBytes: 1000 };
    expect(checkResources(planned, limits, { spec })).toEqual([]);
    expect(checkResources(planned, limits, { spec, datasetBytes: 1000 })).toEqual([]);
    const d = checkResources(planned, limits, { spec, datasetBytes: 1001 });
    expect(d.map((x) => [x.code, x.message, x.span.line])).toEqual([["E0603", "the training data takes 1001 B, more than the limit of 1000 B", 12]]);
  });
});

describe("memoryReport", () => {
  it("breaks the example MLP's heap down; the total is the layout's", () => {
    const { ir: planned } = ir(families.mlp);
    const text = memoryReport(planned);
    expect(text.split("\n")[0]).toBe("memory of fashion_mlp at batch 128:");
    expect(text).toMatch(/parameters\s+269,834 floats\s+1\.03 MiB/);
    expect(text).toMatch(/gradients\s+269,834 floats/);
    expect(text).toMatch(/optimizer state \(1\)\s+269,840 floats/); // SGD momentum: one slot
    const L = planned.layout!;
    expect(text).toMatch(new RegExp(`total heap\\s+${L.heapFloats.toLocaleString("en-US")} floats\\s+${formatBytes(L.heapFloats * 4).replace(".", "\\.")}`));
    // the categories at their own sizes, minus what buffers never live at once share, is the total
    const floats = (label: string) => Number(text.match(new RegExp(`${label}\\s+(-?[\\d,]+) floats`))![1].replace(/,/g, ""));
    const parts = ["activations", "activation gradients", "scratch", "running statistics"].map(floats);
    const shared = floats("shared");
    expect(shared).toBeLessThan(0);
    expect((2 + L.slots) * L.N + parts.reduce((a, b) => a + b, 0) + shared).toBe(L.heapFloats);
    for (const k of ["activations", "activation gradients", "scratch", "running statistics"]) expect(text).toContain(k);
  });

  it("says when it is an estimate (no layout yet)", () => {
    expect(memoryReport(ir(families.residual, "lower").ir)).toContain("(estimated before memory planning)");
  });
});
