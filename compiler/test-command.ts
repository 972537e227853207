// `dnnc test [SPECS...]`: golden-output tests for users. For each spec: compile, train the number
// of steps its `golden(steps, tolerance)` setting names (default 10 steps, tolerance 1e-4) on its
// data, and compare the loss trace and the final test metrics with `<spec>.golden.json` beside the
// spec (relative error, floor 1). `--update` writes the goldens. Exit 1 on any mismatch, and on a
// missing or malformed golden (CI must not pass by writing the golden it was meant to check).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { initFromFile, loadInitFromFile } from "../runtime/node/init-from-file";
import { pathToFileURL } from "node:url";
import { dataPathOf, readDataFacts } from "./data-facts";
import { compileToIr } from "./pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";
import { generateTrainer } from "./codegen/emit-trainer";
import { bundleTrainer } from "./codegen/bundle";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";
import { DnncError } from "../runtime/errors";
import { writeFileAtomicSync } from "../runtime/node/atomic";
import { describeFsError } from "../runtime/node/fs-errors";
import type { Program } from "../runtime/program";

export interface Golden {
  spec: string;
  steps: number;
  lossTrace: number[];
  test_loss: number | null;
  test_acc: number | null;
}

export interface SpecTestResult {
  spec: string;
  ok: boolean;
  updated: boolean;
  message: string;
  seconds: number;
  /** What differed, for --json: the step (1-based) or metric, the values and the tolerance. */
  diff?: { step?: number; metric?: string; got: number | null; want: number | null; tolerance: number };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));

/**
 * Read and check `<spec>.golden.json`: a golden must hold `steps` (an integer >= 1), `lossTrace`
 * (a list of numbers, null where a loss was not finite), `test_loss` and `test_acc` (a number or
 * null), and optionally `spec` (a string). Returns the golden or the reason naming the file and
 * the field.
 */
export function readGolden(path: string): Golden | { error: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { error: describeFsError(e, path) ?? `${path}: cannot read (${(e as Error).message})` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `${path}: not valid JSON (${(e as Error).message}); rewrite it with dnnc test --update` };
  }
  const bad = (why: string) => ({ error: `${path}: ${why}; rewrite it with dnnc test --update` });
  if (typeof v !== "object" || v === null || Array.isArray(v)) return bad("expected a JSON object");
  const g = v as Record<string, unknown>;
  for (const k of ["steps", "lossTrace", "test_loss", "test_acc"]) if (!Object.hasOwn(g, k)) return bad(`missing field "${k}"`);
  if (typeof g.steps !== "number" || !Number.isInteger(g.steps) || g.steps < 1) return bad(`"steps" must be an integer >= 1, got ${JSON.stringify(g.steps)}`);
  if (!Array.isArray(g.lossTrace)) return bad(`"lossTrace" must be a list of numbers, got ${JSON.stringify(g.lossTrace)?.slice(0, 40)}`);
  const i = g.lossTrace.findIndex((x) => x !== null && (typeof x !== "number" || !Number.isFinite(x)));
  if (i >= 0) return bad(`"lossTrace"[${i}] must be a number, got ${JSON.stringify(g.lossTrace[i])?.slice(0, 40)}`);
  for (const k of ["test_loss", "test_acc"] as const)
    if (g[k] !== null && (typeof g[k] !== "number" || !Number.isFinite(g[k])))
      return bad(`"${k}" must be a number or null, got ${JSON.stringify(g[k])?.slice(0, 40)}`);
  if (g.spec !== undefined && typeof g.spec !== "string") return bad(`"spec" must be a string, got ${JSON.stringify(g.spec)?.slice(0, 40)}`);
  return {
    spec: (g.spec as string | undefined) ?? "",
    steps: g.steps,
    lossTrace: g.lossTrace as number[],
    test_loss: g.test_loss as number | null,
    test_acc: g.test_acc as number | null,
  };
}

export function goldenPathOf(specPath: string): string {
  return specPath.replace(/\.dnn$/, "") + ".golden.json";
}

/**
 * One spec's golden test. Without `update`, a missing or malformed golden fails the test (before
 * training: nothing to compare with) and says how to write one; `update` writes it, atomically.
 */
export async function runSpecTest(specPath: string, update: boolean, backend: "auto" | "wasm" | "ts" = "auto"): Promise<SpecTestResult> {
  const t0 = performance.now();
  const fail = (message: string, seconds = 0): SpecTestResult => ({ spec: specPath, ok: false, updated: false, message, seconds });
  let text: string;
  try {
    text = readFileSync(specPath, "utf8");
  } catch (e) {
    return fail(describeFsError(e, specPath) ?? `${specPath}: cannot read (${(e as Error).message})`);
  }
  const r = compileToIr(text, specPath, { facts: (spec) => readDataFacts(spec, dataPathOf(spec, specPath)) });
  if (!r.ir) return fail(renderDiagnostics(r.diagnostics, text));
  const goldenPath = goldenPathOf(specPath);
  let want: Golden | undefined;
  if (!update) {
    if (!existsSync(goldenPath)) return fail(`no golden ${goldenPath}; run dnnc test --update ${specPath} to write it`);
    const g = readGolden(goldenPath);
    if ("error" in g) return fail(g.error);
    want = g;
  }
  const steps = r.ir.train.golden?.steps ?? 10;
  const tol = r.ir.train.golden?.tolerance ?? 1e-4;
  const src = r.ir.data.source.path;
  const dataDir = isAbsolute(src) ? src : resolve(dirname(specPath), src);
  const dir = mkdtempSync(join(tmpdir(), "dnnc-test-"));
  let got: Golden;
  try {
    const file = join(dir, "t.trainer.mjs");
    const initFrom = r.ir.initFrom !== undefined ? initFromFile(resolve(dirname(specPath), r.ir.initFrom)) : undefined;
    writeFileSync(file, await bundleTrainer((await generateTrainer(r.ir, { dataPath: dataDir, ...(initFrom ? { initFrom } : {}) })).text, "t.trainer.ts"));
    const { program } = (await import(pathToFileURL(file).href)) as { program: Program };
    const data = loadData(program, dataDir);
    const be = await createBackend(program.meta.heapFloats, { backend, threads: 1 });
    try {
      const model = program.create(be, program.train.seed);
      model.init();
      if (program.meta.initFrom !== undefined) loadInitFromFile(program, be.H, program.meta.initFrom);
      const res = train(program, be, model, data, { maxSteps: steps, epochs: 1_000_000 });
      got = { spec: specPath, steps, lossTrace: res.lossTrace, test_loss: res.test_loss, test_acc: res.test_acc };
    } finally {
      be.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!want) {
    writeFileAtomicSync(goldenPath, JSON.stringify(got, null, 1) + "\n");
    return { spec: specPath, ok: true, updated: true, message: `wrote ${goldenPath}`, seconds };
  }
  if (want.lossTrace.length !== got.lossTrace.length)
    return fail(
      `${goldenPath} has ${want.lossTrace.length} steps, the run made ${got.lossTrace.length} (the spec's golden(steps=...) changed? rewrite it with --update)`,
      seconds,
    );
  for (let i = 0; i < got.lossTrace.length; i++)
    if (!(rel(got.lossTrace[i], want.lossTrace[i]) <= tol))
      return {
        spec: specPath,
        ok: false,
        updated: false,
        message: `step ${i + 1}: loss ${got.lossTrace[i]} vs golden ${want.lossTrace[i]} (tolerance ${tol})`,
        seconds,
        diff: { step: i + 1, got: got.lossTrace[i], want: want.lossTrace[i], tolerance: tol },
      };
  for (const k of ["test_loss", "test_acc"] as const) {
    const a = got[k];
    const b = want[k];
    if ((a === null) !== (b === null) || (a !== null && b !== null && !(rel(a, b) <= tol)))
      return {
        spec: specPath,
        ok: false,
        updated: false,
        message: `${k}: ${a} vs golden ${b} (tolerance ${tol})`,
        seconds,
        diff: { metric: k, got: a, want: b, tolerance: tol },
      };
  }
  return { spec: specPath, ok: true, updated: false, message: `${steps} steps`, seconds };
}

export async function testCommand(specs: string[], update: boolean, quiet = false, opts: { json?: boolean } = {}): Promise<number> {
  let passed = 0;
  let failed = 0;
  const results: SpecTestResult[] = [];
  for (const s of specs) {
    if (!existsSync(s)) throw new DnncError(`${s}: no such file`);
    const r = await runSpecTest(s, update);
    results.push(r);
    if (r.ok) passed++;
    else failed++;
    if (!opts.json && (!quiet || !r.ok)) process.stdout.write(`${r.ok ? (r.updated ? "u" : "✓") : "✗"} ${r.spec}  ${r.message}  (${r.seconds.toFixed(1)} s)\n`);
  }
  if (opts.json) process.stdout.write(JSON.stringify({ ok: failed === 0, passed, failed, results }) + "\n");
  else if (!quiet || failed > 0) process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
