// The one validator of a checkpoint's loop state (the JSON in its `loop_state` metadata): every
// field with its type and range, and the invariants between fields, checked before a resume uses
// any of it. A state that fails is refused with the file and the field ("...: loop state: field
// batchStart must be an integer >= 0, got -3"), never half-used: a checkpoint written by hand, by
// another tool or damaged on disk must not resume into a run that silently differs.
// Platform-neutral (the Node trainer reads the file; this only judges the text).
import { DnncError } from "./errors";
import type { EpochMetrics, LoopState } from "./train-loop";

/** What is wrong with a value: where (field names and indices below the checked value), what was expected. */
interface Flaw {
  at: (string | number)[];
  expected: string;
  got: unknown;
}
type Check = (v: unknown) => Flaw | undefined;

const flaw = (expected: string, got: unknown): Flaw => ({ at: [], expected, got });
const int =
  (min: number): Check =>
  (v) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min ? undefined : flaw(`an integer >= ${min}`, v);
const finite: Check = (v) => (typeof v === "number" && Number.isFinite(v) ? undefined : flaw("a finite number", v));
// JSON writes NaN and ±Infinity as null: metrics and monitored values may come back as null
const numOrNull: Check = (v) => (v === null || (typeof v === "number" && Number.isFinite(v)) ? undefined : flaw("a finite number or null", v));
const intOrNull =
  (min: number): Check =>
  (v) =>
    v === null || int(min)(v) === undefined ? undefined : flaw(`an integer >= ${min} or null`, v);
const bool: Check = (v) => (typeof v === "boolean" ? undefined : flaw("true or false", v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const orNull =
  (c: Check): Check =>
  (v) =>
    v === null ? undefined : c(v);

/** An object with these fields (more are allowed: later versions may add some). */
function record(fields: Record<string, Check>): Check {
  return (v) => {
    if (!isObject(v)) return flaw("an object", v);
    for (const [k, c] of Object.entries(fields)) {
      const f = c(v[k]);
      if (f) return { ...f, at: [k, ...f.at] };
    }
    return undefined;
  };
}

function arrayOf(c: Check, what: string): Check {
  return (v) => {
    if (!Array.isArray(v)) return flaw(what, v);
    for (let i = 0; i < v.length; i++) {
      const f = c(v[i]);
      if (f) return { ...f, at: [i, ...f.at] };
    }
    return undefined;
  };
}

function show(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** LoopState, field by field: a forgotten field fails to compile. */
const LOOP_STATE: Record<keyof LoopState, Check> = {
  epoch: int(1),
  batchStart: int(0),
  step: int(0),
  lossSum: finite,
  correct: int(0),
  seen: int(0),
  epochStartMs: finite,
  schedule: record({ lr: finite, best: numOrNull, numBad: int(0), cooldownCounter: int(0) }),
  earlyStopping: orNull(record({ best: numOrNull, bestAt: intOrNull(0), wait: int(0), stopped: bool })),
  bestEpoch: intOrNull(1),
  metrics: arrayOf(
    record({ epoch: int(1), train_loss: numOrNull, train_acc: numOrNull, val_loss: numOrNull, val_acc: numOrNull, lr: numOrNull, seconds: numOrNull }),
    "an array of epoch metrics",
  ),
  lossTrace: (v) => (v === undefined ? undefined : arrayOf(finite, "an array of losses")(v)),
  seed: int(0),
};

/**
 * Parse and validate the loop state of checkpoint `file` (the JSON text of its metadata).
 * `batch`: the model's batch size (batch starts are multiples of it), when known.
 */
export function parseLoopState(text: string | undefined, file: string, batch?: number): LoopState {
  const fail = (what: string): never => {
    throw new DnncError(`${file}: loop state: ${what}; this checkpoint cannot be resumed`);
  };
  if (text === undefined) fail("missing (no loop_state in the metadata)");
  let v: unknown;
  try {
    v = JSON.parse(text!);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) fail(`expected an object, got ${show(v)}`);
  const f = record(LOOP_STATE)(v);
  if (f) {
    const field = f.at.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
    fail(`field ${field} must be ${f.expected}, got ${show(f.got)}`);
  }
  const st = v as LoopState;
  // invariants between fields (what the trainer always writes)
  if (st.metrics.length !== st.epoch - 1)
    fail(
      `field metrics has ${st.metrics.length} epoch${st.metrics.length === 1 ? "" : "s"}, but field epoch says ${st.epoch - 1} finished before epoch ${st.epoch}`,
    );
  st.metrics.forEach((m: EpochMetrics, i) => {
    if (m.epoch !== i + 1) fail(`field metrics: entry ${i} is epoch ${m.epoch}, expected ${i + 1}`);
  });
  if (st.seen > st.batchStart)
    fail(`field seen (${st.seen}) is larger than field batchStart (${st.batchStart}): more samples seen than the batches so far hold`);
  if (batch !== undefined && st.batchStart % batch !== 0) fail(`field batchStart (${st.batchStart}) is not a multiple of the batch size ${batch}`);
  if (st.bestEpoch !== null && st.bestEpoch > st.epoch) fail(`field bestEpoch (${st.bestEpoch}) is after the epoch in progress (${st.epoch})`);
  if (st.lossTrace !== undefined && st.lossTrace.length !== st.step) fail(`field lossTrace has ${st.lossTrace.length} losses for ${st.step} steps`);
  return st;
}
