#!/usr/bin/env node
// Writes the class splits of docs/accuracy.md's fine-tuning experiment from an IDX dataset
// (Fashion-MNIST): OUT/base (classes 0-4, every training image, the test images of 0-4) and, for
// each N given, OUT/newN (classes 5-9, the first N training images of each class, every test image
// of 5-9). Labels are kept as they are (5-9 stay 5-9). Deterministic: the first N of each class in
// file order. Uncompressed IDX files, which `source idx("DIR")` reads.
//   node bench/finetune/split-classes.mjs /usr/share/datasets/fashion-mnist /tmp/ft-data 100 500
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";

const [src, out, ...ns] = process.argv.slice(2);
if (!src || !out) {
  console.error("usage: split-classes.mjs SRC_IDX_DIR OUT_DIR [N ...]");
  process.exit(2);
}
const read = (base) => {
  const gz = join(src, `${base}.gz`);
  return existsSync(gz) ? gunzipSync(readFileSync(gz)) : readFileSync(join(src, base));
};
/** Images and labels of one split: header-less views. */
function load(prefix) {
  const img = read(`${prefix}-images-idx3-ubyte`);
  const lab = read(`${prefix}-labels-idx1-ubyte`);
  const n = img.readUInt32BE(4);
  const rows = img.readUInt32BE(8);
  const cols = img.readUInt32BE(12);
  return { n, rows, cols, img: img.subarray(16), lab: lab.subarray(8) };
}
function write(dir, prefix, d, picked) {
  mkdirSync(dir, { recursive: true });
  const size = d.rows * d.cols;
  const img = Buffer.alloc(16 + picked.length * size);
  img.writeUInt32BE(0x00000803, 0);
  img.writeUInt32BE(picked.length, 4);
  img.writeUInt32BE(d.rows, 8);
  img.writeUInt32BE(d.cols, 12);
  const lab = Buffer.alloc(8 + picked.length);
  lab.writeUInt32BE(0x00000801, 0);
  lab.writeUInt32BE(picked.length, 4);
  picked.forEach((i, k) => {
    img.set(d.img.subarray(i * size, (i + 1) * size), 16 + k * size);
    lab[8 + k] = d.lab[i];
  });
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), img);
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), lab);
}
const train = load("train");
const test = load("t10k");
const indices = (d, keep, perClass = Infinity) => {
  const count = new Map();
  const out = [];
  for (let i = 0; i < d.n; i++) {
    const c = d.lab[i];
    if (!keep(c) || (count.get(c) ?? 0) >= perClass) continue;
    count.set(c, (count.get(c) ?? 0) + 1);
    out.push(i);
  }
  return out;
};
const low = (c) => c <= 4;
const high = (c) => c >= 5;
write(join(out, "base"), "train", train, indices(train, low));
write(join(out, "base"), "t10k", test, indices(test, low));
for (const n of ns) {
  write(join(out, `new${n}`), "train", train, indices(train, high, Number(n)));
  write(join(out, `new${n}`), "t10k", test, indices(test, high));
}
console.log(`wrote ${out}/base${ns.map((n) => `, ${out}/new${n}`).join("")}`);
