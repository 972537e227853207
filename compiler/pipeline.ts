// The whole compiler, top to bottom: the front end (parse, check, lower), then the IR passes in
// the order PASSES declares them. Each pass lives in its own file, named after what it does; a
// pass either transforms the IR (verified by verifyIr after it) or checks it (diagnostics: the
// pipeline stops at the first check that reports any). `dnnc check` runs this same list; `dnnc
// compile` continues into code generation (codegen/, codegen-pytorch/) with the final IR.
// `dnnc compile --emit ir` prints the IR after the last pass.
import { parseSpec } from "../grammar/to-ast";
import { check } from "./check";
import { checkPenalty } from "./check-targets";
import { checkResources } from "./check-resources";
import type { Diagnostic } from "../grammar/diagnostics";
import { fuseElementwise } from "./fuse-elementwise";
import { verifyIr, type IR } from "./ir";
import { lower } from "./lower";
import { maskPadding } from "./mask-padding";
import { planMemory } from "./plan-memory";
import { planPenaltyMemory } from "./plan-penalty-memory";
import { scheduleKernels } from "./schedule-kernels";
import type { DataFacts, Spec } from "./spec";

/** A pass after lowering: a transform of the IR, or a check that reports diagnostics. */
type Pass = { name: string; transform: (ir: IR, spec: Spec) => IR } | { name: string; check: (ir: IR, spec: Spec) => Diagnostic[] };

export const PASSES: readonly Pass[] = [
  // parameters, data and absurd sizes, from shapes alone (the heap limit waits for the plan)
  { name: "checkResources", check: (ir, spec) => checkResources(ir, undefined, { spec, beforePlan: true }) },
  { name: "fuseElementwise", transform: fuseElementwise },
  // padded sequences: every sequence output zeroed past each sample's length
  { name: "maskPadding", transform: maskPadding },
  // the smoothness penalties need a second derivative of every op
  { name: "checkPenalty", check: checkPenalty },
  { name: "scheduleKernels", transform: scheduleKernels },
  { name: "planMemory", transform: (ir) => planMemory(ir) },
  { name: "planPenaltyMemory", transform: planPenaltyMemory },
  // the heap limit, against the planned heap (buffers never live at once share memory)
  { name: "checkHeap", check: (ir, spec) => checkResources(ir, undefined, { spec }) },
];

export interface FrontEndResult {
  spec?: Spec;
  ir?: IR;
  diagnostics: Diagnostic[];
}

export interface CompileToIrOptions {
  /**
   * "all" (default): the IR after every pass. "lower": the same passes and diagnostics, but the IR
   * as lowering left it (unfused: the ONNX exporter, the language server, augment-preview).
   */
  passes?: "all" | "lower";
  /**
   * Called after each named pass with its duration in ms (`dnnc --verbose` prints them). The IR
   * checks are timed apart: one call `verifyIr` at the end with their total.
   */
  onPass?: (name: string, ms: number) => void;
  /** What the data source says (vocabulary, classes) for `auto` sizes; compiler/data-facts.ts reads it (given the checked spec). */
  facts?: DataFacts | ((spec: Spec) => DataFacts);
}

/** Source text → checked spec → IR after all passes (or diagnostics). */
export function compileToIr(source: string, file: string, opts: CompileToIrOptions = {}): FrontEndResult {
  const onPass = opts.onPass;
  let verifyMs = 0;
  let verifies = 0;
  // run one pass, timed when someone listens
  const timed = <T>(name: string, f: () => T): T => {
    if (!onPass) return f();
    const t0 = performance.now();
    const r = f();
    onPass(name, performance.now() - t0);
    return r;
  };
  const verify = (ir: IR, after: string): IR => {
    const t0 = onPass ? performance.now() : 0;
    const r = verifyIr(ir, after);
    if (onPass) {
      verifyMs += performance.now() - t0;
      verifies++;
    }
    return r;
  };
  const done = <T>(r: T): T => {
    if (onPass && verifies > 0) onPass(`verifyIr (${verifies}x)`, verifyMs);
    return r;
  };
  const parsed = timed("parse", () => parseSpec(source, file));
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const ast = parsed.ast;
  const checked = timed("check", () => check(ast));
  if (!checked.spec) return { diagnostics: checked.diagnostics };
  const spec = checked.spec;
  const facts = typeof opts.facts === "function" ? timed("readDataFacts", () => (opts.facts as (s: Spec) => DataFacts)(spec)) : opts.facts;
  const lowered = timed("lower", () => lower(spec, facts));
  if (!lowered.ir) return { spec, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] };
  const lowIr = verify(lowered.ir, "lower");
  let ir = lowIr;
  for (const p of PASSES) {
    if ("check" in p) {
      const found = timed(p.name, () => p.check(ir, spec));
      if (found.length > 0) return done({ spec, diagnostics: [...checked.diagnostics, ...found] });
    } else {
      const cur = ir;
      ir = verify(
        timed(p.name, () => p.transform(cur, spec)),
        p.name,
      );
    }
  }
  return done({ spec, ir: opts.passes === "lower" ? lowIr : ir, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] });
}
