// dnnc predict on a model whose fitted preprocessing changes the dimension (pca(k=64) of 784
// pixels): it takes the RAW samples (784 values), applies the stored preprocessing and predicts;
// a file with another width is refused naming both sizes.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { encodePng } from "../runtime/node/png";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

describe("predict with pca(k) preprocessing", () => {
  it("reads raw 784-value samples and predicts every one", () => {
    const run = join(mkdtempSync(join(tmpdir(), "dnnc-pred-")), "run");
    const t = dnnc("train", "specs/trick-pca.dnn", "--max-steps", "5", "--out", run, "--quiet");
    expect(t.stderr).toBe("");
    expect(t.status).toBe(0);
    const p = dnnc("predict", run, "--input", "specs/data/fashion-mnist-small/t10k-images-idx3-ubyte.gz");
    expect(p.stderr).toBe("");
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split("\n");
    expect(lines.length).toBe(1001);
    expect(lines[1]).toMatch(/^0,\d,0\.\d{6}$/);
    const bad = dnnc("predict", run, "--input", "specs/data/two-moons/test.csv");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("the model takes 784");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    // PNG images cannot feed a model that takes preprocessed features: said, not guessed
    const png = join(run, "x.png");
    writeFileSync(png, encodePng(28, 28, 1, new Uint8Array(784)));
    const img = dnnc("predict", run, "--input", png);
    expect(img.status).toBe(1);
    expect(img.stderr).toContain("PNG input needs a model that takes images; this one takes 64 preprocessed features of 784 raw values");
    expect(img.stderr).not.toMatch(/\n\s+at /);
  });
});
