// What a model file holds and what targets a program takes, platform-neutral: shared by the
// trainer's command line (node/main.ts) and the library API (api.ts), so that model.save() writes
// the bytes `dnnc train` writes as model.safetensors.
import type { Program } from "./program";

/** Whether the program regresses real-valued targets (else its data holds class labels). */
export function isRegression(p: Program): boolean {
  return p.loss.kind !== "softmax_cross_entropy" && p.meta.outputSize === 1 && p.loss.kind !== "bce_with_logits";
}

/**
 * The class labels the model can take, 0..classes-1: one per logit (a label is an index into the
 * model's outputs, for softmax cross-entropy and for the one-hot targets of other losses), or 0/1
 * for a single logit (binary). Every split is checked against this, each in its own file: a
 * training set that uses only some classes is fine, a label the model has no output for is an
 * error naming that file, row and value. Undefined for regression.
 */
export function modelClasses(p: Program): number | undefined {
  if (isRegression(p)) return undefined;
  const k = p.meta.outputSize / (p.meta.positions ?? 1); // per position of a sequence output
  return k === 1 && p.loss.kind !== "softmax_cross_entropy" ? 2 : k;
}

export function modelTensors(p: Program, H: Float32Array) {
  return p.tensors.map((t) => ({ name: t.name, shape: t.shape, data: H.subarray(t.offset, t.offset + t.size) }));
}

export function modelMetadata(p: Program, extra: Record<string, string> = {}): Record<string, string> {
  return {
    format: "dnnc",
    dnnc_version: p.meta.dnncVersion,
    spec: p.meta.file,
    spec_name: p.meta.name,
    spec_sha256: p.meta.specHash,
    input_shape: JSON.stringify(p.meta.inputShape),
    ...extra,
  };
}
