// Checkpoints and resume: a trainer killed with SIGKILL mid-epoch and resumed ends with the same
// bytes as a run never interrupted; SIGINT writes a checkpoint and exits 130; a checkpoint from
// another spec is refused.
import { describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const data = resolve("specs/data/fashion-mnist-small");
const dir = mkdtempSync(join(tmpdir(), "dnnc-ckpt-"));
execFileSync(process.execPath, ["bin/dnnc.mjs", "compile", "specs/fashion-mlp.dnn", "-o", dir]);
const trainer = join(dir, "fashion-mlp.trainer.mjs");
const common = ["--data", data, "--epochs", "2", "--backend", "wasm", "--quiet"];

function waitFor(path: string, ms: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const tick = () => (existsSync(path) ? res() : Date.now() - t0 > ms ? rej(new Error(`no ${path}`)) : setTimeout(tick, 20));
    tick();
  });
}

describe("checkpoints", () => {
  it("SIGKILL mid-epoch, then --resume: byte-identical weights", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    expect(spawnSync(process.execPath, [trainer, ...common, "--out", a]).status).toBe(0);
    const child = spawn(process.execPath, [trainer, ...common, "--out", b, "--checkpoint-steps", "7"], { stdio: "ignore" });
    await waitFor(join(b, "checkpoint.safetensors"), 30_000);
    await new Promise((r) => setTimeout(r, 150));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    expect(existsSync(join(b, "model.safetensors")), "killed before the end").toBe(false);
    const r = spawnSync(process.execPath, [trainer, ...common, "--resume", b], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(Buffer.compare(readFileSync(join(a, "model.safetensors")), readFileSync(join(b, "model.safetensors")))).toBe(0);
  });

  it("SIGINT finishes the step, writes a checkpoint and exits 130", async () => {
    const c = join(dir, "c");
    const child = spawn(process.execPath, [trainer, "--data", data, "--epochs", "50", "--backend", "ts", "--out", c], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    await new Promise<void>((res) => {
      const t = () => (out.includes("training samples") ? res() : setTimeout(t, 20));
      t();
    });
    await new Promise((r) => setTimeout(r, 800));
    child.kill("SIGINT");
    const code = await new Promise((r) => child.on("exit", (c) => r(c)));
    expect(code).toBe(130);
    expect(existsSync(join(c, "checkpoint.safetensors"))).toBe(true);
  });

  it("refuses a checkpoint of another spec", () => {
    const other = join(dir, "other");
    const src = readFileSync("specs/fashion-mlp.dnn", "utf8").replace("seed 42", "seed 43");
    writeFileSync(join(dir, "other.dnn"), src.replace('idx("data/fashion-mnist-small")', `idx("${data}")`));
    execFileSync(process.execPath, ["bin/dnnc.mjs", "compile", join(dir, "other.dnn"), "-o", other]);
    const b = join(dir, "b");
    const r = spawnSync(process.execPath, [join(other, "other.trainer.mjs"), "--resume", b, "--data", data], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/written by another spec/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
