import { describe, expect, it } from "vitest";
import { edgeFlags, fmt, formatLeaderboard, summarize } from "../compiler/search/summary";
import type { TrialRecord } from "../compiler/search/results";
import type { Config, Space } from "../compiler/search/space";
import { parseJsonl, toCsv } from "../compiler/search/results";

const space: Space = {
  "train.optimizer.lr": { kind: "loguniform", low: 1e-4, high: 1e-1 },
  "model.dropout[0].p": { kind: "uniform", low: 0, high: 0.7 },
  "model.dense[1].units": { kind: "int", low: 64, high: 512 },
  "train.optimizer": { kind: "choice", values: ["sgd", "adam"] },
};
let n = 0;
const rec = (config: Config, metric: number | null, extra: Partial<TrialRecord> = {}): TrialRecord => ({
  key: `${n}@0`,
  trial: n++,
  rung: 0,
  budget: 8,
  seed: 1000 + n,
  config,
  status: metric === null ? "failed" : "ok",
  metric,
  metrics: {},
  durationMs: 1,
  finishedAt: "2026-01-01T00:00:00.000Z",
  ...extra,
});
const cfg = (lr: number, p: number, units: number, opt = "adam"): Config => ({
  "train.optimizer.lr": lr,
  "model.dropout[0].p": p,
  "model.dense[1].units": units,
  "train.optimizer": opt,
});

describe("edge flags", () => {
  it("flags the example: lr 0.097 in [1e-4, 1e-1] is at the edge (log space)", () => {
    const flags = edgeFlags(space, rec(cfg(0.097, 0.3, 256), 0.5));
    expect(flags.map((f) => f.message)).toEqual(["best train.optimizer.lr 0.097 is at the high edge of [1e-4, 0.1]: widen the range"]);
  });

  it("measures loguniform positions in log10, not linearly", () => {
    // log10 position of 0.05 is (log10 0.05 + 4) / 3 = 0.90 - just inside; of 0.06 it is 0.926 (edge)
    expect(edgeFlags(space, rec(cfg(0.05, 0.3, 256), 1))).toEqual([]);
    expect(edgeFlags(space, rec(cfg(0.06, 0.3, 256), 1)).map((f) => f.side)).toEqual(["high"]);
    // 2e-4 is linearly at 0.1% of the range but in log space at 10.03%: not an edge; 1.9e-4 is
    expect(edgeFlags(space, rec(cfg(2e-4, 0.3, 256), 1))).toEqual([]);
    expect(edgeFlags(space, rec(cfg(1.9e-4, 0.3, 256), 1)).map((f) => f.side)).toEqual(["low"]);
  });

  it("flags uniform and int parameters linearly, never choices", () => {
    const flags = edgeFlags(space, rec(cfg(0.003, 0.68, 70, "sgd"), 1));
    expect(flags.map((f) => [f.path, f.side])).toEqual([
      ["model.dropout[0].p", "high"],
      ["model.dense[1].units", "low"],
    ]);
  });
});

describe("summarize and formatLeaderboard", () => {
  it("ranks each trial once at its highest rung, failures last, and prints an aligned table", () => {
    n = 0;
    const records = [
      rec(cfg(0.01, 0.2, 128), 0.9),
      rec(cfg(0.002, 0.35, 300, "sgd"), 0.4),
      rec(cfg(0.097, 0.1, 500), null, { error: "diverged" }),
      rec(cfg(0.02, 0.5, 200), 0.6),
    ];
    // trial 0 was promoted and got better at a larger budget
    records.push({ ...records[0], key: "0@1", rung: 1, budget: 24, metric: 0.7 });
    const s = summarize(records, space, { metric: "val_loss", mode: "min" }, 3);
    expect(s.leaderboard.map((r) => [r.trial, r.rung])).toEqual([
      [0, 1],
      [1, 0],
      [3, 0],
    ]);
    expect(s.best!.trial).toBe(0);
    expect(s.trials).toBe(4);
    expect(s.failed).toBe(1);
    const lines = formatLeaderboard(s, space);
    expect(lines).toEqual([
      "rank  trial  budget  val_loss  train.optimizer.lr  model.dropout[0].p  model.dense[1].units  train.optimizer",
      "1     0      24      0.7       0.01                0.2                 128                   adam",
      "2     1      8       0.4       0.002               0.35                300                   sgd",
      "3     3      8       0.6       0.02                0.5                 200                   adam",
      "",
      `best: trial 0 (seed ${records[0].seed}), val_loss 0.7 (min)`,
      "  train.optimizer.lr = 0.01",
      "  model.dropout[0].p = 0.2",
      "  model.dense[1].units = 128",
      "  train.optimizer = adam",
      "1 of 4 trials failed",
    ]);
  });

  it("in max mode the largest wins, and the edge warning is printed", () => {
    n = 0;
    const s = summarize([rec(cfg(0.003, 0.3, 256), 0.8), rec(cfg(0.099, 0.3, 256), 0.9)], space, { metric: "acc", mode: "max" });
    expect(s.best!.trial).toBe(1);
    expect(formatLeaderboard(s, space).at(-1)).toBe("warning: best train.optimizer.lr 0.099 is at the high edge of [1e-4, 0.1]: widen the range");
  });

  it("says so when nothing succeeded", () => {
    n = 0;
    const s = summarize([rec(cfg(0.01, 0.1, 64), null)], space, { metric: "acc", mode: "max" });
    expect(s.best).toBeNull();
    expect(formatLeaderboard(s, space)).toContain("no trial finished successfully");
  });
});

describe("fmt", () => {
  it.each([
    [0.0971234, "0.0971"],
    [1e-4, "1e-4"],
    [2.5e-7, "2.5e-7"],
    [256, "256"],
    [1234567.8, "1.23e6"],
    ["adam", "adam"],
    [null, "-"],
  ] as const)("%s -> %s", (v, s) => expect(fmt(v)).toBe(s));
});

describe("results files", () => {
  it("csv quotes cells holding commas or quotes", () => {
    n = 0;
    const r = rec({ a: 'x,"y"' }, 1, { metrics: { note: "a\nb" }, error: undefined });
    const csv = toCsv([r], "loss").split("\n");
    expect(csv[0]).toBe("trial,rung,budget,seed,status,loss,a,note,duration_ms,error");
    expect(csv[1]).toContain(`"x,""y"""`);
    expect(csv[1]).toContain(`"a\nb"`.split("\n")[0]);
  });

  it("jsonl: a torn last line is dropped, a corrupt middle line is an error naming the line", () => {
    n = 0;
    const a = JSON.stringify(rec({ a: 1 }, 1));
    const b = JSON.stringify(rec({ a: 2 }, 2));
    expect(parseJsonl(`${a}\n${b}\n`).records.length).toBe(2);
    const torn = parseJsonl(`${a}\n${b.slice(0, 30)}`);
    expect(torn.records.length).toBe(1);
    expect(torn.intactBytes).toBe(a.length + 1);
    // complete JSON but no newline: the write may have been cut just before it; dropped too
    expect(parseJsonl(`${a}\n${b}`).records.length).toBe(1);
    expect(() => parseJsonl(`${a}\n{oops\n${b}\n`, "r.jsonl")).toThrow("r.jsonl:2: not a trial record");
  });
});
