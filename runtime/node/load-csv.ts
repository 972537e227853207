// Loading a CSV dataset from disk (Node only; gzipped CSV is accepted too).
import { DnncError } from "../errors";
import { parseCsv, type CsvDataset, type CsvOptions } from "../data/csv";
import { readMaybeGzip } from "./files";

export function loadCsvFile(path: string, opts: CsvOptions): CsvDataset {
  const bytes = readMaybeGzip(path);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new DnncError(`${path}: not UTF-8 text (is it really a CSV file?)`);
  }
  return parseCsv(text, path, opts);
}
