// Divergence detection: find the first parameter or gradient that is NaN or ±Infinity, and name
// its tensor (so the layer) and the element. Cheap enough for every step: the common case (all
// finite) is one sweep over the parameter arena H[P, P+N) and one over the gradients H[G, G+N),
// summing in float64. The sum of float32 values cannot overflow a double (|x| < 3.5e38, so more
// than 10^270 elements would be needed), so it is finite exactly when every element is finite.
// Only when it is not does the slow path walk the segments to locate the culprit. No allocation
// unless something is found.
import type { Program } from "./program";

export interface NonFinite {
  /** The tensor's name, e.g. `dense_0.weight`. */
  tensor: string;
  /** Element index inside the tensor (row-major, PyTorch layout). */
  index: number;
  value: number;
  /** "param": the parameter itself; "grad": its gradient. */
  kind: "param" | "grad";
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

/** One line for the user: which tensor, which element, which value. */
export function describeNonFinite(f: NonFinite): string {
  const what = f.kind === "param" ? "parameter" : "gradient of";
  return `${what} ${f.tensor} is ${f.value} at element ${f.index}`;
}
