// What the trainer records for the report (runtime/node/run-record.ts) and how the report reads it
// (compiler/report/load.ts, sections.ts): the learning-rate record keeps a warm-up as two points
// and a curve point by point, a resumed run keeps the earlier rates, the prediction collector
// keeps misclassified samples with their pixels or regression pairs, and every bad file is an
// error naming it.
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classNamesFile, LrRecord, PredictionCollector, resumedRunInfo } from "../runtime/node/run-record";
import { classScores, loadRun, regressionScores, settingRows, smooth, warmupEnd } from "../compiler/report";
import type { Program } from "../runtime/program";
import type { Dataset } from "../runtime/data/dataset";

describe("LrRecord", () => {
  it("keeps a linear warm-up and a constant stretch as their end points, and a cosine step by step", () => {
    const r = new LrRecord();
    for (let s = 1; s <= 40; s++) r.add(s, (0.01 * s) / 40); // warm-up
    for (let s = 41; s <= 100; s++) r.add(s, 0.01); // constant
    expect(r.points()).toEqual([
      [1, 0.01 / 40],
      [40, 0.01],
      [100, 0.01],
    ]);
    const c = new LrRecord();
    const cos = (s: number) => 0.005 * (1 + Math.cos((Math.PI * s) / 50));
    for (let s = 1; s <= 50; s++) c.add(s, cos(s));
    // every step's rate is on the line between two kept points (a point near the inflection may go)
    const pts = c.points();
    expect(pts.length).toBeGreaterThan(40);
    for (let s = 1; s <= 50; s++) {
      const j = pts.findIndex((q) => q[0] >= s);
      const [s0, l0] = pts[Math.max(0, j - 1)];
      const [s1, l1] = pts[j];
      const at = s1 === s0 ? l1 : l0 + ((l1 - l0) * (s - s0)) / (s1 - s0);
      expect(Math.abs(at - cos(s))).toBeLessThan(1e-6 * 0.01);
    }
    expect(warmupEnd(r.points())).toBe(40);
    expect(warmupEnd(c.points())).toBeUndefined();
    // a warm-up over epochs: a staircase of rises, then a decay
    const stairs: [number, number][] = [
      [1, 0.001],
      [10, 0.001],
      [11, 0.002],
      [20, 0.002],
      [21, 0.003],
      [30, 0.003],
      [31, 0.001],
    ];
    expect(warmupEnd(stairs)).toBe(21);
    expect(
      warmupEnd([
        [1, 0.1],
        [50, 0.1],
      ]),
    ).toBeUndefined();
  });

  it("thins a long record to at most the limit, keeping the first and last steps", () => {
    const r = new LrRecord();
    for (let s = 1; s <= 10_000; s++) r.add(s, Math.sin(s / 100) + 2);
    const p = r.points(500);
    expect(p.length).toBeLessThanOrEqual(500);
    expect(p[0][0]).toBe(1);
    expect(p[p.length - 1][0]).toBe(10_000);
  });

  it("a resumed run keeps the rates up to its checkpoint and the start date of the run it resumes", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-runinfo-"));
    writeFileSync(
      join(dir, "run-info.json"),
      JSON.stringify({
        started: "2026-01-01T00:00:00.000Z",
        lr_steps: [
          [1, 0.1],
          [20, 0.2],
          [30, 0.3],
        ],
      }),
    );
    writeFileSync(join(dir, "checkpoint.safetensors"), "");
    const i = resumedRunInfo(join(dir, "checkpoint.safetensors"), 25);
    expect(i.started).toBe("2026-01-01T00:00:00.000Z");
    expect(i.lrSteps).toEqual([
      [1, 0.1],
      [20, 0.2],
    ]);
    writeFileSync(join(dir, "run-info.json"), "{not json");
    expect(resumedRunInfo(dir, 25).lrSteps).toEqual([]);
    expect(resumedRunInfo(undefined, 0).lrSteps).toEqual([]);
  });
});

describe("class names from the data", () => {
  it("reads classes.txt in label order when it names every class, and says why when it does not", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-classes-"));
    const notes: string[] = [];
    expect(classNamesFile(dir, 2, (l) => notes.push(l))).toBeUndefined();
    writeFileSync(join(dir, "classes.txt"), "cat\r\n dog \n\n");
    expect(classNamesFile(dir, 2, (l) => notes.push(l))).toEqual(["cat", "dog"]);
    expect(classNamesFile(dir, 3, (l) => notes.push(l))).toBeUndefined();
    expect(notes).toEqual([`note: ${join(dir, "classes.txt")} has 2 class names for 3 classes; the report numbers the classes instead`]);
    expect(classNamesFile(join(dir, "classes.txt"), 2, () => {})).toBeUndefined(); // a file (a CSV source), not a directory
    expect(classNamesFile("specs/data/fashion-mnist-small", 10, () => {})?.[9]).toBe("Ankle boot");
  });
});

describe("PredictionCollector", () => {
  const p = { meta: { outputSize: 3 } } as unknown as Program;
  it("keeps the misclassified samples with their pixels and the probability of the wrong class", () => {
    const x = new Uint8Array(3 * 16).map((_, i) => i);
    const ds: Dataset = { x, y: new Uint8Array([0, 1, 2]), n: 3, shape: [1, 4, 4], classes: 3 };
    const c = new PredictionCollector(p, ds, false);
    expect(c.active).toBe(true);
    const H = new Float32Array([5, 0, 0, 0, 0, 5, Math.log(3), 0, 0]); // right, wrong (2 vs 1), wrong (0 vs 2)
    for (let r = 0; r < 3; r++) c.sink(r, H, 3 * r, 3);
    const j = c.toJSON();
    expect(j.kind).toBe("classification");
    if (j.kind !== "classification") return;
    expect([j.seen, j.wrong]).toEqual([3, 2]);
    expect(j.samples.map((s) => [s.row, s.true, s.pred])).toEqual([
      [1, 1, 2],
      [2, 2, 0],
    ]);
    expect(j.samples[1].prob).toBeCloseTo(3 / 5, 3);
    expect([...Buffer.from(j.samples[0].pixels!, "base64")]).toEqual([...x.subarray(16, 32)]);
  });

  it("keeps (true, predicted) pairs for regression", () => {
    const ds: Dataset = { x: new Float32Array(4), y: new Float32Array([1.5, -2]), n: 2, shape: [2] };
    const c = new PredictionCollector({ meta: { outputSize: 1 } } as unknown as Program, ds, true);
    c.sink(0, new Float32Array([1.25]), 0, 1);
    c.sink(1, new Float32Array([-1]), 0, 1);
    expect(c.toJSON()).toEqual({
      kind: "regression",
      seen: 2,
      pairs: [
        [1.5, 1.25],
        [-2, -1],
      ],
    });
  });
});

describe("report numbers", () => {
  it("smooths with TensorBoard's debiased moving average, leaving gaps", () => {
    expect(smooth([1, 2, NaN, 3], 0)).toEqual([1, 2, null, 3]);
    const s = smooth([4, 4, 4], 0.9);
    s.forEach((v) => expect(v).toBeCloseTo(4, 9)); // debiased: a constant stays itself
  });

  it("scores classes and regressions", () => {
    const s = classScores(
      [
        [3, 1],
        [0, 0],
      ],
      ["a", "b"],
    );
    expect(s[0]).toEqual({ name: "a", support: 4, precision: 1, recall: 0.75, f1: expect.closeTo(6 / 7, 9) });
    expect(s[1]).toEqual({ name: "b", support: 0, precision: 0, recall: null, f1: null });
    const r = regressionScores([
      [0, 1],
      [2, 1],
    ]);
    expect(r).toEqual({ n: 2, mae: 1, rmse: 1, r2: 0 }); // no better than the mean
  });

  it("lists every setting, the optimizer's own only", () => {
    const rows = settingRows(
      { batch: 32, optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, beta1: 0.9 }, schedule: { kind: "step", args: { every: 2 } } },
      { scale: 0.5 },
    );
    expect(rows).toEqual([
      ["train.batch", "32"],
      ["train.optimizer", "sgd"],
      ["train.optimizer.lr", "0.1"],
      ["train.optimizer.momentum", "0.9"],
      ["train.schedule.kind", "step"],
      ["train.schedule.args.every", "2"],
      ["data.scale", "0.5"],
    ]);
  });
});

describe("loading the report's files", () => {
  const dir = (files: Record<string, string>) => {
    const d = join(mkdtempSync(join(tmpdir(), "dnnc-report-rec-")), "run");
    mkdirSync(d);
    writeFileSync(join(d, "metrics.jsonl"), JSON.stringify({ epoch: 1, train_loss: 1 }) + "\n");
    for (const [f, t] of Object.entries(files)) writeFileSync(join(d, f), t);
    return d;
  };

  it("reads the per-step loss, run-info.json and predictions.json", () => {
    const trace = Buffer.alloc(8 * 3 + 5); // a trace being appended to: 3 whole values
    [0.5, 0.25, 0.125].forEach((v, i) => trace.writeDoubleLE(v, 8 * i));
    const d = dir({
      "run-info.json": JSON.stringify({ started: "2026-01-01T00:00:00Z", lr_steps: [[1, 0.1]], train: { batch: 8 } }),
      "predictions.json": JSON.stringify({
        kind: "classification",
        seen: 2,
        wrong: 1,
        shape: [1, 2, 2],
        samples: [{ row: 1, true: 0, pred: 1, prob: 0.6, pixels: "AAD/AA==" }],
      }),
    });
    writeFileSync(join(d, "loss-trace.f64"), trace);
    const r = loadRun(d);
    expect(Array.from(r.stepLoss!)).toEqual([0.5, 0.25, 0.125]);
    expect(r.lrSteps).toEqual([[1, 0.1]]);
    expect(r.started).toBe("2026-01-01T00:00:00Z");
    expect(r.train).toEqual({ batch: 8 });
    expect(r.predictions?.kind).toBe("classification");
    if (r.predictions?.kind === "classification") expect(r.predictions.samples[0].image).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });

  it("names the file of every bad input", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ "run-info.json": "[1]" }, /run-info\.json: expected a JSON object/],
      [
        {
          "run-info.json": JSON.stringify({
            lr_steps: [
              [2, 0.1],
              [1, 0.1],
            ],
          }),
        },
        /run-info\.json: "lr_steps" must be a list of \[step, lr\] pairs with increasing steps/,
      ],
      [{ "run-info.json": JSON.stringify({ lr_steps: [[1, "x"]] }) }, /run-info\.json: "lr_steps"/],
      [{ "predictions.json": JSON.stringify({ kind: "other" }) }, /predictions\.json: expected \{"kind": "classification" \| "regression"/],
      [
        { "predictions.json": JSON.stringify({ kind: "regression", pairs: [[1]] }) },
        /predictions\.json: "pairs" must be a list of \[true, predicted\] number pairs/,
      ],
      [
        { "predictions.json": JSON.stringify({ kind: "classification", samples: [{ row: 1 }] }) },
        /predictions\.json: sample 0 must have numbers row, true, pred, prob/,
      ],
      [
        {
          "predictions.json": JSON.stringify({ kind: "classification", shape: [1, 2, 2], samples: [{ row: 1, true: 0, pred: 1, prob: 0.5, pixels: "AAA=" }] }),
        },
        /predictions\.json: sample 0: "pixels" holds 2 bytes, not 1×2×2/,
      ],
      [{ "predictions.json": "{" }, /predictions\.json: not valid JSON/],
    ];
    for (const [files, msg] of bad) expect(() => loadRun(dir(files))).toThrow(msg);
  });
});
