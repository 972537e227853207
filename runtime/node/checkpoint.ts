// Checkpoints: the whole training state in one safetensors file, written atomically (temp file,
// fsync, rename). Tensors: `params` (the parameter arena), `optimizer_state` (every state slot),
// each running statistic by name, and `best` (the early-stopping snapshot) when there is one;
// metadata: the spec's hash and name, the dnnc version, and the loop state (epoch, position in
// the epoch, step, schedule and early-stopping state, metrics so far) as JSON.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../safetensors";
import { DnncError } from "../errors";
import type { Program } from "../program";
import type { LoopState } from "../train-loop";
import { writeFileAtomicSync } from "./atomic";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const BEST_FILE = "best.safetensors";

export function writeCheckpoint(path: string, p: Program, H: Float32Array, state: LoopState, best: Float32Array | undefined, kind: string): void {
  const L = p.layout;
  const tensors = [
    { name: "params", shape: [L.N], data: H.subarray(L.P, L.P + L.N) },
    ...(L.slots > 0 ? [{ name: "optimizer_state", shape: [L.slots, L.N], data: H.subarray(L.S, L.S + L.slots * L.N) }] : []),
    ...p.tensors.filter((t) => t.kind === "stat").map((t) => ({ name: t.name, shape: t.shape, data: H.subarray(t.offset, t.offset + t.size) })),
    ...(best ? [{ name: "best", shape: [best.length], data: best }] : []),
  ];
  const metadata = {
    format: "dnnc-checkpoint",
    kind,
    dnnc_version: p.meta.dnncVersion,
    spec: p.meta.file,
    spec_name: p.meta.name,
    spec_sha256: p.meta.specHash,
    loop_state: JSON.stringify(state),
  };
  writeFileAtomicSync(path, encodeSafetensors(tensors, metadata));
}

/** Load a checkpoint into the heap; returns the loop state and the best snapshot (if any). */
export function readCheckpoint(pathOrDir: string, p: Program, H: Float32Array): { state: LoopState; best?: Float32Array } {
  const path = existsSync(join(pathOrDir, CHECKPOINT_FILE)) ? join(pathOrDir, CHECKPOINT_FILE) : pathOrDir;
  if (!existsSync(path)) throw new DnncError(`${pathOrDir}: no checkpoint (expected ${join(pathOrDir, CHECKPOINT_FILE)})`);
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
  if (metadata.format !== "dnnc-checkpoint") throw new DnncError(`${path}: not a dnnc checkpoint`);
  if (metadata.spec_sha256 !== p.meta.specHash)
    throw new DnncError(
      `${path}: this checkpoint was written by another spec (${metadata.spec ?? "?"}, sha256 ${String(metadata.spec_sha256).slice(0, 12)}), not by ${p.meta.file} (sha256 ${p.meta.specHash.slice(0, 12)})`,
    );
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const L = p.layout;
  const put = (name: string, off: number, size: number) => {
    const t = byName.get(name);
    if (!t || t.data.length !== size) throw new DnncError(`${path}: tensor ${name} is missing or has the wrong size`);
    H.set(t.data, off);
  };
  put("params", L.P, L.N);
  if (L.slots > 0) put("optimizer_state", L.S, L.slots * L.N);
  for (const t of p.tensors.filter((t) => t.kind === "stat")) put(t.name, t.offset, t.size);
  let state: LoopState;
  try {
    state = JSON.parse(metadata.loop_state) as LoopState;
  } catch {
    throw new DnncError(`${path}: corrupt loop state`);
  }
  const best = byName.get("best")?.data;
  return { state, best: best ? Float32Array.from(best) : undefined };
}
