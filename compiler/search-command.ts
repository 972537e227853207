// `dnnc search SPEC`: turn the spec's search block into a space and a strategy, run the trials on
// worker threads (each compiles its concrete spec and trains it), append every finished trial to
// DIR/results.jsonl (resumable), print progress and the leaderboard, and write the best
// configuration as a concrete spec, DIR/best.dnn.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { parseSpec } from "../grammar/to-ast";
import { printSpec } from "../grammar/ast";
import { check } from "./check";
import { renderDiagnostics } from "./diagnostics";
import { applyConfig, type ConfigValue } from "./search-apply";
import { dnnComment, plainText } from "./escape";
import { createWorkerPool, formatLeaderboard, runSearch, type Space, type Strategy } from "./search";
import { DnncError } from "../runtime/errors";
import type { TrialJob } from "./search-worker";

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
  return `# best configuration found by dnnc search over ${dnnComment(specPath)}\n` + concreteSpec;
}

/** `opts.json`: JSON lines on stdout, {event: "trial", ...} per finished trial, then {event: "summary", ...}. */
export async function searchCommand(specPath: string, opts: { out?: string; data?: string; quiet?: boolean; parallel?: number; json?: boolean }): Promise<number> {
  const { readFileSync } = await import("node:fs");
  if (!existsSync(specPath)) throw new DnncError(`${specPath}: no such file`);
  const text = readFileSync(specPath, "utf8");
  const parsed = parseSpec(text, specPath);
  const checked = parsed.ast ? check(parsed.ast) : undefined;
  const diags = parsed.ast ? checked!.diagnostics : parsed.diagnostics;
  if (diags.length > 0 && !opts.json) process.stderr.write(renderDiagnostics(diags, text) + "\n");
  if (!checked?.spec) return 1;
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
  mkdirSync(out, { recursive: true });
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
      runTrial: (config, seed, b, _i) =>
        pool.run({ specText: concrete(config as Record<string, ConfigValue>), specPath, seed, epochs: b, dataDir }),
      onProgress: (p) => {
        if (!p.record) return;
        const r = p.record as unknown as { key: string; metric: number | null; config: Record<string, unknown>; status?: string };
        if (opts.json) {
          process.stdout.write(JSON.stringify({ event: "trial", done: p.done, total: p.total, ...p.record }) + "\n");
          return;
        }
        if (opts.quiet) return;
        const cfg = Object.entries(r.config).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : plainText(String(v))}`).join(" ");
        process.stdout.write(`[${p.done}/${p.total}] trial ${r.key}: ${metric} ${r.metric === null ? "failed" : Number(r.metric).toFixed(4)}  ${cfg}\n`);
      },
    });
    void records;
    if (!opts.json && !opts.quiet) for (const line of formatLeaderboard(summary, space)) process.stdout.write(line + "\n");
    if (summary.best) {
      const best = concrete(summary.best.config as Record<string, ConfigValue>);
      writeFileSync(join(out, "best.dnn"), bestSpecText(specPath, best));
      if (!opts.json && !opts.quiet) process.stdout.write(`wrote ${join(out, "best.dnn")}\n`);
    }
    if (opts.json)
      process.stdout.write(JSON.stringify({ event: "summary", ok: true, dir: out, ...summary, ...(summary.best ? { wrote: join(out, "best.dnn") } : {}) }) + "\n");
    return 0;
  } finally {
    await pool.close();
  }
}
