// CSV files of token-id sequences → a Dataset of padded sequences (runtime/node/load-csv.ts
// loadTokenCsv reads the file). Each non-blank row is one sample: integer token ids, optionally
// with a label cell, rows of any length:
//   label,tokens          header (optional; detected as in csv.ts: a row with a cell that is not a number)
//   1,12,7,7,3            label 1, tokens [12, 7, 7, 3]
//   0,5                   label 0, tokens [5]
// Every sequence is padded with the pad id (default 0) to the longest row, or to `maxLength`
// (longer rows are then cut to their first maxLength tokens: `truncated` counts them);
// lengths[i] = the row's token count (after cutting). x holds the ids as floats: a token id is an
// integer in [0, 2^24) (float32 holds every such integer exactly), and below `vocabSize` when
// given. A row without tokens is an error.
//
// The label column (`label`): null (no labels: y is empty), a 0-based index (negative counts from
// the end of EACH row: -1 is every row's last cell), or a header name: the name's position k in
// the header counts from the start, except that the header's last name means every row's last
// cell (so "label,tokens" reads the first cell and "tokens,label" the last one). Labels follow
// csv.ts: class indices (integers >= 0, below `classes` when given) or, with regression, reals.
//
// Cells are split as in csv.ts (delimiter, "quotes", CRLF, blank lines, byte-order mark);
// invalid UTF-8 and every bad cell are errors naming file:line:col.
import { DnncError } from "../errors";
import { F32_OVERFLOW, NUMBER, show, splitLine, type Cell } from "./csv";
import type { Dataset } from "./dataset";
import { decodeUtf8 } from "./utf8";

/** Token ids are below this: every integer up to 2^24 is exact in float32. */
export const MAX_TOKEN_ID = 2 ** 24;

export interface TokenCsvOptions {
  /** The label column (see the top of the file); null: no labels. */
  label: string | number | null;
  /** Whether the first non-blank row is a header. Default: detected. */
  header?: boolean;
  /** Cell separator, one character. Default ",". */
  delimiter?: string;
  /** The pad id. Default 0. */
  pad?: number;
  /** Pad (and cut) every sequence to this length. Default: the longest row. */
  maxLength?: number;
  /** Real-valued labels instead of class indices. Default false. */
  regression?: boolean;
  /** Number of classes; labels must be below it. Default: the largest label + 1. */
  classes?: number;
  /** Token ids (and the pad id) must be below it. Default: no bound but 2^24; the result's vocabSize is then the largest id + 1. */
  vocabSize?: number;
}

export interface TokenCsvDataset extends Dataset {
  x: Float32Array;
  /** Labels; empty without a label column. */
  y: Float32Array;
  lengths: Int32Array;
  /** The pad id. */
  pad: number;
  /** The padded length (shape[0]). */
  maxLength: number;
  /** opts.vocabSize, or the largest token or pad id + 1. */
  vocabSize: number;
  /** Rows cut to maxLength. */
  truncated: number;
  /** Name of the label column ("" without one or without a header). */
  labelName: string;
  hasHeader: boolean;
}

function intOption(v: number | undefined, name: string, file: string, min: number, max = MAX_TOKEN_ID): number | undefined {
  if (v === undefined) return undefined;
  if (!(Number.isInteger(v) && v >= min && v <= max)) throw new DnncError(`${file}: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

/** Parse token-id CSV bytes; `file` labels error messages. */
export function parseTokenCsvBytes(bytes: Uint8Array, file: string, opts: TokenCsvOptions): TokenCsvDataset {
  const delim = opts.delimiter ?? ",";
  if (delim.length !== 1 || delim === '"' || delim === "\n") throw new DnncError(`${file}: the CSV delimiter must be one character other than '"'`);
  const vocabSize = intOption(opts.vocabSize, "vocabSize", file, 1);
  const pad = intOption(opts.pad, "pad id", file, 0, MAX_TOKEN_ID - 1) ?? 0;
  if (vocabSize !== undefined && pad >= vocabSize) throw new DnncError(`${file}: pad id ${pad} is not below vocabSize ${vocabSize}`);
  const maxLength = intOption(opts.maxLength, "maxLength", file, 1, 2 ** 30);
  const regression = opts.regression ?? false;
  const idLimit = vocabSize ?? MAX_TOKEN_ID;
  const text = decodeUtf8(bytes, file);
  let tokens = new Int32Array(1024);
  let nTok = 0;
  const rowEnd: number[] = [];
  const labels: number[] = [];
  let hasHeader = false;
  let labelName = "";
  let labelIdx: number | null = null; // >= 0 from the start, < 0 from the end
  let first = true;
  let maxId = pad;
  let maxLabel = -1;
  let longest = 0;
  let truncated = 0;
  let lineNo = 0;
  for (let pos = 0; pos <= text.length;) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    let line = text.slice(pos, nl);
    pos = nl + 1;
    lineNo++;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    const where = `${file}:${lineNo}`;
    const cells = splitLine(line, delim, where);
    if (first) {
      first = false;
      hasHeader = opts.header ?? cells.some((c) => !NUMBER.test(c.text));
      if (opts.label !== null) {
        if (typeof opts.label === "string") {
          if (!hasHeader) throw new DnncError(`${file}: label column "${opts.label}" given by name, but the file has no header row`);
          const k = cells.findIndex((c) => c.text === opts.label);
          if (k < 0) throw new DnncError(`${where}: no column named "${opts.label}" in the header (columns: ${cells.map((c) => c.text).join(", ")})`);
          labelIdx = k === cells.length - 1 && k > 0 ? -1 : k;
          labelName = opts.label;
        } else {
          if (!Number.isInteger(opts.label)) throw new DnncError(`${file}: label column index ${opts.label} is not an integer`);
          labelIdx = opts.label;
          if (hasHeader) {
            const k = labelIdx < 0 ? cells.length + labelIdx : labelIdx;
            labelName = cells[k]?.text ?? "";
          }
        }
      }
      if (hasHeader) continue;
    }
    // one sample
    const m = cells.length;
    let lc = -1;
    if (labelIdx !== null) {
      lc = labelIdx < 0 ? m + labelIdx : labelIdx;
      if (lc < 0 || lc >= m)
        throw new DnncError(`${where}: ${m} cell${m === 1 ? "" : "s"}: no label cell at column ${labelIdx < 0 ? `${labelIdx} (from the end)` : labelIdx + 1}`);
      labels.push(labelValue(cells[lc], where, regression, opts.classes));
      if (!regression && labels[labels.length - 1] > maxLabel) maxLabel = labels[labels.length - 1];
    }
    const count = lc >= 0 ? m - 1 : m;
    if (count === 0) throw new DnncError(`${where}: no token ids in this row (a sequence needs at least one)`);
    const keep = maxLength !== undefined ? Math.min(count, maxLength) : count;
    if (keep < count) truncated++;
    if (keep > longest) longest = keep;
    if (nTok + keep > tokens.length) {
      const bigger = new Int32Array(Math.max(2 * tokens.length, nTok + keep));
      bigger.set(tokens.subarray(0, nTok));
      tokens = bigger;
    }
    let kept = 0;
    for (let k = 0; k < m; k++) {
      if (k === lc) continue;
      const c = cells[k];
      const id = tokenId(c, where, idLimit, vocabSize !== undefined);
      if (kept < keep) {
        tokens[nTok++] = id;
        kept++;
        if (id > maxId) maxId = id;
      }
    }
    rowEnd.push(nTok);
  }
  const n = rowEnd.length;
  if (n === 0) throw new DnncError(first ? `${file}: empty file (no CSV rows)` : `${file}: no data rows (only a header)`);
  const L = maxLength ?? longest;
  const x = new Float32Array(n * L).fill(pad);
  const lengths = new Int32Array(n);
  for (let i = 0, s = 0; i < n; i++) {
    const e = rowEnd[i];
    for (let k = s; k < e; k++) x[i * L + (k - s)] = tokens[k];
    lengths[i] = e - s;
    s = e;
  }
  const hasLabel = labelIdx !== null;
  return {
    x,
    y: hasLabel ? Float32Array.from(labels) : new Float32Array(0),
    n,
    shape: [L],
    classes: regression || !hasLabel ? undefined : (opts.classes ?? maxLabel + 1),
    lengths,
    pad,
    maxLength: L,
    vocabSize: vocabSize ?? maxId + 1,
    truncated,
    labelName,
    hasHeader,
  };
}

function tokenId(c: Cell, where: string, limit: number, given: boolean): number {
  const t = c.text;
  if (!/^\d+$/.test(t)) {
    const what = t === "" ? "empty cell" : `${show(t)} is not a token id (an integer >= 0)`;
    throw new DnncError(`${where}:${c.col}: ${what}`);
  }
  const id = Number(t);
  if (id >= limit)
    throw new DnncError(
      given
        ? `${where}:${c.col}: token id ${show(t)} is not below vocabSize ${limit}`
        : `${where}:${c.col}: token id ${show(t)} is too large (token ids must be below 2^24 = ${MAX_TOKEN_ID}, the integers float32 holds exactly)`,
    );
  return id;
}

function labelValue(c: Cell, where: string, regression: boolean, classes: number | undefined): number {
  if (!NUMBER.test(c.text)) throw new DnncError(`${where}:${c.col}: label ${c.text === "" ? "cell is empty" : `${show(c.text)} is not a number`}`);
  const v = Number(c.text);
  if (!(v < F32_OVERFLOW && v > -F32_OVERFLOW)) throw new DnncError(`${where}:${c.col}: label ${show(c.text)} is not a finite float32`);
  if (regression) return Math.fround(v);
  if (!Number.isInteger(v) || v < 0)
    throw new DnncError(`${where}:${c.col}: label ${show(c.text)} is not a class index (an integer >= 0); for a real-valued target load with regression: true`);
  if (classes !== undefined && v >= classes) throw new DnncError(`${where}:${c.col}: label ${v} out of range (expected 0..${classes - 1})`);
  return v;
}
