// Shared by make_reference.py (through export.ts) and test/pytorch-target*.test.ts: compile a
// spec with the real pipeline (compileToIr → generateTrainer → bundleTrainer), import the bundled
// trainer, and run OUR training loop in-process from given initial weights.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileToIr } from "../../../compiler/pipeline";
import { dataPathOf, readDataFacts } from "../../../compiler/data-facts";
import type { IR } from "../../../compiler/ir";
import { generateTrainer } from "../../../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../../../compiler/codegen/bundle";
import { generatePytorchTrainer } from "../../../compiler/codegen-pytorch/emit-python";
import { createBackend } from "../../../runtime/backend-create";
import type { Program } from "../../../runtime/program";
import { loadData } from "../../../runtime/node/main";
import { train } from "../../../runtime/train-loop";
import { encodeSafetensors } from "../../../runtime/safetensors";

export const NETWORKS_DIR = dirname(fileURLToPath(import.meta.url));

export function irOf(specPath: string): IR {
  // with the data's facts, as dnnc compile reads them (the `auto` sizes of sequence specs)
  const r = compileToIr(readFileSync(specPath, "utf8"), specPath, { facts: (spec) => readDataFacts(spec, dataPathOf(spec, specPath)) });
  if (!r.ir) throw new Error(`${specPath}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return r.ir;
}

export function dataDirOf(specPath: string, ir: IR): string {
  return resolve(dirname(specPath), ir.data.source.path);
}

export async function tsProgram(specPath: string): Promise<{ ir: IR; program: Program }> {
  const ir = irOf(specPath);
  const stem = basename(specPath).replace(/\.dnn$/, "");
  const src = await generateTrainer(ir, { dataPath: dataDirOf(specPath, ir) });
  const mjs = await bundleTrainer(src.text, `${stem}.trainer.ts`);
  const dir = mkdtempSync(join(tmpdir(), "dnnc-net-"));
  const file = join(dir, `${stem}.trainer.mjs`);
  writeFileSync(file, mjs);
  const mod = (await import(pathToFileURL(file).href)) as { program: Program };
  return { ir, program: mod.program };
}

export function pythonTrainer(specPath: string, ir = irOf(specPath)): string {
  return generatePytorchTrainer(ir, { dataPath: dataDirOf(specPath, ir) });
}

export type Tensors = Record<string, number[]>;

/**
 * Our trainer on the spec's data (the TypeScript backend unless told): init from the seed, then
 * (if given) overwrite the parameters with `init`; train `maxSteps` steps. Returns the initial and final tensors and the loss trace.
 */
export async function runOurs(specPath: string, opts: { maxSteps?: number; epochs?: number; init?: Tensors; backend?: "ts" | "wasm" } = {}) {
  const { ir, program } = await tsProgram(specPath);
  const data = loadData(program, dataDirOf(specPath, ir));
  // (wasm: the plain SIMD build, whose bytes are the same on every machine)
  const be = await createBackend(program.meta.heapFloats, { backend: opts.backend ?? "ts", relaxed: false });
  try {
    const model = program.create(be, program.train.seed);
    model.init();
    const H = be.H;
    const read = (): Tensors => Object.fromEntries(program.tensors.map((t) => [t.name, Array.from(H.subarray(t.offset, t.offset + t.size))]));
    if (opts.init) {
      for (const t of program.tensors) {
        const v = opts.init[t.name];
        if (!v) continue;
        if (v.length !== t.size) throw new Error(`init ${t.name}: ${v.length} values, need ${t.size}`);
        H.set(v, t.offset);
      }
    }
    const initial = read();
    const result = train(program, be, model, data, { maxSteps: opts.maxSteps, epochs: opts.epochs });
    return { ir, program, initial, final: read(), result };
  } finally {
    be.close();
  }
}

/** Initial tensors as safetensors bytes (names and order of the program). */
export function safetensorsOf(program: Program, tensors: Tensors): Uint8Array {
  return encodeSafetensors(program.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(tensors[t.name]) })));
}

/** The tensors our trainer starts from (its seeded initialization), without training. */
export async function ourInitialTensors(specPath: string): Promise<{ program: Program; tensors: Tensors }> {
  const { program } = await tsProgram(specPath);
  const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
  try {
    program.create(be, program.train.seed).init();
    const H = be.H;
    return { program, tensors: Object.fromEntries(program.tensors.map((t) => [t.name, Array.from(H.subarray(t.offset, t.offset + t.size))])) };
  } finally {
    be.close();
  }
}
