// The example spec end to end: `dnnc compile`, then the bundled .mjs copied to a directory outside
// the repo and run there with Node alone; metrics.jsonl and model.safetensors are checked; two runs
// with the same seed give byte-identical weights; the loss trace of a short run matches its golden;
// the generated trainer type-checks under strict.
import { describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { decodeSafetensors } from "../runtime/safetensors";
import { compileProgram } from "./helpers/compile";
import { train } from "../runtime/train-loop";
import { createBackend } from "../runtime/backend-create";
import { loadIdxDir } from "../runtime/node/load-idx";

const data = resolve("specs/data/fashion-mnist-small");
const spec = readFileSync("specs/fashion-mlp.dnn", "utf8");

function compileToTemp(): string {
  const out = mkdtempSync(join(tmpdir(), "dnnc-e2e-"));
  execFileSync(process.execPath, ["bin/dnnc.mjs", "compile", "specs/fashion-mlp.dnn", "-o", out], { encoding: "utf8" });
  return out;
}

describe("compiled trainer", () => {
  const out = compileToTemp();
  it("writes a .ts and a self-contained .mjs", () => {
    expect(existsSync(join(out, "fashion-mlp.trainer.ts"))).toBe(true);
    const mjs = readFileSync(join(out, "fashion-mlp.trainer.mjs"), "utf8");
    const imports = [...mjs.matchAll(/^import .* from "([^"]+)"/gm)].map((m) => m[1]);
    for (const m of imports) expect(m.startsWith("node:"), `imports ${m}`).toBe(true);
  });

  it("runs from a directory outside the repo and writes metrics and safetensors", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "dnnc-run-"));
    copyFileSync(join(out, "fashion-mlp.trainer.mjs"), join(elsewhere, "trainer.mjs"));
    const run = (dir: string) =>
      spawnSync(process.execPath, ["trainer.mjs", "--data", data, "--epochs", "1", "--max-steps", "15", "--seed", "7", "--out", dir, "--quiet"], {
        cwd: elsewhere,
        encoding: "utf8",
      });
    const r1 = run("run1");
    expect(r1.stderr).toBe("");
    expect(r1.status).toBe(0);
    const lines = readFileSync(join(elsewhere, "run1", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(Object.keys(lines[0]).sort()).toEqual(["epoch", "lr", "seconds", "train_acc", "train_loss", "val_acc", "val_loss"].sort());
    expect(lines[lines.length - 1]).toHaveProperty("test_acc");
    expect(lines[lines.length - 1]).toHaveProperty("test_loss");
    const st = readFileSync(join(elsewhere, "run1", "model.safetensors"));
    const dec = decodeSafetensors(new Uint8Array(st), "model.safetensors");
    expect(dec.metadata.spec_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(dec.metadata.dnnc_version).toBe("0.1.0");
    expect(dec.tensors.map((t) => t.name)).toContain("dense_0.weight");
    // same seed: identical bytes
    const r2 = run("run2");
    expect(r2.status).toBe(0);
    expect(Buffer.compare(st, readFileSync(join(elsewhere, "run2", "model.safetensors")))).toBe(0);
  });

  it("the relaxed-SIMD GEMM by default (--fma explicitly), --no-fma the plain one: each deterministic, the same training within float32 rounding", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "dnnc-fma-"));
    copyFileSync(join(out, "fashion-mlp.trainer.mjs"), join(elsewhere, "trainer.mjs"));
    const run = (dir: string, ...extra: string[]) => {
      const r = spawnSync(
        process.execPath,
        ["trainer.mjs", "--data", data, "--epochs", "1", "--max-steps", "15", "--seed", "7", "--out", dir, "--backend", "wasm", ...extra],
        {
          cwd: elsewhere,
          encoding: "utf8",
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const weights = decodeSafetensors(new Uint8Array(readFileSync(join(elsewhere, dir, "model.safetensors"))), "model.safetensors");
      const w = weights.tensors.find((t) => t.name === "dense_0.weight")!.data as Float32Array;
      return { stdout: r.stdout, bytes: readFileSync(join(elsewhere, dir, "model.safetensors")), w };
    };
    const plain = run("plain", "--no-fma");
    const fma1 = run("fma1");
    const fma2 = run("fma2", "--fma");
    const plain2 = run("plain2", "--no-fma");
    expect(Buffer.compare(plain.bytes, plain2.bytes)).toBe(0);
    expect(plain.stdout).toMatch(/backend wasm-simd128 \(1 thread\)/);
    expect(fma1.stdout).toMatch(/backend wasm-relaxed-simd \(1 thread\)/); // Node 20 on x86-64
    expect(Buffer.compare(fma1.bytes, fma2.bytes)).toBe(0);
    let maxDiff = 0;
    let differ = 0;
    for (let i = 0; i < plain.w.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(plain.w[i] - fma1.w[i]));
      if (plain.w[i] !== fma1.w[i]) differ++;
    }
    expect(differ).toBeGreaterThan(0); // the fused multiply-adds did run
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("rejects a bad flag with exit code 2 and no stack trace", () => {
    const r = spawnSync(process.execPath, [join(out, "fashion-mlp.trainer.mjs"), "--epochs", "zero"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--epochs: expected an integer >= 1, got "zero"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("names the file of a corrupt data set", () => {
    const bad = mkdtempSync(join(tmpdir(), "dnnc-bad-"));
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
      copyFileSync(join(data, f), join(bad, f));
    writeFileSync(join(bad, "train-labels-idx1-ubyte.gz"), Buffer.from("not gzip at all"));
    const r = spawnSync(process.execPath, [join(out, "fashion-mlp.trainer.mjs"), "--data", bad, "--epochs", "1"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("train-labels-idx1-ubyte");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("loss trace", () => {
  it("20 steps match the committed golden (ts backend)", async () => {
    const { program } = await compileProgram(spec, "specs/fashion-mlp.dnn");
    const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
    const model = program.create(be, 42);
    model.init();
    const ds = loadIdxDir(data);
    const r = train(program, be, model, ds, { maxSteps: 20, epochs: 1 });
    be.close();
    const golden = "test/golden/fashion-mlp.loss-trace.json";
    if (process.env.UPDATE_GOLDENS === "1" || !existsSync(golden)) writeFileSync(golden, JSON.stringify(r.lossTrace, null, 1) + "\n");
    const want = JSON.parse(readFileSync(golden, "utf8")) as number[];
    expect(r.lossTrace.length).toBe(20);
    for (let i = 0; i < 20; i++) expect(Math.abs(r.lossTrace[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[i])));
    expect(r.lossTrace[19]).toBeLessThan(r.lossTrace[0]);
  });
  it("the wasm backend follows the same trace closely", async () => {
    const { program } = await compileProgram(spec, "specs/fashion-mlp.dnn");
    const be = await createBackend(program.meta.heapFloats, { backend: "wasm" });
    const model = program.create(be, 42);
    model.init();
    const r = train(program, be, model, loadIdxDir(data), { maxSteps: 20, epochs: 1 });
    be.close();
    const want = JSON.parse(readFileSync("test/golden/fashion-mlp.loss-trace.json", "utf8")) as number[];
    for (let i = 0; i < 20; i++) expect(Math.abs(r.lossTrace[i] - want[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(want[i])));
  });
});

describe("type checking", () => {
  it("the generated trainer type-checks under strict", async () => {
    const { ts } = await compileProgram(spec, "specs/fashion-mlp.dnn");
    const { Project } = await import("ts-morph");
    const root = resolve(".");
    const project = new Project({
      compilerOptions: {
        strict: true,
        target: 9 /* ES2022 */,
        module: 99 /* ESNext */,
        moduleResolution: 100 /* Bundler */,
        skipLibCheck: true,
        noEmit: true,
        types: ["node"],
        baseUrl: root,
        paths: { "dnnc/runtime": ["runtime/index.ts"], "dnnc/runtime/node": ["runtime/node/index.ts"] },
      },
    });
    const file = project.createSourceFile(join(root, "test", "__generated__.trainer.ts"), ts, { overwrite: true });
    project.resolveSourceFileDependencies();
    const diags = project.getPreEmitDiagnostics().filter((d) => d.getSourceFile()?.getFilePath() === file.getFilePath());
    expect(project.formatDiagnosticsWithColorAndContext(diags)).toBe("");
  });
});
