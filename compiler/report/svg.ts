// Hand-written SVG for the run report: escaping, nice axis ticks, line charts (several series,
// gaps for missing values, vertical markers, a legend) and a confusion-matrix heatmap. Every
// string that came from the user (run names, class names) goes through htmlText or htmlAttr
// (compiler/escape.ts). Each chart's plot
// area carries its data-to-pixel mapping as data-* attributes so that tests (and curious readers)
// can map polyline points back to the numbers they came from.

import { drawnPoints, extent } from "./series";
import { htmlAttr, htmlText } from "../escape";

/** `s` cut to at most `n` UTF-16 units with an ellipsis, never between the two halves of a surrogate pair. */
export function shorten(s: string, n: number): string {
  if (s.length <= n) return s;
  let keep = Math.max(1, n - 1);
  if (/[\ud800-\udbff]/.test(s[keep - 1])) keep--;
  return s.slice(0, keep) + "…";
}

/** Colour-blind-safe palette (Okabe–Ito, black moved last); run i gets PALETTE[i % 8]. */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];

/** A "nice" number near x (1, 2, 5 × 10^k): rounded to nearest when `round`, else the ceiling. */
function niceNum(x: number, round: boolean): number {
  const e = Math.floor(Math.log10(x));
  const f = x / 10 ** e;
  const nf = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * 10 ** e;
}

export interface Scale {
  lo: number;
  hi: number;
  ticks: number[];
  /** Decimal places that show every tick exactly. */
  decimals: number;
  log: boolean;
}

/**
 * Axis range and ticks covering [lo, hi] with at most about `maxTicks` ticks at multiples of a
 * nice step (Heckbert's "nice numbers"). `minStep` keeps integer axes (epochs) integral.
 */
export function niceScale(lo: number, hi: number, maxTicks = 6, minStep = 0): Scale {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`niceScale: bounds must be finite, got ${lo}, ${hi}`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const range = niceNum(hi - lo, false);
  const step = Math.max(minStep, niceNum(range / Math.max(1, maxTicks - 1), true));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const k0 = Math.floor(lo / step + 1e-9);
  const k1 = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = k0; k <= k1; k++) ticks.push(Number((k * step).toFixed(Math.min(20, decimals + 2))));
  return { lo: ticks[0], hi: ticks[ticks.length - 1], ticks, decimals, log: false };
}

/** Log-10 axis over positive [lo, hi]: decades, plus 2 and 5 multiples when there are few. */
export function logScale(lo: number, hi: number): Scale {
  if (!(lo > 0) || !(hi > 0)) throw new Error(`logScale: bounds must be positive, got ${lo}, ${hi}`);
  const e0 = Math.floor(Math.log10(lo) + 1e-9);
  let e1 = Math.ceil(Math.log10(hi) - 1e-9);
  if (e1 === e0) e1++;
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e++) {
    ticks.push(Number((10 ** e).toPrecision(12)));
    if (e1 - e0 <= 2 && e < e1) ticks.push(Number((2 * 10 ** e).toPrecision(12)), Number((5 * 10 ** e).toPrecision(12)));
  }
  return { lo: 10 ** e0, hi: 10 ** e1, ticks, decimals: Math.max(0, -e0), log: true };
}

/** A tick label: fixed decimals on linear axes, 1e-3 style on log axes and for tiny or huge values. */
export function formatTick(v: number, s: Scale): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (s.log || a >= 1e6 || (a < 1e-3 && s.decimals > 4)) {
    const e = Math.floor(Math.log10(a) + 1e-9);
    const m = Number((v / 10 ** e).toPrecision(3));
    return m === 1 ? `1e${e}` : `${m}e${e}`;
  }
  return v.toFixed(s.decimals);
}

/** Round a pixel coordinate to 2 decimals (keeps the SVG small and deterministic). */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

export interface Series {
  name: string;
  color: string;
  /** SVG stroke-dasharray, e.g. "6 4" for training curves. */
  dash?: string;
  /** Points in data coordinates; null or non-finite y leaves a gap. */
  points: { x: number; y: number | null }[];
  /** A `data-key` on its polylines (the report's script finds the smoothed curves by it). */
  key?: string;
  /** Stroke opacity (faint raw curves behind smoothed ones) and width (default 1, 2). */
  opacity?: number;
  strokeWidth?: number;
  /** No point markers, however few the points. */
  noMarkers?: boolean;
}

export interface VLine {
  x: number;
  color: string;
  label: string;
}

export interface LegendEntry {
  name: string;
  color: string;
  dash?: string;
  /** A horizontal line sample, or a short dotted vertical one (for markers). */
  kind: "line" | "vline";
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  vlines?: VLine[];
  /** Legend entries (default: one per plotted series, then one per vertical line). */
  legend?: LegendEntry[];
  /** Log-10 y axis (all finite y must be positive). */
  yLog?: boolean;
  /** x ticks at integers only (epochs). */
  xInteger?: boolean;
  width?: number;
  /** Extra data-* attributes of the <svg> element (name without "data-" → value). */
  data?: Record<string, string>;
}

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"`;

/** Legend rows under the plot: a line sample in the series' colour and dash, then the name. */
function legend(entries: LegendEntry[], x0: number, y0: number, width: number): { svg: string; height: number } {
  const cols = width >= 560 && entries.length > 1 ? 2 : 1;
  const colW = (width - x0) / cols;
  const maxChars = Math.floor((colW - 40) / 6.5);
  const parts: string[] = [`<g class="legend" ${FONT} font-size="12">`];
  entries.forEach((e, i) => {
    const x = x0 + (i % cols) * colW;
    const y = y0 + Math.floor(i / cols) * 18;
    const dash = e.dash ? ` stroke-dasharray="${e.dash}"` : "";
    if (e.kind === "line") parts.push(`<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + 26)}" y2="${px(y)}" stroke="${e.color}" stroke-width="2.5"${dash}/>`);
    else
      parts.push(
        `<line x1="${px(x + 13)}" y1="${px(y - 7)}" x2="${px(x + 13)}" y2="${px(y + 7)}" stroke="${e.color}" stroke-width="1.5" stroke-dasharray="3 3"/>`,
      );
    const text = shorten(e.name, maxChars);
    parts.push(`<text x="${px(x + 32)}" y="${px(y + 4)}" fill="#222"><title>${htmlText(e.name)}</title>${htmlText(text)}</text>`);
  });
  parts.push("</g>");
  return { svg: parts.join(""), height: Math.ceil(entries.length / cols) * 18 };
}

/**
 * A line chart as a standalone SVG document. Returns undefined when no series has a finite point.
 * The plot area is `<g class="plot" data-x-min data-x-max data-y-min data-y-max data-y-log
 * data-left data-top data-width data-height>`; each contiguous run of finite points of a series
 * is one `<polyline class="series" data-series="NAME">`.
 */
export function lineChart(o: ChartOptions): string | undefined {
  const finite = (y: number | null): y is number => y !== null && Number.isFinite(y) && (!o.yLog || y > 0);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of o.series)
    for (const p of s.points)
      if (finite(p.y) && Number.isFinite(p.x)) {
        xs.push(p.x);
        ys.push(p.y);
      }
  if (ys.length === 0) return undefined;
  for (const v of o.vlines ?? []) xs.push(v.x);
  const W = o.width ?? 640;
  const left = 68;
  const right = 20;
  const top = 36;
  const plotH = 240;
  const plotW = W - left - right;
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const xScale = niceScale(x0, x1, 8, o.xInteger ? 1 : 0);
  const yScale = o.yLog ? logScale(y0, y1) : niceScale(y0, y1, 6);
  const tx = (x: number) => left + ((x - xScale.lo) / (xScale.hi - xScale.lo)) * plotW;
  const ty = o.yLog
    ? (y: number) => top + plotH - ((Math.log10(y) - Math.log10(yScale.lo)) / (Math.log10(yScale.hi) - Math.log10(yScale.lo))) * plotH
    : (y: number) => top + plotH - ((y - yScale.lo) / (yScale.hi - yScale.lo)) * plotH;

  let entries: LegendEntry[];
  if (o.legend) entries = o.legend;
  else {
    entries = o.series.filter((s) => s.points.some((p) => finite(p.y))).map((s) => ({ name: s.name, color: s.color, dash: s.dash, kind: "line" }));
    for (const v of o.vlines ?? []) entries.push({ name: v.label, color: v.color, kind: "vline" });
  }
  const legendTop = top + plotH + 52;
  const lg = legend(entries, left, legendTop, W - right);
  const H = legendTop + lg.height + 4;

  const out: string[] = [];
  const extra = Object.entries(o.data ?? {})
    .map(([k, v]) => ` data-${k}="${htmlAttr(v)}"`)
    .join("");
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${htmlAttr(o.title)}"${extra}>`);
  out.push(`<title>${htmlText(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="22" ${FONT} font-size="15" font-weight="600" fill="#222">${htmlText(o.title)}</text>`);
  // grid and ticks
  out.push(`<g class="axes" ${FONT} font-size="11" fill="#444">`);
  for (const t of yScale.ticks) {
    const y = px(ty(t));
    out.push(`<line x1="${left}" y1="${y}" x2="${px(left + plotW)}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${left - 6}" y="${px(ty(t) + 4)}" text-anchor="end">${htmlText(formatTick(t, yScale))}</text>`);
  }
  out.push(`<g class="xticks">`);
  for (const t of xScale.ticks) {
    const x = px(tx(t));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${px(top + plotH)}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${x}" y1="${px(top + plotH)}" x2="${x}" y2="${px(top + plotH + 5)}" stroke="#888"/>`);
    out.push(`<text x="${x}" y="${px(top + plotH + 18)}" text-anchor="middle">${htmlText(formatTick(t, xScale))}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect x="${left}" y="${top}" width="${px(plotW)}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${px(left + plotW / 2)}" y="${px(top + plotH + 38)}" text-anchor="middle" font-size="12">${htmlText(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${px(top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${htmlText(o.yLabel)}</text>`);
  out.push(`</g>`);
  // data
  out.push(
    `<g class="plot" data-x-min="${xScale.lo}" data-x-max="${xScale.hi}" data-y-min="${yScale.lo}" data-y-max="${yScale.hi}" data-y-log="${o.yLog ? 1 : 0}" data-left="${left}" data-top="${top}" data-width="${px(plotW)}" data-height="${plotH}">`,
  );
  for (const v of o.vlines ?? []) {
    const x = px(tx(v.x));
    out.push(
      `<line class="vline" x1="${x}" y1="${top}" x2="${x}" y2="${px(top + plotH)}" stroke="${v.color}" stroke-width="1.5" stroke-dasharray="3 3"><title>${htmlText(v.label)}</title></line>`,
    );
  }
  for (const s of o.series) {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    const key = s.key !== undefined ? ` data-key="${htmlAttr(s.key)}"` : "";
    const opacity = s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : "";
    let seg: string[] = [];
    const flush = () => {
      if (seg.length > 0)
        out.push(
          `<polyline class="series" data-series="${htmlAttr(s.name)}"${key} points="${seg.join(" ")}" fill="none" stroke="${s.color}" stroke-width="${s.strokeWidth ?? 2}"${opacity} stroke-linejoin="round" stroke-linecap="round"${dash}/>`,
        );
      seg = [];
    };
    for (const p of drawnPoints(s.points, (q) => finite(q.y) && Number.isFinite(q.x))) {
      if (finite(p.y) && Number.isFinite(p.x)) seg.push(`${px(tx(p.x))},${px(ty(p.y))}`);
      else flush();
    }
    flush();
    const shown = s.points.filter((p) => finite(p.y) && Number.isFinite(p.x));
    if (shown.length <= 60 && !s.noMarkers)
      for (const p of shown)
        out.push(
          `<circle cx="${px(tx(p.x))}" cy="${px(ty(p.y as number))}" r="2.5" fill="${s.color}"><title>${htmlText(s.name)}: ${htmlText(o.xLabel)} ${p.x}, ${htmlText(String(p.y))}</title></circle>`,
        );
  }
  out.push(`</g>`);
  out.push(lg.svg);
  out.push(`</svg>`);
  return out.join("\n");
}

/** White → blue by the fraction of the true class's samples in the cell. */
function heat(f: number): string {
  const t = Math.max(0, Math.min(1, f));
  const c = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
}

/**
 * A confusion matrix (rows: true class, columns: predicted class) as a standalone SVG. Cells are
 * shaded by row-normalized frequency; counts are written in the cells when there are at most 20
 * classes. Each cell is `<rect class="cell" data-row data-col data-count>`.
 */
export function confusionChart(title: string, m: number[][], classes?: string[]): string {
  const k = m.length;
  const labels = Array.from({ length: k }, (_, i) => classes?.[i] ?? String(i));
  const maxLabel = Math.min(14, extent(labels.map((l) => l.length))[1]);
  const cell = k <= 10 ? 40 : k <= 20 ? 26 : Math.max(6, Math.floor(520 / k));
  const left = 40 + maxLabel * 7;
  const top = 56;
  const size = cell * k;
  // column labels sit under the matrix, rotated by -45° (their height is about 0.71 × their width)
  // labels that fit in a cell stay horizontal
  const upright = maxLabel * 6.5 <= cell - 4;
  const labelDepth = cell < 12 ? 4 : upright ? 18 : Math.ceil(maxLabel * 6.5 * 0.71) + 14;
  const W = Math.max(360, left + size + 20);
  const H = top + size + labelDepth + 28;
  let total = 0;
  let correct = 0;
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      total += m[i][j];
      if (i === j) correct += m[i][j];
    }
  const acc = total > 0 ? `accuracy ${((100 * correct) / total).toFixed(2)}% of ${total}` : "";
  const titleChars = Math.floor((W - 24) / 8.5);
  const shownTitle = shorten(title, titleChars);
  const trunc = (s: string) => shorten(s, 14);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${htmlAttr(title)}">`);
  out.push(`<title>${htmlText(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="12" y="22" ${FONT} font-size="15" font-weight="600" fill="#222">${htmlText(shownTitle)}</text>`);
  out.push(`<text x="12" y="40" ${FONT} font-size="12" fill="#555">${htmlText(acc)}</text>`);
  out.push(`<g ${FONT} font-size="${cell >= 26 ? 11 : 9}">`);
  out.push(`<text x="${px(left + size / 2)}" y="${top + size + labelDepth + 16}" text-anchor="middle" font-size="12" fill="#444">predicted</text>`);
  out.push(`<text transform="translate(14 ${px(top + size / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="#444">true</text>`);
  for (let i = 0; i < k; i++) {
    const rowSum = m[i].reduce((a, b) => a + b, 0);
    if (cell >= 12) {
      out.push(`<text x="${left - 6}" y="${px(top + i * cell + cell / 2 + 4)}" text-anchor="end" fill="#444">${htmlText(trunc(labels[i]))}</text>`);
      const cx = px(left + i * cell + cell / 2 + 3);
      const cy = px(top + size + 10);
      if (upright)
        out.push(`<text x="${px(left + i * cell + cell / 2)}" y="${px(top + size + 14)}" text-anchor="middle" fill="#444">${htmlText(labels[i])}</text>`);
      else out.push(`<text transform="translate(${cx} ${cy}) rotate(-45)" text-anchor="end" fill="#444">${htmlText(trunc(labels[i]))}</text>`);
    }
    for (let j = 0; j < k; j++) {
      const f = rowSum > 0 ? m[i][j] / rowSum : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      out.push(
        `<rect class="cell" data-row="${i}" data-col="${j}" data-count="${m[i][j]}" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${heat(f)}" stroke="#fff"><title>true ${htmlText(labels[i])}, predicted ${htmlText(labels[j])}: ${m[i][j]} (${(100 * f).toFixed(1)}% of the row)</title></rect>`,
      );
      if (k <= 20)
        out.push(`<text x="${px(x + cell / 2)}" y="${px(y + cell / 2 + 4)}" text-anchor="middle" fill="${f > 0.5 ? "#fff" : "#222"}">${m[i][j]}</text>`);
    }
  }
  out.push(`<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#888"/>`);
  out.push(`</g></svg>`);
  return out.join("\n");
}

export interface ScatterOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number }[];
  color: string;
  /** A reference line y = slope·x + intercept (the diagonal, or zero residual), dashed grey. */
  line?: { slope: number; intercept: number; label: string };
  /** Same range on both axes (predicted against true). */
  square?: boolean;
  width?: number;
}

/**
 * A scatter plot as a standalone SVG: `<g class="plot" ...>` as lineChart's, each point a
 * `<circle class="point" data-x data-y>`, the reference line `<line class="ref">`.
 */
export function scatterChart(o: ScatterOptions): string | undefined {
  const pts = o.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (pts.length === 0) return undefined;
  const W = o.width ?? 420;
  const left = 68;
  const right = 20;
  const top = 36;
  const plotW = W - left - right;
  const plotH = o.square ? plotW : 240;
  let [x0, x1] = extent(pts.map((p) => p.x));
  let [y0, y1] = extent(pts.map((p) => p.y));
  if (o.square) {
    x0 = y0 = Math.min(x0, y0);
    x1 = y1 = Math.max(x1, y1);
  } else if (o.line) {
    // the reference line is in view
    const ya = o.line.slope * x0 + o.line.intercept;
    const yb = o.line.slope * x1 + o.line.intercept;
    y0 = Math.min(y0, ya, yb);
    y1 = Math.max(y1, ya, yb);
  }
  const xs = niceScale(x0, x1, 6);
  const ys = o.square ? xs : niceScale(y0, y1, 6);
  const tx = (x: number) => left + ((x - xs.lo) / (xs.hi - xs.lo)) * plotW;
  const ty = (y: number) => top + plotH - ((y - ys.lo) / (ys.hi - ys.lo)) * plotH;
  const H = top + plotH + 48;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${htmlAttr(o.title)}">`);
  out.push(`<title>${htmlText(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="22" ${FONT} font-size="15" font-weight="600" fill="#222">${htmlText(o.title)}</text>`);
  out.push(`<g class="axes" ${FONT} font-size="11" fill="#444">`);
  for (const t of ys.ticks) {
    out.push(`<line x1="${left}" y1="${px(ty(t))}" x2="${px(left + plotW)}" y2="${px(ty(t))}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${left - 6}" y="${px(ty(t) + 4)}" text-anchor="end">${htmlText(formatTick(t, ys))}</text>`);
  }
  for (const t of xs.ticks) {
    out.push(`<line x1="${px(tx(t))}" y1="${top}" x2="${px(tx(t))}" y2="${px(top + plotH)}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${px(tx(t))}" y="${px(top + plotH + 18)}" text-anchor="middle">${htmlText(formatTick(t, xs))}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${px(plotW)}" height="${px(plotH)}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${px(left + plotW / 2)}" y="${px(top + plotH + 38)}" text-anchor="middle" font-size="12">${htmlText(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${px(top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${htmlText(o.yLabel)}</text>`);
  out.push(`</g>`);
  out.push(
    `<g class="plot" data-x-min="${xs.lo}" data-x-max="${xs.hi}" data-y-min="${ys.lo}" data-y-max="${ys.hi}" data-y-log="0" data-left="${left}" data-top="${top}" data-width="${px(plotW)}" data-height="${px(plotH)}">`,
  );
  if (o.line) {
    // clipped to the plot: from the x range's ends, cut where it leaves the y range
    const f = (x: number) => o.line!.slope * x + o.line!.intercept;
    let a = xs.lo;
    let b = xs.hi;
    if (o.line.slope !== 0) {
      const xa = (ys.lo - o.line.intercept) / o.line.slope;
      const xb = (ys.hi - o.line.intercept) / o.line.slope;
      a = Math.max(a, Math.min(xa, xb));
      b = Math.min(b, Math.max(xa, xb));
    }
    if (a < b)
      out.push(
        `<line class="ref" x1="${px(tx(a))}" y1="${px(ty(f(a)))}" x2="${px(tx(b))}" y2="${px(ty(f(b)))}" stroke="#888" stroke-width="1.5" stroke-dasharray="5 4"><title>${htmlText(o.line.label)}</title></line>`,
      );
  }
  for (const p of pts)
    out.push(`<circle class="point" data-x="${p.x}" data-y="${p.y}" cx="${px(tx(p.x))}" cy="${px(ty(p.y))}" r="2.2" fill="${o.color}" fill-opacity="0.55"/>`);
  out.push(`</g></svg>`);
  return out.join("\n");
}
