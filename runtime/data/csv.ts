// CSV files of numeric tabular data → Dataset with float features [n, F] and one target column.
// Accepted: comma (or `delimiter`) separated cells, optional header row, CRLF or LF line ends,
// blank lines ignored, cells optionally "double-quoted" ("" inside quotes is a quote; no line
// breaks inside quotes). Every feature cell must be a decimal number that is finite in float32
// (|x| < 3.4028235e38): NaN, Infinity, hex, empty cells and values such as 1e39 are errors naming
// file:line:col, the column and the cell.
//
// The parser reads bytes, not a string: CsvParser takes the file in chunks (runtime/node/load-csv.ts
// feeds it 4 MiB at a time) and writes each number straight into one Float32Array, so memory is
// the float32 values plus a chunk. Two paths, one meaning:
//  - the fast path takes a data row of unquoted ASCII numbers and parses each number from its
//    bytes, to the double Number() gives for its text: with at most 15 digits and a decimal
//    exponent within ±22, the integer mantissa and 10^|exponent| are exact doubles, so one
//    multiplication or division rounds the exact value once, as Number() does (Clinger's fast
//    path); longer numbers and larger exponents go to Number() itself;
//  - anything else (the first row, quotes, non-ASCII bytes, and every error) goes through the
//    general path, which decodes that one line and splits it as the original string parser did.
// The fast path only ever accepts rows that the general path reads the same way, and hands every
// row it does not accept, untouched, to the general path, which accepts it or names the problem.
import { DnncError } from "../errors";
import type { Dataset } from "./dataset";

export interface CsvOptions {
  /**
   * The target column: a header name, or a 0-based index (negative counts from the end: -1 is the
   * last). null: no target column, every column is a feature (`y` is then empty).
   */
  label: string | number | null;
  /**
   * Whether the first non-blank line is a header. Default: detected: it is a header when any of
   * its cells is not a number.
   */
  header?: boolean;
  /** Cell separator, one character. Default ",". */
  delimiter?: string;
  /** The target is a real value (regression) instead of a class index. Default false. */
  regression?: boolean;
  /**
   * Number of classes for classification; labels must be integers in [0, classes). Default: the
   * largest label + 1 (pass the training split's value when loading a test split).
   */
  classes?: number;
  /**
   * The feature columns, in this order (header names, or 0-based indices, negative from the end).
   * Default: every column but the label. Columns that are neither a feature nor the label are not
   * read at all (they may hold anything, text included).
   */
  features?: (string | number)[];
  /** Lines at the top of the file skipped before the header or the first data row (a metadata line). Default 0. */
  skipRows?: number;
  /**
   * Feature columns that hold categories (names or indices; each must be a feature): each cell's
   * text (unquoted, trimmed; "" too) is a category, stored in x as its index in the column's
   * `categories` list (in order of first appearance). runtime/data/categorical.ts one-hot encodes them.
   */
  categorical?: (string | number)[];
}

/** A categorical feature column as the parser leaves it: x holds each row's index into `values` at `slot`. */
export interface CsvCategories {
  column: string;
  slot: number;
  /** The distinct texts, in order of first appearance. */
  values: string[];
}

export interface CsvDataset extends Dataset {
  x: Float32Array;
  /** The targets; empty when the options' label is null. */
  y: Float32Array;
  /** Names of the feature columns in order (from the header, or "c0", "c1", ... without one). */
  featureNames: string[];
  /** Name of the target column ("" when the options' label is null). */
  labelName: string;
  /** Whether the file has a header row. */
  hasHeader: boolean;
  /** The categorical feature columns (options.categorical), in slot order; absent without them. */
  categories?: CsvCategories[];
}

/** Column roles: SKIPPED (not read), LABEL (the target); a feature column's role is its slot, 0 .. F-1. */
const SKIPPED = -1;
const LABEL = -2;

/**
 * Limits of what one CSV file may hold, and why. Values: a Float32Array has at most 2^32 elements
 * in Node 20. Rows: sample indices are Int32 (the shuffled order is an Int32Array). Line: a line
 * that takes the general path is decoded to one string (V8 strings stop at 2^29 characters).
 */
export const CSV_LIMITS: CsvLimits = { values: 2 ** 32 - 1, rows: 2 ** 31 - 1, lineBytes: 2 ** 28 };

export interface CsvLimits {
  values: number;
  rows: number;
  lineBytes: number;
}

/** The smallest double that rounds to Infinity in float32 (2^128 - 2^103: the halfway point above the largest float32). */
export const F32_OVERFLOW = 3.4028235677973366e38;

export const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Exact powers of ten as doubles: 10^0 .. 10^22 (10^22 is the largest one a double holds exactly). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

export interface Cell {
  text: string;
  /** 1-based character column where the cell starts. */
  col: number;
}

export function splitLine(line: string, delim: string, where: string): Cell[] {
  const cells: Cell[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    let text = "";
    // skip leading spaces before a possible quote
    let j = i;
    while (line[j] === " " || line[j] === "\t") j++;
    if (line[j] === '"') {
      j++;
      for (;;) {
        if (j >= line.length) throw new DnncError(`${where}:${start + 1}: unterminated quoted cell`);
        if (line[j] === '"') {
          if (line[j + 1] === '"') {
            text += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        text += line[j++];
      }
      while (line[j] === " " || line[j] === "\t") j++;
      if (j < line.length && line[j] !== delim) {
        throw new DnncError(`${where}:${j + 1}: unexpected text after a quoted cell`);
      }
      i = j;
    } else {
      const end = line.indexOf(delim, i);
      i = end < 0 ? line.length : end;
      text = line.slice(start, i).trim();
    }
    cells.push({ text, col: start + 1 });
    if (i >= line.length) return cells;
    i++; // past the delimiter
  }
}

/** A cell's text for a message: quoted, and cut after 40 characters. */
export function show(text: string): string {
  return `"${text.length > 40 ? text.slice(0, 40) + "..." : text}"`;
}

/** A size in bytes for a message: "256 MiB", "100 bytes". */
export function bytesText(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

/** The ASCII bytes b[s, e) as a string. */
function ascii(b: Uint8Array, s: number, e: number): string {
  let t = "";
  for (let i = s; i < e; i++) t += String.fromCharCode(b[i]);
  return t;
}

/**
 * Whether a first line is scikit-learn's metadata line (load_iris, load_breast_cancer, ... ship CSV
 * files that open with "n_samples,n_features,class names..."): neither a header nor a data row.
 * Rule A (the line alone): two whole numbers >= 1, then two or more names ("569,30,malignant,benign").
 * Rule B (`next`: the width of the row after it, which does not match): two whole numbers >= 1 and
 * the next row has n_features + 1 cells (digits' class names are numbers: "1797,64,0,1,...,9").
 */
export function metadataLine(cells: readonly string[], next?: number): boolean {
  if (cells.length < 2 || !/^[1-9]\d*$/.test(cells[0]) || !/^[1-9]\d*$/.test(cells[1])) return false;
  if (next !== undefined) return next === Number(cells[1]) + 1;
  const rest = cells.slice(2);
  return rest.length >= 2 && rest.every((t) => t !== "" && !NUMBER.test(t));
}

/** The error for a metadata line at `line`: what it looks like, and skip_rows. */
export function metadataLineMessage(file: string, line: number, cells: readonly string[], delim: string): string {
  const rest = cells.slice(2);
  return (
    `${file}:${line}: this line looks like scikit-learn's metadata line (${show(cells.join(delim))}: ${cells[0]} samples, ${cells[1]} features` +
    `${rest.length > 0 ? `, classes ${rest.join(", ")}` : ""}), not a header or a data row; ` +
    `skip it with csv(..., skip_rows=${line}) (the columns are then numbered from 0, the label last: label=-1)`
  );
}

/** Byte classes of the fast path (0: anything else). */
const SPACE = 1; // what String.prototype.trim removes, in ASCII (\n ends the line first)
const DELIM = 2; // the delimiter, even when it is a space or a tab

const MORE = 0; // the fast path stopped at the end of the bytes
const GENERAL = 1; // the fast path stopped at a row for the general path

/**
 * A CSV parser fed bytes in pieces: feed() parses the complete lines it is given and says how far it
 * got; the caller passes the rest again, with more bytes after it. finish() returns the dataset.
 */
export class CsvParser {
  private readonly delim: string;
  /** The delimiter's byte when the fast path can run (an ASCII character that cannot be part of a number), else -1. */
  private readonly delimByte: number;
  private readonly cls = new Uint8Array(256);
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private readonly regression: boolean;
  /** Lines consumed so far (the next line's number is line + 1). */
  line = 0;
  private bomChecked = false;
  /** Bytes consumed before the current feed() call's start, minus that start: absolute offset of b[i] is base + i. */
  private base = 0;
  private consumed = 0;
  private need = MORE;
  // known after the first row
  private shaped = false;
  private hasHeader = false;
  private names: string[] = [];
  private width = 0;
  private F = 0;
  private labelCol = -1;
  /** Per column: its feature slot, or SKIPPED, or LABEL. */
  private role = new Int32Array(0);
  /** Per column: its categories' index by text (categorical columns only; they take the general path). */
  private cats: (Map<string, number> | undefined)[] = [];
  private firstLine = 0;
  private firstCells: string[] = [];
  private x = new Float32Array(0);
  private y = new Float32Array(0);
  /** Rows x and y have room for. */
  private cap = 0;
  /** Whether the arrays were sized from an upper bound on the rows (finish() then returns views, no copy). */
  private bounded = false;
  private n = 0;
  private maxLabel = -1;
  /** Lines the general path has read (tests check that numeric rows take the fast path). */
  generalLines = 0;

  constructor(
    private readonly file: string,
    private readonly opts: CsvOptions,
    /** Size of the whole input in bytes, when known: the arrays are then sized once, from an upper bound on the rows. */
    private readonly totalBytes?: number,
    /** Tests lower them. */
    private readonly limits: CsvLimits = CSV_LIMITS,
  ) {
    const delim = opts.delimiter ?? ",";
    if (delim.length !== 1 || delim === '"') throw new DnncError(`${file}: the CSV delimiter must be one character other than '"'`);
    this.delim = delim;
    const d = delim.charCodeAt(0);
    this.delimByte = d < 128 && d !== 10 && !/[0-9+\-.eE]/.test(delim) ? d : -1;
    for (const c of [9, 11, 12, 13, 32]) this.cls[c] = SPACE;
    if (this.delimByte >= 0) this.cls[this.delimByte] = DELIM;
    this.regression = opts.regression ?? false;
  }

  /** Parse the complete lines of b[start, end) (and with `final`, the last line even without a newline); returns the index after the last line consumed. */
  feed(b: Uint8Array, start: number, end: number, final: boolean): number {
    let pos = start;
    this.base = this.consumed - start;
    if (!this.bomChecked) {
      if (end - start < 3 && !final) return start;
      if (b[pos] === 0xef && b[pos + 1] === 0xbb && b[pos + 2] === 0xbf) pos += 3; // byte-order mark
      this.bomChecked = true;
    }
    while (pos < end) {
      if (this.shaped && this.delimByte >= 0) {
        pos = this.fast(b, pos, end);
        // the rest is an unfinished line (or the last one, without a newline: general path)
        if (this.need === MORE && (!final || pos >= end)) break;
      }
      const next = this.general(b, pos, end, final);
      if (next < 0) break;
      pos = next;
    }
    this.consumed = this.base + pos;
    return pos;
  }

  /** The dataset: call after the last feed() (with final). */
  finish(): CsvDataset {
    const { file, n, F } = this;
    if (!this.shaped) throw new DnncError(`${file}: empty file (no CSV rows)`);
    if (n === 0) throw new DnncError(`${file}: no data rows (only a header)`);
    const hasLabel = this.labelCol >= 0;
    const x = this.bounded ? this.x.subarray(0, n * F) : this.x.slice(0, n * F);
    const y = !hasLabel ? new Float32Array(0) : this.bounded ? this.y.subarray(0, n) : this.y.slice(0, n);
    const featureNames = new Array<string>(F);
    for (let k = 0; k < this.width; k++) if (this.role[k] >= 0) featureNames[this.role[k]] = this.names[k];
    const classes = this.regression || !hasLabel ? undefined : (this.opts.classes ?? this.maxLabel + 1);
    return {
      x,
      y,
      n,
      shape: [F],
      classes,
      featureNames,
      labelName: hasLabel ? this.names[this.labelCol] : "",
      hasHeader: this.hasHeader,
      ...(this.cats.some((m) => m)
        ? {
            categories: this.cats
              .map((m, k) => (m ? { column: this.names[k], slot: this.role[k], values: [...m.keys()] } : undefined))
              .filter((c): c is CsvCategories => c !== undefined)
              .sort((a, b) => a.slot - b.slot),
          }
        : {}),
    };
  }

  /** One line through the general path: decoded to a string and split as cells. -1: the line is not complete yet. */
  private general(b: Uint8Array, pos: number, end: number, final: boolean): number {
    let nl = b.indexOf(10, pos);
    if (nl < 0 || nl >= end) {
      if (!final) return -1;
      nl = end;
    }
    const lineNo = this.line + 1;
    const where = `${this.file}:${lineNo}`;
    if (nl - pos > this.limits.lineBytes)
      throw new DnncError(`${where}: line of ${nl - pos} bytes: a line that is not plain numbers may hold at most ${bytesText(this.limits.lineBytes)}`);
    let text: string;
    try {
      text = this.decoder.decode(b.subarray(pos, nl));
    } catch {
      throw new DnncError(`${where}: not UTF-8 text (is it really a CSV file?)`);
    }
    this.line = lineNo;
    this.generalLines++;
    const next = nl < end ? nl + 1 : end;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (lineNo <= (this.opts.skipRows ?? 0)) return next;
    if (text.trim() === "") return next;
    const cells = splitLine(text, this.delim, where);
    if (!this.shaped) this.firstRow(cells, lineNo, this.base + next);
    else this.dataRow(cells, lineNo);
    return next;
  }

  /** The first non-blank row: the header (or the first data row) fixes the columns and sizes the arrays. */
  private firstRow(cells: Cell[], lineNo: number, offsetAfter: number): void {
    const { file, opts } = this;
    const width = cells.length;
    const hasHeader = opts.header ?? cells.some((c) => !NUMBER.test(c.text));
    if (opts.header !== false) this.refuseMetadataLine(cells, lineNo);
    this.names = hasHeader ? cells.map((c) => c.text) : cells.map((_, k) => `c${k}`);
    this.firstCells = cells.map((c) => c.text);
    this.hasHeader = hasHeader;
    this.firstLine = lineNo;
    this.width = width;
    /** A column named in the options: its index, or an error naming what the file has. */
    const column = (c: string | number, what: string): number => {
      if (typeof c === "string") {
        if (!hasHeader)
          throw new DnncError(`${file}:${lineNo}: ${what} column "${c}" given by name, but the file has no header row (give a 0-based index, or header=true)`);
        const k = this.names.indexOf(c);
        if (k < 0) throw new DnncError(`${file}:${lineNo}: no column named "${c}" in the header (columns: ${this.names.join(", ")})`);
        return k;
      }
      const k = c < 0 ? width + c : c;
      if (!Number.isInteger(k) || k < 0 || k >= width)
        throw new DnncError(
          `${file}:${lineNo}: ${what} column index ${c} is out of range for the ${width} columns of this line (0..${width - 1}, or -1 for the last)`,
        );
      return k;
    };
    const role = new Int32Array(width).fill(SKIPPED);
    if (opts.label === null) {
      this.labelCol = -1;
    } else {
      if (width < 2 && opts.features === undefined)
        throw new DnncError(`${file}:${lineNo}: need at least one feature column and a label column, found ${width} column`);
      this.labelCol = column(opts.label, "label");
      role[this.labelCol] = LABEL;
    }
    let F = 0;
    if (opts.features !== undefined) {
      if (opts.features.length === 0) throw new DnncError(`${file}: features: the list of feature columns is empty`);
      for (const c of opts.features) {
        const k = column(c, "feature");
        if (role[k] === LABEL) throw new DnncError(`${file}:${lineNo}: column "${this.names[k]}" is the label; it cannot be a feature too`);
        if (role[k] !== SKIPPED) throw new DnncError(`${file}:${lineNo}: column "${this.names[k]}" is listed twice in features`);
        role[k] = F++;
      }
    } else {
      for (let k = 0; k < width; k++) if (role[k] !== LABEL) role[k] = F++;
    }
    this.cats = new Array(width).fill(undefined);
    for (const c of opts.categorical ?? []) {
      const k = column(c, "categorical");
      if (role[k] < 0)
        throw new DnncError(`${file}:${lineNo}: categorical column "${this.names[k]}" is not a feature${role[k] === LABEL ? " (it is the label)" : ""}`);
      this.cats[k] = new Map();
    }
    this.role = role;
    this.F = F;
    this.shaped = true;
    // Every data row holds `width` numbers of at least one byte each and width - 1 delimiters, and
    // all but the last end with a newline: at most (rest + 1) / (2 width) rows follow. Arrays of that
    // size are only address space until written: the untouched tail never becomes resident memory.
    const rowsFromHere = this.totalBytes !== undefined ? Math.floor((this.totalBytes - offsetAfter + 1) / (2 * width)) : 1023;
    this.allocate((hasHeader ? 0 : 1) + rowsFromHere, this.totalBytes !== undefined);
    if (!hasHeader) this.dataRow(cells, lineNo);
  }

  /** Refuse scikit-learn's metadata line when the first row is one (rule A of metadataLine). */
  private refuseMetadataLine(cells: Cell[], lineNo: number): void {
    const texts = cells.map((c) => c.text);
    if (metadataLine(texts)) throw new DnncError(metadataLineMessage(this.file, lineNo, texts, this.delim));
  }

  /** Size x and y for `rows` rows (capped by the limits), copying what they hold. */
  private allocate(rows: number, bounded: boolean): void {
    const F = this.F;
    const maxRows = this.maxRows();
    rows = Math.max(1, Math.min(rows, maxRows));
    try {
      const x = new Float32Array(rows * F);
      const y = new Float32Array(this.labelCol >= 0 ? rows : 0);
      x.set(this.x.subarray(0, this.n * F));
      y.set(this.y.subarray(0, this.n));
      this.x = x;
      this.y = y;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      if (bounded) {
        // the upper bound did not fit the address space: grow as needed instead
        this.allocate(Math.max(1024, 2 * this.n), false);
        return;
      }
      throw new DnncError(
        `${this.file}:${this.line}: out of memory for ${rows} rows of ${F} features (${((rows * F * 4) / 2 ** 30).toFixed(1)} GiB of float32)`,
      );
    }
    this.cap = rows;
    this.bounded = bounded;
  }

  private maxRows(): number {
    return Math.min(this.limits.rows, Math.floor(this.limits.values / Math.max(this.F, 1)));
  }

  /** Room for one more row. */
  private grow(): void {
    const { values, rows } = this.limits;
    if (this.n >= this.maxRows()) {
      throw new DnncError(
        `${this.file}:${this.line + 1}: too many values: ${this.n} rows of ${this.F} features is the most one CSV file ` +
          `may hold (at most ${values} values, the longest Float32Array Node allows, and ${rows} rows); split the file`,
      );
    }
    this.allocate(2 * this.cap, false);
  }

  /** One data row from the general path (the original parser's checks and messages). */
  private dataRow(cells: Cell[], line: number): void {
    const { file, width, names, role } = this;
    if (cells.length !== width) {
      // rule B of metadataLine: the first line announced this row's width
      if (this.n === 1 && !this.hasHeader && metadataLine(this.firstCells, cells.length))
        throw new DnncError(metadataLineMessage(file, this.firstLine, this.firstCells, this.delim));
      throw new DnncError(`${file}:${line}: ragged row: ${cells.length} cells, expected ${width} (as in line ${this.firstLine})`);
    }
    if (this.n === this.cap) this.grow();
    const r = this.n;
    const f = r * this.F;
    for (let k = 0; k < width; k++) {
      const slot = role[k];
      if (slot === SKIPPED) continue;
      const c = cells[k];
      const cat = this.cats[k];
      if (cat) {
        let id = cat.get(c.text);
        if (id === undefined) cat.set(c.text, (id = cat.size));
        this.x[f + slot] = id;
        continue;
      }
      if (!NUMBER.test(c.text)) {
        const what = c.text === "" ? "empty cell" : `${show(c.text)} is not a number`;
        throw new DnncError(`${file}:${line}:${c.col}: ${what} (column "${names[k]}")`);
      }
      const v = Number(c.text);
      if (!(v < F32_OVERFLOW && v > -F32_OVERFLOW)) {
        throw new DnncError(
          `${file}:${line}:${c.col}: ${show(c.text)} is not a finite float32 (it would be ${v > 0 ? "" : "-"}Infinity; ` +
            `the largest float32 is 3.4028235e38) (column "${names[k]}")`,
        );
      }
      if (slot === LABEL) {
        if (!this.regression) {
          if (!Number.isInteger(v) || v < 0) {
            throw new DnncError(
              `${file}:${line}:${c.col}: label ${show(c.text)} is not a class index (an integer >= 0); ` +
                `for a real-valued target load with regression: true`,
            );
          }
          const classes = this.opts.classes;
          if (classes !== undefined && v >= classes) {
            throw new DnncError(`${file}:${line}:${c.col}: label out of range at row ${r}: ${v} (expected 0..${classes - 1})`);
          }
          if (v > this.maxLabel) this.maxLabel = v;
        }
        this.y[r] = v;
      } else {
        this.x[f + slot] = v;
      }
    }
    this.n++;
  }

  /**
   * Data rows of unquoted ASCII numbers, from b[pos]: each number is parsed from its bytes and
   * stored. Stops after the last newline before `end` (need = MORE; returns where the rest starts)
   * or at a row it does not take (need = GENERAL; returns where that row starts).
   */
  private fast(b: Uint8Array, pos: number, end: number): number {
    // only whole lines: every scan below stops at the newline that ends its line, at the latest
    const last = b.lastIndexOf(10, end - 1);
    if (last < pos) {
      this.need = MORE;
      return pos;
    }
    end = last + 1;
    const cls = this.cls;
    const delim = this.delimByte;
    const width = this.width;
    const role = this.role;
    const cats = this.cats;
    const regression = this.regression;
    const classes = this.opts.classes ?? Infinity;
    let x = this.x;
    let y = this.y;
    const F = this.F;
    let n = this.n;
    let maxLabel = this.maxLabel;
    let line = this.line;
    let row = pos;
    let need = MORE;
    rows: while (row < end) {
      if (n === this.cap) {
        this.n = n;
        this.line = line;
        this.grow();
        x = this.x;
        y = this.y;
      }
      let p = row;
      const f = n * F;
      let k = 0;
      let c = b[p];
      for (;;) {
        // one cell: spaces, a number, spaces, then the delimiter or the end of the line
        while (cls[c] === SPACE) c = b[++p];
        if (k === 0 && c === 10) {
          // a blank line
          line++;
          row = p + 1;
          continue rows;
        }
        if (k >= width) {
          need = GENERAL;
          break rows;
        }
        const slot = role[k];
        if (cats[k] !== undefined) {
          need = GENERAL;
          break rows;
        }
        if (slot === SKIPPED) {
          // a column that is not read: to the delimiter or the end of the line (quotes and non-ASCII bytes: general path)
          while (c !== 10 && c !== delim) {
            if (c === 34 || c >= 128) {
              need = GENERAL;
              break rows;
            }
            c = b[++p];
          }
        } else {
          // the number (see the top of the file)
          const s = p;
          let neg = false;
          if (c === 45 || c === 43) {
            neg = c === 45;
            c = b[++p];
          }
          // mantissa digits accumulate into w, exactly while there are at most 15 of them
          const i0 = p;
          let w = 0;
          while (c >= 48 && c <= 57) {
            w = w * 10 + (c - 48);
            c = b[++p];
          }
          let digits = p - i0;
          let e10 = 0;
          if (c === 46) {
            const f0 = ++p;
            c = b[p];
            while (c >= 48 && c <= 57) {
              w = w * 10 + (c - 48);
              c = b[++p];
            }
            e10 = f0 - p;
            digits += p - f0;
          }
          if (c === 101 || c === 69) {
            c = b[++p];
            let eneg = false;
            if (c === 45 || c === 43) {
              eneg = c === 45;
              c = b[++p];
            }
            if (!(c >= 48 && c <= 57)) digits = 0; // no exponent digits: not a number (or not yet complete)
            let ex = 0;
            while (c >= 48 && c <= 57) {
              if (ex < 1e6) ex = ex * 10 + (c - 48);
              c = b[++p];
            }
            e10 += eneg ? -ex : ex;
          }
          if (digits === 0) {
            need = GENERAL;
            break rows;
          }
          const e = p;
          while (cls[c] === SPACE) c = b[++p];
          if (c !== 10 && c !== delim) {
            need = GENERAL;
            break rows;
          }
          let v: number;
          if (digits <= 15 && e10 >= -22 && e10 <= 22) {
            // |v| < 10^15 * 10^22: finite in float32
            v = e10 === 0 ? w : e10 > 0 ? w * POW10[e10] : w / POW10[-e10];
            if (neg) v = -v;
          } else {
            v = Number(ascii(b, s, e));
            if (!(v < F32_OVERFLOW && v > -F32_OVERFLOW)) {
              need = GENERAL;
              break rows;
            }
          }
          if (slot === LABEL) {
            if (!regression) {
              if (!(v >= 0 && v < classes && Number.isInteger(v))) {
                need = GENERAL;
                break rows;
              }
              if (v > maxLabel) maxLabel = v;
            }
            y[n] = v;
          } else x[f + slot] = v;
        }
        k++;
        if (c === delim) {
          c = b[++p];
          continue;
        }
        // the end of the row
        if (k !== width) {
          need = GENERAL;
          break rows;
        }
        n++;
        line++;
        row = p + 1;
        continue rows;
      }
    }
    this.n = n;
    this.line = line;
    this.maxLabel = maxLabel;
    this.need = need;
    return row;
  }
}

/** Parse CSV bytes held in memory. `fileName` labels error messages. */
export function parseCsvBytes(bytes: Uint8Array, fileName: string, opts: CsvOptions, limits?: CsvLimits): CsvDataset {
  const parser = new CsvParser(fileName, opts, bytes.length, limits);
  parser.feed(bytes, 0, bytes.length, true);
  return parser.finish();
}

/** Parse CSV text. `fileName` labels error messages. */
export function parseCsv(text: string, fileName: string, opts: CsvOptions): CsvDataset {
  return parseCsvBytes(new TextEncoder().encode(text), fileName, opts);
}
