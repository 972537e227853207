// File-system failures as user errors (Node only). A failed open, write, mkdir or rename is
// something the user can fix (a missing file, a read-only or full disk, a file where a directory
// should be): it becomes one line, "PATH: reason in plain words", and exit 1, never a stack trace.
// The CLI's top level (compiler/entry.ts, compiler/cli.ts) and the generated trainer's runMain
// (runtime/node/main.ts) pass every error through `asUserError`; what it does not recognise stays
// an internal error (exit 70, with the stack: a bug).
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DnncError } from "../errors";

/** The reason for each expected system error, as a person would say it. */
const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EISDIR: "is a directory, expected a file",
  ENOTDIR: "not a directory (or a part of the path is a file)",
  EEXIST: "already exists",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  ENAMETOOLONG: "file name too long",
  EFBIG: "file too large",
  ELOOP: "too many levels of symbolic links",
  EXDEV: "cannot move a file across file systems",
  EBUSY: "resource busy",
  ETXTBSY: "file busy",
  EIO: "input/output error",
};

/** The plain-words reason for an errno code (the code itself when it is not one we expect). */
export function fsReason(code: string | undefined): string {
  return (code && REASONS[code]) ?? code ?? "unknown error";
}

function errno(e: unknown): NodeJS.ErrnoException | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const x = e as NodeJS.ErrnoException;
  return typeof x.code === "string" && x.code in REASONS ? x : undefined;
}

/**
 * "PATH: reason" for an expected system error, else undefined. PATH is the file involved (for a
 * rename, its destination: the file the user named); `path` overrides it. mkdir on an existing
 * file says so rather than "already exists".
 */
export function describeFsError(e: unknown, path?: string): string | undefined {
  const x = errno(e);
  if (!x) return undefined;
  const where = path ?? (x as { dest?: string }).dest ?? x.path;
  let reason = fsReason(x.code);
  if (x.code === "EEXIST" && x.syscall === "mkdir") reason = "exists and is not a directory";
  return where ? `${where}: ${reason}` : `${x.syscall ? `${x.syscall}: ` : ""}${reason}`;
}

/** `e` as a user error: a DnncError as is, an expected system error as a DnncError (exit 1), else undefined. */
export function asUserError(e: unknown): DnncError | undefined {
  if (e instanceof DnncError) return e;
  const m = describeFsError(e);
  return m === undefined ? undefined : new DnncError(m, 1);
}

/**
 * Create directory `dir` (and its parents) for output; a file in its place, or a parent that is
 * a file, is a user error naming it ("OUT: exists and is not a directory").
 */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e0) {
    let e = e0;
    // a recursive mkdir reports ENOENT when the real cause is a read-only file system or a
    // permission (libuv): create the missing directories one by one to find out
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      try {
        mkdirEach(dir);
      } catch (e1) {
        e = e1;
      }
    }
    const x = e as NodeJS.ErrnoException;
    if (x.code === "EEXIST" || x.code === "ENOTDIR") {
      // which part of the path is the file?
      for (let p = dir; ;) {
        try {
          if (!statSync(p).isDirectory()) throw new DnncError(`${p}: exists and is not a directory${p === dir ? "" : ` (needed for ${dir})`}`);
        } catch (s) {
          if (s instanceof DnncError) throw s;
        }
        const up = dirname(p);
        if (up === p) break;
        p = up;
      }
    }
    throw new DnncError(describeFsError(e, dir) ?? `${dir}: cannot create the directory (${(e as Error).message})`);
  }
}

/** mkdir of every missing directory of `dir`, outermost first, each alone (the first failure throws). */
function mkdirEach(dir: string): void {
  const missing: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    try {
      statSync(p);
      break;
    } catch {
      missing.push(p);
    }
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) mkdirSync(p);
}
