// `dnnc train` compiles in a child process (compiler/cli/compile-child.ts) and trains in its own:
// the process that trains never loads the compiler (issue 7, peak RSS). Every module a process
// loads is logged by an ESM loader hook (--import, inherited by the compile child) plus the
// CommonJS cache at exit (ts-morph's TypeScript), one log per process; the training process is the one this test started.
// Also: the behaviours the move must keep (diagnostics, --json errors, --verbose pass lines,
// SIGINT → checkpoint and exit 130, --resume).
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-train-process-"));
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

// the hook: every module URL loaded through ESM (the CLI's chunks, the trainer, ts-morph's entry,
// prettier, esbuild) and, at exit, every CommonJS file (the TypeScript compiler in @ts-morph/common)
const hooks = join(tmp, "hooks.mjs");
writeFileSync(
  hooks,
  `import { appendFileSync } from "node:fs";
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, "esm " + url + "\\n"); return next(url, context); }
`,
);
const preload = join(tmp, "preload.mjs");
writeFileSync(
  preload,
  `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
import { threadId } from "node:worker_threads";
const log = process.env.DNNC_TEST_LOADLOG + "/" + process.pid + "-" + threadId + ".txt";
appendFileSync(log, "argv " + process.argv.slice(1).join(" ") + "\\n");
register(${JSON.stringify(new URL(`file://${hooks}`).href)}, { data: { log } });
process.on("exit", () => appendFileSync(log, Object.keys(createRequire(import.meta.url).cache).map((f) => "cjs " + f + "\\n").join("")));
`,
);

/** Lines of a log that name a compiler module: the code-generation packages, or a file defining the front end. */
function compilerModules(lines: string[]): string[] {
  return lines.filter((l) => {
    if (/\/node_modules\/(ts-morph|@ts-morph|typescript|prettier|esbuild)\//.test(l)) return true;
    const m = /^(?:esm|cjs) (.*)$/.exec(l);
    if (!m) return false;
    const file = m[1].startsWith("file:") ? fileURLToPath(m[1]) : m[1];
    if (!/\.(mjs|js|ts)$/.test(file) || !existsSync(file)) return false;
    return /\bfunction (compileToIr|generateTrainer|bundleTrainer)\b/.test(readFileSync(file, "utf8"));
  });
}

describe("dnnc train: the process that trains", () => {
  it("loads no compiler module; the compile child did (and has exited)", () => {
    const logs = join(tmp, "logs");
    mkdirSync(logs);
    const run = join(tmp, "run");
    const r = spawnSync(
      process.execPath,
      ["--import", preload, "bin/dnnc.mjs", "--verbose", "train", "specs/fashion-mlp.dnn", "--epochs", "1", "--max-steps", "3", "--no-report", "--out", run],
      {
        encoding: "utf8",
        env: { ...process.env, DNNC_TEST_LOADLOG: logs },
      },
    );
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    expect(existsSync(join(run, "model.safetensors"))).toBe(true);
    const files = readdirSync(logs);
    const own = readFileSync(join(logs, `${r.pid}-0.txt`), "utf8")
      .trim()
      .split("\n");
    // the hook saw this process load the CLI and the trainer it trained with ...
    expect(own.some((l) => l.startsWith("esm ") && l.endsWith("/dist/cli.mjs"))).toBe(true);
    expect(own.some((l) => l.startsWith("esm ") && l.endsWith("/fashion-mlp.trainer.mjs"))).toBe(true);
    // ... and nothing of the compiler
    expect(compilerModules(own)).toEqual([]);
    // the compile child: another process, which loaded the code generator (so the hook sees it)
    const others = files.filter((f) => f !== `${r.pid}-0.txt`).map((f) => readFileSync(join(logs, f), "utf8").trim().split("\n"));
    const child = others.find((l) => l[0].includes("compile-child.mjs"));
    expect(child, files.join(", ")).toBeDefined();
    expect(child!.some((l) => /\/node_modules\/ts-morph\//.test(l))).toBe(true);
    expect(child!.some((l) => /\/node_modules\/@ts-morph\/common\/dist\/typescript\.js$/.test(l))).toBe(true); // the TypeScript compiler
    expect(child!.some((l) => /\/node_modules\/prettier\//.test(l))).toBe(true);
    expect(compilerModules(child!).length).toBeGreaterThan(0);
    // --verbose: the front end's pass lines (from the child), then the trainer, in this order
    const pass = r.stderr.indexOf("dnnc:   pass parse:");
    const compiled = /dnnc: compiled by process (\d+) \(exited\); training in process (\d+), rss [\d.]+ MB/.exec(r.stderr);
    expect(pass).toBeGreaterThan(0);
    expect(compiled).not.toBeNull();
    expect(compiled!.index).toBeGreaterThan(pass);
    expect(Number(compiled![2])).toBe(r.pid);
    expect(Number(compiled![1])).not.toBe(r.pid);
    expect(r.stderr.indexOf("dnnc: training:")).toBeGreaterThan(compiled!.index);
  });

  it("a spec with errors: the diagnostics with file:line:col, exit 1, no stack; under --json one document", () => {
    const out = join(tmp, "bad");
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", "specs/errors/typo-layer.dnn", "--out", out], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("specs/errors/typo-layer.dnn:4:17");
    expect(r.stderr).toContain("unknown layer `rellu`");
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe("error: specs/errors/typo-layer.dnn: compilation failed");
    noStack(r.stderr);
    const j = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", "specs/errors/typo-layer.dnn", "--out", out, "--json"], { encoding: "utf8" });
    expect(j.status).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ ok: false, error: "specs/errors/typo-layer.dnn: compilation failed" });
    expect(doc.diagnostics[0]).toMatchObject({ file: "specs/errors/typo-layer.dnn", line: 4, col: 17, severity: "error", code: "E0201" });
    expect(j.stderr).not.toContain("-->"); // the diagnostics are in the document
    const missing = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", join(tmp, "nope.dnn")], { encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`error: ${join(tmp, "nope.dnn")}: no such file\n`);
  });

  it("SIGINT while training finishes the step, writes a checkpoint, exits 130; --resume continues the run", async () => {
    const run = join(tmp, "interrupted");
    const child = spawn(
      process.execPath,
      ["bin/dnnc.mjs", "train", "specs/fashion-mlp.dnn", "--epochs", "50", "--backend", "ts", "--no-report", "--out", run],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
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
    const code = await new Promise((r) => child.on("exit", (c) => r(c)));
    expect(err).toContain("interrupt: finishing the current step and writing a checkpoint");
    // an interrupt is not an error: a plain line saying where the checkpoint went and how to go on
    expect(err).toMatch(
      new RegExp(
        `^interrupted after step \\d+; checkpoint written to ${run}/checkpoint\\.safetensors; resume with: dnnc train specs/fashion-mlp\\.dnn --resume ${run}$`,
        "m",
      ),
    );
    expect(err).not.toContain("error:");
    noStack(err);
    expect(code).toBe(130);
    expect(existsSync(join(run, "checkpoint.safetensors"))).toBe(true);
    const step = Number(/interrupted after step (\d+)/.exec(err)![1]);
    const r = spawnSync(
      process.execPath,
      ["bin/dnnc.mjs", "train", "specs/fashion-mlp.dnn", "--resume", run, "--max-steps", String(step + 2), "--no-report", "--json"],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const last = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(last).toMatchObject({ run, files: { spec: join(run, "spec.dnn"), trainer: join(run, "fashion-mlp.trainer.mjs") } });
    expect(JSON.parse(readFileSync(join(run, "run.json"), "utf8")).steps).toBe(step + 2);
  });
});
