// Fine-tuning's file (the train block's init_from): a .safetensors file, or a run directory whose
// model.safetensors is meant. Read by the compiler (dnnc check and compile: the diagnostic at the
// spec's init_from) and by the trainer (runtime/init-from.ts applies it). Errors name the path.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../errors";
import { describeFsError } from "./fs-errors";
import { initFromBytes, type InitFromReport } from "../init-from";
import type { Program } from "../program";

/** The file a path names: itself, or DIR/model.safetensors for a directory (a run). */
export function initFromFile(path: string): string {
  if (!existsSync(path)) throw new DnncError(`${path}: no such file or directory`);
  if (statSync(path).isDirectory()) {
    const f = join(path, "model.safetensors");
    if (!existsSync(f)) throw new DnncError(`${path}: a directory without model.safetensors (is it a finished run?)`);
    return f;
  }
  return path;
}

/** The bytes of the file a path names (see initFromFile). */
export function readInitFrom(path: string): { file: string; bytes: Uint8Array } {
  const file = initFromFile(path);
  try {
    return { file, bytes: readFileSync(file) };
  } catch (e) {
    throw new DnncError(describeFsError(e, file) ?? `${file}: cannot read (${(e as Error).message})`);
  }
}

/** Read the file a path names and copy its tensors that match the program's by name and shape into H (runtime/init-from.ts). */
export function loadInitFromFile(p: Pick<Program, "tensors">, H: Float32Array, path: string): InitFromReport {
  const { file, bytes } = readInitFrom(path);
  return initFromBytes(p, H, bytes, file);
}
