// Divergence detection: find the first parameter or gradient that is NaN or ±Infinity, and name
// its tensor (so the layer) and the element. Cheap enough for every step: the common case (all
// finite) is one sweep over the parameter arena H[P, P+N) and one over the gradients H[G, G+N),
// summing in float64. The sum of float32 values cannot overflow a double (|x| < 3.5e38, so more
// than 10^270 elements would be needed), so it is finite exactly when every element is finite.
// Only when it is not does the slow path walk the segments to locate the culprit. No allocation
// unless something is found.
//
// Beyond parameters and gradients (the rest of this file): running statistics, optimizer state,
// the best-weights snapshot, the batch's inputs and the model's outputs, each with its own finder,
// so that the training loop can say where a non-finite value first appeared and the trainer can
// refuse to write (or resume from) a model or checkpoint that holds one.
import type { Program } from "./program";

export interface NonFinite {
  /** The tensor's name, e.g. `dense_0.weight` (for "input" and "output": the batch's buffer). */
  tensor: string;
  /** Element index inside the tensor (row-major, PyTorch layout; for "input"/"output": in the batch). */
  index: number;
  value: number;
  /**
   * "param": the parameter itself; "grad": its gradient; "stat": a running statistic; "state":
   * optimizer state slot `slot` of a parameter; "best": the early-stopping snapshot of a parameter
   * or statistic; "input": the batch as fed to the model; "output": the model's output (logits).
   */
  kind: "param" | "grad" | "stat" | "state" | "best" | "input" | "output";
  slot?: number;
  /** "input"/"output": values per sample (the element is `index % rowSize` of sample `index / rowSize`). */
  rowSize?: number;
}

/** Sum of H[from, to) in float64: finite iff every element is. (A plain loop: V8 runs it faster than an unrolled one.) */
function sumRange(H: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += H[i];
  return s;
}

/** The arena's used length (segments are contiguous from P; N itself may be padded). */
function arenaLength(program: Pick<Program, "segments" | "layout">): number {
  let end = 0;
  for (const s of program.segments) end = Math.max(end, s.offset + s.size);
  return Math.min(end, program.layout.N);
}

function locate(H: Float32Array, program: Pick<Program, "segments">, base: number, kind: "param" | "grad"): NonFinite | undefined {
  for (const s of program.segments) {
    for (let i = 0; i < s.size; i++) {
      const v = H[base + s.offset + i];
      if (!Number.isFinite(v)) return { tensor: s.name ?? `segment@${s.offset}`, index: i, value: v, kind };
    }
  }
  return undefined;
}

/**
 * The first non-finite parameter (in arena order), else the first non-finite gradient, else
 * undefined. Parameters come first: once a parameter is NaN every later gradient is too, and the
 * parameter names the step that broke it. Call it after `backward` (gradients of this step).
 * `scope` "grads" halves the cost (a parameter only turns non-finite through a non-finite or
 * overflowing update, so scanning gradients every step and parameters now and then suffices).
 */
export function findNonFinite(
  H: Float32Array,
  program: Pick<Program, "segments" | "layout">,
  scope: "all" | "params" | "grads" = "all",
): NonFinite | undefined {
  const { P, G } = program.layout;
  const len = arenaLength(program);
  if (scope !== "grads" && !Number.isFinite(sumRange(H, P, P + len))) return locate(H, program, P, "param");
  if (scope !== "params" && !Number.isFinite(sumRange(H, G, G + len))) return locate(H, program, G, "grad");
  return undefined;
}

/** The first non-finite element of H[from, to) (its offset from `from`), or -1. */
function firstNonFinite(H: ArrayLike<number>, from: number, to: number): number {
  for (let i = from; i < to; i++) if (!Number.isFinite(H[i])) return i - from;
  return -1;
}

/** The first non-finite running statistic (batch norm's running mean and variance, ...). */
export function findNonFiniteStats(H: Float32Array, program: Pick<Program, "tensors">): NonFinite | undefined {
  for (const t of program.tensors) {
    if (t.kind !== "stat") continue;
    const i = firstNonFinite(H, t.offset, t.offset + t.size);
    if (i >= 0) return { tensor: t.name, index: i, value: H[t.offset + i], kind: "stat" };
  }
  return undefined;
}

/** The first non-finite optimizer state value (momentum, Adam's moments, ...), slot by slot. */
export function findNonFiniteState(H: Float32Array, program: Pick<Program, "segments" | "layout">): NonFinite | undefined {
  const { S, N, slots } = program.layout;
  const len = arenaLength(program);
  for (let k = 0; k < slots; k++) {
    if (Number.isFinite(sumRange(H, S + k * N, S + k * N + len))) continue;
    const f = locate(H, program, S + k * N, "param");
    if (f) return { ...f, kind: "state", slot: k };
  }
  return undefined;
}

/**
 * The first non-finite value of an early-stopping snapshot: the parameter arena (N floats, arena
 * order) followed by each running statistic (the layout of train-loop.ts's `best`).
 */
export function findNonFiniteBest(best: Float32Array, program: Pick<Program, "segments" | "layout" | "tensors">): NonFinite | undefined {
  if (Number.isFinite(sumRange(best, 0, best.length))) return undefined;
  const f = locate(best, program, 0, "param");
  if (f) return { ...f, kind: "best" };
  let o = program.layout.N;
  for (const t of program.tensors) {
    if (t.kind !== "stat") continue;
    const i = firstNonFinite(best, o, o + t.size);
    if (i >= 0) return { tensor: t.name, index: i, value: best[o + i], kind: "best" };
    o += t.size;
  }
  return undefined;
}

/** What a model file holds: the parameters, then the running statistics. */
export function findNonFiniteModel(H: Float32Array, program: Pick<Program, "segments" | "layout" | "tensors">): NonFinite | undefined {
  return findNonFinite(H, program, "params") ?? findNonFiniteStats(H, program);
}

/** What a checkpoint holds: the model, the optimizer state and the best-weights snapshot. */
export function findNonFiniteCheckpoint(
  H: Float32Array,
  program: Pick<Program, "segments" | "layout" | "tensors">,
  best?: Float32Array,
): NonFinite | undefined {
  return findNonFiniteModel(H, program) ?? findNonFiniteState(H, program) ?? (best ? findNonFiniteBest(best, program) : undefined);
}

/** The first non-finite input of the first n samples of the batch (as fed: scaled, shifted, preprocessed). */
export function findNonFiniteInput(H: Float32Array, program: Pick<Program, "layout" | "meta">, n: number): NonFinite | undefined {
  const F = program.meta.inputSize;
  const i = firstNonFinite(H, program.layout.x, program.layout.x + n * F);
  return i < 0 ? undefined : { tensor: "input", index: i, value: H[program.layout.x + i], kind: "input", rowSize: F };
}

/** The first non-finite output (logits) of the first n samples of the batch. */
export function findNonFiniteOutput(H: Float32Array, program: Pick<Program, "layout" | "meta">, n: number): NonFinite | undefined {
  const K = program.meta.outputSize;
  const i = firstNonFinite(H, program.layout.out, program.layout.out + n * K);
  return i < 0 ? undefined : { tensor: "output", index: i, value: H[program.layout.out + i], kind: "output", rowSize: K };
}

/**
 * One line for the user: which tensor, which element, which value. `row` maps a sample of the
 * batch to its row in the data set (inputs and outputs are then named by that row).
 */
export function describeNonFinite(f: NonFinite, row?: (sample: number) => number): string {
  switch (f.kind) {
    case "input":
    case "output": {
      const k = f.rowSize ?? 1;
      const sample = Math.floor(f.index / k);
      const which = row ? `training sample ${row(sample)}` : `sample ${sample} of the batch`;
      const where = `${which}, ${f.kind === "input" ? "feature" : "output"} ${f.index % k}`;
      return f.kind === "input" ? `the input is ${f.value} (${where})` : `the model's output is ${f.value} (${where})`;
    }
    case "stat":
      return `running statistic ${f.tensor} is ${f.value} at element ${f.index}`;
    case "state":
      return `optimizer state (slot ${f.slot}) of ${f.tensor} is ${f.value} at element ${f.index}`;
    case "best":
      return `the best-weights snapshot of ${f.tensor} is ${f.value} at element ${f.index}`;
    default:
      return `${f.kind === "param" ? "parameter" : "gradient of"} ${f.tensor} is ${f.value} at element ${f.index}`;
  }
}
