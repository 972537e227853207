// Fine-tuning: start a run from another run's weights (the train block's init_from). The file's
// tensors are matched to the program's by name, as PyTorch's load_state_dict(strict=False) does,
// with one difference: a tensor whose shape differs (a replaced head with another class count) is
// not an error but skipped, and the parameter keeps its fresh initialisation. Running statistics
// (batch norm's running mean and variance) are loaded like parameters. Runs once, before training:
// its allocations are not per step. The report says what was loaded, what the model has that the
// file lacks (missing: freshly initialised), what the file has that the model lacks (extra: ignored)
// and what was refused for its shape.
import { DnncError } from "./errors";
import type { Program } from "./program";
import { decodeSafetensors, type NamedTensor } from "./safetensors";

export interface InitFromReport {
  /** The file read (as given to the trainer). */
  file: string;
  /** Tensors copied into the model (parameters and running statistics). */
  loaded: string[];
  /** The model's tensors the file does not have: they keep their fresh initialisation. */
  missing: string[];
  /** The file's tensors the model does not have (fitted preprocessing, a removed layer): ignored. */
  extra: string[];
  /** Same name, other shape (a replaced head): skipped, freshly initialised. */
  mismatched: { name: string; model: number[]; file: number[] }[];
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Copy the tensors of `tensors` that match the program's by name and shape into the heap H. */
export function applyInitFrom(p: Pick<Program, "tensors">, H: Float32Array, tensors: NamedTensor[], file: string): InitFromReport {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const report: InitFromReport = { file, loaded: [], missing: [], extra: [], mismatched: [] };
  const own = new Set<string>();
  for (const t of p.tensors) {
    own.add(t.name);
    const f = byName.get(t.name);
    if (!f) report.missing.push(t.name);
    else if (!same(f.shape, t.shape)) report.mismatched.push({ name: t.name, model: t.shape, file: f.shape });
    else {
      H.set(f.data, t.offset);
      report.loaded.push(t.name);
    }
  }
  for (const t of tensors) if (!own.has(t.name)) report.extra.push(t.name);
  if (report.loaded.length === 0)
    throw new DnncError(
      `${file}: no tensor matches a tensor of this model by name and shape${report.mismatched.length ? ` (${report.mismatched.length} by name only)` : ""}; the model has ${p.tensors
        .slice(0, 4)
        .map((t) => t.name)
        .join(", ")}${p.tensors.length > 4 ? ", ..." : ""}`,
    );
  return report;
}

/** Decode a safetensors file's bytes and apply them (errors name the file). */
export function initFromBytes(p: Pick<Program, "tensors">, H: Float32Array, bytes: Uint8Array, file: string): InitFromReport {
  return applyInitFrom(p, H, decodeSafetensors(bytes, file).tensors, file);
}

/** The report as lines for the console: one summary, then one line per kind of exception. */
export function describeInitFrom(r: InitFromReport, frozen: string[] = []): string[] {
  const lines = [
    `init_from ${r.file}: loaded ${r.loaded.length} tensor${r.loaded.length === 1 ? "" : "s"}` +
      (r.mismatched.length ? `, skipped ${r.mismatched.length} for their shape` : "") +
      (r.missing.length ? `, ${r.missing.length} missing from the file` : "") +
      (r.extra.length ? `, ${r.extra.length} extra in the file (ignored)` : ""),
  ];
  for (const m of r.mismatched)
    lines.push(`  shape: ${m.name} is [${m.model.join(", ")}] here but [${m.file.join(", ")}] in the file: skipped, freshly initialised`);
  if (r.missing.length) lines.push(`  missing: ${r.missing.join(", ")} (freshly initialised)`);
  if (r.extra.length) lines.push(`  extra: ${r.extra.join(", ")}`);
  if (frozen.length) lines.push(`  frozen: ${frozen.join(", ")}`);
  return lines;
}
