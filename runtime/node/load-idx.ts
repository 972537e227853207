// Loading IDX datasets from disk (Node only): a directory holding the four standard
// MNIST / Fashion-MNIST files, gzipped or plain.
// Two forms: synchronous (loadIdxDir: reads each file whole, then gunzips it) and streaming
// (loadIdxDirStreaming, what a trainer uses: the compressed file is read 1 MiB at a time and
// inflated into one buffer of the size the gzip trailer announces, so the 26 MB of compressed
// Fashion-MNIST images are never in memory next to the 47 MB they inflate to). Same bytes.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { DnncError } from "../errors";
import { packedDataset, type Dataset } from "../data/dataset";
import { RowPacker, type PackedRows } from "../data/packed";
import { idxDataset, parseIdx } from "../data/idx";
import { isGzip } from "../data/gzip";
import { readBytes, readMaybeGzip } from "./files";

export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** The path of `dir/base` as found on disk: base.gz, base, or the dotted variant (train-images.idx3-ubyte). */
function findFile(dir: string, base: string): string {
  const dotted = base.replace(/-(idx\d)-/, ".$1-");
  for (const name of [`${base}.gz`, base, `${dotted}.gz`, dotted]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new DnncError(`${dir}: missing ${base}.gz (or ${base}); an IDX dataset directory holds ${Object.values(IDX_FILES).join(", ")}`);
}

/** Load one images file and one labels file (each gzipped or plain) as a Dataset. */
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: { classes?: number } = {}): Dataset {
  const images = parseIdx(readMaybeGzip(imagesPath), imagesPath);
  const labels = parseIdx(readMaybeGzip(labelsPath), labelsPath);
  return idxDataset(images, labels, { images: imagesPath, labels: labelsPath }, opts);
}

/**
 * Load a directory with the four standard IDX files. Labels are checked against `opts.classes`
 * (a trainer passes its model's: see modelClasses in main.ts), else the test split against the
 * training split's class count; the test split's per-sample shape against the training split's.
 */
export function loadIdxDir(dir: string, opts: { classes?: number } = {}): { train: Dataset; test: Dataset } {
  const f = idxDirFiles(dir);
  const train = loadIdxPair(f.trainImages, f.trainLabels, opts);
  return { train, test: checkTest(loadIdxPair(f.testImages, f.testLabels, { classes: opts.classes ?? train.classes }), train, f.testImages) };
}

/**
 * loadIdxDir reading gzipped files as streams (same datasets, lower peak memory). With `packed`,
 * gzipped byte images are packed as they inflate (runtime/data/packed.ts: gatherBatch decodes them
 * per batch; `x` unpacks on first use), so neither the compressed nor the dense bytes are ever held.
 */
export async function loadIdxDirStreaming(dir: string, opts: { packed?: boolean; classes?: number } = {}): Promise<{ train: Dataset; test: Dataset }> {
  const f = idxDirFiles(dir);
  const load = opts.packed ? loadIdxPairPacked : loadIdxPairStreaming;
  const train = await load(f.trainImages, f.trainLabels, { classes: opts.classes });
  const test = await load(f.testImages, f.testLabels, { classes: opts.classes ?? train.classes });
  return { train, test: checkTest(test, train, f.testImages) };
}

/** loadIdxPairStreaming with the images packed as they inflate (when they are gzipped bytes; else as loadIdxPairStreaming). */
export async function loadIdxPairPacked(imagesPath: string, labelsPath: string, opts: { classes?: number } = {}): Promise<Dataset> {
  const images = await readIdxBytesPacked(imagesPath);
  if (!images) return loadIdxPairStreaming(imagesPath, labelsPath, opts);
  const labels = parseIdx(await readMaybeGzipStreaming(labelsPath), labelsPath);
  // the same checks (and messages) as for dense images: they depend on the dimensions and labels only
  const ds = idxDataset({ dtype: "u8", dims: images.dims, data: new Uint8Array(0) }, labels, { images: imagesPath, labels: labelsPath }, opts);
  return packedDataset(images.packed, ds.y, ds.shape, ds.classes);
}

/**
 * A gzipped IDX file of bytes, its rows packed while it inflates (64 KiB pieces, each dropped once
 * packed). Undefined when it is not gzipped, not ubyte of rank >= 2, or its length does not match
 * its header: the caller then loads it the plain way, which gives the usual result or error.
 */
export async function readIdxBytesPacked(path: string): Promise<{ dims: number[]; packed: PackedRows } | undefined> {
  const { size, head } = headAndTrailer(path);
  if (size === 0 || !isGzip(head)) return undefined;
  const header = new Uint8Array(4 + 4 * 255);
  let have = 0;
  let need = 4;
  let total = 0;
  let bad = false;
  let dims: number[] | undefined;
  let packer: RowPacker | undefined;
  await inflateFile(path, 64 * 1024, (c) => {
    total += c.length;
    if (bad) return;
    let rest = c;
    if (!packer) {
      const take = Math.min(need - have, rest.length);
      header.set(rest.subarray(0, take), have);
      have += take;
      rest = rest.subarray(take);
      if (have === 4) {
        if (header[0] !== 0 || header[1] !== 0 || header[2] !== 0x08 || header[3] < 2) {
          bad = true;
          return;
        }
        need = 4 + 4 * header[3];
        const more = Math.min(need - have, rest.length);
        header.set(rest.subarray(0, more), have);
        have += more;
        rest = rest.subarray(more);
      }
      if (have < need) return;
      const view = new DataView(header.buffer, 0, need);
      dims = [];
      for (let i = 0; i < header[3]; i++) dims.push(view.getUint32(4 + 4 * i, false));
      const F = dims.slice(1).reduce((a, b) => a * b, 1);
      if (!(dims[0] > 0 && F > 0 && dims[0] * F <= 2 ** 40)) {
        bad = true;
        return;
      }
      packer = new RowPacker(F, dims[0]);
    }
    packer.push(rest);
  });
  if (bad || !dims || !packer) return undefined;
  if (total !== need + dims.reduce((a, b) => a * b, 1)) return undefined;
  return { dims, packed: packer.finish() };
}

/** loadIdxPair reading gzipped files as streams. */
export async function loadIdxPairStreaming(imagesPath: string, labelsPath: string, opts: { classes?: number } = {}): Promise<Dataset> {
  const images = parseIdx(await readMaybeGzipStreaming(imagesPath), imagesPath);
  const labels = parseIdx(await readMaybeGzipStreaming(labelsPath), labelsPath);
  return idxDataset(images, labels, { images: imagesPath, labels: labelsPath }, opts);
}

function idxDirFiles(dir: string): Record<keyof typeof IDX_FILES, string> {
  if (!existsSync(dir)) throw new DnncError(`${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new DnncError(`${dir}: is not a directory`);
  return {
    trainImages: findFile(dir, IDX_FILES.trainImages),
    trainLabels: findFile(dir, IDX_FILES.trainLabels),
    testImages: findFile(dir, IDX_FILES.testImages),
    testLabels: findFile(dir, IDX_FILES.testLabels),
  };
}

function checkTest(test: Dataset, train: Dataset, testImages: string): Dataset {
  if (test.shape.join("x") !== train.shape.join("x")) {
    throw new DnncError(`${testImages}: test samples have shape [${test.shape.join(", ")}] but training samples [${train.shape.join(", ")}]`);
  }
  return test;
}

/** The first two bytes and the last four (the gzip trailer's size mod 2^32) of a file, and its size. */
function headAndTrailer(path: string): { size: number; head: Uint8Array; isize: number } {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const head = new Uint8Array(2);
    readSync(fd, head, 0, Math.min(2, size), 0);
    const tail = new Uint8Array(4);
    if (size >= 18) readSync(fd, tail, 0, 4, size - 4);
    return { size, head, isize: new DataView(tail.buffer).getUint32(0, true) };
  } catch {
    readBytes(path); // throws the synchronous reader's message (no such file, is a directory, ...)
    throw new DnncError(`${path}: cannot read`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Read a file and gunzip it when it is gzip-compressed (by magic), without holding the compressed
 * file or leaving garbage: the compressed bytes go through one reused 1 MiB buffer, and zlib
 * inflates into one output buffer of the size the gzip trailer announces (its chunks are views
 * of that buffer). When the trailer lies (several gzip members, outputs of 4 GiB or more) the
 * chunks are copied into a buffer grown by doubling. Same bytes and error messages as readMaybeGzip.
 */
export async function readMaybeGzipStreaming(path: string): Promise<Uint8Array> {
  const { size, head, isize } = headAndTrailer(path);
  if (size === 0) throw new DnncError(`${path}: empty file`);
  if (!isGzip(head)) return readBytes(path);
  const chunks: Buffer[] = [];
  // the slack keeps zlib from allocating a second output buffer when the first is exactly full
  await inflateFile(path, Math.min(Math.max(isize + 64, 64 * 1024), 1 << 30), (c) => chunks.push(c));
  return joinChunks(chunks);
}

/** Inflate a gzip file through one reused 1 MiB input buffer, handing zlib's output pieces (of up to chunkSize bytes) to onChunk. */
async function inflateFile(path: string, chunkSize: number, onChunk: (c: Buffer) => void): Promise<void> {
  const fd = openSync(path, "r");
  try {
    const gunzip = createGunzip({ chunkSize });
    gunzip.on("data", onChunk);
    const done = new Promise<void>((res, rej) => {
      gunzip.on("end", res);
      gunzip.on("error", rej);
    });
    const input = Buffer.allocUnsafeSlow(1 << 20);
    for (;;) {
      const n = readSync(fd, input, 0, input.length, null);
      if (n === 0) break;
      // the callback runs once zlib has consumed the whole chunk: then `input` can be refilled
      // (or an error: then zlib may never call back, so race with `done`)
      await Promise.race([done, new Promise<void>((res, rej) => gunzip.write(input.subarray(0, n), (e) => (e ? rej(e) : res())))]);
    }
    gunzip.end();
    await done;
  } catch (e) {
    throw new DnncError(`${path}: corrupt gzip data (${(e as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/** The chunks as one array: a view when they lie back to back in one buffer, else a copy. */
function joinChunks(chunks: Buffer[]): Uint8Array {
  if (chunks.length === 0) return new Uint8Array(0);
  const first = chunks[0];
  let total = 0;
  let contiguous = true;
  for (const c of chunks) {
    if (c.buffer !== first.buffer || c.byteOffset !== first.byteOffset + total) contiguous = false;
    total += c.length;
  }
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, total);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
