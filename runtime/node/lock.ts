// Directory locks (Node only), shared by `dnnc search` (DIR/search.lock) and training runs
// (DIR/run.lock): one process writes into a directory at a time.
//
// The lock is a file created with O_EXCL holding the owner's pid and host name. A lock whose
// process is gone (killed, crashed; same host) is stale and taken over; a live one is refused with
// a message naming the pid and the lock file. Two processes taking over the same stale lock at
// once are serialised by a second exclusive file (LOCK.takeover): without it, one could delete the
// lock the other had just created, and both would believe they held it. Locks are released when
// their holder calls release() or exits (a SIGKILL leaves a stale lock, taken over next time).
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { DnncError } from "../errors";

export interface DirLock {
  /** The lock file. */
  readonly path: string;
  /** Remove the lock (idempotent; only if this process still holds it). */
  release(): void;
}

export interface LockOptions {
  /** The lock file's name inside the directory ("run.lock", "search.lock"). */
  file: string;
  /** The refusal when a live process holds the lock. */
  busy: (holder: LockHolder) => string;
}

export interface LockHolder {
  pid: number;
  host: string;
  /** The lock file. */
  path: string;
  /** True when the holder is on this host and alive, or on another host (cannot tell). */
  live: boolean;
}

const HOST = hostname();
const held = new Set<string>();
let exitHook = false;

/** Whether process `pid` exists (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new DnncError(`${path}: cannot read the lock (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const [first, second] = text.split("\n");
  const pid = Number(first.trim());
  const host = (second ?? "").trim() || HOST; // search.lock of earlier versions: the pid only
  // a lock being written right now (created, not yet filled) reads as empty: treat it as live
  if (text === "") return { pid: 0, host, path, live: true };
  return { pid, host, path, live: host !== HOST || processAlive(pid) };
}

/**
 * Who holds DIR's lock, without taking it (undefined: nobody, a stale lock of a dead process, or
 * an empty lock: being written, or left by a process killed as it created it; lockDir decides).
 */
export function lockHolder(dir: string, file: string): LockHolder | undefined {
  const h = readHolder(join(dir, file));
  return h?.live && h.pid !== 0 ? h : undefined;
}

/** Create `path` exclusively with our pid and host; false when it exists. */
function createExclusive(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    throw new DnncError(`${path}: cannot create the lock (${code ?? (e as Error).message})`);
  }
  try {
    writeSync(fd, `${process.pid}\n${HOST}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function releasePath(path: string): void {
  if (!held.delete(path)) return;
  try {
    const h = readHolder(path);
    if (h && h.pid === process.pid && h.host === HOST) rmSync(path, { force: true });
  } catch {
    // already gone, or unreadable: nothing of ours to remove
  }
}

/**
 * Lock directory `dir` (which must exist) for this process. Throws DnncError with `busy`'s text
 * when a live process holds it.
 */
export function lockDir(dir: string, o: LockOptions): DirLock {
  const path = join(dir, o.file);
  const takeover = `${path}.takeover`;
  let empty = 0; // reads of an empty lock: one being written, or left by a process killed right after creating it
  for (let attempt = 0; attempt < 100; attempt++) {
    if (createExclusive(path)) {
      held.add(path);
      if (!exitHook) {
        exitHook = true;
        process.on("exit", () => {
          for (const p of [...held]) releasePath(p);
        });
      }
      return { path, release: () => releasePath(path) };
    }
    const h = readHolder(path);
    if (h === undefined) continue; // released meanwhile: try again
    if (h.live && !(h.pid === 0 && ++empty > 20)) {
      if (h.pid !== 0) throw new DnncError(o.busy(h));
      sleepMs(5); // being written: read it again
      continue;
    }
    // stale: one process at a time takes it over
    if (!createExclusive(takeover)) {
      const t = readHolder(takeover);
      if (t && (!t.live || (t.pid === 0 && empty > 20)))
        rmSync(takeover, { force: true }); // left by a dead process
      else sleepMs(5);
      continue;
    }
    try {
      const again = readHolder(path);
      if (again && again.pid === h.pid && (!again.live || again.pid === 0)) rmSync(path, { force: true });
    } finally {
      rmSync(takeover, { force: true });
    }
  }
  throw new DnncError(`${path}: could not take the lock (it keeps changing hands); if no process uses ${dir}, delete ${path}`);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
