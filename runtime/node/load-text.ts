// Loading text sources from disk (Node only); the pure part is runtime/data/text.ts.
//
// Files are UTF-8 (strict: invalid bytes are an error naming file:line:col; a leading byte-order
// mark is dropped), optionally gzip-compressed (detected by magic bytes). An empty file is an error.
//
// Which files of a directory are read (listTextFiles), the same rule for a corpus and for classes:
//  - entries are taken in name order (JavaScript string order: by UTF-16 code unit, not locale);
//  - names starting with "." are skipped (hidden files, editor backups such as .foo.swp);
//  - a symbolic link is followed, unless it points at another entry of the same directory (an
//    alias: Debian's fortunes have X.u8 -> X), which is then read once, under its own name;
//  - X.dat is skipped when X is also an entry (the binary strfile index of fortune file X);
//  - a broken link, or anything other than a regular file or a directory, is an error.
// A corpus directory holds regular files only (a subdirectory is an error); a class directory
// holds files (one class each, documents separated by separator lines) and directories (one
// class each, every regular file in it one document; a directory below that is an error).
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../errors";
import {
  charCorpus,
  documentClasses,
  splitDocuments,
  type CharCorpus,
  type CharCorpusOptions,
  type ClassDocs,
  type DocumentClasses,
  type DocumentOptions,
} from "../data/text";
import { codePointsOf } from "../data/vocab";
import { decodeUtf8Into } from "../data/utf8";
import { readMaybeGzip } from "./files";
import { fsReason } from "./fs-errors";

export interface TextEntry {
  name: string;
  path: string;
  kind: "file" | "dir";
}

function fsError(path: string, e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOENT") throw new DnncError(`${path}: no such file or directory`);
  throw new DnncError(`${path}: cannot read (${err.code ? fsReason(err.code) : err.message})`);
}

/** The entries of `dir` that are read as text, in order (see the top of the file). */
export function listTextFiles(dir: string): TextEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    fsError(dir, e);
  }
  names = names.filter((n) => !n.startsWith(".")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const present = new Set(names);
  // real paths of the entries that are not links: a link to one of them is an alias
  const real = new Map<string, string>();
  const info = names.map((name) => {
    const path = join(dir, name);
    let link: boolean;
    try {
      link = lstatSync(path).isSymbolicLink();
    } catch (e) {
      fsError(path, e);
    }
    return { name, path, link };
  });
  for (const f of info) {
    if (f.link) continue;
    try {
      real.set(realpathSync(f.path), f.name);
    } catch (e) {
      fsError(f.path, e);
    }
  }
  const out: TextEntry[] = [];
  for (const f of info) {
    if (f.name.endsWith(".dat") && present.has(f.name.slice(0, -4))) continue;
    let st;
    try {
      st = statSync(f.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new DnncError(`${f.path}: broken symbolic link`);
      fsError(f.path, e);
    }
    if (f.link) {
      const target = real.get(realpathSync(f.path));
      if (target !== undefined) continue; // an alias of an entry read under its own name
    }
    if (st.isFile()) out.push({ name: f.name, path: f.path, kind: "file" });
    else if (st.isDirectory()) out.push({ name: f.name, path: f.path, kind: "dir" });
    else throw new DnncError(`${f.path}: not a regular file or a directory`);
  }
  return out;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    fsError(path, e);
  }
}

/** Code points of text files, in order, joined by `separator`: one array (its first `length` values). */
function readTexts(paths: string[], separator: string): { cps: Int32Array; length: number; ends: number[] } {
  const bytes = paths.map((p) => readMaybeGzip(p));
  const sep = codePointsOf(separator);
  const room = bytes.reduce((a, b) => a + b.length, 0) + sep.length * Math.max(0, paths.length - 1);
  const cps = new Int32Array(room);
  let n = 0;
  const ends: number[] = [];
  paths.forEach((p, k) => {
    if (k > 0) {
      cps.set(sep, n);
      n += sep.length;
    }
    n = decodeUtf8Into(bytes[k], p, cps, n);
    ends.push(n);
  });
  return { cps, length: n, ends };
}

export interface LoadTextCorpusOptions extends CharCorpusOptions {
  /** Put between two files of a directory. Default "\n". */
  separator?: string;
}

/**
 * A character language-model corpus: one UTF-8 file, or a directory of them (listTextFiles,
 * joined with `separator`). See runtime/data/text.ts charCorpus for the spans, vocabulary and windows.
 */
export function loadTextCorpus(path: string, opts: LoadTextCorpusOptions): CharCorpus & { files: string[] } {
  let files: string[];
  if (isDirectory(path)) {
    const entries = listTextFiles(path);
    const dir = entries.find((e) => e.kind === "dir");
    if (dir) throw new DnncError(`${dir.path}: a directory inside a text corpus directory (only the files directly in ${path} are read)`);
    if (entries.length === 0) throw new DnncError(`${path}: no text files in this directory`);
    files = entries.map((e) => e.path);
  } else files = [path];
  const { cps, length } = readTexts(files, opts.separator ?? "\n");
  return { ...charCorpus(cps, length, path, opts), files };
}

export interface LoadTextClassesOptions extends DocumentOptions {
  /** The line that separates documents in a class file (a trailing "\r" is ignored). Default "%" (fortune files). */
  separator?: string;
}

/**
 * Document classification from a directory: each entry of listTextFiles is a class, named by the
 * entry (classes in name order). A file holds documents separated by separator lines; a
 * directory holds one document per file. See runtime/data/text.ts documentClasses.
 */
export function loadTextClasses(dir: string, opts: LoadTextClassesOptions): DocumentClasses & { files: string[] } {
  if (!isDirectory(dir)) throw new DnncError(`${dir}: not a directory (document classes are the files or subdirectories of a directory)`);
  const separator = opts.separator ?? "%";
  const entries = listTextFiles(dir);
  const files: string[] = [];
  const classes: ClassDocs[] = entries.map((e) => {
    if (e.kind === "file") {
      files.push(e.path);
      const { cps, length } = readTexts([e.path], "");
      const docs = splitDocuments(cps, length, separator).map((s) => ({ cps, start: s.start, end: s.end }));
      return { name: e.name, source: e.path, docs };
    }
    const inner = listTextFiles(e.path);
    const sub = inner.find((f) => f.kind === "dir");
    if (sub) throw new DnncError(`${sub.path}: a directory inside class directory ${e.path} (each file of it is one document)`);
    const docs = inner.map((f) => {
      files.push(f.path);
      const { cps, length } = readTexts([f.path], "");
      const ranges = splitDocuments(cps, length, null);
      if (ranges.length === 0) throw new DnncError(`${f.path}: blank document`);
      return { cps, start: ranges[0].start, end: ranges[0].end };
    });
    return { name: e.name, source: e.path, docs };
  });
  if (classes.length === 0) throw new DnncError(`${dir}: no class files in this directory`);
  return { ...documentClasses(classes, dir, opts), files };
}
