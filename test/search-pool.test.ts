import { afterAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { threadId } from "node:worker_threads";
import { createWorkerPool, runInWorkers } from "../compiler/search/pool";
import { runSearch } from "../compiler/search/runner";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dnnc-pool-"));
const mjs = path.join(dir, "trial.mjs");
fs.writeFileSync(
  mjs,
  `import { threadId } from "node:worker_threads";
export function square(job) {
  if (job.fail) throw new Error("bad job " + job.x);
  if (job.exit) process.exit(3);
  const t = Date.now(); while (Date.now() - t < (job.ms ?? 0)) {}   // CPU-bound, like training
  return { y: job.x * job.x, threadId };
}
export function trial({ config, budget }) {
  const t = Date.now(); while (Date.now() - t < 10) {}
  return { metric: (Math.log10(config.lr) + 2) ** 2 + 1 / budget, threadId };
}
export async function later(job) { await new Promise((r) => setTimeout(r, 5)); return job + 1; }
`,
);
// a TypeScript trial module, as the lead's compile-and-train entry will be
const ts = path.join(dir, "trial.ts");
const rngPath = JSON.stringify(path.resolve(__dirname, "../runtime/rng"));
fs.writeFileSync(
  ts,
  `import { hash3 } from ${rngPath};\nexport function typed(job: { x: number }): number { const k: number = 3; return job.x * k + (hash3(1, 2, 3) >= 0 ? 0 : 1); }\n`,
);

describe("runInWorkers", () => {
  it("returns results in job order, computed off the main thread on `parallel` workers", async () => {
    const jobs = Array.from({ length: 8 }, (_, x) => ({ x, ms: 15 }));
    const out = await runInWorkers<{ x: number }, { y: number; threadId: number }>(mjs, "square", jobs, 2);
    expect(out.map((o) => o.y)).toEqual(jobs.map((j) => j.x * j.x));
    const threads = new Set(out.map((o) => o.threadId));
    expect(threads.size).toBe(2);
    expect(threads.has(threadId)).toBe(false);
  });

  it("awaits async exports", async () => {
    expect(await runInWorkers(mjs, "later", [1, 2, 3], 2)).toEqual([2, 3, 4]);
  });

  it("rejects with the job's error message", async () => {
    await expect(runInWorkers(mjs, "square", [{ x: 1 }, { x: 7, fail: true }], 2)).rejects.toThrow("bad job 7");
  });

  it("names a missing export", async () => {
    await expect(runInWorkers(mjs, "nope", [1], 1)).rejects.toThrow(/no exported function nope/);
  });

  it("runs a .ts module (through tsx's CommonJS hook), imports included", async () => {
    expect(await runInWorkers(ts, "typed", [{ x: 2 }, { x: 5 }], 2)).toEqual([6, 15]);
  });
});

describe("createWorkerPool", () => {
  const pool = createWorkerPool<{ x: number; exit?: boolean; ms?: number }, { y: number }>(mjs, "square", 2);
  afterAll(() => pool.close());

  it("fails the job of a worker that dies, replaces the worker, and keeps serving", async () => {
    await expect(pool.run({ x: 1, exit: true })).rejects.toThrow(/died: exit code 3/);
    const ys = await Promise.all([3, 4, 5].map((x) => pool.run({ x })));
    expect(ys.map((r) => r.y)).toEqual([9, 16, 25]);
  });
});

describe("runSearch on a worker pool", () => {
  it("runs CPU-bound trials on 2 threads and records their results", async () => {
    const pool = createWorkerPool<object, { metric: number; threadId: number }>(mjs, "trial", 2);
    const threads = new Set<number>();
    try {
      const res = await runSearch({
        space: { lr: { kind: "loguniform", low: 1e-4, high: 1e-1 } },
        strategy: { kind: "random", trials: 6, budget: 4 },
        seed: 1,
        parallel: 2,
        objective: { metric: "val_loss", mode: "min" },
        runTrial: async (config, seed, budget, trialIndex) => {
          const r = await pool.run({ config, seed, budget, trialIndex });
          threads.add(r.threadId);
          return { metric: r.metric };
        },
      });
      expect(res.records.length).toBe(6);
      for (const r of res.records) expect(r.metric).toBeCloseTo((Math.log10(r.config.lr as number) + 2) ** 2 + 0.25, 12);
      expect(threads.size).toBe(2);
    } finally {
      await pool.close();
    }
  });
});
