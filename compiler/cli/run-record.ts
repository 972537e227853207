// A run's record, RUN/run-command.json, written beside its spec.dnn by dnnc train's compiler
// process (compile-child.ts): the spec as named and the sha256 of its text, --epochs, --seed and
// the --set flags. A resume keeps them (--epochs 3 resumes as 3); `dnnc train SPEC --resume RUN`
// checks SPEC against it. This module needs no parser: the training process loads it.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../../runtime/errors";
import { describeFsError } from "../../runtime/node/fs-errors";
import { usageError } from "./io";

/** A file's text; a missing or unreadable one is an error naming it. */
export function readText(path: string): string {
  if (!existsSync(path)) throw new DnncError(`${path}: no such file`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new DnncError(describeFsError(e, path) ?? `${path}: cannot read (${(e as Error).message})`);
  }
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** What a run was started from, beside its spec.dnn (RUN/run-command.json): a resume keeps it. */
export interface RunRecord {
  /** The spec as named on the command line, and the sha256 of its text then. */
  spec: string;
  sha256: string;
  /** --epochs and --seed as given (absent: the spec's). */
  epochs?: number;
  seed?: number;
  /** --set PATH=VALUE as given (already written into spec.dnn). */
  set: string[];
  /** --data, as an absolute path (absent: the spec's source). */
  data?: string;
}

export const RUN_RECORD = "run-command.json";

/** RUN/run-command.json, or undefined for a run written before it existed; a damaged one is an error naming it. */
export function readRunRecord(runDir: string, read: (path: string) => string = readText): RunRecord | undefined {
  const path = join(runDir, RUN_RECORD);
  if (!existsSync(path)) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(read(path));
  } catch (e) {
    throw new DnncError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const o = r as Partial<RunRecord>;
  const int = (v: unknown, min: number) => v === undefined || (Number.isInteger(v) && (v as number) >= min);
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.spec !== "string" ||
    typeof o.sha256 !== "string" ||
    !int(o.epochs, 1) ||
    !int(o.seed, 0) ||
    !Array.isArray(o.set) ||
    !o.set.every((x) => typeof x === "string") ||
    (o.data !== undefined && typeof o.data !== "string")
  )
    throw new DnncError(`${path}: expected {"spec", "sha256", "epochs"?, "seed"?, "set": [...], "data"?} as dnnc train writes it`);
  return o as RunRecord;
}

/**
 * The run's record, after what a resume refuses before anything compiles (dnnc train, in its own process: no parser
 * needed): --set (the run keeps the overrides it was started with), and a spec named that is
 * neither the one the run was started from (the record's sha256) nor the run's spec.dnn.
 */
export function checkResume(o: { resume: string; spec?: string; sets: string[] }, read: (path: string) => string = readText): RunRecord | undefined {
  const own = join(o.resume, "spec.dnn");
  if (o.sets.length > 0)
    throw usageError(
      "train",
      `--set cannot change a run being resumed (it trains ${own}, with the overrides it was started with); start a new run with --set instead`,
    );
  const record = readRunRecord(o.resume, read);
  if (!record || o.spec === undefined) return record;
  const given = sha256(read(o.spec));
  if (given === record.sha256 || (existsSync(own) && given === sha256(read(own)))) return record;
  throw new DnncError(
    `${join(o.resume, "checkpoint.safetensors")}: this checkpoint was written by another spec (${record.spec}, sha256 ${record.sha256.slice(0, 12)}), not by ${o.spec} (sha256 ${given.slice(0, 12)}): ` +
      `resume with \`dnnc train --resume ${o.resume}\` (it trains ${own}, with the run's overrides), or start a new run`,
  );
}
