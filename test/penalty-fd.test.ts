// The penalties' parameter gradients (double backprop, forward mode) against central finite
// differences of the penalty value, in float64, on networks using every supported construct;
// the memory plan leaves existing buffers in place; unsupported layers are refused by name.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { float64Backend } from "./helpers/compile";
import { parseSpec } from "../grammar/to-ast";
import { check } from "../compiler/check";
import { lower } from "../compiler/lower";
import { fuseElementwise } from "../compiler/fuse-elementwise";
import { planMemory } from "../compiler/plan-memory";
import { compileWithPenalty, fillBatch, penaltyIr, penaltyModuleSource, spec, type PenaltyProgram } from "./reference/penalty/helpers";
import { emitPenalty } from "../compiler/codegen/emit-penalty";
import { findUnsupported } from "../compiler/check-targets";
import { planPenaltyMemory } from "../compiler/plan-penalty-memory";
import { scheduleKernels } from "../compiler/schedule-kernels";
import { compileToIr } from "../compiler/pipeline";
import { Rng } from "../runtime/rng";

const STEP = 5;

/** Worst relative error of the penalty's analytic gradient against central differences. */
function penaltyGradCheck(program: PenaltyProgram, samples = 12): { worst: number; value: number } {
  const be = float64Backend(program.meta.heapFloats);
  const H = be.H;
  const model = program.create(be, 9);
  model.init();
  const n = program.meta.batch;
  fillBatch(program, H, n);
  const { G, P, N } = program.layout;
  const value = () => {
    model.forward(n, true, STEP);
    return model.penalty(n, STEP);
  };
  H.fill(0, G, G + N);
  const v0 = value();
  const grads = Float64Array.from(H.subarray(G, G + N));
  // errors are relative to the entry, floored at 1e-3 of the largest gradient (entries far below
  // it are dominated by the differences' truncation error)
  const floor = 1e-3 * grads.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
  let worst = 0;
  const pick = new Rng(4, 4);
  for (const t of program.tensors.filter((t) => t.kind === "param")) {
    for (let s = 0; s < Math.min(samples, t.size); s++) {
      const idx = t.offset + pick.int(t.size);
      const orig = H[idx];
      const h = 1e-5;
      H[idx] = orig + h;
      const up = value();
      H[idx] = orig - h;
      const down = value();
      H[idx] = orig;
      const num = (up - down) / (2 * h);
      const ana = grads[idx - P];
      worst = Math.max(worst, Math.abs(num - ana) / Math.max(floor, Math.abs(num) + Math.abs(ana)));
    }
  }
  return { worst, value: v0 };
}

const IG = "input_grad_penalty 0.3";
const JAC = "jacobian_penalty(0.2, projections=3)";
const BOTH = "input_grad_penalty 0.3 ; jacobian_penalty(0.2, projections=2)";

const cases: [string, string, string, string, string][] = [
  ["dense tanh", "[5]", "  dense(6) -> tanh\n  dense(3)", "softmax_cross_entropy", IG],
  [
    "chained tail, label smoothing",
    "[4]",
    "  dense(6) -> gelu -> sigmoid\n  dense(5) -> leaky_relu(0.1) -> elu(0.7)\n  dense(3)",
    "softmax_cross_entropy(label_smoothing=0.2)",
    IG,
  ],
  ["chained tail, jacobian", "[4]", "  dense(6) -> gelu -> sigmoid\n  dense(5) -> leaky_relu(0.1) -> elu(0.7)\n  dense(3)", "softmax_cross_entropy", JAC],
  ["dropout (fixed mask)", "[5]", "  dense(7) -> tanh -> dropout(0.4)\n  dense(3)", "softmax_cross_entropy", BOTH],
  ["mse, residual", "[5]", "  dense(6) -> tanh\n  residual { dense(6) -> sigmoid\n dense(6) }\n  elu\n  dense(2)", "mse", IG],
  ["residual, jacobian", "[5]", "  dense(6) -> tanh\n  residual { dense(6) -> sigmoid\n dense(6) }\n  elu\n  dense(2)", "mse", JAC],
  ["bce", "[5]", "  dense(6) -> sigmoid\n  dense(3)", "bce_with_logits", IG],
  ["huber", "[5]", "  dense(6) -> tanh\n  dense(3)", "huber(delta=0.5)", IG],
  ["l1", "[5]", "  dense(6) -> tanh\n  dense(3)", "l1", IG],
  [
    "conv, maxpool, avgpool, flatten of x",
    "[2, 6, 6]",
    "  conv2d(3, 3, padding=1) -> tanh\n  maxpool2d(2)\n  conv2d(4, 2, padding=1) -> gelu\n  avgpool2d(2)\n  flatten\n  dense(3)",
    "softmax_cross_entropy",
    BOTH,
  ],
  [
    "strided grouped conv, global pooling, spatial dropout",
    "[2, 7, 7]",
    "  conv2d(4, 3, stride=2, padding=1) -> sigmoid -> spatial_dropout(0.3)\n  conv2d(4, 3, padding=same, groups=2) -> tanh\n  global_avgpool\n  dense(3)",
    "softmax_cross_entropy",
    BOTH,
  ],
  [
    "conv residual",
    "[2, 5, 5]",
    "  conv2d(3, 3, padding=same) -> tanh\n  residual { conv2d(3, 3, padding=same) -> sigmoid\n conv2d(3, 1) }\n  flatten\n  dense(2)",
    "mse",
    BOTH,
  ],
  ["flatten of the input", "[1, 3, 3]", "  flatten\n  dense(4) -> tanh\n  dense(2)", "softmax_cross_entropy", BOTH],
];

describe("penalty gradients equal central finite differences of the penalty (float64)", () => {
  for (const [name, input, body, loss, pen] of cases) {
    it(name, async () => {
      const { program } = await compileWithPenalty(spec(input, body, loss, pen));
      const r = penaltyGradCheck(program);
      expect(r.value).toBeGreaterThan(0);
      // gelu's first derivative uses the runtime's erfc (relative error < 1e-8), its second the exact
      // φ(v)(2 − v²): they agree to ~1e-7 relative, not 1e-10, so differences of gelu nets are looser
      expect(r.worst).toBeLessThan(body.includes("gelu") ? 2e-5 : 1e-6);
    });
  }
  it("on random widths, tails, losses and penalties", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom("tanh", "sigmoid", "gelu", "elu", "tanh -> sigmoid", "leaky_relu(0.2) -> gelu", "sigmoid -> dropout(0.5)"),
        fc.constantFrom("softmax_cross_entropy", "mse", "bce_with_logits", "huber(delta=2)"),
        fc.constantFrom(IG, JAC, BOTH),
        async (a, b, k, act, loss, pen) => {
          const out = loss === "softmax_cross_entropy" ? Math.max(2, k) : k;
          const { program } = await compileWithPenalty(spec(`[${a}]`, `  dense(${b}) -> ${act}\n  dense(${out})`, loss, pen, 3));
          expect(penaltyGradCheck(program, 6).worst).toBeLessThan(act.includes("gelu") ? 2e-5 : 1e-6);
        },
      ),
      { numRuns: 12, seed: 7 },
    );
  });
});

describe("the combined penalty is the sum of the two", () => {
  it("value and gradients add up", async () => {
    const body = "  dense(6) -> tanh\n  dense(3)";
    const run = async (pen: string) => {
      const { program } = await compileWithPenalty(spec("[5]", body, "softmax_cross_entropy", pen));
      const be = float64Backend(program.meta.heapFloats);
      const model = program.create(be, 9);
      model.init();
      fillBatch(program, be.H, 4);
      be.H.fill(0, program.layout.G, program.layout.G + program.layout.N);
      model.forward(4, true, STEP);
      const v = model.penalty(4, STEP);
      return { v, g: Float64Array.from(be.H.subarray(program.layout.G, program.layout.G + program.layout.N)) };
    };
    const a = await run("input_grad_penalty 0.3");
    const b = await run("jacobian_penalty(0.2, projections=2)");
    const c = await run(BOTH);
    expect(c.v).toBeCloseTo(a.v + b.v, 12);
    for (let i = 0; i < c.g.length; i++) expect(c.g[i]).toBeCloseTo(a.g[i] + b.g[i], 12);
  });
});

describe("a short last batch (n < B)", () => {
  it("gives what a program compiled for n rows gives (input-gradient, and the first projection)", async () => {
    const body = "  conv2d(2, 3, padding=1) -> tanh\n  maxpool2d(2)\n  flatten\n  dense(3)";
    for (const pen of ["input_grad_penalty 0.3", "jacobian_penalty(0.2, projections=1)"]) {
      const out: { v: number; g: Float64Array }[] = [];
      for (const batch of [5, 3]) {
        const { program } = await compileWithPenalty(spec("[1, 4, 4]", body, "softmax_cross_entropy", pen, batch));
        const be = float64Backend(program.meta.heapFloats);
        const model = program.create(be, 9);
        model.init();
        fillBatch(program, be.H, 3);
        be.H.fill(0, program.layout.G, program.layout.G + program.layout.N);
        model.forward(3, true, STEP);
        const v = model.penalty(3, STEP);
        out.push({ v, g: Float64Array.from(be.H.subarray(program.layout.G, program.layout.G + program.layout.N)) });
      }
      expect(out[0].v).toBeGreaterThan(0);
      expect(out[0].v).toBeCloseTo(out[1].v, 14);
      for (let i = 0; i < out[0].g.length; i++) expect(out[0].g[i]).toBeCloseTo(out[1].g[i], 14);
    }
  });
});

describe("planPenaltyMemory and emitPenalty", () => {
  const src = spec("[2, 6, 6]", "  conv2d(3, 3, padding=1) -> relu\n  maxpool2d(2)\n  flatten\n  dense(3)", "softmax_cross_entropy", BOTH);
  it("leaves every existing buffer where it was and overlaps nothing", () => {
    const before = withoutPenaltyPlan(src);
    const after = penaltyIr(src);
    const A = after.layout!;
    for (const [k, o] of Object.entries(before.layout!.offsets)) expect(A.offsets[k]).toBe(o);
    expect(A.heapFloats).toBeGreaterThan(before.layout!.heapFloats);
    // new buffers: distinct base offsets (aliases of flatten share) inside [old heap, new heap)
    const fresh = Object.keys(A.offsets).filter((k) => k.startsWith("pen:"));
    const spans = new Map<number, number>();
    for (const k of fresh) {
      expect(A.offsets[k]).toBeGreaterThanOrEqual(before.layout!.heapFloats);
      expect(A.offsets[k] + A.sizes[k]).toBeLessThanOrEqual(A.heapFloats);
      spans.set(A.offsets[k], Math.max(spans.get(A.offsets[k]) ?? 0, A.sizes[k]));
    }
    const sorted = [...spans.entries()].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][0] + sorted[i - 1][1]);
  });
  it("changes nothing without a penalty", () => {
    const ir = compileToIr(spec("[5]", "  dense(3)", "mse", ""), "t.dnn").ir!;
    expect(planPenaltyMemory(ir)).toBe(ir);
    expect(emitPenalty(ir).code.join("\n")).toContain("return 0;");
  });
  it("generates code without allocation or Math.random", () => {
    const code = emitPenalty(penaltyIr(src)).code.join("\n");
    expect(code).not.toMatch(/\bnew\b|Math\.random|\[\]|\{ *[a-zA-Z]+:/);
    expect(penaltyModuleSource(penaltyIr(src))).toContain("penalty(n: number, step: number): number {");
  });
  for (const [layer, name] of [
    ["  dense(6) -> bn -> relu\n  dense(3)", /`bn` \(bn_0\) is not supported by the smoothness penalties/],
    ["  dense(6) -> layernorm\n  dense(3)", /`layernorm` \(layernorm_0\) is not supported by the smoothness penalties/],
    ["  dense(6, weight_norm=true) -> relu\n  dense(3)", /`dense` \(dense_0\) .*: weight_norm is not differentiated twice/],
  ] as const) {
    it(`refuses ${name.source} by name`, () => {
      // the pipeline itself refuses such specs with a diagnostic; here the emitter is asked directly
      const ir = withoutPenaltyPlan(spec("[5]", layer, "softmax_cross_entropy", IG));
      expect(compileToIr(spec("[5]", layer, "softmax_cross_entropy", IG), "t.dnn").diagnostics[0].message).toMatch(name);
      expect(findUnsupported(ir, "penalty")?.node.id).toBe(name.source.match(/\\\((\w+)\\\)/)![1]);
      expect(() => planPenaltyMemory(ir)).toThrow(name);
      expect(() => emitPenalty(ir)).toThrow(name);
    });
  }
});

/** The IR after lower, fuseElementwise and planMemory, before planPenaltyMemory (which the pipeline runs last). */
function withoutPenaltyPlan(src: string) {
  const ast = parseSpec(src, "t.dnn").ast!;
  return planMemory(scheduleKernels(fuseElementwise(lower(check(ast).spec!).ir!)));
}
