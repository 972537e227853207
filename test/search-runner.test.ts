import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { halvingRungs } from "../compiler/search/strategies";
import { runSearch, type RunTrial } from "../compiler/search/runner";
import { parseJsonl } from "../compiler/search/results";
import type { Config, Space } from "../compiler/search/space";

const space: Space = {
  lr: { kind: "loguniform", low: 1e-4, high: 1e-1 },
  wd: { kind: "loguniform", low: 1e-6, high: 1e-2 },
};
// a fake validation loss: best at lr = 1e-2, falling with budget
const loss = (c: Config, budget = 1) => (Math.log10(c.lr as number) + 2) ** 2 + 1 / budget;
const fake: RunTrial = async (c, _s, b) => ({ metric: loss(c, b), metrics: { val_loss: loss(c, b), epochs: b } });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "dnnc-search-"));

describe("halvingRungs", () => {
  it("runs n/eta^k trials at maxBudget*eta^(k-s), ending at maxBudget", () => {
    expect(halvingRungs(27, 27, 3)).toEqual([
      { size: 27, budget: 1 },
      { size: 9, budget: 3 },
      { size: 3, budget: 9 },
      { size: 1, budget: 27 },
    ]);
    // the spec example: 20 trials, 8 epochs, eta 3 -> one halving (8/9 epoch is below the minimum)
    expect(halvingRungs(20, 8, 3)).toEqual([
      { size: 20, budget: 3 },
      { size: 6, budget: 8 },
    ]);
    expect(halvingRungs(16, 16, 2)).toEqual([
      { size: 16, budget: 1 },
      { size: 8, budget: 2 },
      { size: 4, budget: 4 },
      { size: 2, budget: 8 },
      { size: 1, budget: 16 },
    ]);
    expect(halvingRungs(2, 8, 3)).toEqual([{ size: 2, budget: 8 }]);
  });
});

describe("runSearch", () => {
  it("random: runs every trial once and ranks the leaderboard by the objective", async () => {
    const calls: number[] = [];
    const res = await runSearch({
      space,
      strategy: { kind: "random", trials: 12, budget: 5 },
      seed: 3,
      runTrial: async (c, s, b, i) => (calls.push(i), fake(c, s, b, i, { key: "", rung: 0, previousBudget: undefined })),
      objective: { metric: "val_loss", mode: "min" },
    });
    expect(calls.sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
    expect(res.ran).toBe(12);
    const metrics = res.records.map((r) => r.metric!).sort((a, b) => a - b);
    expect(res.summary.leaderboard.map((r) => r.metric)).toEqual(metrics.slice(0, 10));
    expect(res.summary.best!.metric).toBe(metrics[0]);
    expect(res.records.every((r) => r.budget === 5)).toBe(true);
  });

  it("max mode puts the largest metric first; metric may come from metrics[objective.metric]", async () => {
    const res = await runSearch({
      space,
      strategy: { kind: "grid", steps: 3 },
      seed: 0,
      runTrial: async (c) => ({ metrics: { acc: -loss(c) } }),
      objective: { metric: "acc", mode: "max" },
    });
    expect(res.records.length).toBe(9);
    expect(res.summary.best!.config.lr).toBeCloseTo(10 ** -2.5, 12);
    expect(res.summary.best!.metric).toBe(Math.max(...res.records.map((r) => r.metric!)));
  });

  it("records a failing or NaN trial and goes on; failures rank last", async () => {
    const res = await runSearch({
      space,
      strategy: { kind: "random", trials: 6 },
      seed: 1,
      runTrial: async (c, _s, _b, i) => {
        if (i === 2) throw new Error("diverged");
        return { metric: i === 4 ? NaN : loss(c) };
      },
      objective: { metric: "val_loss", mode: "min" },
    });
    const r2 = res.records.find((r) => r.trial === 2)!;
    expect(r2.status).toBe("failed");
    expect(r2.error).toBe("diverged");
    expect(res.records.find((r) => r.trial === 4)!.metric).toBeNull();
    expect(
      res.summary.leaderboard
        .slice(-2)
        .map((r) => r.trial)
        .sort(),
    ).toEqual([2, 4]);
    expect(res.summary.failed).toBe(1);
  });

  it("keeps `parallel` trials in flight, never more", async () => {
    let inFlight = 0;
    let peak = 0;
    await runSearch({
      space,
      strategy: { kind: "random", trials: 9 },
      seed: 1,
      parallel: 3,
      runTrial: async (c) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { metric: loss(c) };
      },
      objective: { metric: "val_loss", mode: "min" },
    });
    expect(peak).toBe(3);
  });

  it("halving: each rung re-runs the best 1/eta of the previous one with the same config and seed", async () => {
    const seen: { trial: number; seed: number; budget: number; prev: number | undefined; config: Config }[] = [];
    const res = await runSearch({
      space,
      strategy: { kind: "halving", trials: 27, maxBudget: 27, eta: 3 },
      seed: 11,
      parallel: 2,
      runTrial: async (c, s, b, i, info) => {
        seen.push({ trial: i, seed: s, budget: b!, prev: info.previousBudget, config: c });
        return fake(c, s, b, i, info);
      },
      objective: { metric: "val_loss", mode: "min" },
    });
    expect(res.records.length).toBe(27 + 9 + 3 + 1);
    const budgets = [1, 3, 9, 27];
    for (let k = 1; k < budgets.length; k++) {
      const prev = res.records.filter((r) => r.rung === k - 1);
      const want = [...prev]
        .sort((a, b) => a.metric! - b.metric!)
        .slice(0, prev.length / 3)
        .map((r) => r.trial)
        .sort((a, b) => a - b);
      const got = res.records.filter((r) => r.rung === k);
      expect(got.map((r) => r.trial).sort((a, b) => a - b)).toEqual(want);
      for (const r of got) {
        const first = seen.find((s) => s.trial === r.trial && s.budget === 1)!;
        expect(r.budget).toBe(budgets[k]);
        expect(r.seed).toBe(first.seed);
        expect(r.config).toEqual(first.config);
        expect(seen.find((s) => s.trial === r.trial && s.budget === budgets[k])!.prev).toBe(budgets[k - 1]);
      }
    }
    expect(res.summary.best!.rung).toBe(3);
    expect(res.summary.leaderboard[0].budget).toBe(27);
  });

  it("writes results.jsonl and results.csv, and a second run with the same directory runs nothing", async () => {
    const dir = tmp();
    const opts = {
      space,
      strategy: { kind: "halving" as const, trials: 9, maxBudget: 9, eta: 3 },
      seed: 5,
      resultsDir: dir,
      objective: { metric: "val_loss", mode: "min" as const },
    };
    const first = await runSearch({ ...opts, runTrial: fake });
    expect(first.ran).toBe(9 + 3 + 1);
    const lines = fs.readFileSync(path.join(dir, "results.jsonl"), "utf8").trim().split("\n");
    expect(lines.length).toBe(13);
    const csv = fs.readFileSync(path.join(dir, "results.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("trial,rung,budget,seed,status,val_loss,lr,wd,epochs,duration_ms,error");
    expect(csv.length).toBe(14);
    let calls = 0;
    const again = await runSearch({ ...opts, runTrial: async (...a) => (calls++, fake(...a)) });
    expect(calls).toBe(0);
    expect(again.resumed).toBe(13);
    expect(again.summary.best).toEqual(first.summary.best);
    const board = fs.readFileSync(path.join(dir, "leaderboard.txt"), "utf8").split("\n");
    expect(board[0]).toMatch(/^rank +trial +budget +val_loss +lr +wd$/);
    expect(board[1].startsWith(`1     ${first.summary.best!.trial} `)).toBe(true);
  });

  it("re-runs the trial whose line was torn by a crash, and only that one", async () => {
    const dir = tmp();
    const opts = {
      space,
      strategy: { kind: "random" as const, trials: 6 },
      seed: 9,
      resultsDir: dir,
      objective: { metric: "val_loss", mode: "min" as const },
    };
    await runSearch({ ...opts, runTrial: fake });
    const file = path.join(dir, "results.jsonl");
    const text = fs.readFileSync(file, "utf8");
    const lines = text.trim().split("\n");
    const lastTrial = JSON.parse(lines[5]).trial;
    // keep 5 lines and half of the sixth, as if the process died inside write()
    fs.writeFileSync(file, lines.slice(0, 5).join("\n") + "\n" + lines[5].slice(0, 40));
    const calls: number[] = [];
    const res = await runSearch({ ...opts, runTrial: async (...a) => (calls.push(a[3]), fake(...a)) });
    expect(calls).toEqual([lastTrial]);
    expect(res.resumed).toBe(5);
    const { records } = parseJsonl(fs.readFileSync(file, "utf8"));
    expect(records.map((r) => r.trial).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("refuses a directory locked by a live process, takes over the lock of a dead one, and unlocks when done", async () => {
    const dir = tmp();
    const base = { space, seed: 1, resultsDir: dir, runTrial: fake, objective: { metric: "val_loss", mode: "min" as const } };
    const lock = path.join(dir, "search.lock");
    fs.writeFileSync(lock, String(process.ppid)); // the test runner's parent: alive
    await expect(runSearch({ ...base, strategy: { kind: "random", trials: 2 } })).rejects.toThrow(/another search \(pid \d+\)/);
    fs.writeFileSync(lock, "2147483646"); // no such process
    const res = await runSearch({ ...base, strategy: { kind: "random", trials: 2 } });
    expect(res.ran).toBe(2);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it("refuses a results directory that holds a different search", async () => {
    const dir = tmp();
    const base = { space, seed: 1, resultsDir: dir, runTrial: fake, objective: { metric: "val_loss", mode: "min" as const } };
    await runSearch({ ...base, strategy: { kind: "random", trials: 2 } });
    await expect(runSearch({ ...base, strategy: { kind: "random", trials: 2 }, seed: 2 })).rejects.toThrow(/different search/);
  });
});
