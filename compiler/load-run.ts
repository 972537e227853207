// A run directory, opened for inference (dnnc predict, evaluate, generate): its program and its
// weights (model.safetensors, checked against the program's spec hash), each missing or
// mismatched piece an error naming the file. A run written by dnnc train holds its compiled
// trainer (*.trainer.mjs); a run written by the PyTorch target (python3 X.trainer.py --out RUN)
// holds only metrics.jsonl and the weights, in dnnc's format: its spec is found (RUN/spec.dnn, the
// one *.dnn in RUN, or the file the weights' metadata names) and compiled again, in memory, to the
// same program; the spec's hash must be the one stored with the weights.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DnncError } from "../runtime/errors";
import { readBytes } from "../runtime/node/files";
import type { Program } from "../runtime/program";
import { decodeSafetensors, type NamedTensor } from "../runtime/safetensors";

export interface OpenedRun {
  program: Program;
  /** The trainer the program came from: the run's *.trainer.mjs, or the spec it was compiled from again. */
  trainerFile: string;
  weightsFile: string;
  tensors: NamedTensor[];
  metadata: Record<string, string>;
  /** The data the run was trained on (its spec's source, as an absolute path). */
  dataPath: string;
  /** "pytorch" for a run of the PyTorch target (recompiled from its spec), else "dnnc". */
  writer: "dnnc" | "pytorch";
}

/** Where a run's spec is: RUN/spec.dnn, the one *.dnn in RUN, or the file the weights' metadata names (a PyTorch run). */
export function findRunSpec(runDir: string, metadata: Record<string, string>): string {
  const specs = readdirSync(runDir).filter((f) => f.endsWith(".dnn") && statSync(join(runDir, f)).isFile());
  if (specs.includes("spec.dnn")) return join(runDir, "spec.dnn");
  if (specs.length === 1) return join(runDir, specs[0]);
  const named = metadata.spec;
  if (named && existsSync(named) && statSync(named).isFile()) return named;
  throw new DnncError(
    `${runDir}: no spec.dnn${named ? ` and the spec its weights name (${named}) is not there` : ""}; copy the spec the run was trained from to ${join(runDir, "spec.dnn")}`,
  );
}

/** The run's weights, decoded (an error naming the run when they are missing). */
export function readWeights(runDir: string): { weightsFile: string; tensors: NamedTensor[]; metadata: Record<string, string> } {
  if (!existsSync(runDir)) throw new DnncError(`${runDir}: no such run directory`);
  if (!statSync(runDir).isDirectory()) throw new DnncError(`${runDir}: is not a directory (expected a run directory written by dnnc train)`);
  const weightsFile = join(runDir, "model.safetensors");
  if (!existsSync(weightsFile))
    throw new DnncError(
      `${runDir}: no model.safetensors (${existsSync(join(runDir, "checkpoint.safetensors")) ? "the run has not finished: resume it with dnnc train --resume " + runDir : "is this a directory written by dnnc train?"})`,
    );
  const { tensors, metadata } = decodeSafetensors(readBytes(weightsFile), weightsFile);
  return { weightsFile, tensors, metadata };
}

/** Compile the run's spec again (a PyTorch run has no trainer.mjs) and load its program. */
async function recompile(
  runDir: string,
  metadata: Record<string, string>,
  weightsFile: string,
): Promise<{ program: Program; specPath: string; dataPath: string }> {
  const specPath = findRunSpec(runDir, metadata);
  const [{ compileToIr }, { factsFromMetadata }, { generateTrainer }, { bundleTrainer }, { writeFileAtomicSync }] = await Promise.all([
    import("./pipeline"),
    import("./data-facts"),
    import("./codegen/emit-trainer"),
    import("./codegen/bundle"),
    import("../runtime/node/atomic"),
  ]);
  const facts = factsFromMetadata(metadata, weightsFile);
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(readBytes(specPath));
  const r = compileToIr(text, specPath, { facts: () => facts });
  if (!r.ir) throw new DnncError(`${specPath}: does not compile (${r.diagnostics.find((d) => d.severity === "error")?.message ?? "unknown error"})`);
  if (metadata.spec_sha256 !== undefined && metadata.spec_sha256 !== r.ir.specHash)
    throw new DnncError(
      `${weightsFile}: written by another spec than ${specPath} (sha256 ${metadata.spec_sha256.slice(0, 12)}, the spec's ${r.ir.specHash.slice(0, 12)})` +
        (dirname(resolve(specPath)) !== resolve(runDir)
          ? `; if the spec changed since (or was compiled with --set), put the text it was compiled from in ${join(runDir, "spec.dnn")}`
          : ""),
    );
  const src = r.ir.data.source.path;
  const dataPath = isAbsolute(src) ? src : resolve(dirname(specPath), src);
  const ts = await generateTrainer(r.ir, { dataPath });
  const dir = mkdtempSync(join(tmpdir(), "dnnc-run-"));
  try {
    const mjs = join(dir, "trainer.mjs");
    writeFileAtomicSync(mjs, await bundleTrainer(ts.text, "trainer.ts"));
    const { program } = (await import(pathToFileURL(mjs).href)) as { program: Program };
    return { program, specPath, dataPath };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function openRun(runDir: string): Promise<OpenedRun> {
  const { weightsFile, tensors, metadata } = readWeights(runDir);
  const trainer = readdirSync(runDir).find((f) => f.endsWith(".trainer.mjs") && statSync(join(runDir, f)).isFile());
  if (!trainer) {
    const r = await recompile(runDir, metadata, weightsFile);
    return { program: r.program, trainerFile: r.specPath, weightsFile, tensors, metadata, dataPath: r.dataPath, writer: "pytorch" };
  }
  const trainerFile = join(runDir, trainer);
  const { program } = (await import(pathToFileURL(trainerFile).href)) as { program: Program };
  if (metadata.spec_sha256 !== program.meta.specHash) throw new DnncError(`${weightsFile}: written by another spec than ${trainerFile}`);
  const dataPath = isAbsolute(program.meta.dataPath) ? program.meta.dataPath : resolve(runDir, program.meta.dataPath);
  return { program, trainerFile, weightsFile, tensors, metadata, dataPath, writer: "dnnc" };
}

/** Copy the run's weights into the heap H at the program's offsets. */
export function bindWeights(run: OpenedRun, H: Float32Array): void {
  const byName = new Map(run.tensors.map((t) => [t.name, t]));
  for (const t of run.program.tensors) {
    const w = byName.get(t.name);
    if (!w || w.data.length !== t.size) throw new DnncError(`${run.weightsFile}: tensor ${t.name} is missing or has the wrong size`);
    H.set(w.data, t.offset);
  }
}
