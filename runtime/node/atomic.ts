// Atomic file replacement (Node only): readers see either the old file or the complete new one,
// never a partial write, even if the process dies or the machine loses power midway.
// Recipe: write a temporary file in the same directory (so rename stays within one file system),
// fsync it, rename it over the target, then fsync the directory so the rename itself is durable.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DnncError } from "../errors";
import { fsReason } from "./fs-errors";
import { processAlive } from "./lock";

let counter = 0;
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
}

/** `.NAME.PID.N.tmp`, the temporary files of tempPath: NAME and the writer's pid. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/**
 * Remove the temporary files that writers killed mid-write (SIGKILL, power loss) left in `dir`:
 * those of processes that no longer run. Returns their names.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || processAlive(pid)) continue; // a write in progress
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: harmless
    }
  }
  return removed;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

function fail(path: string, e: unknown): never {
  const err = e as NodeJS.ErrnoException;
  throw new DnncError(`${path}: cannot write (${err.code ? fsReason(err.code) : err.message})`);
}

/** fsync a directory; some platforms (Windows) and file systems refuse, which is harmless there. */
function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // EISDIR / EPERM / EINVAL on platforms without directory fsync
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replace `path` with `data` atomically (synchronous). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const bytes = toBytes(data);
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx", 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    fail(path, e);
  }
  syncDirSync(dirname(path));
}

/** Replace `path` with `data` atomically. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = toBytes(data);
  const tmp = tempPath(path);
  try {
    const fh = await open(tmp, "wx", 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    fail(path, e);
  }
  try {
    const dh = await open(dirname(path), "r");
    try {
      await dh.sync();
    } catch {
      // platforms without directory fsync
    } finally {
      await dh.close();
    }
  } catch {
    // cannot open directories here (Windows)
  }
}
