// What a search found: the leaderboard (each trial counted once, at the highest rung it reached),
// the best configuration, and a warning for every numeric hyperparameter whose best value lies in
// the outer 10% of its range (measured in log10 for loguniform and int-log): the optimum may lie
// outside the range, so widen it.

import { plainText } from "../escape";
import { unitPosition, type Dist, type Space, type Value } from "./space";
import { compareResults } from "./strategies";
import type { TrialRecord } from "./results";

export interface Objective {
  metric: string;
  mode: "min" | "max";
}

export interface EdgeFlag {
  path: string;
  value: number;
  low: number;
  high: number;
  side: "low" | "high";
  /** Position of value in [low, high] mapped to [0, 1] (log10 space for loguniform). */
  position: number;
  message: string;
}

export interface SearchSummary {
  objective: Objective;
  leaderboard: TrialRecord[];
  best: TrialRecord | null;
  edges: EdgeFlag[];
  trials: number;
  failed: number;
}

/** Numbers as a person writes them: 3 significant digits, exponent form for tiny or huge ones. */
export function fmt(v: Value | null | undefined): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "string") return plainText(v); // a choice value: one line, no terminal control codes
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6))
    return v
      .toExponential(2)
      .replace(/\.?0+e/, "e")
      .replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

/** Flags of best values lying within `margin` (fraction of the range) of either bound. */
export function edgeFlags(space: Space, best: TrialRecord | null, margin = 0.1): EdgeFlag[] {
  if (!best) return [];
  const flags: EdgeFlag[] = [];
  for (const p of Object.keys(space)) {
    const d: Dist = space[p];
    const v = best.config[p];
    if (d.kind === "choice" || typeof v !== "number") continue;
    if (d.kind === "int" && d.high - d.low < 2) continue; // two values: "edge" says nothing
    const pos = unitPosition(d, v);
    if (pos === null || (pos >= margin && pos <= 1 - margin)) continue;
    const side = pos < margin ? "low" : "high";
    flags.push({
      path: p,
      value: v,
      low: d.low,
      high: d.high,
      side,
      position: pos,
      message: `best ${p} ${fmt(v)} is at the ${side} edge of [${fmt(d.low)}, ${fmt(d.high)}]: widen the range`,
    });
  }
  return flags;
}

/** Leaderboard, best trial and edge flags of a set of finished runs. */
export function summarize(records: TrialRecord[], space: Space, objective: Objective, top = 10): SearchSummary {
  const last = new Map<number, TrialRecord>();
  for (const r of records) {
    const prev = last.get(r.trial);
    if (!prev || r.rung > prev.rung) last.set(r.trial, r);
  }
  const ranked = [...last.values()].sort((a, b) => b.rung - a.rung || compareResults(objective.mode, a, b));
  const best = ranked.find((r) => r.status === "ok" && r.metric !== null && Number.isFinite(r.metric)) ?? null;
  return {
    objective,
    leaderboard: ranked.slice(0, top),
    best,
    edges: edgeFlags(space, best),
    trials: last.size,
    failed: ranked.filter((r) => r.status === "failed").length,
  };
}

/** The summary as plain text lines: an aligned table, the best config, then the edge warnings. */
export function formatLeaderboard(summary: SearchSummary, space: Space): string[] {
  const paths = Object.keys(space);
  const head = ["rank", "trial", "budget", summary.objective.metric, ...paths];
  const rows = summary.leaderboard.map((r, i) => [
    String(i + 1),
    String(r.trial),
    r.budget === null ? "-" : fmt(r.budget),
    r.status === "failed" ? "failed" : fmt(r.metric),
    ...paths.map((p) => fmt(r.config[p])),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((s, c) => s.padEnd(widths[c]))
      .join("  ")
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  const b = summary.best;
  if (b) {
    out.push("");
    out.push(`best: trial ${b.trial} (seed ${b.seed}), ${summary.objective.metric} ${fmt(b.metric)} (${summary.objective.mode})`);
    for (const p of paths) out.push(`  ${p} = ${fmt(b.config[p])}`);
  } else {
    out.push("", "no trial finished successfully");
  }
  if (summary.failed > 0) out.push(`${summary.failed} of ${summary.trials} trials failed`);
  for (const e of summary.edges) out.push(`warning: ${e.message}`);
  return out;
}
