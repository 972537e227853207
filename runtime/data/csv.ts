// CSV files of numeric tabular data → Dataset with float features [n, F] and one target column.
// Accepted: comma (or `delimiter`) separated cells, optional header row, CRLF or LF line ends,
// blank lines ignored, cells optionally "double-quoted" ("" inside quotes is a quote; no line
// breaks inside quotes). Every feature cell must be a finite decimal number: NaN, Infinity, hex
// and empty cells are errors naming file:line:col, the column and the cell.
import { DnncError } from "../errors";
import type { Dataset } from "./dataset";

export interface CsvOptions {
  /** The target column: a header name, or a 0-based index (negative counts from the end: -1 is the last). */
  label: string | number;
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
}

export interface CsvDataset extends Dataset {
  x: Float32Array;
  y: Float32Array;
  /** Names of the feature columns in order (from the header, or "c0", "c1", ... without one). */
  featureNames: string[];
  /** Name of the target column. */
  labelName: string;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

interface Cell {
  text: string;
  /** 1-based character column where the cell starts. */
  col: number;
}

function splitLine(line: string, delim: string, where: string): Cell[] {
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

/** Parse CSV text. `fileName` labels error messages. */
export function parseCsv(text: string, fileName: string, opts: CsvOptions): CsvDataset {
  const delim = opts.delimiter ?? ",";
  if (delim.length !== 1 || delim === '"')
    throw new DnncError(`${fileName}: the CSV delimiter must be one character other than '"'`);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark
  const lines = text.split("\n");
  const rows: { line: number; cells: Cell[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    rows.push({ line: i + 1, cells: splitLine(line, delim, `${fileName}:${i + 1}`) });
  }
  if (rows.length === 0) throw new DnncError(`${fileName}: empty file (no CSV rows)`);

  const first = rows[0];
  const width = first.cells.length;
  const hasHeader = opts.header ?? first.cells.some((c) => !NUMBER.test(c.text));
  const names = hasHeader ? first.cells.map((c) => c.text) : first.cells.map((_, k) => `c${k}`);
  const data = hasHeader ? rows.slice(1) : rows;
  if (data.length === 0) throw new DnncError(`${fileName}: no data rows (only a header)`);
  if (width < 2)
    throw new DnncError(
      `${fileName}:${first.line}: need at least one feature column and a label column, found ${width} column`,
    );

  let labelCol: number;
  if (typeof opts.label === "string") {
    if (!hasHeader)
      throw new DnncError(`${fileName}: label column "${opts.label}" given by name, but the file has no header row`);
    labelCol = names.indexOf(opts.label);
    if (labelCol < 0) {
      throw new DnncError(
        `${fileName}:${first.line}: no column named "${opts.label}" in the header (columns: ${names.join(", ")})`,
      );
    }
  } else {
    labelCol = opts.label < 0 ? width + opts.label : opts.label;
    if (!Number.isInteger(labelCol) || labelCol < 0 || labelCol >= width) {
      throw new DnncError(`${fileName}: label column index ${opts.label} is out of range for ${width} columns`);
    }
  }

  const n = data.length;
  const F = width - 1;
  const x = new Float32Array(n * F);
  const y = new Float32Array(n);
  const regression = opts.regression ?? false;
  let maxLabel = -1;
  for (let r = 0; r < n; r++) {
    const { line, cells } = data[r];
    if (cells.length !== width) {
      throw new DnncError(
        `${fileName}:${line}: ragged row: ${cells.length} cells, expected ${width} (as in line ${first.line})`,
      );
    }
    let f = r * F;
    for (let k = 0; k < width; k++) {
      const c = cells[k];
      if (!NUMBER.test(c.text)) {
        const what = c.text === "" ? "empty cell" : `"${c.text}" is not a number`;
        throw new DnncError(`${fileName}:${line}:${c.col}: ${what} (column "${names[k]}")`);
      }
      const v = Number(c.text);
      if (k === labelCol) {
        if (!regression) {
          if (!Number.isInteger(v) || v < 0) {
            throw new DnncError(
              `${fileName}:${line}:${c.col}: label "${c.text}" is not a class index (an integer >= 0); ` +
                `for a real-valued target load with regression: true`,
            );
          }
          if (opts.classes !== undefined && v >= opts.classes) {
            throw new DnncError(
              `${fileName}:${line}:${c.col}: label out of range at row ${r}: ${v} (expected 0..${opts.classes - 1})`,
            );
          }
          if (v > maxLabel) maxLabel = v;
        }
        y[r] = v;
      } else {
        x[f++] = v;
      }
    }
  }
  const featureNames = names.filter((_, k) => k !== labelCol);
  const classes = regression ? undefined : (opts.classes ?? maxLabel + 1);
  return { x, y, n, shape: [F], classes, featureNames, labelName: names[labelCol] };
}
