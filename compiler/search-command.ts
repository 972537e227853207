// `dnnc search SPEC`: turn the spec's search block into a space and a strategy, run the trials on
// worker threads (each compiles its concrete spec and trains it), append every finished trial to
// DIR/results.jsonl (resumable), print progress and the leaderboard, and write the best
// configuration as a concrete spec, DIR/best.dnn.
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { parseSpec } from "../grammar/to-ast";
import { printSpec, type SpecFile } from "../grammar/ast";
import { check } from "./check";
import { renderDiagnostics } from "../grammar/diagnostics";
import { applyConfig, type ConfigValue } from "./search-apply";
import { dnnComment, plainText } from "./escape";
import { createWorkerPool, formatLeaderboard, MAX_TRIALS, runSearch, type Space, type Strategy } from "./search";
import { DnncError } from "../runtime/errors";
import { writeFileAtomicSync } from "../runtime/node/atomic";
import { ensureDir } from "../runtime/node/fs-errors";
import { jsonDiag, readSpec } from "./cli/front";
import type { TrialJob } from "./search-worker";
import type { TrialRecord } from "./search/results";
import { initFromPath, sourcePath } from "./cli/run-spec";

function workerModule(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(d, "dist", "trial-worker.mjs");
    if (existsSync(p)) return p;
    if (existsSync(join(d, "trial-worker.mjs"))) return join(d, "trial-worker.mjs");
    d = dirname(d);
  }
  throw new DnncError("dnnc: dist/trial-worker.mjs is missing; run `npm run build`");
}

/** best.dnn: one comment line naming the searched spec (whatever its path holds), then the concrete spec. */
export function bestSpecText(specPath: string, concreteSpec: string): string {
  return (
    `# best configuration found by dnnc search over ${dnnComment(specPath)}\n` +
    "# with the winning trial's seed and epochs (dnnc train reproduces its figure); the data path is relative to this file\n" +
    concreteSpec
  );
}

/**
 * best.dnn's spec: the winning trial's configuration, its seed and its budget of epochs (a halving
 * trial's rung), so that `dnnc train DIR/best.dnn` trains that trial again and reproduces its figure
 * on the leaderboard; the data the trials read (--data, or the spec's source), as a path relative
 * to DIR, so that the file trains where it lies.
 */
export function bestSpec(ast: SpecFile, best: TrialRecord, dataDir: string, out: string, specDir = "."): string {
  const config: Record<string, ConfigValue> = { ...(best.config as Record<string, ConfigValue>), "train.seed": best.seed };
  if (best.budget !== null) config["train.epochs"] = best.budget;
  const r = applyConfig(ast, config);
  if (r.errors.length) throw new DnncError(r.errors.join("; "));
  const path = sourcePath(r.ast);
  if (path && !isAbsolute(path.value)) path.set(relative(resolve(out), resolve(dataDir)).split("\\").join("/") || ".");
  // init_from's file (fine-tuning), relative to the spec's directory: relative to DIR too
  const init = initFromPath(r.ast);
  if (init && !isAbsolute(init.value)) init.set(relative(resolve(out), resolve(specDir, init.value)).split("\\").join("/") || ".");
  return printSpec(r.ast);
}

/** `opts.json`: JSON lines on stdout, {event: "trial", ...} per finished trial, then {event: "summary", ...}. */
export async function searchCommand(
  specPath: string,
  opts: { out?: string; data?: string; quiet?: boolean; parallel?: number; json?: boolean },
): Promise<number> {
  const text = readSpec(specPath);
  const parsed = parseSpec(text, specPath);
  const checked = parsed.ast ? check(parsed.ast) : undefined;
  const diags = parsed.ast ? checked!.diagnostics : parsed.diagnostics;
  if (diags.length > 0 && !opts.json) process.stderr.write(renderDiagnostics(diags, text) + "\n");
  // like compile: the diagnostics, then one error line (under --json, in the error document)
  if (!checked?.spec) throw Object.assign(new DnncError(`${specPath}: compilation failed`), { diagnostics: diags.map(jsonDiag) });
  const spec = checked.spec;
  if (!spec.search) throw new DnncError(`${specPath}: the spec has no search block`);
  const space: Space = Object.fromEntries(spec.search.entries.map((e) => [e.path, e.dist])) as Space;
  const st = spec.search.settings as Record<string, number | string>;
  const budget = st.budget as number | undefined;
  const strategy: Strategy =
    st.strategy === "grid"
      ? { kind: "grid", steps: st.steps as number, placement: "centred", budget }
      : st.strategy === "halving"
        ? { kind: "halving", trials: st.trials as number, maxBudget: budget ?? spec.train.epochs, eta: st.eta as number }
        : { kind: "random", trials: st.trials as number, budget };
  const metric = st.metric as string;
  const mode = st.mode === "auto" ? (metric.endsWith("acc") ? "max" : "min") : (st.mode as "min" | "max");
  const dataDir = opts.data ?? (isAbsolute(spec.data.source.path) ? spec.data.source.path : resolve(dirname(specPath), spec.data.source.path));
  const out = opts.out ?? join("runs", `search-${basename(specPath).replace(/\.dnn$/, "")}`);
  ensureDir(out);
  const parallel = opts.parallel ?? (st.parallel as number);
  const pool = createWorkerPool<TrialJob, { metrics: Record<string, number | null> }>(workerModule(), "runTrial", parallel);
  const concrete = (config: Record<string, ConfigValue>) => {
    const r = applyConfig(parsed.ast!, config);
    if (r.errors.length) throw new DnncError(r.errors.join("; "));
    return printSpec(r.ast);
  };
  try {
    const { summary, records } = await runSearch({
      space,
      strategy,
      seed: spec.train.seed,
      parallel,
      resultsDir: out,
      objective: { metric, mode },
      // check() counted the grid against the same budget (E0404); this refuses it again for callers
      // that skip the check
      maxTrials: (st.trialsGiven as unknown) === true ? { trials: st.trials as number, from: "trials" } : { trials: MAX_TRIALS, from: "limit" },
      runTrial: (config, seed, b, _i) => pool.run({ specText: concrete(config as Record<string, ConfigValue>), specPath, seed, epochs: b, dataDir }),
      onProgress: (p) => {
        if (!p.record) return;
        const r = p.record as unknown as { key: string; metric: number | null; config: Record<string, unknown>; status?: string };
        if (opts.json) {
          process.stdout.write(JSON.stringify({ event: "trial", done: p.done, total: p.total, ...p.record }) + "\n");
          return;
        }
        if (opts.quiet) return;
        const cfg = Object.entries(r.config)
          .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : plainText(String(v))}`)
          .join(" ");
        process.stdout.write(`[${p.done}/${p.total}] trial ${r.key}: ${metric} ${r.metric === null ? "failed" : Number(r.metric).toFixed(4)}  ${cfg}\n`);
      },
    });
    if (!opts.json && !opts.quiet) for (const line of formatLeaderboard(summary, space)) process.stdout.write(line + "\n");
    if (summary.best) {
      writeFileAtomicSync(join(out, "best.dnn"), bestSpecText(specPath, bestSpec(parsed.ast!, summary.best, dataDir, out, dirname(specPath))));
      if (!opts.json && !opts.quiet) process.stdout.write(`wrote ${join(out, "best.dnn")}\n`);
    }
    // no trial gave a finite objective (every one failed, or diverged): nothing was found, and
    // that is an error (exit 1) with the first reason
    const nothing = summary.trials > 0 && summary.best === null;
    if (opts.json)
      process.stdout.write(
        JSON.stringify({ event: "summary", ok: !nothing, dir: out, ...summary, ...(summary.best ? { wrote: join(out, "best.dnn") } : {}) }) + "\n",
      );
    if (nothing) {
      const first = records.find((r) => r.status === "failed");
      const n = summary.trials;
      const what =
        summary.failed === n
          ? `all ${n} trial${n === 1 ? "" : "s"} failed`
          : `no trial gave a finite ${metric} (${summary.failed} of ${n} failed, the others gave NaN or Infinity)`;
      throw new DnncError(
        `search: ${what}${first?.error ? `; trial ${first.key}: ${first.error}` : ""} (see ${join(out, "results.jsonl")}; delete a trial's line to run it again)`,
      );
    }
    return 0;
  } finally {
    await pool.close();
  }
}
