// Time series from a CSV with a header → windowed Datasets for forecasting (the pure part;
// runtime/node/load-timeseries.ts reads the file).
//
// parseSeriesCsv: columns are chosen BY NAME (`inputs`, `targets`), so the same options read
// another file holding those names in another order, with other columns besides. One row is one
// time step, in file order. Only the chosen columns are read: each cell must be a decimal number
// finite in float32 (stored as float32, as csv.ts does); anything else is an error naming
// file:line:col and the column. Other columns are never parsed, so a text or date column is
// never an error. The date/time column (`time`) is parsed (parseDateTime: ISO 8601 dates and
// date-times, "YYYY-MM-DD HH:MM[:SS[.fff]]", "/" instead of "-" as in vega-datasets'
// seattle-temps.csv, an optional "Z" or ±HH:MM zone; without a zone the time is read as UTC),
// must not go back in time from one row to the next (equal times are allowed: a repeated hour
// when clocks go back), and is never a feature; by default (time undefined) the first column
// that is neither chosen nor ignored and whose first value is a date/time is taken as the time
// column; time: null means none. `ignore` lists columns that are never read, not even as inputs
// by default. Default inputs: every column but the time column and the ignored ones.
//
// seriesWindows: splits BY TIME into contiguous spans (runtime/data/split.ts splitSpans: train
// first, then validation, then test; never shuffled across a boundary), fits the
// standardization on the TRAINING span only, and makes each span a windowed Dataset:
//   sample i: s = i * stride (steps from the span's start)
//   x = inputs[s .. s+window)                 shape [window, F_in]
//   y = targets[s+window .. s+window+horizon) targetShape [horizon] (one target column) or [horizon, F_out]
// A window and its target lie inside one span. Standardization (default on), as preprocess.ts's
// "standardize": per column, population mean and std over the training span's rows, in float64,
// stored as float32; a column whose std <= 1e-6 gets divisor 1. Every value (inputs and targets)
// becomes fround((v - mean) / std) with the stored float32 mean and std, so applying the stored
// statistics (standardizeRows) at prediction time gives the same bytes; unstandardizeRows maps a
// prediction back to the column's units. The statistics travel with the model as tensors and
// metadata (seriesStatsTensors / seriesStatsMetadata / seriesStatsFromStored).
import { DnncError } from "../errors";
import { F32_OVERFLOW, NUMBER, show, splitLine } from "./csv";
import { windowCount, windowedDataset, type Dataset } from "./dataset";
import { splitSpans, type Span, type Spans, type SplitFractions } from "./split";
import { decodeUtf8 } from "./utf8";

export interface SeriesColumns {
  /** Input columns by name. Default: every column but the time column and the ignored ones. */
  inputs?: string[];
  /** Target columns by name (one or more; a target may also be an input). */
  targets: string[];
  /** The date/time column (parsed, never a feature). undefined: detected; null: none. */
  time?: string | null;
  /** Columns never read. */
  ignore?: string[];
  /** Cell separator. Default ",". */
  delimiter?: string;
}

export interface SeriesTable {
  file: string;
  steps: number;
  inputNames: string[];
  targetNames: string[];
  /** Raw values as float32, row-major [steps, inputNames.length]. */
  inputs: Float32Array;
  /** Raw values as float32, row-major [steps, targetNames.length]. */
  targets: Float32Array;
  /** The time column's name and its values (ms since 1970-01-01 UTC), when there is one. */
  timeName?: string;
  times?: Float64Array;
  /** The file line of each step (1-based), for messages. */
  lines: Int32Array;
}

// ---------------------------------------------------------------------------------------------
// Dates and times.

const DATE_TIME = /^(\d{4})([-/])(\d{2})\2(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A date or date-time as ms since 1970-01-01 UTC, or null when `text` is not one (see the top
 * of the file for the forms). Fields out of range (month 13, February 30, 25:00) give null.
 */
export function parseDateTime(text: string): number | null {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return null;
  const year = +m[1];
  const month = +m[3];
  const day = +m[4];
  const hour = m[5] ? +m[5] : 0;
  const minute = m[6] ? +m[6] : 0;
  const second = m[7] ? +m[7] : 0;
  const ms = m[8] ? Math.floor(+`0.${m[8]}` * 1000) : 0;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS[month - 1])) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  const z = m[9];
  if (z && z !== "Z") {
    const digits = z.slice(1).replace(":", "");
    const oh = +digits.slice(0, 2);
    const om = digits.length > 2 ? +digits.slice(2) : 0;
    if (oh > 23 || om > 59) return null;
    offset = (z[0] === "-" ? -1 : 1) * (oh * 60 + om) * 60000;
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // Date.UTC maps years 0..99 to 1900..1999
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime() - offset;
}

// ---------------------------------------------------------------------------------------------
// The table.

/** Parse a time-series CSV (text already decoded); `file` labels errors. */
export function parseSeriesCsv(text: string, file: string, cols: SeriesColumns): SeriesTable {
  const delim = cols.delimiter ?? ",";
  if (delim.length !== 1 || delim === '"' || delim === "\n") throw new DnncError(`${file}: the CSV delimiter must be one character other than '"'`);
  if (!Array.isArray(cols.targets) || cols.targets.length === 0) throw new DnncError(`${file}: no target column named (targets: one or more column names)`);
  // the lines, lazily
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | null => {
    while (pos <= text.length) {
      let nl = text.indexOf("\n", pos);
      if (nl < 0) nl = text.length;
      let line = text.slice(pos, nl);
      pos = nl + 1;
      lineNo++;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.trim() !== "") return line;
    }
    return null;
  };
  const headerLine = nextLine();
  if (headerLine === null) throw new DnncError(`${file}: empty file (a time series needs a header row and data rows)`);
  const headerNo = lineNo;
  const header = splitLine(headerLine, delim, `${file}:${headerNo}`).map((c) => c.text);
  const columnIndex = (name: string, role: string): number => {
    if (typeof name !== "string") throw new DnncError(`${file}: ${role} column names must be strings, got ${JSON.stringify(name)}`);
    const k = header.indexOf(name);
    if (k < 0) throw new DnncError(`${file}:${headerNo}: no column named "${name}" (${role}) in the header (columns: ${header.join(", ")})`);
    if (header.indexOf(name, k + 1) >= 0) throw new DnncError(`${file}:${headerNo}: two columns are named "${name}" (${role}); rename one`);
    return k;
  };
  const ignored = new Set((cols.ignore ?? []).map((n) => columnIndex(n, "ignored")));
  const targetIdx = cols.targets.map((n) => columnIndex(n, "target"));
  for (const k of targetIdx) if (ignored.has(k)) throw new DnncError(`${file}: column "${header[k]}" is both a target and ignored`);
  let timeIdx = cols.time === undefined || cols.time === null ? -1 : columnIndex(cols.time, "time");
  if (timeIdx >= 0 && (ignored.has(timeIdx) || targetIdx.includes(timeIdx) || (cols.inputs ?? []).includes(header[timeIdx])))
    throw new DnncError(`${file}: column "${header[timeIdx]}" is the time column, so it cannot be an input, a target or ignored`);
  const firstData = nextLine();
  if (firstData === null) throw new DnncError(`${file}: no data rows (only a header)`);
  const firstCells = splitLine(firstData, delim, `${file}:${lineNo}`);
  if (cols.time === undefined) {
    // detected: the first column that is not chosen or ignored and holds a date/time
    const chosen = new Set([...targetIdx, ...(cols.inputs ?? []).map((n) => header.indexOf(n))]);
    timeIdx = header.findIndex(
      (_, k) =>
        !chosen.has(k) && !ignored.has(k) && firstCells[k] !== undefined && !NUMBER.test(firstCells[k].text) && parseDateTime(firstCells[k].text) !== null,
    );
  }
  const inputIdx = cols.inputs ? cols.inputs.map((n) => columnIndex(n, "input")) : header.map((_, k) => k).filter((k) => k !== timeIdx && !ignored.has(k));
  for (const k of inputIdx) if (ignored.has(k)) throw new DnncError(`${file}: column "${header[k]}" is both an input and ignored`);
  if (inputIdx.length === 0) throw new DnncError(`${file}: no input columns`);
  const Fi = inputIdx.length;
  const Fo = targetIdx.length;
  let cap = 1024;
  let inputs = new Float32Array(cap * Fi);
  let targets = new Float32Array(cap * Fo);
  let times = timeIdx >= 0 ? new Float64Array(cap) : undefined;
  let lines = new Int32Array(cap);
  let n = 0;
  const number = (cells: ReturnType<typeof splitLine>, k: number, where: string): number => {
    const c = cells[k];
    if (!NUMBER.test(c.text)) {
      const what = c.text === "" ? "empty cell" : `${show(c.text)} is not a number`;
      const hint = cols.inputs ? "" : `; name the input columns (inputs) or ignore this one`;
      throw new DnncError(`${where}:${c.col}: ${what} (column "${header[k]}")${hint}`);
    }
    const v = Number(c.text);
    if (!(v < F32_OVERFLOW && v > -F32_OVERFLOW)) throw new DnncError(`${where}:${c.col}: ${show(c.text)} is not a finite float32 (column "${header[k]}")`);
    return v;
  };
  let prevLine = 0;
  for (let line: string | null = firstData, cells = firstCells; line !== null;) {
    const where = `${file}:${lineNo}`;
    if (cells.length !== header.length)
      throw new DnncError(`${where}: ${cells.length} cells, but the header (line ${headerNo}) names ${header.length} columns`);
    if (n === cap) {
      cap *= 2;
      const grow = <T extends Float32Array | Float64Array | Int32Array>(a: T, w: number): T => {
        const b = new (a.constructor as { new (k: number): T })(cap * w);
        b.set(a);
        return b;
      };
      inputs = grow(inputs, Fi);
      targets = grow(targets, Fo);
      if (times) times = grow(times, 1);
      lines = grow(lines, 1);
    }
    for (let f = 0; f < Fi; f++) inputs[n * Fi + f] = number(cells, inputIdx[f], where);
    for (let f = 0; f < Fo; f++) targets[n * Fo + f] = number(cells, targetIdx[f], where);
    if (times) {
      const c = cells[timeIdx];
      const t = parseDateTime(c.text);
      if (t === null)
        throw new DnncError(
          `${where}:${c.col}: ${show(c.text)} is not a date/time (column "${header[timeIdx]}"; expected e.g. 2010-01-31, 2010-01-31 13:00:00, 2010/01/31 13:00, 2010-01-31T13:00:00Z)`,
        );
      if (n > 0 && t < times[n - 1])
        throw new DnncError(`${where}:${c.col}: time ${show(c.text)} is earlier than the row before it (line ${prevLine}): the rows must be in time order`);
      times[n] = t;
    }
    lines[n] = lineNo;
    prevLine = lineNo;
    n++;
    line = nextLine();
    if (line !== null) cells = splitLine(line, delim, `${file}:${lineNo}`);
  }
  return {
    file,
    steps: n,
    inputNames: inputIdx.map((k) => header[k]),
    targetNames: targetIdx.map((k) => header[k]),
    inputs: inputs.slice(0, n * Fi),
    targets: targets.slice(0, n * Fo),
    timeName: timeIdx >= 0 ? header[timeIdx] : undefined,
    times: times?.slice(0, n),
    lines: lines.slice(0, n),
  };
}

/** parseSeriesCsv on UTF-8 bytes (invalid UTF-8 is an error naming file:line:col). */
export function parseSeriesCsvBytes(bytes: Uint8Array, file: string, cols: SeriesColumns): SeriesTable {
  return parseSeriesCsv(decodeUtf8(bytes, file), file, cols);
}

// ---------------------------------------------------------------------------------------------
// Standardization.

/** Per-column statistics: v' = (v - mean[f]) / std[f] (std is the divisor used: 1 for a constant column). */
export interface Standardization {
  columns: string[];
  mean: Float32Array;
  std: Float32Array;
}

export interface SeriesStats {
  inputs: Standardization;
  targets: Standardization;
  /** Training rows (time steps) the statistics come from. */
  rows: number;
}

const STD_EPS = 1e-6;

/** Mean and std of each column of v ([rows, F]) over rows [start, end), in float64, stored as float32. */
function fitColumns(v: Float32Array, F: number, start: number, end: number, columns: string[]): Standardization {
  const mean = new Float32Array(F);
  const std = new Float32Array(F);
  const m = end - start;
  for (let f = 0; f < F; f++) {
    let s = 0;
    for (let r = start; r < end; r++) s += v[r * F + f];
    const mu = s / m;
    let q = 0;
    for (let r = start; r < end; r++) {
      const d = v[r * F + f] - mu;
      q += d * d;
    }
    const sigma = Math.sqrt(q / m);
    mean[f] = mu;
    std[f] = sigma <= STD_EPS ? 1 : sigma;
  }
  return { columns, mean, std };
}

/** In place on rows [count, F] at v[off]: v = (v - mean) / std, computed in double, rounded to float32 once. */
export function standardizeRows(s: Standardization, v: Float32Array, off: number, count: number): void {
  const F = s.mean.length;
  for (let r = 0; r < count; r++) for (let f = 0; f < F; f++) v[off + r * F + f] = (v[off + r * F + f] - s.mean[f]) / s.std[f];
}

/** The inverse, in place: v = v * std + mean (a prediction back in the column's units). */
export function unstandardizeRows(s: Standardization, v: Float32Array, off: number, count: number): void {
  const F = s.mean.length;
  for (let r = 0; r < count; r++) for (let f = 0; f < F; f++) v[off + r * F + f] = v[off + r * F + f] * s.std[f] + s.mean[f];
}

/** The statistics as tensors named `${prefix}input_mean`, input_std, target_mean, target_std. */
export function seriesStatsTensors(s: SeriesStats, prefix = "series."): { name: string; shape: number[]; data: Float32Array }[] {
  return [
    { name: `${prefix}input_mean`, shape: [s.inputs.mean.length], data: s.inputs.mean },
    { name: `${prefix}input_std`, shape: [s.inputs.std.length], data: s.inputs.std },
    { name: `${prefix}target_mean`, shape: [s.targets.mean.length], data: s.targets.mean },
    { name: `${prefix}target_std`, shape: [s.targets.std.length], data: s.targets.std },
  ];
}

/** The column names and the row count, as safetensors metadata strings (names as JSON arrays). */
export function seriesStatsMetadata(s: SeriesStats, prefix = "series."): Record<string, string> {
  return {
    [`${prefix}inputs`]: JSON.stringify(s.inputs.columns),
    [`${prefix}targets`]: JSON.stringify(s.targets.columns),
    [`${prefix}rows`]: String(s.rows),
  };
}

/** Rebuild the statistics stored by seriesStatsTensors/seriesStatsMetadata; null when the model has none. `file` names the model in errors. */
export function seriesStatsFromStored(
  meta: Record<string, string>,
  tensors: readonly { name: string; data: Float32Array }[],
  file: string,
  prefix = "series.",
): SeriesStats | null {
  if (meta[`${prefix}inputs`] === undefined) return null;
  const bad = (what: string): never => {
    throw new DnncError(`${file}: time-series statistics: ${what}`);
  };
  const names = (key: string): string[] => {
    let v: unknown;
    try {
      v = JSON.parse(meta[`${prefix}${key}`] ?? "");
    } catch {
      bad(`metadata "${prefix}${key}" is missing or not JSON`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) bad(`metadata "${prefix}${key}" is not a list of column names`);
    return v as string[];
  };
  const tensor = (name: string, len: number): Float32Array => {
    const t = tensors.find((x) => x.name === prefix + name);
    if (!t) bad(`tensor "${prefix + name}" is missing`);
    if (t!.data.length !== len) bad(`tensor "${prefix + name}" has ${t!.data.length} values, expected ${len}`);
    return t!.data;
  };
  const ins = names("inputs");
  const outs = names("targets");
  const rows = Number(meta[`${prefix}rows`]);
  if (!(Number.isInteger(rows) && rows > 0)) bad(`metadata "${prefix}rows" is missing or bad`);
  return {
    inputs: { columns: ins, mean: tensor("input_mean", ins.length), std: tensor("input_std", ins.length) },
    targets: { columns: outs, mean: tensor("target_mean", outs.length), std: tensor("target_std", outs.length) },
    rows,
  };
}

// ---------------------------------------------------------------------------------------------
// Windows.

export interface SeriesWindowOptions extends SplitFractions {
  /** Steps per input window. */
  window: number;
  /** Steps predicted after the window. Default 1. */
  horizon?: number;
  /** Steps between the starts of consecutive windows. Default 1. */
  stride?: number;
  /** Standardize inputs and targets with statistics of the training span. Default true. */
  standardize?: boolean;
}

export interface SeriesWindows {
  train: Dataset;
  validation?: Dataset;
  test?: Dataset;
  /** The spans, in steps (rows of the table). */
  spans: Spans;
  /** The fitted statistics (absent with standardize: false). */
  stats?: SeriesStats;
  inputNames: string[];
  targetNames: string[];
}

function positiveInt(v: number | undefined, name: string, file: string): number {
  if (!(Number.isInteger(v) && (v as number) >= 1)) throw new DnncError(`${file}: ${name} must be a positive integer, got ${v}`);
  return v as number;
}

/** Split, standardize and window a table (see the top of the file). */
export function seriesWindows(table: SeriesTable, opts: SeriesWindowOptions): SeriesWindows {
  const { file, steps } = table;
  const window = positiveInt(opts.window, "window", file);
  const horizon = positiveInt(opts.horizon ?? 1, "horizon", file);
  const stride = positiveInt(opts.stride ?? 1, "stride", file);
  const Fi = table.inputNames.length;
  const Fo = table.targetNames.length;
  if (window + horizon > steps)
    throw new DnncError(`${file}: the series has ${steps} time steps, fewer than one window needs (window ${window} + horizon ${horizon})`);
  const spans = splitSpans(steps, opts, file, "time steps");
  const inputs = table.inputs.slice();
  const targets = table.targets.slice();
  let stats: SeriesStats | undefined;
  if (opts.standardize ?? true) {
    const { start, end } = spans.train;
    stats = {
      inputs: fitColumns(inputs, Fi, start, end, table.inputNames),
      targets: fitColumns(targets, Fo, start, end, table.targetNames),
      rows: end - start,
    };
    standardizeRows(stats.inputs, inputs, 0, steps);
    standardizeRows(stats.targets, targets, 0, steps);
  }
  const when = (r: number) => (table.times ? ` (${new Date(table.times[r]).toISOString()})` : "");
  const part = (name: string, span: Span | undefined): Dataset | undefined => {
    if (!span) return undefined;
    const L = span.end - span.start;
    const n = windowCount(L, window + horizon, stride);
    if (n === 0)
      throw new DnncError(
        `${file}: the ${name} span (lines ${table.lines[span.start]}-${table.lines[span.end - 1]}${when(span.start)}) has ${L} time steps, ` +
          `fewer than one window needs (window ${window} + horizon ${horizon})`,
      );
    const w = {
      series: inputs.subarray(span.start * Fi, span.end * Fi),
      features: Fi,
      length: window,
      stride,
      target: targets.subarray(span.start * Fo, span.end * Fo),
      targetFeatures: Fo,
      targetOffset: window,
      targetLength: horizon,
    };
    return windowedDataset(w, n, [window, Fi], Fo === 1 ? [horizon] : [horizon, Fo]);
  };
  return {
    train: part("training", spans.train)!,
    validation: part("validation", spans.validation),
    test: part("test", spans.test),
    spans,
    stats,
    inputNames: table.inputNames,
    targetNames: table.targetNames,
  };
}
