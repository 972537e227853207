// Kill a search process mid-way (SIGKILL, no chance to clean up), start it again on the same
// results directory, and check that no finished trial is lost or repeated and that the resumed
// search makes the same halving decisions as one that was never interrupted.
import { describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { runSearch } from "../compiler/search/runner";
import { parseJsonl } from "../compiler/search/results";
import type { Config, Space } from "../compiler/search/space";

const root = path.resolve(__dirname, "..");
const runnerUrl = pathToFileURL(path.join(root, "compiler/search/runner.ts")).href;

const space: Space = {
  lr: { kind: "loguniform", low: 1e-4, high: 1e-1 },
  p: { kind: "uniform", low: 0, high: 0.7 },
};
const strategy = { kind: "halving" as const, trials: 9, maxBudget: 9, eta: 3 };
const loss = (c: Config, b: number) => (Math.log10(c.lr as number) + 2) ** 2 + (c.p as number) + 1 / b;

// the child: the same search, with a fake runTrial that logs its start and sleeps
const childSource = (dir: string) => `
import * as fs from "node:fs";
import { runSearch } from ${JSON.stringify(runnerUrl)};
const space = ${JSON.stringify(space)};
const loss = ${loss.toString()};
await runSearch({
  space, strategy: ${JSON.stringify(strategy)}, seed: 21, parallel: 2,
  resultsDir: ${JSON.stringify(path.join(dir, "results"))},
  objective: { metric: "val_loss", mode: "min" },
  runTrial: async (c, seed, b, i, info) => {
    fs.appendFileSync(${JSON.stringify(path.join(dir, "starts.log"))}, process.pid + " " + info.key + "\\n");
    await new Promise((r) => setTimeout(r, 80));
    return { metric: loss(c, b), metrics: { val_loss: loss(c, b) } };
  },
});
`;

function startChild(script: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", script], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
}
const exited = (ch: ChildProcess) =>
  new Promise<number | null>((resolve) => (ch.exitCode !== null ? resolve(ch.exitCode) : ch.on("exit", (code) => resolve(code))));

describe("resume after a crash", () => {
  it("loses no finished trial, repeats none, and ends like an uninterrupted search", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dnnc-resume-"));
    const script = path.join(dir, "child.mts");
    fs.writeFileSync(script, childSource(dir));
    const jsonl = path.join(dir, "results", "results.jsonl");
    const lines = () => (fs.existsSync(jsonl) ? fs.readFileSync(jsonl, "utf8").split("\n").length - 1 : 0);

    // first run: kill it once 4 of the 13 runs are recorded
    const first = startChild(script);
    let stderr = "";
    first.stderr!.on("data", (d) => (stderr += d));
    const t0 = Date.now();
    while (lines() < 4 && first.exitCode === null && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 5));
    first.kill("SIGKILL");
    await exited(first);
    expect(stderr).toBe("");
    const before = parseJsonl(fs.readFileSync(jsonl, "utf8")).records;
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(before.length).toBeLessThan(13);
    const startsBefore = fs.readFileSync(path.join(dir, "starts.log"), "utf8").trim().split("\n");

    // second run, to the end
    const second = startChild(script);
    let stderr2 = "";
    second.stderr!.on("data", (d) => (stderr2 += d));
    expect(await exited(second)).toBe(0);
    expect(stderr2).toBe("");

    const after = parseJsonl(fs.readFileSync(jsonl, "utf8")).records;
    // every run recorded before the kill is still there, first and unchanged
    expect(after.slice(0, before.length)).toEqual(before);
    // no key twice
    const keys = after.map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
    // the second process started none of the finished runs, but did start the interrupted ones
    const startsAfter = fs.readFileSync(path.join(dir, "starts.log"), "utf8").trim().split("\n").slice(startsBefore.length);
    const startedAgain = startsAfter.map((l) => l.split(" ")[1]);
    for (const r of before) expect(startedAgain).not.toContain(r.key);
    const interrupted = startsBefore.map((l) => l.split(" ")[1]).filter((k) => !before.some((r) => r.key === k));
    expect(interrupted.length).toBeGreaterThan(0);
    for (const k of interrupted) expect(startedAgain).toContain(k);

    // the same runs, promotions and metrics as a search that was never interrupted
    const clean = await runSearch({
      space,
      strategy,
      seed: 21,
      objective: { metric: "val_loss", mode: "min" },
      runTrial: async (c, _s, b) => ({ metric: loss(c, b!), metrics: { val_loss: loss(c, b!) } }),
    });
    const norm = (rs: typeof after) =>
      rs.map((r) => ({ key: r.key, seed: r.seed, config: r.config, metric: r.metric })).sort((a, b) => a.key.localeCompare(b.key));
    expect(norm(after)).toEqual(norm(clean.records));
    expect(after.length).toBe(13);
  });
});
