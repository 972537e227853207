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

/** Source text → checked spec → IR after all passes (or diagnostics). */
export function compileToIr(source: string, file: string, opts: { passes?: "all" | "lower" } = {}): FrontEndResult {
  const parsed = parseSpec(source, file);
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const checked = check(parsed.ast);
  if (!checked.spec) return { diagnostics: checked.diagnostics };
  const lowered = lower(checked.spec);
  if (!lowered.ir) return { spec: checked.spec, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] };
  let ir = verifyIr(lowered.ir, "lower");
  const limits = checkResources(ir, undefined, { spec: checked.spec });
  if (limits.length > 0) return { spec: checked.spec, diagnostics: [...checked.diagnostics, ...limits] };
  const fused = fuseElementwise(ir);
  const unsupported = findPenaltyUnsupported(fused);
  if (unsupported) {
    const span = checked.spec.layers.find((l) => l.span.line === unsupported.node.line && l.span.col === unsupported.node.col)?.span ?? {
      file,
      line: unsupported.node.line,
      col: unsupported.node.col,
      endLine: unsupported.node.line,
      endCol: unsupported.node.col,
      offset: 0,
      endOffset: 1,
    };
    return { spec: checked.spec, diagnostics: [diag("E0403", span, { detail: unsupported.message }, "the smoothness penalties support dense, conv2d, pooling and activations")] };
  }
  if (opts.passes !== "lower") {
    ir = verifyIr(fused, "fuseElementwise");
    ir = verifyIr(planMemory(ir), "planMemory");
    ir = verifyIr(planPenaltyMemory(ir), "planPenaltyMemory");
  }
  return { spec: checked.spec, ir, diagnostics: [...checked.diagnostics, ...lowered.diagnostics] };
}
