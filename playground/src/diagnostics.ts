// Diagnostics as you type: the compiler's own front end (grammar/, compiler/check and the passes
// of compiler/pipeline.ts: shapes, resource limits), run on the page, which is cheap (a few ms).
import { compileToIr } from "../../compiler/pipeline";
import type { Diagnostic } from "../../grammar/diagnostics";

export interface ShownDiagnostic {
  severity: "error" | "warning";
  code: string;
  line: number;
  col: number;
  /** Character offsets of the span in the source. */
  start: number;
  end: number;
  message: string;
  hint?: string;
}

export function diagnose(source: string, file: string): ShownDiagnostic[] {
  let ds: Diagnostic[];
  try {
    ds = compileToIr(source, file).diagnostics;
  } catch (e) {
    // a compiler bug must not take the editor down: show it as a diagnostic at 1:1
    return [{ severity: "error", code: "internal", line: 1, col: 1, start: 0, end: 0, message: `internal compiler error: ${(e as Error).message}` }];
  }
  return ds
    .map((d) => ({
      severity: d.severity,
      code: d.code,
      line: d.span.line,
      col: d.span.col,
      start: d.span.offset,
      end: Math.max(d.span.endOffset, d.span.offset + 1),
      message: d.message,
      hint: d.hint,
    }))
    .sort((a, b) => a.start - b.start);
}
