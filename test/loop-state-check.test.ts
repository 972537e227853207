// The loop state of a checkpoint is validated field by field before a resume uses it (issue 16,
// item 6: `{}`, `metrics: null`, a negative batch start): a bad state is refused with the file
// and the field, never half-used.
import { describe, expect, it } from "vitest";
import { parseLoopState } from "../runtime/loop-state-check";
import { DnncError } from "../runtime/errors";

const FILE = "run/checkpoint.safetensors";

/** A state the trainer writes: 2 epochs done, 64 samples into the third, early stopping on. */
const good = () => ({
  epoch: 3,
  batchStart: 64,
  step: 22,
  lossSum: 31.5,
  correct: 50,
  seen: 64,
  epochStartMs: 1700000000000,
  schedule: { lr: 0.01, best: 0.25, numBad: 1, cooldownCounter: 0 },
  earlyStopping: { best: 0.25, bestAt: 2, wait: 0, stopped: false },
  bestEpoch: 2,
  metrics: [1, 2].map((epoch) => ({ epoch, train_loss: 0.5, train_acc: 0.8, val_loss: 0.3, val_acc: null, lr: 0.01, seconds: 0.1 })),
  seed: 4,
});

function refusal(state: unknown, batch?: number): string {
  try {
    parseLoopState(typeof state === "string" ? state : JSON.stringify(state), FILE, batch);
  } catch (e) {
    expect(e).toBeInstanceOf(DnncError);
    expect((e as DnncError).exitCode).toBe(1);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("loop state validation", () => {
  it("accepts what the trainer writes (and the trace of earlier versions)", () => {
    expect(parseLoopState(JSON.stringify(good()), FILE, 32)).toEqual(good());
    const legacy = { ...good(), lossTrace: new Array(22).fill(0.5) };
    expect(parseLoopState(JSON.stringify(legacy), FILE).lossTrace).toHaveLength(22);
    const atStart = { ...good(), epoch: 1, batchStart: 0, step: 0, lossSum: 0, correct: 0, seen: 0, metrics: [], earlyStopping: null, bestEpoch: null };
    expect(parseLoopState(JSON.stringify(atStart), FILE, 32).epoch).toBe(1);
  });

  it.each([
    ["{}", {}, "field epoch must be an integer >= 1, got nothing (the field is missing)"],
    ["metrics: null", { ...good(), metrics: null }, "field metrics must be an array of epoch metrics, got null"],
    ["a negative batch start", { ...good(), batchStart: -32 }, "field batchStart must be an integer >= 0, got -32"],
    ["a fractional step", { ...good(), step: 2.5 }, "field step must be an integer >= 0, got 2.5"],
    ["a string seed", { ...good(), seed: "4" }, 'field seed must be an integer >= 0, got "4"'],
    ["a non-finite loss sum (JSON null)", { ...good(), lossSum: null }, "field lossSum must be a finite number, got null"],
    [
      "a schedule without numBad",
      { ...good(), schedule: { lr: 0.01, best: null, cooldownCounter: 0 } },
      "field schedule.numBad must be an integer >= 0, got nothing",
    ],
    [
      "a broken early-stopping state",
      { ...good(), earlyStopping: { best: 1, bestAt: 1, wait: -1, stopped: false } },
      "field earlyStopping.wait must be an integer >= 0, got -1",
    ],
    ["a metrics entry that is no object", { ...good(), metrics: [good().metrics[0], 7] }, "field metrics[1] must be an object, got 7"],
    [
      "a metrics entry with a text loss",
      { ...good(), metrics: [{ ...good().metrics[0], train_loss: "x" }, good().metrics[1]] },
      'field metrics[0].train_loss must be a finite number or null, got "x"',
    ],
    ["an array", [1, 2], "expected an object, got [1,2]"],
    ["a trace with a string", { ...good(), lossTrace: ["a"] }, 'field lossTrace[0] must be a finite number, got "a"'],
  ])("refuses %s, naming the file and the field", (_what, state, message) => {
    const m = refusal(state);
    expect(m.startsWith(`${FILE}: loop state: `)).toBe(true);
    expect(m).toContain(message);
    expect(m).toContain("cannot be resumed");
  });

  it("refuses text that is no JSON, and a missing loop state", () => {
    expect(refusal("{epoch: 3")).toMatch(/^run\/checkpoint\.safetensors: loop state: not valid JSON/);
    expect(() => parseLoopState(undefined, FILE)).toThrow(/loop state: missing/);
  });

  it("refuses states whose fields contradict each other", () => {
    expect(refusal({ ...good(), epoch: 5 })).toContain("field metrics has 2 epochs, but field epoch says 4 finished before epoch 5");
    expect(refusal({ ...good(), metrics: [good().metrics[1], good().metrics[0]] })).toContain("field metrics: entry 0 is epoch 2, expected 1");
    expect(refusal({ ...good(), seen: 96 })).toContain("field seen (96) is larger than field batchStart (64)");
    expect(refusal({ ...good(), bestEpoch: 4 })).toContain("field bestEpoch (4) is after the epoch in progress (3)");
    expect(refusal({ ...good(), lossTrace: [0.5] })).toContain("field lossTrace has 1 losses for 22 steps");
    expect(refusal(good(), 48)).toContain("field batchStart (64) is not a multiple of the batch size 48");
  });
});
