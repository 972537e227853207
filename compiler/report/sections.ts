// The report's sections beyond the epoch curves: the per-step loss (raw and smoothed, linear and
// log), the per-step learning rate with the warm-up marked, each run's details (dates, seed, every
// setting, the spec), per-class precision/recall/F1, a gallery of misclassified test images, and
// predicted-vs-true and residual plots for regression. Each returns HTML (or SVG) strings; every
// user string goes through htmlText/htmlAttr.
import { htmlAttr, htmlText } from "../escape";
import type { Run, RunPredictions } from "./render";
import { lineChart, PALETTE, scatterChart, type LegendEntry, type Series, type VLine } from "./svg";

/** The smoothing weight the page opens with (TensorBoard's default). */
export const DEFAULT_SMOOTHING = 0.6;
/** The most per-step values a run embeds for the page's script (longer traces: means of equal blocks). */
export const MAX_EMBEDDED_STEPS = 20_000;

/** Exponential moving average with TensorBoard's debiasing; non-finite values stay gaps (null). */
export function smooth(ys: ArrayLike<number>, w: number): (number | null)[] {
  const out: (number | null)[] = new Array(ys.length);
  let last = 0;
  let k = 0;
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (!Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    k++;
    last = last * w + (1 - w) * v;
    out[i] = w > 0 ? last / (1 - w ** k) : v;
  }
  return out;
}

/** At most `max` values: means of equal blocks (with the block's first step as x), else all of them. */
export function embeddedSteps(ys: ArrayLike<number>, max = MAX_EMBEDDED_STEPS): { x0: number; dx: number; y: (number | null)[] } {
  const n = ys.length;
  if (n <= max) return { x0: 1, dx: 1, y: Array.from(ys, (v) => (Number.isFinite(v) ? v : null)) };
  const b = Math.ceil(n / max);
  const y: (number | null)[] = [];
  for (let s = 0; s < n; s += b) {
    let sum = 0;
    let c = 0;
    for (let i = s; i < Math.min(n, s + b); i++)
      if (Number.isFinite(ys[i])) {
        sum += ys[i];
        c++;
      }
    y.push(c > 0 ? sum / c : null);
  }
  return { x0: 1, dx: b, y };
}

/** The per-step loss charts (linear and log y) of the runs that have a trace; the raw curves faint, the smoothed ones solid. */
export function stepLossCharts(runs: Run[]): { linear: string; log: string | undefined; data: string } | undefined {
  const withSteps = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.stepLoss && r.stepLoss.length > 0);
  if (withSteps.length === 0) return undefined;
  const embedded = withSteps.map(({ r, i }) => ({ run: i, ...embeddedSteps(r.stepLoss!) }));
  const series: Series[] = [];
  const legend: LegendEntry[] = [];
  for (const e of embedded) {
    const color = PALETTE[e.run % PALETTE.length];
    const raw = e.y.map((y, j) => ({ x: e.x0 + j * e.dx, y }));
    const sm = smooth(
      e.y.map((y) => y ?? NaN),
      DEFAULT_SMOOTHING,
    ).map((y, j) => ({ x: e.x0 + j * e.dx, y }));
    series.push({ name: `${runs[e.run].name} — every step`, color, points: raw, key: `raw-${e.run}`, opacity: 0.25, strokeWidth: 1, noMarkers: true });
    series.push({ name: `${runs[e.run].name} — smoothed`, color, points: sm, key: `smooth-${e.run}`, noMarkers: true });
    legend.push({ name: runs[e.run].name, color, kind: "line" });
  }
  const opts = { title: "Training loss per step", xLabel: "step", series, legend, xInteger: true, data: { steps: "1" } };
  const linear = lineChart({ ...opts, yLabel: "loss" });
  if (!linear) return undefined;
  const log = lineChart({ ...opts, yLabel: "loss (log scale)", yLog: true });
  // numbers only (and keys we chose): nothing here can end the <script> element that holds it
  const data = JSON.stringify({ smoothing: DEFAULT_SMOOTHING, runs: embedded });
  return { linear, log, data };
}

/**
 * The step where a warm-up ends: where the rate last rises in the non-decreasing stretch it starts
 * with (a per-step ramp, or a staircase of per-epoch rises); undefined when it does not rise.
 */
export function warmupEnd(points: [number, number][]): number | undefined {
  let end: number | undefined;
  for (let i = 0; i + 1 < points.length && points[i + 1][1] >= points[i][1]; i++) if (points[i + 1][1] > points[i][1]) end = points[i + 1][0];
  return end;
}

/** The learning rate of every step (runs with lr_steps), with the end of each warm-up marked. */
export function stepLrChart(runs: Run[]): string | undefined {
  const series: Series[] = [];
  const vlines: VLine[] = [];
  runs.forEach((r, i) => {
    if (!r.lrSteps || r.lrSteps.length === 0) return;
    const color = PALETTE[i % PALETTE.length];
    series.push({ name: r.name, color, points: r.lrSteps.map(([x, y]) => ({ x, y })), noMarkers: r.lrSteps.length > 60 });
    const w = warmupEnd(r.lrSteps);
    if (w !== undefined) vlines.push({ x: w, color, label: `${r.name} — warm-up ends at step ${w}` });
  });
  if (series.length === 0) return undefined;
  return lineChart({ title: "Learning rate per step", xLabel: "step", yLabel: "learning rate", series, vlines, xInteger: true });
}

// ---- run details ---------------------------------------------------------------------------------

/** The settings of each optimizer that apply to it (the record holds every optimizer's defaults). */
const OPTIMIZER_KEYS: Record<string, string[]> = {
  sgd: ["lr", "momentum", "dampening", "nesterov", "weightDecay"],
  adam: ["lr", "beta1", "beta2", "eps", "amsgrad", "weightDecay"],
  adamw: ["lr", "beta1", "beta2", "eps", "amsgrad", "weightDecay"],
  rmsprop: ["lr", "alpha", "eps", "momentum", "centered", "weightDecay"],
  adagrad: ["lr", "eps", "initialAccumulator", "lrDecay", "weightDecay"],
};

const show = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** `train` and `data` settings as (name, value) rows: nested objects as dotted names, lists as JSON. */
export function settingRows(train: Record<string, unknown> | undefined, data: Record<string, unknown> | undefined): [string, string][] {
  const rows: [string, string][] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(`${prefix}.${k}`, x);
    else rows.push([prefix, show(v)]);
  };
  if (train) {
    for (const [k, v] of Object.entries(train)) {
      if (k === "optimizer" && v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        rows.push(["train.optimizer", show(o.kind)]);
        for (const key of OPTIMIZER_KEYS[String(o.kind)] ?? Object.keys(o).filter((x) => x !== "kind"))
          if (o[key] !== undefined) rows.push([`train.optimizer.${key}`, show(o[key])]);
      } else walk(`train.${k}`, v);
    }
  }
  if (data) for (const [k, v] of Object.entries(data)) walk(`data.${k}`, v);
  return rows;
}

const fmtDate = (iso: string) =>
  iso
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC")
    .replace(/Z$/, " UTC");

/** One <details> per run: dates, seed, steps, every setting, and the spec. */
export function runDetails(runs: Run[]): string {
  const parts: string[] = [];
  runs.forEach((r, i) => {
    const facts: [string, string][] = [];
    if (r.started) facts.push(["started", fmtDate(r.started)]);
    if (r.finished) facts.push(["finished", fmtDate(r.finished)]);
    if (r.seed !== undefined) facts.push(["seed", String(r.seed)]);
    if (r.steps !== undefined) facts.push(["optimizer steps", String(r.steps)]);
    const settings = settingRows(r.train, r.data);
    if (facts.length === 0 && settings.length === 0 && !r.spec) return;
    const rows = [...facts, ...settings].map(([k, v]) => `<tr><th>${htmlText(k)}</th><td>${htmlText(v)}</td></tr>`).join("\n");
    const spec = r.spec
      ? `<h3>Spec</h3>\n<pre class="spec">${r.spec
          .replace(/\r?\n$/, "")
          .split(/\r?\n/)
          .map((l) => htmlText(l.replace(/\t/g, "  ")))
          .join("\n")}</pre>`
      : "";
    parts.push(
      `<details class="run" id="run-${i}" open><summary><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${htmlText(r.name)}</summary>\n<table class="settings">\n${rows}\n</table>\n${spec}\n</details>`,
    );
  });
  return parts.length > 0 ? `<h2>Runs: dates, seed, settings, spec</h2>\n${parts.join("\n")}` : "";
}

// ---- classification --------------------------------------------------------------------------------

export interface ClassScore {
  name: string;
  support: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/** Precision, recall and F1 of every class from a confusion matrix (rows true, columns predicted); null where undefined (0/0). */
export function classScores(m: number[][], classes?: string[]): ClassScore[] {
  const k = m.length;
  return m.map((row, i) => {
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += m[r][i];
    const tp = m[i][i];
    const precision = predicted > 0 ? tp / predicted : null;
    const recall = support > 0 ? tp / support : null;
    const f1 = precision !== null && recall !== null ? (precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0) : null;
    return { name: classes?.[i] ?? String(i), support, precision, recall, f1 };
  });
}

const pct = (x: number | null) => (x === null ? "–" : (100 * x).toFixed(1));

/** The per-class table, with macro and support-weighted averages. */
export function scoreTable(m: number[][], classes?: string[]): string {
  const s = classScores(m, classes);
  const total = s.reduce((a, c) => a + c.support, 0);
  const avg = (k: "precision" | "recall" | "f1", weighted: boolean) => {
    let sum = 0;
    let w = 0;
    for (const c of s)
      if (c[k] !== null) {
        const wt = weighted ? c.support : 1;
        sum += (c[k] as number) * wt;
        w += wt;
      }
    return w > 0 ? sum / w : null;
  };
  const row = (cells: string[], cls = "") => `<tr${cls}>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  const body = s.map((c, i) => row([htmlText(c.name), pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)], ` data-class="${i}"`));
  body.push(row(["macro average", pct(avg("precision", false)), pct(avg("recall", false)), pct(avg("f1", false)), String(total)], ` class="avg"`));
  body.push(row(["weighted average", pct(avg("precision", true)), pct(avg("recall", true)), pct(avg("f1", true)), String(total)], ` class="avg"`));
  return `<table class="summary scores"><thead><tr><th>class</th><th>precision %</th><th>recall %</th><th>F1 %</th><th>test samples</th></tr></thead><tbody>\n${body.join("\n")}\n</tbody></table>`;
}

/** Misclassified test images: each with its true and predicted class and the probability given to the prediction. */
export function gallery(r: Run, p: Extract<RunPredictions, { kind: "classification" }>): string {
  const shown = p.samples.filter((s) => s.image);
  if (shown.length === 0) return "";
  const name = (c: number) => r.classes?.[c] ?? String(c);
  const items = shown.map(
    (s) =>
      `<figure class="sample" data-true="${s.true}" data-pred="${s.pred}"><img src="${htmlAttr(s.image!)}" alt="${htmlAttr(`test sample ${s.row}: true ${name(s.true)}, predicted ${name(s.pred)}`)}"><figcaption><span class="t">${htmlText(name(s.true))}</span> → <span class="p">${htmlText(name(s.pred))}</span> <small>${(100 * s.prob).toFixed(0)}%</small></figcaption></figure>`,
  );
  return `<h3>Misclassified test images: ${htmlText(r.name)}</h3>\n<p class="sub">The first ${shown.length} of ${p.wrong} misclassified among ${p.seen} test samples, in test-set order: true class → predicted class (the probability the model gave it).</p>\n<div class="gallery">\n${items.join("\n")}\n</div>`;
}

// ---- regression ------------------------------------------------------------------------------------

export interface RegressionScores {
  n: number;
  mae: number;
  rmse: number;
  r2: number | null;
}

export function regressionScores(pairs: [number, number][]): RegressionScores {
  const n = pairs.length;
  let ae = 0;
  let se = 0;
  let mean = 0;
  for (const [t, p] of pairs) {
    ae += Math.abs(p - t);
    se += (p - t) ** 2;
    mean += t;
  }
  mean /= Math.max(1, n);
  let tot = 0;
  for (const [t] of pairs) tot += (t - mean) ** 2;
  return { n, mae: ae / Math.max(1, n), rmse: Math.sqrt(se / Math.max(1, n)), r2: tot > 0 ? 1 - se / tot : null };
}

/** Predicted against true (with the diagonal) and residual against true (with zero), as standalone SVGs. */
export function regressionCharts(r: Run, i: number, pairs: [number, number][]): { scatter?: string; residual?: string } {
  const color = PALETTE[i % PALETTE.length];
  const scatter = scatterChart({
    title: `Predicted vs true: ${r.name}`,
    xLabel: "true value",
    yLabel: "predicted",
    points: pairs.map(([t, p]) => ({ x: t, y: p })),
    color,
    square: true,
    line: { slope: 1, intercept: 0, label: "predicted = true" },
  });
  const residual = scatterChart({
    title: `Residuals: ${r.name}`,
    xLabel: "true value",
    yLabel: "predicted − true",
    points: pairs.map(([t, p]) => ({ x: t, y: p - t })),
    color,
    width: 520,
    line: { slope: 0, intercept: 0, label: "no error" },
  });
  return { scatter, residual };
}

export function regressionTable(runs: { r: Run; s: RegressionScores; seen: number }[]): string {
  const rows = runs.map(
    ({ r, s, seen }) =>
      `<tr><td>${htmlText(r.name)}</td><td>${s.mae.toPrecision(4)}</td><td>${s.rmse.toPrecision(4)}</td><td>${s.r2 === null ? "–" : s.r2.toFixed(4)}</td><td>${s.n}${seen > s.n ? ` of ${seen}` : ""}</td></tr>`,
  );
  return `<table class="summary regression"><thead><tr><th>run</th><th>MAE</th><th>RMSE</th><th>R²</th><th>test samples</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}
