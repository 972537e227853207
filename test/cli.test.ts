// The dnnc command line end to end: exit codes, usage errors, train → run directory (report,
// checkpoint, confusion matrix) → predict; augment-preview writes a decodable PNG; dnnc test
// passes on a fresh golden and fails on a tampered one; search writes best.dnn.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodePng } from "../runtime/node/png";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-cli-"));
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

describe("dnnc", () => {
  it("usage errors exit 2, unknown commands too", () => {
    const r = dnnc("frobnicate");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(dnnc("compile").status).toBe(2);
    expect(dnnc("compile", "specs/fashion-mlp.dnn", "--emit", "xml").status).toBe(2);
    expect(dnnc("help").status).toBe(0);
    expect(dnnc("train", "--help").stdout).toContain("Usage: dnnc train [options] [spec]");
  });
  it("check reports diagnostics with exit 1, a missing file too", () => {
    const r = dnnc("check", "specs/errors/typo-layer.dnn");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("specs/errors/typo-layer.dnn:4:17");
    const m = dnnc("check", "specs/nope.dnn");
    expect(m.status).toBe(1);
    expect(m.stderr).toContain("specs/nope.dnn: no such file");
    noStack(m.stderr);
  });
  it("compile --emit ir prints the IR", () => {
    const r = dnnc("compile", "specs/fashion-mlp.dnn", "--emit", "ir");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("fused_bn_relu_dropout");
  });
  it("train writes a run directory that predict can use", () => {
    const run = join(tmp, "run");
    const r = dnnc("train", "specs/fashion-mlp.dnn", "--epochs", "1", "--max-steps", "10", "--out", run, "--quiet");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const f of [
      "spec.dnn",
      "fashion-mlp.trainer.ts",
      "fashion-mlp.trainer.mjs",
      "metrics.jsonl",
      "model.safetensors",
      "report.html",
      "loss.svg",
      "confusion.json",
      "run.json",
    ])
      expect(existsSync(join(run, f)), f).toBe(true);
    const p = dnnc("predict", run, "--input", "specs/data/fashion-mnist-small/t10k-images-idx3-ubyte.gz");
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split("\n");
    expect(lines[0]).toBe("index,class,probability");
    expect(lines.length).toBe(1001);
    const bad = dnnc("predict", run, "--input", "specs/data/two-moons/test.csv");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("features, the model takes 784");
    noStack(bad.stderr);
  });
  it("train: relaxed SIMD's fused multiply-add by default and with --fma, the plain SIMD build with --no-fma", () => {
    for (const [flags, backend] of [
      [[], "wasm-relaxed-simd"],
      [["--fma"], "wasm-relaxed-simd"],
      [["--no-fma"], "wasm-simd128"],
    ] as const) {
      const r = dnnc("train", "specs/fashion-mlp.dnn", ...flags, "--epochs", "1", "--max-steps", "2", "--out", join(tmp, `fma${flags.join("")}`));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, flags.join(" ")).toContain(`backend ${backend} (1 thread)`); // Node 20 on x86-64
    }
  });
  it("augment-preview writes a PNG that decodes", () => {
    const out = join(tmp, "grid.png");
    const r = dnnc("augment-preview", "specs/fashion-cnn-aug.dnn", "-o", out, "--samples", "3");
    expect(r.status).toBe(0);
    const img = decodePng(new Uint8Array(readFileSync(out)), out);
    expect(img.width).toBeGreaterThan(8 * 28);
    expect(img.height).toBeGreaterThan(3 * 28);
  });
  it("dnnc test: writes a golden, passes against it, fails on a tampered one", () => {
    const d = join(tmp, "gold");
    mkdirSync(d);
    const spec = readFileSync("specs/fashion-mlp.dnn", "utf8")
      .replace('idx("data/fashion-mnist-small")', `idx("${resolve("specs/data/fashion-mnist-small")}")`)
      .replace("  seed 42", "  seed 42\n  golden(steps=5, tolerance=1e-5)");
    writeFileSync(join(d, "g.dnn"), spec);
    expect(dnnc("test", join(d, "g.dnn"), "--update").status).toBe(0);
    const ok = dnnc("test", join(d, "g.dnn"));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("1 passed, 0 failed");
    const g = JSON.parse(readFileSync(join(d, "g.golden.json"), "utf8"));
    g.lossTrace[3] *= 1.01;
    writeFileSync(join(d, "g.golden.json"), JSON.stringify(g));
    const bad = dnnc("test", join(d, "g.dnn"));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("step 4: loss");
  });
  it("search runs trials and writes the best configuration as a spec that compiles", () => {
    const d = join(tmp, "search");
    mkdirSync(d);
    copyFileSync("specs/data/two-moons/train.csv", join(d, "train.csv"));
    copyFileSync("specs/data/two-moons/test.csv", join(d, "test.csv"));
    writeFileSync(
      join(d, "s.dnn"),
      `model s {\n input [2]\n dense(8) -> relu\n dense(2)\n loss softmax_cross_entropy\n}\ndata {\n source csv(".")\n validation 0.2\n}\ntrain {\n seed 1\n batch 32\n epochs 2\n optimizer sgd(lr=0.1)\n}\nsearch {\n trials 3\n parallel 2\n train.optimizer.lr: loguniform(1e-3, 1)\n model.dense[0].units: int(2, 16)\n}\n`,
    );
    const r = dnnc("search", join(d, "s.dnn"), "-o", join(d, "out"), "--quiet");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(
      readFileSync(join(d, "out", "results.jsonl"), "utf8")
        .trim()
        .split("\n").length,
    ).toBe(3);
    // best.dnn checks where it is written (its data path is relative to out/; check reads the data)
    const c = dnnc("check", join(d, "out", "best.dnn"));
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
  });
});
