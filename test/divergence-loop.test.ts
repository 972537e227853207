// Non-finite values in a training run (issue 16): the run stops at the step where a NaN or an
// infinity first shows, naming its source (a parameter, a running statistic, an input row, the
// model's output), on both backends; on_divergence skip|lower_lr skip batches as before but stop
// on a non-finite parameter (skipping cannot undo it); a model or a checkpoint that holds a
// non-finite value is never written, nor resumed from. Values are planted through onStep (after
// an optimizer step) to stand for an update or an overflow that broke them.
import { afterAll, describe, expect, it } from "vitest";
import { compileProgram } from "./helpers/compile";
import { createBackend } from "../runtime/backend-create";
import { PARAM_SCAN_STEPS, train, type LoopState, type TrainOptions, type CheckpointHooks, type TrainResult } from "../runtime/train-loop";
import type { Dataset } from "../runtime/data/dataset";
import type { Program } from "../runtime/program";
import { DnncError } from "../runtime/errors";

const spec = (o: { scale?: string; hidden?: string; onDiv?: string; extra?: string; data?: string } = {}) => `model m {
  input [6]
  dense(12) -> ${o.hidden ?? "relu"}
  dense(3)
  loss softmax_cross_entropy
}
data { source csv("d.csv")
  scale ${o.scale ?? "1"}
  ${o.data ?? ""} }
train { seed 3
  batch 8
  epochs 2
  optimizer sgd(lr=0.1, momentum=0.9)
  ${o.onDiv ? `on_divergence ${o.onDiv}` : ""}
  ${o.extra ?? ""} }
`;

/** n rows of 6 features in [1, 4) (times 1e38: beyond float32 for values > 3.4) and 3 classes. */
function dataset(n: number, poison?: { row: number; value: number }): { train: Dataset } {
  const x = new Float32Array(n * 6);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) x[i * 6 + j] = 1 + (((i * 7 + j * 3) % 11) / 11) * 3 * (j === 0 ? 1 : 0.5);
    y[i] = i % 3;
  }
  if (poison) x[poison.row * 6 + 2] = poison.value;
  return { train: { x, y, n, shape: [6], classes: 3 } };
}

const programs = new Map<string, Program>();
async function program(src: string): Promise<Program> {
  if (!programs.has(src)) programs.set(src, (await compileProgram(src, "t.dnn")).program);
  return programs.get(src)!;
}
const opened: { close(): void }[] = [];
afterAll(() => opened.forEach((b) => b.close()));

async function run(
  src: string,
  backend: "ts" | "wasm",
  data: { train: Dataset },
  opts: TrainOptions & CheckpointHooks = {},
  plant?: (H: Float32Array, p: Program, step: number) => void,
): Promise<{ result?: TrainResult; error?: Error; H: Float32Array; p: Program }> {
  const p = await program(src);
  const be = await createBackend(p.meta.heapFloats, { backend });
  opened.push(be);
  const model = p.create(be, 3);
  if (!opts.resume) model.init();
  plant?.(be.H, p, 0);
  try {
    const result = train(p, be, model, data, { ...opts, onStep: (step) => plant?.(be.H, p, step) });
    return { result, H: be.H, p };
  } catch (e) {
    expect(e).toBeInstanceOf(DnncError);
    return { error: e as Error, H: be.H, p };
  }
}

const offsetOf = (p: Program, name: string) => p.tensors.find((t) => t.name === name)!.offset;

describe.each(["ts", "wasm"] as const)("a non-finite value stops the run where it first shows (%s backend)", (backend) => {
  it("scale 1e38: the inputs overflow float32; the first step stops and names a row and feature", async () => {
    const r = await run(spec({ scale: "1e38" }), backend, dataset(64));
    expect(r.error?.message).toMatch(
      /^training diverged at step 1 \(epoch 1\): the loss is NaN; the input is Infinity \(training sample \d+, feature \d\); fix the data: with its scale \(1e\+38\)/,
    );
  });

  it("a NaN weight under a ReLU (which used to turn it into 0) stops the first step, naming the weight", async () => {
    const r = await run(spec(), backend, dataset(64), {}, (H, p, step) => {
      if (step === 0) H[offsetOf(p, "dense_0.weight") + 7] = NaN;
    });
    expect(r.error?.message).toMatch(
      /^training diverged at step 1 \(epoch 1\): the loss is NaN; parameter dense_0.weight is NaN at element 7 \(as initialized\)/,
    );
  });

  it("a parameter broken by an update is named with that update's step", async () => {
    const r = await run(spec(), backend, dataset(64), {}, (H, p, step) => {
      if (step === 3) H[offsetOf(p, "dense_1.bias") + 1] = -Infinity;
    });
    expect(r.error?.message).toMatch(
      /^training diverged at step 4 \(epoch 1\): the loss is NaN; parameter dense_1.bias is -Infinity at element 1 \(after the update of step 3\)/,
    );
  });

  // an infinite bias behind a tanh leaves that forward's loss finite (tanh(Inf) = 1); the next
  // update makes it NaN (0 * Inf in the update) and the forward after that would see it
  it(`an infinite bias behind a saturating tanh: the scan of the parameters every ${PARAM_SCAN_STEPS} steps finds it`, async () => {
    const r = await run(spec({ hidden: "tanh" }), backend, dataset(8 * (PARAM_SCAN_STEPS + 10)), { epochs: 1 }, (H, p, step) => {
      if (step === PARAM_SCAN_STEPS - 1) H[offsetOf(p, "dense_0.bias")] = Infinity;
    });
    expect(r.error?.message).toMatch(
      new RegExp(
        `^training diverged at step ${PARAM_SCAN_STEPS} \\(epoch 1\\): parameter dense_0.bias is (NaN|Infinity) at element 0 \\(found by the scan after the update of step ${PARAM_SCAN_STEPS}; the loss stayed finite\\)`,
      ),
    );
  });

  it("... and the scan at the end of an epoch, before its metrics are reported", async () => {
    let epochs = 0;
    const r = await run(spec({ hidden: "tanh" }), backend, dataset(64), { onEpoch: () => epochs++ }, (H, p, step) => {
      if (step === 8) H[offsetOf(p, "dense_0.bias") + 2] = Infinity; // the last step of epoch 1
    });
    expect(r.error?.message).toMatch(
      /^training diverged in epoch 1: parameter dense_0.bias is Infinity at element 2 \(found at the end of the epoch, after step 8; the loss stayed finite\)/,
    );
    expect(epochs).toBe(0);
  });

  it("a parameter broken by the last update (max steps): the model is not returned", async () => {
    const r = await run(spec({ hidden: "tanh" }), backend, dataset(64), { maxSteps: 5 }, (H, p, step) => {
      if (step === 5) H[offsetOf(p, "dense_0.weight")] = NaN;
    });
    expect(r.error?.message).toMatch(
      /^training diverged in epoch 1: parameter dense_0.weight is NaN at element 0 \(found at the end of the epoch, after step 5/,
    );
  });

  it("the best weights of early stopping are scanned before they are kept", async () => {
    const src = spec({ hidden: "tanh", data: "validation 0.25", extra: "early_stopping(patience=100, every_steps=4)" });
    const r = await run(src, backend, dataset(64), {}, (H, p, step) => {
      if (step === 4) H[offsetOf(p, "dense_0.bias") + 5] = Infinity; // the evaluation after step 4 stays finite (tanh)
    });
    expect(r.error?.message).toMatch(
      /^training diverged at step 4 \(epoch 1\): parameter dense_0.bias is Infinity at element 5 \(found before keeping the best weights\)/,
    );
  });

  it("batch norm's running variance overflowing (the training forward does not read it) stops the next step", async () => {
    const r = await run(spec({ hidden: "bn -> relu" }), backend, dataset(64), {}, (H, p, step) => {
      if (step === 2) H[offsetOf(p, "bn_0.running_var") + 4] = Infinity;
    });
    expect(r.error?.message).toMatch(
      /^training diverged at step 3 \(epoch 1\): running statistic bn_0.running_var is Infinity at element 4 \(after this step's forward pass, with a finite loss\)/,
    );
  });
});

describe("on_divergence skip and lower_lr keep their meaning", () => {
  // row 5's feature 2 is NaN: every batch holding it is skipped (one per epoch), the rest train
  const poisoned = () => dataset(64, { row: 5, value: NaN });

  it("stop (default): the batch with the bad row stops the run, naming the row", async () => {
    const r = await run(spec(), "wasm", poisoned());
    expect(r.error?.message).toMatch(/the loss is NaN; the input is NaN \(training sample 5, feature 2\)/);
  });

  for (const onDiv of ["skip", "lower_lr"]) {
    it(`${onDiv}: the batches holding the bad row are skipped, training ends with a finite model`, async () => {
      const r = await run(spec({ onDiv }), "wasm", poisoned());
      expect(r.error).toBeUndefined();
      expect(r.result!.divergences).toBe(2); // once per epoch
      expect(r.result!.steps).toBe(2 * 8 - 2);
      expect(r.result!.lossTrace.every(Number.isFinite)).toBe(true);
      for (const t of r.p.tensors) expect(r.H.subarray(t.offset, t.offset + t.size).every(Number.isFinite)).toBe(true);
    });
  }

  it("lower_lr halves the rate after a skipped step (the loss traces part there); skip does not", async () => {
    const a = (await run(spec({ onDiv: "skip" }), "ts", poisoned())).result!.lossTrace;
    const b = (await run(spec({ onDiv: "lower_lr" }), "ts", poisoned())).result!.lossTrace;
    const clean = (await run(spec({ onDiv: "skip" }), "ts", dataset(64))).result!.lossTrace;
    const first = a.findIndex((v, i) => v !== clean[i]); // the first step after the skipped batch
    expect(first).toBeGreaterThan(0);
    expect(b.slice(0, first + 1)).toEqual(a.slice(0, first + 1)); // same batches, same rate up to the step after the skip
    expect(b[first + 1]).not.toBe(a[first + 1]); // then the halved rate shows
  });

  it("skip cannot undo a non-finite parameter: the run stops, saying so", async () => {
    const r = await run(spec({ onDiv: "skip" }), "wasm", dataset(64), {}, (H, p, step) => {
      if (step === 2) H[offsetOf(p, "dense_0.bias") + 3] = NaN;
    });
    expect(r.error?.message).toMatch(
      /^training diverged at step 3 \(epoch 1\): the loss is NaN; parameter dense_0.bias is NaN at element 3 \(after the update of step 2\); skipping a step cannot undo a non-finite parameter \(on_divergence skip\)/,
    );
  });
});

describe("resuming from a checkpoint that holds a non-finite value is refused", () => {
  const state = (): LoopState => ({
    epoch: 1,
    batchStart: 16,
    step: 2,
    lossSum: 0,
    correct: 0,
    seen: 0,
    epochStartMs: 0,
    schedule: { factor: 1, best: null, bad: 0, cooldown: 0 } as unknown as LoopState["schedule"],
    earlyStopping: null,
    bestEpoch: null,
    metrics: [],
    lossTrace: [1, 1],
    seed: 3,
  });
  for (const [what, name, slot] of [
    ["a parameter", "dense_0.weight", -1],
    ["the optimizer state (momentum)", "dense_1.weight", 0],
    ["a running statistic", "bn_0.running_mean", -1],
  ] as const) {
    it(what, async () => {
      const src = spec({ hidden: "bn -> relu" });
      const r = await run(src, "ts", dataset(64), { resume: state(), lastCheckpoint: () => "runs/a/checkpoint.safetensors" }, (H, p, step) => {
        if (step !== 0) return;
        const off = offsetOf(p, name) - (slot >= 0 ? p.layout.P - p.layout.S - slot * p.layout.N : 0);
        H[off + 1] = NaN;
      });
      const kind = slot >= 0 ? `optimizer state \\(slot 0\\) of ${name}` : name.includes("running") ? `running statistic ${name}` : `parameter ${name}`;
      expect(r.error?.message).toMatch(
        new RegExp(`^runs/a/checkpoint.safetensors: ${kind} is NaN at element 1; refusing to resume from a checkpoint that holds a non-finite value$`),
      );
    });
  }
});
