// The reference CSV parser: the original string-based runtime/data/csv.ts (split the text into
// lines, each line into cells, regex-check each cell, Number() it), kept as the plain definition
// that the streaming byte parser is tested against. Two changes from the original, both rules of
// the streaming parser: lines are checked one at a time (so the first bad line is reported, as a
// stream must), and a value that is not finite in float32 (1e39, 1e400) is an error.
// Same values, errors and messages as runtime/data/csv.ts; tests only.
import { DnncError } from "../../runtime/errors";
import { metadataLine, metadataLineMessage, type CsvOptions } from "../../runtime/data/csv";

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const F32_OVERFLOW = 3.4028235677973366e38;

interface Cell {
  text: string;
  col: number;
}

function splitLine(line: string, delim: string, where: string): Cell[] {
  const cells: Cell[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    let text = "";
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
      if (j < line.length && line[j] !== delim) throw new DnncError(`${where}:${j + 1}: unexpected text after a quoted cell`);
      i = j;
    } else {
      const end = line.indexOf(delim, i);
      i = end < 0 ? line.length : end;
      text = line.slice(start, i).trim();
    }
    cells.push({ text, col: start + 1 });
    if (i >= line.length) return cells;
    i++;
  }
}

const show = (t: string) => `"${t.length > 40 ? t.slice(0, 40) + "..." : t}"`;

export interface ReferenceCsv {
  x: number[];
  y: number[];
  n: number;
  F: number;
  classes?: number;
  featureNames: string[];
  labelName: string;
  hasHeader: boolean;
}

export function parseCsvReference(text: string, file: string, opts: CsvOptions): ReferenceCsv {
  const delim = opts.delimiter ?? ",";
  if (delim.length !== 1 || delim === '"') throw new DnncError(`${file}: the CSV delimiter must be one character other than '"'`);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split("\n");
  let first: { line: number; cells: Cell[] } | undefined;
  let names: string[] = [];
  let hasHeader = false;
  let labelCol = -1;
  let width = 0;
  const x: number[] = [];
  const y: number[] = [];
  let n = 0;
  let maxLabel = -1;
  const regression = opts.regression ?? false;
  const row = (line: number, cells: Cell[]) => {
    if (cells.length !== width) {
      if (
        n === 1 &&
        !hasHeader &&
        metadataLine(
          first!.cells.map((c) => c.text),
          cells.length,
        )
      )
        throw new DnncError(
          metadataLineMessage(
            file,
            first!.line,
            first!.cells.map((c) => c.text),
            delim,
          ),
        );
      throw new DnncError(`${file}:${line}: ragged row: ${cells.length} cells, expected ${width} (as in line ${first!.line})`);
    }
    for (let k = 0; k < width; k++) {
      const c = cells[k];
      if (!NUMBER.test(c.text)) {
        const what = c.text === "" ? "empty cell" : `${show(c.text)} is not a number`;
        throw new DnncError(`${file}:${line}:${c.col}: ${what} (column "${names[k]}")`);
      }
      const v = Number(c.text);
      if (!(Math.abs(v) < F32_OVERFLOW))
        throw new DnncError(
          `${file}:${line}:${c.col}: ${show(c.text)} is not a finite float32 (it would be ${v > 0 ? "" : "-"}Infinity; the largest float32 is 3.4028235e38) (column "${names[k]}")`,
        );
      if (k === labelCol) {
        if (!regression) {
          if (!Number.isInteger(v) || v < 0)
            throw new DnncError(
              `${file}:${line}:${c.col}: label ${show(c.text)} is not a class index (an integer >= 0); for a real-valued target load with regression: true`,
            );
          if (opts.classes !== undefined && v >= opts.classes)
            throw new DnncError(`${file}:${line}:${c.col}: label out of range at row ${n}: ${v} (expected 0..${opts.classes - 1})`);
          if (v > maxLabel) maxLabel = v;
        }
        y.push(v);
      } else x.push(Math.fround(v));
    }
    n++;
  };
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    const cells = splitLine(line, delim, `${file}:${i + 1}`);
    if (first) {
      row(i + 1, cells);
      continue;
    }
    first = { line: i + 1, cells };
    width = cells.length;
    hasHeader = opts.header ?? cells.some((c) => !NUMBER.test(c.text));
    if (opts.header !== false && metadataLine(cells.map((c) => c.text)))
      throw new DnncError(
        metadataLineMessage(
          file,
          i + 1,
          cells.map((c) => c.text),
          delim,
        ),
      );
    names = hasHeader ? cells.map((c) => c.text) : cells.map((_, k) => `c${k}`);
    if (opts.label !== null) {
      if (width < 2) throw new DnncError(`${file}:${i + 1}: need at least one feature column and a label column, found ${width} column`);
      if (typeof opts.label === "string") {
        if (!hasHeader)
          throw new DnncError(
            `${file}:${i + 1}: label column "${opts.label}" given by name, but the file has no header row (give a 0-based index, or header=true)`,
          );
        labelCol = names.indexOf(opts.label);
        if (labelCol < 0) throw new DnncError(`${file}:${i + 1}: no column named "${opts.label}" in the header (columns: ${names.join(", ")})`);
      } else {
        labelCol = opts.label < 0 ? width + opts.label : opts.label;
        if (!Number.isInteger(labelCol) || labelCol < 0 || labelCol >= width)
          throw new DnncError(
            `${file}:${i + 1}: label column index ${opts.label} is out of range for the ${width} columns of this line (0..${width - 1}, or -1 for the last)`,
          );
      }
    }
    if (!hasHeader) row(i + 1, cells);
  }
  if (!first) throw new DnncError(`${file}: empty file (no CSV rows)`);
  if (n === 0) throw new DnncError(`${file}: no data rows (only a header)`);
  return {
    x,
    y: y.map(Math.fround),
    n,
    F: labelCol >= 0 ? width - 1 : width,
    classes: regression || labelCol < 0 ? undefined : (opts.classes ?? maxLabel + 1),
    featureNames: names.filter((_, k) => k !== labelCol),
    labelName: labelCol >= 0 ? names[labelCol] : "",
    hasHeader,
  };
}
