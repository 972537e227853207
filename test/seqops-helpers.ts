// Test helpers of the sequence layers: compile a spec through the real pipeline, optionally as if its
// data source padded sequences (ir.data.lengths: no source sets it yet, so the IR as lowering left it
// gets the flag and then runs the same passes, PASSES, as compileToIr), to a loaded Program.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr, PASSES } from "../compiler/pipeline";
import { verifyIr, type IR } from "../compiler/ir";
import { renderDiagnostics } from "../grammar/diagnostics";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../compiler/codegen/bundle";
import type { Program } from "../runtime/program";

/** The final IR of a spec; with `lengths`, as if the data were padded sequences. */
export function seqIr(source: string, opts: { lengths?: boolean } = {}): IR {
  const r = compileToIr(source, "seq.dnn", { passes: "lower" });
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, source));
  // (a copy: the passes compileToIr ran already must not have left anything in the IR we run them on again)
  const low = structuredClone(r.ir);
  let ir: IR = { ...low, data: { ...low.data, ...(opts.lengths ? { lengths: true as const } : {}) } };
  for (const p of PASSES) {
    if ("check" in p) {
      const d = p.check(ir, r.spec!);
      if (d.length > 0) throw new Error(renderDiagnostics(d, source));
    } else ir = verifyIr(p.transform(ir, r.spec!), p.name);
  }
  return ir;
}

export async function seqProgram(source: string, opts: { lengths?: boolean } = {}): Promise<{ program: Program; ir: IR; ts: string }> {
  const ir = seqIr(source, opts);
  const ts = (await generateTrainer(ir, { dataPath: "." })).text;
  const js = await bundleTrainer(ts, "t.trainer.ts");
  const dir = mkdtempSync(join(tmpdir(), "dnnc-seqops-"));
  const mjsPath = join(dir, "t.trainer.mjs");
  writeFileSync(mjsPath, js);
  const mod = (await import(pathToFileURL(mjsPath).href)) as { program: Program };
  return { program: mod.program, ir, ts };
}

/** Element-wise closeness, relative to max(1, |want|). */
export function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): string | undefined {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])))) return `[${i}]: ${got[i]} vs ${want[i]}`;
  return undefined;
}
