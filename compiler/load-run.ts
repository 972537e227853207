// A run directory written by dnnc train, opened for inference (dnnc predict, dnnc generate): its
// compiled trainer (the program) and its weights (model.safetensors, checked against the program's
// spec hash), each missing or mismatched piece an error naming the file.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DnncError } from "../runtime/errors";
import { readBytes } from "../runtime/node/files";
import type { Program } from "../runtime/program";
import { decodeSafetensors, type NamedTensor } from "../runtime/safetensors";

export interface OpenedRun {
  program: Program;
  trainerFile: string;
  weightsFile: string;
  tensors: NamedTensor[];
  metadata: Record<string, string>;
}

export async function openRun(runDir: string): Promise<OpenedRun> {
  if (!existsSync(runDir)) throw new DnncError(`${runDir}: no such run directory`);
  if (!statSync(runDir).isDirectory()) throw new DnncError(`${runDir}: is not a directory (expected a run directory written by dnnc train)`);
  const trainerFile = readdirSync(runDir).find((f) => f.endsWith(".trainer.mjs") && statSync(join(runDir, f)).isFile());
  if (!trainerFile) throw new DnncError(`${runDir}: no *.trainer.mjs (is this a directory written by dnnc train?)`);
  const weightsFile = join(runDir, "model.safetensors");
  if (!existsSync(weightsFile)) throw new DnncError(`${runDir}: no model.safetensors`);
  const { program } = (await import(pathToFileURL(join(runDir, trainerFile)).href)) as { program: Program };
  const { tensors, metadata } = decodeSafetensors(readBytes(weightsFile), weightsFile);
  if (metadata.spec_sha256 !== program.meta.specHash) throw new DnncError(`${weightsFile}: written by another spec than ${trainerFile}`);
  return { program, trainerFile, weightsFile, tensors, metadata };
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
