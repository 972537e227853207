// Runs → one self-contained report.html (inline SVG and CSS; no scripts, fonts or network) and
// the same plots as standalone SVG documents: loss and accuracy per epoch (training dashed,
// validation solid, one colour per run, best epoch marked), the learning rate, and a confusion
// matrix per run that has one. Several runs overlay in the same plots, to compare tricks.
import { assertNoRawUnsafe, htmlAttr, htmlText } from "../escape";
import { PALETTE, confusionChart, lineChart, type LegendEntry, type Series, type VLine } from "./svg";
import { extent } from "./series";

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

function metricChart(runs: Run[], title: string, yLabel: string, trainKey: "train_loss" | "train_acc", valKey: "val_loss" | "val_acc"): string | undefined {
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
  return lineChart({ title, xLabel: "epoch", yLabel, series, vlines, legend, xInteger: true });
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
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:baseline}
.grid{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:4px;padding:4px}
figcaption{font-size:12px;color:#555;padding:2px 6px 4px;max-width:620px}
`;

/** Render runs to report HTML and standalone SVGs. Runs with no epochs are listed but not plotted. */
export function renderReport(runs: Run[]): Report {
  const svgs: Record<string, string> = {};
  const plotted = runs.filter((r) => r.metrics.length > 0);
  const loss = metricChart(plotted, "Loss", "loss", "train_loss", "val_loss");
  const acc = metricChart(plotted, "Accuracy", "accuracy", "train_acc", "val_acc");
  const lr = lrChart(plotted);
  if (loss) svgs.loss = loss;
  if (acc) svgs.accuracy = acc;
  if (lr) svgs.lr = lr;
  const taken = new Set(["loss", "accuracy", "lr"]);
  const confusion: { key: string; run: Run }[] = [];
  for (const r of runs)
    if (r.confusion && r.confusion.length > 0) {
      const key = slug(`confusion-${r.name}`, taken);
      svgs[key] = confusionChart(`Confusion matrix: ${r.name}`, r.confusion, r.classes);
      confusion.push({ key, run: r });
    }

  const fig = (key: string, caption: string) => (svgs[key] ? `<figure id="${htmlAttr(key)}">${svgs[key]}<figcaption>${caption}</figcaption></figure>` : "");
  const names = runs.map((r) => r.name).join(", ");
  const body: string[] = [];
  body.push(`<h1>dnnc training report</h1>`);
  body.push(`<p class="sub">${runs.length} run${runs.length === 1 ? "" : "s"}: ${htmlText(names)}</p>`);
  body.push(summaryTable(runs));
  body.push(`<h2>Curves</h2>`);
  body.push(`<div class="grid">`);
  const marked = plotted.some((r) => r.bestEpoch != null);
  body.push(
    fig(
      "loss",
      `Dashed: training (mean over the epoch's steps); solid: validation (end of epoch).${marked ? " Dotted vertical lines: the epoch whose weights were kept." : ""}`,
    ),
  );
  body.push(fig("accuracy", "Dashed: training; solid: validation."));
  body.push(fig("lr", "The learning rate in use at each epoch (or step)."));
  body.push(`</div>`);
  if (!loss) body.push(`<p>No finite loss values to plot.</p>`);
  if (confusion.length > 0) {
    body.push(`<h2>Confusion matrices</h2>`);
    body.push(`<div class="grid">`);
    for (const c of confusion) body.push(fig(c.key, "Rows: true class; columns: predicted class; shade: fraction of the row."));
    body.push(`</div>`);
  }
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
    `<body>`,
    ...body.filter((s) => s !== ""),
    `</body>`,
    `</html>`,
    ``,
  ].join("\n");
  assertNoRawUnsafe(html, "report.html");
  return { html, svgs };
}
