// Test-only: compile a spec through the normal pipeline, add the penalty buffers, and bundle a
// module whose Model has `penalty(n, step)` (what the lead's emit-trainer will do), in-process.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr } from "../../../compiler/pipeline";
import { renderDiagnostics } from "../../../grammar/diagnostics";
import type { IR } from "../../../compiler/ir";
import { emitModel } from "../../../compiler/codegen/emit-model";
import { emitPenalty } from "../../../compiler/codegen/emit-penalty";
import { programConstants } from "../../../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../../../compiler/codegen/bundle";
import type { Backend } from "../../../runtime/backend";
import type { Model, Program } from "../../../runtime/program";
import { Rng } from "../../../runtime/rng";

export type PenaltyModel = Model & { penalty(n: number, step: number): number };
export type PenaltyProgram = Omit<Program, "create"> & { create(be: Backend, seed: number): PenaltyModel };

export function penaltyIr(source: string): IR {
  const r = compileToIr(source, "t.dnn");
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, source));
  return r.ir; // compileToIr already ran planPenaltyMemory
}

/** The generated module's TypeScript (emitModel + emitPenalty, as emit-trainer assembles them). */
export function penaltyModuleSource(ir: IR): string {
  const em = emitModel(ir);
  const pe = emitPenalty(ir);
  const c = programConstants(ir, ".");
  const imports = [...new Set([...em.uses, ...pe.uses])].sort();
  return [
    `import { type Backend, ${imports.join(", ")} } from "dnnc/runtime";`,
    ...em.consts,
    ...pe.consts,
    `export const program = {`,
    `  meta: ${JSON.stringify(c.meta)}, loss: ${JSON.stringify(c.loss)}, train: ${JSON.stringify(c.train)}, data: ${JSON.stringify(c.data)},`,
    `  layout: ${JSON.stringify(c.layout)}, tensors: ${JSON.stringify(c.tensors)}, segments: ${JSON.stringify(c.segments)},`,
    `  create(be: Backend, seed: number) {`,
    `    const H = be.H; const gemm = be.gemm;${em.uses.has("makeDenseEpilogues") ? " const E = makeDenseEpilogues(be);" : ""}`,
    `    return {`,
    `      init(): void {`,
    ...em.init,
    `      },`,
    `      forward(n: number, train: boolean, step: number): void {`,
    ...em.forward,
    `      },`,
    `      backward(n: number, step: number): void {`,
    `        void step;`,
    ...em.backward,
    `      },`,
    `      penalty(n: number, step: number): number {`,
    ...pe.code,
    `      },`,
    `    };`,
    `  },`,
    `};`,
  ].join("\n");
}

export async function compileWithPenalty(source: string): Promise<{ program: PenaltyProgram; ir: IR; ts: string }> {
  const ir = penaltyIr(source);
  const ts = penaltyModuleSource(ir);
  const js = await bundleTrainer(ts, "penalty.trainer.ts");
  const dir = mkdtempSync(join(tmpdir(), "dnnc-penalty-"));
  const path = join(dir, "penalty.trainer.mjs");
  writeFileSync(path, js);
  const mod = (await import(pathToFileURL(path).href)) as { program: PenaltyProgram };
  return { program: mod.program, ir, ts };
}

export const spec = (input: string, body: string, loss: string, penalty: string, batch = 4) => `
model t {
  input ${input}
${body}
  loss ${loss}
}
data { source idx("x") }
train { seed 3 ; batch ${batch} ; optimizer sgd(lr=0.1) ; ${penalty} }
`;

/** Random inputs and targets of the right kind for the program's loss. */
export function fillBatch(p: PenaltyProgram, H: Float32Array, n: number, seed = 1): void {
  const rng = new Rng(seed, 2);
  for (let i = 0; i < n * p.meta.inputSize; i++) H[p.layout.x + i] = rng.normal();
  const k = p.meta.outputSize;
  for (let i = 0; i < n; i++) {
    if (p.loss.kind === "softmax_cross_entropy") H[p.layout.labels + i] = i % k;
    else for (let j = 0; j < k; j++) H[p.layout.labels + i * k + j] = p.loss.kind === "bce_with_logits" ? (i + j) % 2 : Math.sin(i + 2 * j);
  }
}
