// SIGINT (Ctrl-C) during training (issue 16, item 15): exit 130, as shells report an interrupted
// command, and one plain line, not an "error:" line, that says where the checkpoint went and the
// command that resumes it (docs/cli.md, exit codes). The CLI's own line (`dnnc train ... --resume
// DIR`) is tested in test/train-process.test.ts; this is the generated trainer's (runMain).
import { describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-interrupt-"));
const data = resolve("specs/data/fashion-mnist-small");
writeFileSync(join(tmp, "m.dnn"), readFileSync("specs/fashion-mlp.dnn", "utf8").replace('idx("data/fashion-mnist-small")', `idx("${data}")`));
execFileSync(process.execPath, ["bin/dnnc.mjs", "compile", join(tmp, "m.dnn"), "-o", join(tmp, "c"), "--emit", "ts"]);
const trainer = join(tmp, "c", "m.trainer.mjs");

/** Start the trainer, wait for its first line, let it train a moment, send SIGINT; its exit code and stderr. */
async function interrupt(args: string[]): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [trainer, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((res) => {
    const t = () => (out.includes("training samples") || child.exitCode !== null ? res() : setTimeout(t, 20));
    t();
  });
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  return { code, err };
}

describe("SIGINT in a generated trainer", () => {
  it("exits 130 with a plain line naming the checkpoint and the command that resumes; that command works", async () => {
    const run = join(tmp, "run");
    const { code, err } = await interrupt(["--epochs", "50", "--backend", "ts", "--out", run]);
    expect(code).toBe(130);
    expect(err).not.toContain("error:");
    expect(err).not.toMatch(/\n\s+at /);
    const m = new RegExp(
      `^interrupted after step (\\d+); checkpoint written to ${run}/checkpoint\\.safetensors; resume with: node ${trainer} --resume ${run} --epochs 50 --backend ts$`,
      "m",
    ).exec(err);
    expect(m, err).not.toBeNull();
    expect(existsSync(join(run, "checkpoint.safetensors"))).toBe(true);
    const step = Number(m![1]);
    const r = spawnSync(process.execPath, [trainer, "--resume", run, "--epochs", "50", "--backend", "ts", "--max-steps", String(step + 2), "--quiet"], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(run, "run.json"), "utf8")).steps).toBe(step + 2);
  });

  it("without --out it says that nothing was written", async () => {
    const { code, err } = await interrupt(["--epochs", "50", "--backend", "ts"]);
    expect(code).toBe(130);
    expect(err).toMatch(/^interrupted after step \d+ \(no --out: no checkpoint was written\)$/m);
    expect(err).not.toContain("error:");
  });
});
