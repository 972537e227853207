// Checkpoints: the training state in one safetensors file, written atomically (temp file, fsync,
// rename). Tensors: `params` (the parameter arena), `optimizer_state` (every state slot), each
// running statistic by name, and `best` (the early-stopping snapshot) when there is one;
// metadata: the spec's hash and name, the dnnc version, and the loop state (epoch, position in
// the epoch, step, schedule and early-stopping state, metrics so far) as JSON. The per-step loss
// trace is not in it (it made every write grow with the run): it lives in the run directory's
// append-only loss-trace.f64 (run-dir.ts).
//
// Reading is two steps: loadCheckpoint decodes and validates everything (format, spec, tensor
// sizes, the loop state field by field) without touching the heap, so a resume can be refused
// before anything is written; restoreCheckpoint then copies the tensors into the heap.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../safetensors";
import { DnncError } from "../errors";
import type { Program } from "../program";
import type { LoopState } from "../train-loop";
import { parseLoopState } from "../loop-state-check";
import { writeFileAtomicSync } from "./atomic";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const BEST_FILE = "best.safetensors";

export function writeCheckpoint(path: string, p: Program, H: Float32Array, state: LoopState, best: Float32Array | undefined, kind: string): void {
  writeFileAtomicSync(path, encodeCheckpoint(p, H, state, best, kind));
}

export function encodeCheckpoint(p: Program, H: Float32Array, state: LoopState, best: Float32Array | undefined, kind: string): Uint8Array {
  const L = p.layout;
  const tensors = [
    { name: "params", shape: [L.N], data: H.subarray(L.P, L.P + L.N) },
    ...(L.slots > 0 ? [{ name: "optimizer_state", shape: [L.slots, L.N], data: H.subarray(L.S, L.S + L.slots * L.N) }] : []),
    ...p.tensors.filter((t) => t.kind === "stat").map((t) => ({ name: t.name, shape: t.shape, data: H.subarray(t.offset, t.offset + t.size) })),
    ...(best ? [{ name: "best", shape: [best.length], data: best }] : []),
  ];
  const { lossTrace: _trace, ...rest } = state; // the trace has its own file
  const metadata = {
    format: "dnnc-checkpoint",
    kind,
    dnnc_version: p.meta.dnncVersion,
    spec: p.meta.file,
    spec_name: p.meta.name,
    spec_sha256: p.meta.specHash,
    loop_state: JSON.stringify(rest),
  };
  return encodeSafetensors(tensors, metadata);
}

/** A checkpoint read and validated, not yet in any heap. */
export interface Checkpoint {
  /** The checkpoint file. */
  path: string;
  /** Its bytes as read (copied unchanged when a resume writes into another directory). */
  bytes: Uint8Array;
  metadata: Record<string, string>;
  state: LoopState;
  tensors: Map<string, Float32Array>;
  best?: Float32Array;
}

/**
 * The checkpoint file of run directory `dir` (or `dir` itself when it names a file). Refuses
 * with a message saying what to do: no such directory, a run stopped before its first
 * checkpoint, a directory that is no run.
 */
export function checkpointPath(dir: string): string {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new DnncError(`${dir}: no such run directory (nothing to resume)`);
    throw new DnncError(`${dir}: cannot read (${code ?? (e as Error).message})`);
  }
  if (!st.isDirectory()) return dir; // a checkpoint file named directly
  const path = join(dir, CHECKPOINT_FILE);
  if (existsSync(path)) return path;
  // what a run writes before its first checkpoint (dnnc train: the spec; the trainer: its lock, the trace, metrics)
  if (["spec.dnn", "run.lock", "loss-trace.f64", "metrics.jsonl"].some((f) => existsSync(join(dir, f))))
    throw new DnncError(`${dir}: no checkpoint yet: the run was stopped before its first checkpoint was written; start it again without --resume`);
  throw new DnncError(`${dir}: no ${CHECKPOINT_FILE} here; --resume takes a run directory written by dnnc train (or the trainer's --out)`);
}

/**
 * Read and validate the checkpoint of `dirOrFile`: its format, the loop state field by field, and,
 * given the program, that the spec is the same and every tensor has the program's size.
 */
export function loadCheckpoint(dirOrFile: string, p?: Program): Checkpoint {
  const path = checkpointPath(dirOrFile);
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DnncError(`${path}: cannot read the checkpoint (${code === "EISDIR" ? "it is a directory" : (code ?? (e as Error).message)})`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  if (metadata.format !== "dnnc-checkpoint") throw new DnncError(`${path}: not a dnnc checkpoint (its metadata has no format "dnnc-checkpoint")`);
  const state = parseLoopState(metadata.loop_state, path, p?.meta.batch);
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  const ck: Checkpoint = { path, bytes, metadata, state, tensors: byName };
  if (p) checkAgainstProgram(ck, p);
  const best = byName.get("best");
  if (best) ck.best = best;
  return ck;
}

/** The checks that need the program (besides the batch size, which parseLoopState checks): the same spec, and every tensor the program's size. */
function checkAgainstProgram(ck: Checkpoint, p: Program): void {
  const { path, metadata } = ck;
  if (metadata.spec_sha256 !== p.meta.specHash)
    throw new DnncError(
      `${path}: this checkpoint was written by another spec (${metadata.spec ?? "?"}, sha256 ${String(metadata.spec_sha256).slice(0, 12)}), not by ${p.meta.file} (sha256 ${p.meta.specHash.slice(0, 12)})`,
    );
  const L = p.layout;
  const want = (name: string, size: number) => {
    const t = ck.tensors.get(name);
    if (!t) throw new DnncError(`${path}: tensor ${name} is missing`);
    if (t.length !== size) throw new DnncError(`${path}: tensor ${name} has ${t.length} values, the model needs ${size}`);
  };
  want("params", L.N);
  if (L.slots > 0) want("optimizer_state", L.slots * L.N);
  const stats = p.tensors.filter((t) => t.kind === "stat");
  for (const t of stats) want(t.name, t.size);
  const best = ck.tensors.get("best");
  if (best) {
    const size = L.N + stats.reduce((a, t) => a + t.size, 0);
    if (!p.train.earlyStopping) throw new DnncError(`${path}: tensor best (an early-stopping snapshot) in a checkpoint of a spec without early stopping`);
    if (best.length !== size) throw new DnncError(`${path}: tensor best has ${best.length} values, the model needs ${size}`);
  }
}

/** Copy a validated checkpoint's tensors into the heap; returns the best snapshot (a copy). */
export function restoreCheckpoint(ck: Checkpoint, p: Program, H: Float32Array): Float32Array | undefined {
  const L = p.layout;
  H.set(ck.tensors.get("params")!, L.P);
  if (L.slots > 0) H.set(ck.tensors.get("optimizer_state")!, L.S);
  for (const t of p.tensors.filter((t) => t.kind === "stat")) H.set(ck.tensors.get(t.name)!, t.offset);
  return ck.best ? Float32Array.from(ck.best) : undefined;
}

/** Load a checkpoint into the heap; returns the loop state and the best snapshot (if any). */
export function readCheckpoint(pathOrDir: string, p: Program, H: Float32Array): { state: LoopState; best?: Float32Array } {
  const ck = loadCheckpoint(pathOrDir, p);
  return { state: ck.state, best: restoreCheckpoint(ck, p, H) };
}
