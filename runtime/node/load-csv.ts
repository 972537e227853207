// Loading a CSV dataset from disk (Node only). A plain file is read in 4 MiB chunks into one reused
// buffer and parsed as it is read (runtime/data/csv.ts CsvParser): no string of the file, no
// object per row; memory is the float32 values plus the buffer. A gzipped file (detected by its
// magic bytes) is inflated in memory first, then parsed the same way; so is a pipe. On a terminal, files of
// 64 MiB or more show a progress line on stderr while they load (erased when done).
// CSV files of token-id sequences: loadTokenCsv, at the end.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DnncError } from "../errors";
import { bytesText, CSV_LIMITS, CsvParser, type CsvDataset, type CsvLimits, type CsvOptions } from "../data/csv";
import { isGzip } from "../data/gzip";
import { readMaybeGzip } from "./files";
import { takeRows } from "../data/dataset";
import { splitTestRows } from "../data/split";
import { CATEGORIES_METADATA, describeWidth, fitCategories, oneHot } from "../data/categorical";
import { parseTokenCsvBytes, type TokenCsvDataset, type TokenCsvOptions } from "../data/token-csv";

export interface LoadCsvOptions extends CsvOptions {
  /** Show the progress line on stderr. Default: when stderr is a terminal and the file has 64 MiB or more. */
  progress?: boolean;
  /** Bytes read at a time (tests use small chunks to put chunk boundaries everywhere). Default 4 MiB. */
  chunkBytes?: number;
  /** Tests lower them. Default CSV_LIMITS. */
  limits?: CsvLimits;
}

const PROGRESS_MIN_BYTES = 64 * 2 ** 20;

/** A progress line on stderr: "PATH: 412 of 1000 MB (41%)", at most 4 times a second. */
function progressLine(path: string, total: number, on: boolean) {
  let last = 0;
  let shown = false;
  return {
    update(done: number) {
      if (!on) return;
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      shown = true;
      process.stderr.write(`\r${path}: ${(done / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB (${Math.floor((100 * done) / total)}%)\x1b[K`);
    },
    clear() {
      if (shown) process.stderr.write("\r\x1b[K");
      shown = false;
    },
  };
}

function openCsv(path: string): { fd: number; size: number; regular: boolean } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DnncError(`${path}: no such file`);
    if (code === "EISDIR") throw new DnncError(`${path}: is a directory, expected a CSV file`);
    throw new DnncError(`${path}: cannot read (${code ?? (e as Error).message})`);
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) {
    closeSync(fd);
    throw new DnncError(`${path}: is a directory, expected a CSV file`);
  }
  return { fd, size: st.size, regular: st.isFile() };
}

export function loadCsvFile(path: string, opts: LoadCsvOptions): CsvDataset {
  const opened = openCsv(path);
  let fd = opened.fd;
  const size = opened.size;
  const chunk = opts.chunkBytes ?? 4 * 2 ** 20;
  const limits = opts.limits ?? CSV_LIMITS;
  let buf = Buffer.allocUnsafeSlow(Math.max(16, Math.min(chunk, size + 1)));
  const progress = progressLine(path, size, opts.progress ?? (process.stderr.isTTY === true && size >= PROGRESS_MIN_BYTES));
  try {
    if (size === 0 && opened.regular) throw new DnncError(`${path}: empty file`);
    // a pipe or device (no size, no seeking) is read whole, as is a gzipped file
    const gzip = opened.regular && readSync(fd, buf, 0, Math.min(2, buf.length), 0) === 2 && isGzip(buf.subarray(0, 2));
    if (gzip || !opened.regular) {
      let bytes: Uint8Array;
      if (opened.regular) bytes = readMaybeGzip(path);
      else {
        bytes = readFileSync(fd);
        if (bytes.length === 0) throw new DnncError(`${path}: empty file`);
        if (isGzip(bytes)) {
          try {
            bytes = gunzipSync(bytes);
          } catch (e) {
            throw new DnncError(`${path}: corrupt gzip data (${(e as Error).message})`);
          }
        }
      }
      closeSync(fd);
      fd = -1;
      const parser = new CsvParser(path, opts, bytes.length, limits);
      // in pieces, for the progress line; a piece grows when one line does not fit in it
      for (let pos = 0, end = 0; ;) {
        end = Math.min(bytes.length, Math.max(end, pos + chunk));
        const final = end === bytes.length;
        const used = parser.feed(bytes, pos, end, final);
        if (final) break;
        if (used === pos) end = Math.min(bytes.length, pos + 2 * (end - pos));
        pos = used;
        progress.update(pos);
      }
      return parser.finish();
    }
    const parser = new CsvParser(path, opts, size, limits);
    let have = 0; // bytes of an unfinished line carried at the start of buf
    let read = 0;
    for (;;) {
      if (have === buf.length) {
        // one line fills the buffer: make it larger
        if (buf.length > limits.lineBytes)
          throw new DnncError(`${path}:${parser.line + 1}: line longer than ${bytesText(limits.lineBytes)}, the longest a CSV line may be`);
        const bigger = Buffer.allocUnsafeSlow(Math.min(2 * buf.length, limits.lineBytes + 1));
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      let r: number;
      try {
        r = readSync(fd, buf, have, buf.length - have, null);
      } catch (e) {
        throw new DnncError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      read += r;
      const end = have + r;
      const used = parser.feed(buf, 0, end, r === 0);
      if (r === 0) break;
      buf.copyWithin(0, used, end);
      have = end - used;
      progress.update(read);
    }
    return parser.finish();
  } finally {
    progress.clear();
    if (fd >= 0) closeSync(fd);
  }
}

export interface CsvSourceOptions extends CsvOptions {
  /** Fraction of a single file's rows held out as the test split (the data block's `test`). Default 0. */
  test?: number;
  /** The spec's seed: it picks the test rows (runtime/data/split.ts splitTestRows). */
  seed: number;
  /** The model's number of inputs: with categorical columns, a mismatch is explained by the sum of the columns. */
  inputSize?: number;
}

export interface CsvSource {
  train: CsvDataset;
  test?: CsvDataset;
  /** With categorical columns: their vocabulary (runtime/data/categorical.ts), saved with the model. */
  metadata?: Record<string, string>;
}

/**
 * A csv(...) source: a directory with train.csv (and optionally test.csv), or one file. With a
 * `test` fraction the test rows are drawn from the training file (a directory that has its own
 * test.csv is then an error: one test set or the other). Categorical columns are one-hot encoded
 * with a vocabulary fitted on the training rows (those of the training file outside the test split).
 */
export function loadCsvSource(path: string, opts: CsvSourceOptions): CsvSource {
  const { test: fraction = 0, seed, inputSize, ...csv } = opts;
  let trainPath = path;
  let train: CsvDataset;
  let test: CsvDataset | undefined;
  let trainRows: Int32Array | undefined;
  if (existsSync(path) && statSync(path).isDirectory()) trainPath = join(path, "train.csv");
  const testPath = trainPath !== path ? join(path, "test.csv") : undefined;
  if (testPath !== undefined && existsSync(testPath)) {
    if (fraction > 0)
      throw new DnncError(`${testPath}: the data block asks for a test split (test ${fraction}) but the directory has its own test.csv; drop one of them`);
    train = loadCsvFile(trainPath, csv);
    // the test file is read with the training file's class count: a label the model has no output for is an error there
    test = loadCsvFile(testPath, { ...csv, classes: csv.classes ?? train.classes });
  } else {
    const all = loadCsvFile(trainPath, csv);
    if (fraction === 0) train = all;
    else {
      const rows = splitTestRows(all.n, fraction, seed, trainPath);
      train = all;
      trainRows = rows.train;
      test = takeRows(all, rows.test);
    }
  }
  if (!train.categories) return { train: trainRows ? takeRows(train, trainRows) : train, ...(test ? { test } : {}) };
  const vocab = fitCategories(train, trainRows);
  const encoded = oneHot(trainRows ? takeRows(train, trainRows) : train, vocab, trainPath).ds;
  if (inputSize !== undefined && encoded.shape[0] !== inputSize)
    throw new DnncError(
      `${trainPath}: the rows give ${describeWidth(train, vocab)}, but the model's input is [${inputSize}]; set \`input [${encoded.shape[0]}]\``,
    );
  return {
    train: encoded,
    ...(test ? { test: oneHot(test, vocab, testPath ?? trainPath).ds } : {}),
    metadata: { [CATEGORIES_METADATA]: JSON.stringify(vocab) },
  };
}

/**
 * A CSV of token-id sequences (runtime/data/token-csv.ts: rows of integer ids of any length,
 * optionally a label cell, padded with the pad id to the longest row or to opts.maxLength,
 * lengths recorded). Read whole (gzip detected by magic bytes).
 */
export function loadTokenCsv(path: string, opts: TokenCsvOptions): TokenCsvDataset {
  return parseTokenCsvBytes(readMaybeGzip(path), path, opts);
}
