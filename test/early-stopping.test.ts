// EarlyStopping (runtime/early-stopping.ts) against tfjs-layers' EarlyStopping callback (Keras
// semantics) on random metric sequences, plus the documented cases and checkpointing.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { EarlyStopping, type EarlyStoppingOptions } from "../runtime/early-stopping";
import { EarlyStopping as TfjsEarlyStopping } from "@tensorflow/tfjs-layers/dist/callbacks";

/** Stop position (index of the evaluation after which training stops) per tfjs, or -1. */
async function tfjsStopAt(opts: EarlyStoppingOptions, values: number[]): Promise<number> {
  const cb = new TfjsEarlyStopping({
    monitor: "val_loss",
    mode: opts.mode,
    patience: opts.patience,
    minDelta: opts.minDelta,
  });
  const model = { stopTraining: false };
  (cb as unknown as { model: typeof model }).model = model; // setModel insists on a real LayersModel
  await cb.onTrainBegin();
  for (let e = 0; e < values.length; e++) {
    await cb.onEpochEnd(e, { val_loss: values[e] });
    if (model.stopTraining) return e;
  }
  return -1;
}

function oursStopAt(opts: EarlyStoppingOptions, values: number[]): { at: number; es: EarlyStopping } {
  const es = new EarlyStopping(opts);
  for (let e = 0; e < values.length; e++) if (es.update(values[e], e).stop) return { at: e, es };
  return { at: -1, es };
}

describe("EarlyStopping", () => {
  it("stops where tfjs-layers' EarlyStopping stops (Keras semantics), random sequences", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        fc.constantFrom<"min" | "max">("min", "max"),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(0, 0.5, 1.5),
        async (ints, mode, patience, minDelta) => {
          const values = ints.map((v) => v / 2); // ties and exact deltas happen often
          const opts = { monitor: "val_loss", mode, patience, minDelta };
          expect(oursStopAt(opts, values).at).toBe(await tfjsStopAt(opts, values));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("records the best value and where it was; improvement must exceed minDelta", () => {
    const es = new EarlyStopping({ monitor: "val_loss", patience: 2, minDelta: 0.1 });
    expect(es.update(1.0, 0)).toEqual({ improved: true, stop: false });
    expect(es.update(0.95, 1)).toEqual({ improved: false, stop: false }); // not by more than 0.1
    expect(es.update(0.85, 2)).toEqual({ improved: true, stop: false });
    expect(es.update(0.9, 3)).toEqual({ improved: false, stop: false });
    expect(es.update(0.8, 4)).toEqual({ improved: false, stop: true });
    expect([es.best, es.bestAt, es.stopped]).toEqual([0.85, 2, true]);
  });

  it("mode max, patience 0 stops at the first non-improvement; NaN never improves", () => {
    const es = new EarlyStopping({ monitor: "val_accuracy", mode: "max" });
    expect(es.update(NaN, 0).improved).toBe(false);
    expect(es.stopped).toBe(true);
    const es2 = new EarlyStopping({ monitor: "val_accuracy", mode: "max", patience: 0 });
    expect(es2.update(0.5, 0)).toEqual({ improved: true, stop: false });
    expect(es2.update(0.6, 1)).toEqual({ improved: true, stop: false });
    expect(es2.update(0.6, 2)).toEqual({ improved: false, stop: true });
    expect(es2.bestAt).toBe(1);
  });

  it("its state survives a JSON round trip (checkpoint) and resumes identically", () => {
    const opts = { monitor: "val_loss", patience: 3 };
    const values = [3, 2, 2.5, 2.4, 1.9, 2, 2, 2, 2];
    const straight = oursStopAt(opts, values);
    let es = new EarlyStopping(opts);
    let at = -1;
    for (let e = 0; e < values.length && at < 0; e++) {
      es = EarlyStopping.fromJSON(opts, JSON.parse(JSON.stringify(es)));
      if (es.update(values[e], e).stop) at = e;
    }
    expect(at).toBe(straight.at);
    expect(at).toBe(7);
    expect(es.toJSON()).toEqual(straight.es.toJSON());
    expect(es.toJSON()).toEqual({ best: 1.9, bestAt: 4, wait: 3, stopped: true });
  });
});
