// The package as a user gets it (issue 20): `npm pack`, install the tarball into an empty
// temporary project (from npm's cache: --prefer-offline), and run the library contract from plain
// JavaScript in a child node (no tsx): compile a spec string, fit on arrays made there, predict,
// evaluate, save, load, predict again with identical outputs; `dnnc/runtime` imports; a bad spec
// throws diagnostics. The tarball holds what the package needs and nothing else (no tests,
// goldens, benchmarks, compiler sources). Uses the built dist/ (npm run build), as the CLI tests do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "dnnc-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const npm = (args: string[], cwd: string) =>
  execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });

const CONTRACT = `
import { compile } from "dnnc";
import * as runtime from "dnnc/runtime";
const spec = \`model moons {
  input [2]
  dense(16) -> relu
  dense(2)
  loss softmax_cross_entropy
}
train {
  seed 3
  batch 16
  epochs 5
  optimizer adam(lr=2e-2)
}\`;
const n = 96, x = new Float32Array(n * 2), y = new Int32Array(n);
for (let i = 0; i < n; i++) { x[2 * i] = Math.sin(i * 1.7); x[2 * i + 1] = Math.cos(i * 2.3); y[i] = x[2 * i] * x[2 * i + 1] > 0 ? 1 : 0; }
const trainer = await compile(spec, { file: "moons.dnn" });
const model = await trainer.fit({ x, y }, { validation: { x: x.subarray(0, 64), y: y.subarray(0, 32) } });
const p1 = model.predict(x.subarray(0, 2 * 21));
const ev = model.evaluate({ x, y });
const bytes = model.save();
const again = await trainer.load(bytes);
const p2 = again.predict(x.subarray(0, 2 * 21));
let bad;
try { await compile("model m {\\n  input [2]\\n  dense(2\\n}", { file: "bad.dnn" }); } catch (e) { bad = e.diagnostics; }
console.log(JSON.stringify({
  outputs: p1.length,
  identical: p1.every((v, i) => Object.is(v, p2[i])),
  sameBytes: Buffer.compare(Buffer.from(again.save()), Buffer.from(bytes)) === 0,
  evaluate: ev,
  safetensors: new TextDecoder().decode(bytes.subarray(8, 40)),
  epochs: model.history.epochs.length,
  valLoss: model.history.epochs[4].val_loss,
  runtime: typeof runtime.trainerApi,
  bad,
}));
model.dispose();
again.dispose();
`;

describe("npm pack + install into an empty project", () => {
  let tarball = "";
  let project = "";
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    if (!existsSync(join(repo, "dist", "lib", "index.mjs"))) await (await import(pathToFileURL(join(repo, "scripts", "build.mjs")).href)).build();
    let t = Date.now();
    // --ignore-scripts: prepare (the build) already ran; dist/ is what is packed
    const packed = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", work], repo)) as {
      filename: string;
      files: { path: string }[];
    }[];
    timings.pack = Date.now() - t;
    tarball = join(work, packed[0].filename);
    (globalThis as { __packFiles?: string[] }).__packFiles = packed[0].files.map((f) => f.path);
    project = join(work, "project");
    execFileSync("mkdir", ["-p", project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-dnnc", version: "1.0.0", private: true, type: "module" }));
    t = Date.now();
    npm(["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"], project);
    timings.install = Date.now() - t;
  }, 180_000);

  it("ships what the package needs and nothing else", () => {
    const files = (globalThis as { __packFiles?: string[] }).__packFiles!;
    expect(files).toContain("dist/lib/index.mjs");
    expect(files).toContain("dist/lib/index.d.ts");
    expect(files).toContain("dist/cli.mjs");
    expect(files).toContain("runtime/index.ts");
    expect(files).toContain("bin/dnnc.mjs");
    const stray = files.filter((f) => /^(test|bench|specs|playground|editors|compiler|grammar|scripts)\//.test(f) || /\.golden\.|\.test\.ts$/.test(f));
    expect(stray).toEqual([]);
  });

  it("runs the library contract from plain JavaScript", () => {
    const t = Date.now();
    writeFileSync(join(project, "contract.mjs"), CONTRACT);
    const r = JSON.parse(execFileSync(process.execPath, ["contract.mjs"], { cwd: project, encoding: "utf8" }).trim().split("\n").pop()!);
    timings.contract = Date.now() - t;
    expect(r.outputs).toBe(42);
    expect(r.identical).toBe(true);
    expect(r.sameBytes).toBe(true);
    expect(r.evaluate.loss).toBeGreaterThan(0);
    expect(r.evaluate.acc).toBeGreaterThanOrEqual(0);
    expect(r.safetensors).toContain("__metadata__");
    expect(r.epochs).toBe(5);
    expect(r.valLoss).toBeGreaterThan(0);
    expect(r.runtime).toBe("function");
    expect(r.bad.length).toBeGreaterThan(0);
    expect(r.bad[0]).toMatchObject({ code: expect.stringMatching(/^E\d{4}$/), line: expect.any(Number), col: expect.any(Number) });
    process.stderr.write(`library-pack: npm pack ${timings.pack} ms, install ${timings.install} ms, contract ${timings.contract} ms\n`);
  }, 120_000);

  it("installs the dnnc command too", () => {
    const out = execFileSync(join(project, "node_modules", ".bin", "dnnc"), ["--version"], { encoding: "utf8" });
    expect(out).toMatch(/\d+\.\d+\.\d+/);
  });
});
