// Pure helpers of bench/run.mjs (no I/O, no processes), so that they can be tested:
// parsing the JSON-lines protocol, steady-state throughput, the SGEMM peak file, the table.

/** @param {number[]} xs */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Splits a child's stdout into protocol events. Lines that are not JSON objects with an `event`
 * field are returned in `other` (a trainer may print text too).
 * @param {string} text
 */
export function parseEvents(text) {
  /** @type {any[]} */
  const events = [];
  /** @type {string[]} */
  const other = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    try {
      const o = JSON.parse(t);
      if (o && typeof o === "object" && typeof o.event === "string") events.push(o);
      else other.push(t);
    } catch {
      other.push(t);
    }
  }
  return { events, other };
}

/**
 * Steady-state samples/s of one run: the windows after warm-up (the first `skip` windows, and
 * any window marked partial, are dropped), their per-window rates.
 * @param {{samples: number, seconds: number, partial?: boolean}[]} windows
 * @param {number} skip
 * @returns {number[]} rates of the kept windows (all non-partial windows if fewer than one would remain)
 */
export function steadyRates(windows, skip = 1) {
  const full = windows.filter((w) => !w.partial && w.seconds > 0 && w.samples > 0);
  const kept = full.length > skip ? full.slice(skip) : full;
  return kept.map((w) => w.samples / w.seconds);
}

/**
 * Reads the SGEMM peak from a parsed bench/gemm-peak.json (format chosen by whoever writes it):
 * a number; or an object whose per-thread figures are under keys "1"/"2", "threads_1", "t1",
 * or { threads: { "1": x } }; or a single figure under peak_gflops / gflops / peak.
 * Returns a function threads -> GFLOP/s or null.
 * @param {unknown} j
 * @returns {(threads: number) => number | null}
 */
export function peakReader(j) {
  const num = (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null);
  if (num(j) !== null) return () => /** @type {number} */ (j);
  if (!j || typeof j !== "object") return () => null;
  const o = /** @type {Record<string, any>} */ (j);
  const per = (t) =>
    num(o[String(t)]) ??
    num(o[`threads_${t}`]) ??
    num(o[`t${t}`]) ??
    num(o.threads?.[String(t)]) ??
    num(o.peak?.[String(t)]) ??
    num(o.peak_gflops?.[String(t)]) ??
    num(o.gflops?.[String(t)]);
  const single = num(o.peak_gflops) ?? num(o.gflops) ?? num(o.peak);
  return (t) => per(t) ?? single;
}

/**
 * Parses `--peak 60` or `--peak 1:60,2:110` into threads -> GFLOP/s.
 * @param {string} s
 */
export function parsePeakArg(s) {
  if (/^[\d.]+$/.test(s)) return peakReader(Number(s));
  /** @type {Record<string, number>} */
  const o = {};
  for (const part of s.split(",")) {
    const [t, g] = part.split(":");
    if (!t || !g || !Number.isFinite(Number(g))) throw new Error(`--peak: cannot read "${part}" (use 60 or 1:60,2:110)`);
    o[t.trim()] = Number(g);
  }
  return peakReader(o);
}

const fmtInt = (x) => (x == null || !Number.isFinite(x) ? "—" : Math.round(x).toLocaleString("en-US"));
const fmt = (x, d) => (x == null || !Number.isFinite(x) ? "—" : x.toFixed(d));

/**
 * Formats one model's rows as a fixed-width table.
 * Each row: { system, threads, rate, ratio, gflops, peakShare, rssMb, acc, note }.
 * @param {any[]} rows
 */
export function formatTable(rows) {
  const head = ["system", "thr", "samples/s", "dnnc÷peer", "GFLOP/s", "% SGEMM peak", "peak RSS MB", "test acc", "note"];
  const body = rows.map((r) => [
    r.label ?? r.system,
    String(r.threads ?? "—"),
    fmtInt(r.rate),
    r.ratio == null ? "" : `${fmt(r.ratio, 2)}×`,
    fmt(r.gflops, 2),
    r.peakShare == null ? "n/a" : `${fmt(100 * r.peakShare, 1)}%`,
    fmtInt(r.rssMb),
    r.acc == null ? "—" : fmt(r.acc, 4),
    r.note ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/**
 * Garbage collected during the steady state of a run started with node's `--trace-gc`: the GC
 * lines ("Scavenge 6.8 (9.1) -> 4.8 (9.1) MB, ..." and Mark-Compact alike) printed after the
 * first `skip` windows (warm-up: the loader's garbage and tier-up land in the first two) and
 * before the last window line, with the samples those windows trained. Each collection frees what was allocated and died since the one before, so
 * `mbFreed / steps` bounds what a step allocates (zero collections over many steps: nothing is).
 * @param {string} text the child's stdout @param {number} batch @param {number} skip
 * @returns {{ gcs: number, mbFreed: number, steps: number } | null} null without skip + 1 windows
 */
export function steadyGc(text, batch, skip = 2) {
  const lines = text.split("\n");
  const win = [];
  lines.forEach((l, i) => {
    if (/"event":\s*"window"/.test(l) && !/"partial":\s*true/.test(l)) win.push(i);
  });
  if (win.length < skip + 1) return null;
  let gcs = 0;
  let mbFreed = 0;
  let samples = 0;
  for (let i = win[skip - 1] + 1; i <= win[win.length - 1]; i++) {
    const l = lines[i];
    const m = /(Scavenge|Mark-Compact|Minor Mark-Compact)[^:]*?\s([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/.exec(l);
    if (m) {
      gcs++;
      mbFreed += Math.max(0, Number(m[2]) - Number(m[3]));
    } else if (win.includes(i)) samples += JSON.parse(l.trim()).samples;
  }
  return { gcs, mbFreed, steps: samples / batch };
}
