// The whole compiler, top to bottom. Each pass lives in its own file, named after what it does;
// the IR is verified after every pass. `dnnc compile --emit ir` prints the IR after the last one.
import { parseSpec } from "../grammar/to-ast";
import { check } from "./check";
import type { Diagnostic } from "./diagnostics";
import { verifyIr, type IR } from "./ir";
import { lower } from "./lower";
import { fuseElementwise } from "./fuse-elementwise";
import { planMemory } from "./plan-memory";
import { findPenaltyUnsupported, planPenaltyMemory } from "./codegen/emit-penalty";
import { diag } from "./diagnostics";
import type { Spec } from "./spec";
import { checkResources } from "./check-resources";

export interface FrontEndResult {
  spec?: Spec;
  ir?: IR;
  diagnostics: Diagnostic[];
}

export interface CompileToIrOptions {
  /** "lower": stop after lowering and the resource limits (`dnnc check`); default "all". */
  passes?: "all" | "lower";
  /**
   * Called after each named pass with its duration in ms (`dnnc --verbose` prints them). The IR
   * checks are timed apart: one call `verifyIr` at the end with their total.
   */
  onPass?: (name: string, ms: number) => void;
}

/** Source text → checked spec → IR after all passes (or diagnostics). */
export function compileToIr(source: string, file: string, opts: CompileToIrOptions = {}): FrontEndResult {
  const onPass = opts.onPass;
  let verifyMs = 0;
  let verifies = 0;
  // run one pass, timed when someone listens
  const pass = <T>(name: string, f: () => T): T => {
    if (!onPass) return f();
    const t0 = performance.now();
    const r = f();
    onPass(name, performance.now() - t0);
    return r;
  };
  const verify = (ir: IR, after: string): IR => {
    if (!onPass) return verifyIr(ir, after);
    const t0 = performance.now();
    const r = verifyIr(ir, after);
    verifyMs += performance.now() - t0;
    verifies++;
    return r;
  };
  const done = <T>(r: T): T => {
    if (onPass && verifies > 0) onPass(`verifyIr (${verifies}x)`, verifyMs);
    return r;
  };
  const parsed = pass("parse", () => parseSpec(source, file));
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const ast = parsed.ast;
  const checked = pass("check", () => check(ast));
  if (!checked.spec) return { diagnostics: checked.diagnostics };
  const spec = checked.spec;
  const lowered = pass("lower", () => lower(spec));
  if (!lowered.ir) return { spec, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] };
  let ir = verify(lowered.ir, "lower");
  const lowIr = ir;
  // parameters, data and absurd sizes now; the heap limit against the planned heap below
  const limits = pass("checkResources", () => checkResources(lowIr, undefined, { spec, beforePlan: true }));
  if (limits.length > 0) return done({ spec, diagnostics: [...checked.diagnostics, ...limits] });
  const fused = pass("fuseElementwise", () => fuseElementwise(lowIr));
  const unsupported = findPenaltyUnsupported(fused);
  if (unsupported) {
    const span = spec.layers.find((l) => l.span.line === unsupported.node.line && l.span.col === unsupported.node.col)?.span ?? {
      file,
      line: unsupported.node.line,
      col: unsupported.node.col,
      endLine: unsupported.node.line,
      endCol: unsupported.node.col,
      offset: 0,
      endOffset: 1,
    };
    return done({ spec, diagnostics: [diag("E0403", span, { detail: unsupported.message }, "the smoothness penalties support dense, conv2d, pooling and activations")] });
  }
  if (opts.passes !== "lower") {
    ir = verify(fused, "fuseElementwise");
    const fusedIr = ir;
    ir = verify(pass("planMemory", () => planMemory(fusedIr)), "planMemory");
    const planned = ir;
    ir = verify(pass("planPenaltyMemory", () => planPenaltyMemory(planned)), "planPenaltyMemory");
    const final = ir;
    const heap = pass("checkHeap", () => checkResources(final, undefined, { spec }));
    if (heap.length > 0) return done({ spec, diagnostics: [...checked.diagnostics, ...heap] });
  } else {
    // `dnnc check`: the same verdict as compile, from the planned heap (the plan is cheap)
    const heap = pass("checkHeap", () => checkResources(planPenaltyMemory(planMemory(fused)), undefined, { spec }));
    if (heap.length > 0) return done({ spec, diagnostics: [...checked.diagnostics, ...heap] });
  }
  return done({ spec, ir, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] });
}
