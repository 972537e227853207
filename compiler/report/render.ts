// Runs → one self-contained report.html (inline SVG, CSS, PNG data URIs and one constant script;
// no fonts or network) and the same plots as standalone SVG documents: the training loss of every
// step (raw and smoothed; a slider sets the smoothing), loss and accuracy per epoch (training
// dashed, validation solid, one colour per run, best epoch marked; a checkbox puts the losses on a
// log axis), the learning rate (per step where the run recorded it, warm-up marked), a confusion
// matrix and a precision/recall/F1 table per run that has one, misclassified test images,
// predicted-vs-true and residual plots for regression, and each run's dates, seed, settings and
// spec. Several runs overlay in the same plots, to compare tricks. A live report (the run still
// training) reloads itself.
import { assertNoRawUnsafe, htmlAttr, htmlText } from "../escape";
import { PALETTE, confusionChart, lineChart, type LegendEntry, type Series, type VLine } from "./svg";
import { extent } from "./series";
import { LIVE_RELOAD_MS, PAGE_SCRIPT } from "./page-script";
import {
  DEFAULT_SMOOTHING,
  gallery,
  regressionCharts,
  regressionScores,
  regressionTable,
  runDetails,
  scoreTable,
  stepLossCharts,
  stepLrChart,
  type RegressionScores,
} from "./sections";

/** One epoch's numbers, as the trainer writes them to metrics.jsonl (EpochMetrics). */
export interface RunEpoch {
  epoch: number;
  train_loss: number | null;
  train_acc: number | null;
  val_loss: number | null;
  val_acc: number | null;
  lr: number | null;
  seconds?: number | null;
}

export interface Run {
  name: string;
  metrics: RunEpoch[];
  final?: { test_loss: number | null; test_acc: number | null };
  /** Rows: true class, columns: predicted class. */
  confusion?: number[][];
  /** Class names for the confusion matrix (default: 0, 1, ...). */
  classes?: string[];
  /** Learning rate of every optimizer step, spread evenly over the epochs (else metrics' lr). */
  lrs?: number[];
  /** The epoch whose weights were kept (early stopping / best-weights restore). */
  bestEpoch?: number | null;
  /** Early stopping ended the run before its last epoch. */
  stoppedEarly?: boolean;
  /** The training loss of every optimizer step, in order (loss-trace.f64). */
  stepLoss?: ArrayLike<number>;
  /** The learning rate at these steps, linear between them (run.json lr_steps). */
  lrSteps?: [number, number][];
  /** Optimizer steps taken, the seed, and when the run started and finished (ISO dates; run.json). */
  steps?: number;
  seed?: number;
  started?: string;
  finished?: string;
  /** The spec's train and data settings as the run used them (run.json train, data). */
  train?: Record<string, unknown>;
  data?: Record<string, unknown>;
  /** The spec (spec.dnn). */
  spec?: string;
  /** A sample of the test predictions (predictions.json); images as PNG data URIs. */
  predictions?: RunPredictions;
}

export interface RunSample {
  row: number;
  true: number;
  pred: number;
  prob: number;
  /** data:image/png;base64,... */
  image?: string;
}

export type RunPredictions =
  { kind: "classification"; seen: number; wrong: number; samples: RunSample[] } | { kind: "regression"; seen: number; pairs: [number, number][] };

export interface RenderOptions {
  /** The run is in progress: the page reloads itself every few seconds (dnnc train --report-live). */
  live?: boolean;
  /** Milliseconds between the live page's reloads (default LIVE_RELOAD_MS). */
  liveReloadMs?: number;
}

export interface Report {
  html: string;
  /** Standalone SVG documents by file stem: loss, accuracy, lr, confusion-<run>. */
  svgs: Record<string, string>;
}

const TRAIN_DASH = "7 4";

/** A file-name-safe stem for a run, unique among `taken`. */
export function slug(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 48) || "run";
  let s = base;
  for (let i = 2; taken.has(s); i++) s = `${base}-${i}`;
  taken.add(s);
  return s;
}

function metricChart(
  runs: Run[],
  title: string,
  yLabel: string,
  trainKey: "train_loss" | "train_acc",
  valKey: "val_loss" | "val_acc",
  yLog = false,
): string | undefined {
  const series: Series[] = [];
  const vlines: VLine[] = [];
  // one legend entry per run (its colour), then the key to the line styles in grey
  const legend: LegendEntry[] = runs.map((r, i) => ({ name: r.name, color: PALETTE[i % PALETTE.length], kind: "line" }));
  legend.push({ name: "training", color: "#777", dash: TRAIN_DASH, kind: "line" }, { name: "validation", color: "#777", kind: "line" });
  runs.forEach((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = (k: keyof RunEpoch) => r.metrics.map((m) => ({ x: m.epoch, y: (m[k] as number | null | undefined) ?? null }));
    series.push({ name: `${r.name} — training`, color, dash: TRAIN_DASH, points: pts(trainKey) });
    series.push({ name: `${r.name} — validation`, color, points: pts(valKey) });
    if (r.bestEpoch != null) vlines.push({ x: r.bestEpoch, color, label: `${r.name} — best epoch ${r.bestEpoch}` });
  });
  if (vlines.length > 0) legend.push({ name: "best epoch (weights kept)", color: "#777", kind: "vline" });
  return lineChart({ title, xLabel: "epoch", yLabel: yLog ? `${yLabel} (log scale)` : yLabel, series, vlines, legend, xInteger: true, yLog });
}

function lrChart(runs: Run[]): string | undefined {
  const series: Series[] = runs.map((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    const epochs = r.metrics.length;
    if (r.lrs && r.lrs.length > 0 && epochs > 0) {
      // step j of L falls in epoch 1 + j·E/L (the per-epoch value is the rate at the epoch's start)
      const perEpoch = r.lrs.length / epochs;
      return { name: r.name, color, points: r.lrs.map((lr, j) => ({ x: 1 + j / perEpoch, y: lr })) };
    }
    return { name: r.name, color, points: r.metrics.map((m) => ({ x: m.epoch, y: m.lr })) };
  });
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y): y is number => y !== null && Number.isFinite(y));
  const pos = ys.filter((y) => y > 0);
  // Staircases (step, multistep, plateau) spanning decades read best on a log axis; smooth
  // schedules (cosine, exponential, warm-up) read best on a linear one, where a decay to ~0 does not
  // plunge through six decades.
  const staircase = runs.every((_, i) => new Set(series[i].points.map((p) => p.y)).size <= 8);
  const yLog = staircase && pos.length === ys.length && pos.length > 0 && extent(pos)[1] / extent(pos)[0] >= 100;
  return lineChart({ title: "Learning rate", xLabel: "epoch", yLabel: yLog ? "learning rate (log scale)" : "learning rate", series, yLog });
}

const fmtLoss = (x: number | null | undefined) => (x == null || !Number.isFinite(x) ? "–" : x.toFixed(4));
const fmtAcc = (x: number | null | undefined) => (x == null || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(2)}%`);

function best(ms: RunEpoch[], k: "val_loss" | "val_acc", better: (a: number, b: number) => boolean): RunEpoch | undefined {
  let out: RunEpoch | undefined;
  for (const m of ms) {
    const v = m[k];
    if (v == null || !Number.isFinite(v)) continue;
    if (!out || better(v, out[k] as number)) out = m;
  }
  return out;
}

function summaryTable(runs: Run[]): string {
  const head = ["run", "epochs", "best epoch", "train loss", "train acc", "best val loss", "best val acc", "test loss", "test acc", "time"];
  const rows = runs.map((r, i) => {
    const last = r.metrics[r.metrics.length - 1];
    const bl = best(r.metrics, "val_loss", (a, b) => a < b);
    const ba = best(r.metrics, "val_acc", (a, b) => a > b);
    const secs = r.metrics.reduce((a, m) => a + (m.seconds ?? 0), 0);
    const cells = [
      `<span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${htmlText(r.name)}`,
      String(r.metrics.length),
      r.bestEpoch != null ? `${r.bestEpoch}${r.stoppedEarly ? " <small>(stopped early)</small>" : ""}` : "–",
      fmtLoss(last?.train_loss),
      fmtAcc(last?.train_acc),
      bl ? `${fmtLoss(bl.val_loss)} <small>(epoch ${bl.epoch})</small>` : "–",
      ba ? `${fmtAcc(ba.val_acc)} <small>(epoch ${ba.epoch})</small>` : "–",
      fmtLoss(r.final?.test_loss),
      fmtAcc(r.final?.test_acc),
      secs > 0 ? `${secs.toFixed(1)} s` : "–",
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  });
  return `<table class="summary"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
p.sub{color:#555;margin:0 0 16px}
table.summary{border-collapse:collapse;background:#fff;font-size:13px}
table.summary th,table.summary td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
table.summary th{background:#f0f0f0}
table.summary td:first-child,table.summary th:first-child{text-align:left}
table.summary tr.avg td{background:#f7f7f7;font-style:italic}
.controls{display:flex;gap:24px;align-items:center;margin:4px 0 12px;font-size:14px}
.controls input[type=range]{width:180px;vertical-align:middle}
.v-log{display:none}body.log .v-log{display:block}body.log .v-lin{display:none}
.live{background:#fff4d6;border:1px solid #e6c36a;padding:6px 10px;border-radius:4px;display:inline-block;margin:0 0 12px}
.cm{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
.gallery{display:flex;flex-wrap:wrap;gap:8px}
figure.sample{padding:4px;text-align:center;width:108px}
figure.sample img{width:84px;height:84px;image-rendering:pixelated;display:block;margin:0 auto}
figure.sample figcaption{font-size:11px;max-width:110px;padding:2px}
figure.sample .t{color:#0a6e3a}figure.sample .p{color:#b02a00}
details.run{background:#fff;border:1px solid #e3e3e3;border-radius:4px;padding:6px 10px;margin:0 0 10px}
details.run summary{font-weight:600;cursor:pointer}
table.settings{border-collapse:collapse;font-size:12px;margin:6px 0}
table.settings th{text-align:left;font-weight:normal;color:#555;padding:1px 12px 1px 0;font-family:ui-monospace,Menlo,Consolas,monospace}
table.settings td{font-family:ui-monospace,Menlo,Consolas,monospace;padding:1px 0}
pre.spec{background:#f5f5f5;border:1px solid #e3e3e3;padding:8px;font-size:12px;overflow:auto;max-height:420px}
h3{font-size:15px;margin:16px 0 6px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:baseline}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px;max-width:1400px}
.grid figure svg{width:100%;height:auto}
figure{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:4px;padding:4px}
figcaption{font-size:12px;color:#555;padding:2px 6px 4px;max-width:620px}
`;

/** Render runs to report HTML and standalone SVGs. Runs with no epochs are listed but not plotted. */
export function renderReport(runs: Run[], opts: RenderOptions = {}): Report {
  const svgs: Record<string, string> = {};
  const inline: Record<string, string> = {}; // renderings only the page shows (the log-scale variants)
  const plotted = runs.filter((r) => r.metrics.length > 0);
  const loss = metricChart(plotted, "Loss", "loss", "train_loss", "val_loss");
  const lossLog = loss ? metricChart(plotted, "Loss", "loss", "train_loss", "val_loss", true) : undefined;
  const acc = metricChart(plotted, "Accuracy", "accuracy", "train_acc", "val_acc");
  const steps = stepLossCharts(plotted);
  const lrSteps = stepLrChart(plotted);
  const lr = lrSteps ?? lrChart(plotted);
  if (steps) svgs["loss-steps"] = steps.linear;
  if (steps?.log) inline["loss-steps-log"] = steps.log;
  if (loss) svgs.loss = loss;
  if (lossLog) inline["loss-log"] = lossLog;
  if (acc) svgs.accuracy = acc;
  if (lr) svgs.lr = lr;
  const taken = new Set(["loss", "accuracy", "lr", "loss-steps"]);
  const confusion: { key: string; run: Run }[] = [];
  for (const r of runs)
    if (r.confusion && r.confusion.length > 0) {
      const key = slug(`confusion-${r.name}`, taken);
      svgs[key] = confusionChart(`Confusion matrix: ${r.name}`, r.confusion, r.classes);
      confusion.push({ key, run: r });
    }
  const regression: { r: Run; s: RegressionScores; seen: number; keys: string[] }[] = [];
  runs.forEach((r, i) => {
    if (r.predictions?.kind !== "regression" || r.predictions.pairs.length === 0) return;
    const c = regressionCharts(r, i, r.predictions.pairs);
    const keys: string[] = [];
    if (c.scatter) keys.push(slug(`predicted-vs-true-${r.name}`, taken));
    if (c.scatter) svgs[keys[0]] = c.scatter;
    if (c.residual) {
      keys.push(slug(`residuals-${r.name}`, taken));
      svgs[keys[keys.length - 1]] = c.residual;
    }
    regression.push({ r, s: regressionScores(r.predictions.pairs), seen: r.predictions.seen, keys });
  });

  const fig = (key: string, caption: string, cls = "") => {
    const svg = svgs[key] ?? inline[key];
    return svg ? `<figure id="${htmlAttr(key)}"${cls ? ` class="${cls}"` : ""}>${svg}<figcaption>${caption}</figcaption></figure>` : "";
  };
  const names = runs.map((r) => r.name).join(", ");
  const body: string[] = [];
  body.push(`<h1>dnnc training report</h1>`);
  body.push(`<p class="sub">${runs.length} run${runs.length === 1 ? "" : "s"}: ${htmlText(names)}</p>`);
  if (opts.live) body.push(`<p class="live" id="live">Training in progress: this page reloads itself every few seconds.</p>`);
  body.push(summaryTable(runs));
  if (regression.length > 0) {
    body.push(`<h2>Regression on the test set</h2>`);
    body.push(regressionTable(regression));
  }
  body.push(`<h2>Curves</h2>`);
  const controls: string[] = [];
  if (lossLog || steps?.log) controls.push(`<label><input type="checkbox" id="log-toggle"> log-scale loss</label>`);
  if (steps)
    controls.push(
      `<label>smoothing <input type="range" id="smoothing" min="0" max="0.99" step="0.01" value="${DEFAULT_SMOOTHING}"> <output id="smoothing-value">${DEFAULT_SMOOTHING.toFixed(2)}</output></label>`,
    );
  if (controls.length > 0) body.push(`<div class="controls">${controls.join("")}</div>`);
  body.push(`<div class="grid">`);
  const marked = plotted.some((r) => r.bestEpoch != null);
  const stepCaption = "Faint: the loss of every optimizer step; solid: its exponential moving average (the slider's weight, debiased as TensorBoard does).";
  body.push(fig("loss-steps", stepCaption, steps?.log ? "v-lin" : ""));
  body.push(fig("loss-steps-log", stepCaption, "v-log"));
  const lossCaption = `Dashed: training (mean over the epoch's steps); solid: validation (end of epoch).${marked ? " Dotted vertical lines: the epoch whose weights were kept." : ""}`;
  body.push(fig("loss", lossCaption, lossLog ? "v-lin" : ""));
  body.push(fig("loss-log", lossCaption, "v-log"));
  body.push(fig("accuracy", "Dashed: training; solid: validation."));
  body.push(
    fig(
      "lr",
      lrSteps ? "The learning rate of every optimizer step. Dotted vertical lines: where a warm-up ends." : "The learning rate in use at each epoch (or step).",
    ),
  );
  body.push(`</div>`);
  if (!loss) body.push(`<p>No finite loss values to plot.</p>`);
  if (confusion.length > 0) {
    body.push(`<h2>Confusion matrices and per-class scores</h2>`);
    for (const c of confusion)
      body.push(
        `<div class="cm">${fig(c.key, "Rows: true class; columns: predicted class; shade: fraction of the row.")}${scoreTable(c.run.confusion!, c.run.classes)}</div>`,
      );
  }
  const galleries = runs.map((r) => (r.predictions?.kind === "classification" ? gallery(r, r.predictions) : "")).filter((g) => g !== "");
  if (galleries.length > 0) {
    body.push(`<h2>Misclassified test samples</h2>`);
    body.push(...galleries);
  }
  if (regression.length > 0) {
    body.push(`<h2>Predictions against the truth</h2>`);
    body.push(`<div class="grid">`);
    for (const g of regression) {
      const note = `The first ${g.s.n} test samples, in the units the model is trained on.`;
      if (g.keys[0]) body.push(fig(g.keys[0], `${note} Dashed: a perfect prediction.`));
      if (g.keys[1]) body.push(fig(g.keys[1], `${note} Dashed: no error; a slope or a curve is a bias the model did not learn.`));
    }
    body.push(`</div>`);
  }
  body.push(runDetails(runs));
  if (steps) body.push(`<script type="application/json" id="dnnc-steps">${steps.data}</script>`);
  body.push(`<script>${PAGE_SCRIPT}</script>`);
  const html = [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<link rel="icon" href="data:,">`,
    `<title>dnnc report: ${htmlText(names)}</title>`,
    `<style>${CSS}</style>`,
    `</head>`,
    `<body${opts.live ? ` data-live="${Math.max(100, Math.round(opts.liveReloadMs ?? LIVE_RELOAD_MS))}"` : ""}>`,
    ...body.filter((s) => s !== ""),
    `</body>`,
    `</html>`,
    ``,
  ].join("\n");
  assertNoRawUnsafe(html, "report.html");
  return { html, svgs };
}
