// Test helpers: compile a spec (file or text) all the way to a loaded Program, in-process.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr } from "../../compiler/pipeline";
import { renderDiagnostics } from "../../grammar/diagnostics";
import { generateTrainer } from "../../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../../compiler/codegen/bundle";
import type { Program } from "../../runtime/program";
import type { Backend } from "../../runtime/backend";
import { gemmNaive } from "../../runtime/kernels/gemm";

export async function compileProgram(source: string, file = "test.dnn", dataPath = "."): Promise<{ program: Program; ts: string; mjsPath: string }> {
  const r = compileToIr(source, file);
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, source));
  const ts = (await generateTrainer(r.ir, { dataPath })).text;
  const js = await bundleTrainer(ts, "t.trainer.ts");
  const dir = mkdtempSync(join(tmpdir(), "dnnc-test-"));
  const mjsPath = join(dir, "t.trainer.mjs");
  writeFileSync(mjsPath, js);
  const mod = (await import(pathToFileURL(mjsPath).href)) as { program: Program };
  return { program: mod.program, ts, mjsPath };
}

/** A float64 backend with the naive GEMM: exact enough for finite differences. */
export function float64Backend(floats: number): Backend {
  const H = new Float64Array(floats) as unknown as Float32Array;
  return {
    H,
    name: "float64-naive",
    threads: 1,
    gemm: (tA, tB, M, N, K, a, b, c, beta) => gemmNaive(H, tA, tB, M, N, K, a, b, c, beta),
  };
}
