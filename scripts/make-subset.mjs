#!/usr/bin/env node
// Cuts the shipped Fashion-MNIST subset out of the full dataset:
//   node scripts/make-subset.mjs [sourceDir] [outDir]
// sourceDir defaults to /usr/share/datasets/fashion-mnist (the four standard gzipped IDX files),
// outDir to specs/data/fashion-mnist-small. Keeps the FIRST 6,000 training and the FIRST 1,000
// test images with their labels, in their original order, as gzipped IDX under the same four
// standard names. Gzip is deterministic (level 9, mtime 0, no file name), so rerunning the script
// gives byte-identical files.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gunzipSync, gzipSync, constants } from "node:zlib";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const CUTS = [
  { name: "train-images-idx3-ubyte", keep: 6000 },
  { name: "train-labels-idx1-ubyte", keep: 6000 },
  { name: "t10k-images-idx3-ubyte", keep: 1000 },
  { name: "t10k-labels-idx1-ubyte", keep: 1000 },
];

/** The first `keep` items of an IDX file (big-endian header: 0, 0, dtype, ndim, then ndim u32 dims). */
export function cutIdx(bytes, keep, file) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${file}: not a ubyte IDX file`);
  const ndim = bytes[3];
  const dims = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  if (dims[0] < keep) throw new Error(`${file}: has ${dims[0]} items, fewer than ${keep}`);
  const header = 4 + 4 * ndim;
  const itemBytes = dims.slice(1).reduce((a, b) => a * b, 1);
  const outBytes = new Uint8Array(header + keep * itemBytes);
  outBytes.set(bytes.subarray(0, header));
  new DataView(outBytes.buffer).setUint32(4, keep, false);
  outBytes.set(bytes.subarray(header, header + keep * itemBytes), header);
  return outBytes;
}

/** Gzip with fixed settings: Node writes mtime 0 and no file name, so equal input gives equal bytes. */
export function gzipFixed(bytes) {
  return gzipSync(bytes, { level: 9, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY });
}

function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const src = process.argv[2] ?? "/usr/share/datasets/fashion-mnist";
  const out = process.argv[3] ?? join(root, "specs/data/fashion-mnist-small");
  mkdirSync(out, { recursive: true });
  for (const { name, keep } of CUTS) {
    const raw = gunzipSync(readFileSync(join(src, `${name}.gz`)));
    const cut = cutIdx(raw, keep, name);
    const gz = gzipFixed(cut);
    writeFileSync(join(out, `${name}.gz`), gz);
    console.log(`${name}.gz: ${keep} items, ${cut.length} bytes raw, ${gz.length} gzipped`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
