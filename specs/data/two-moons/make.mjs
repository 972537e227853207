#!/usr/bin/env node
// Writes the two-moons CSV example (node specs/data/two-moons/make.mjs). Deterministic: the
// random numbers come from a fixed-seed splitmix32, so rerunning gives identical files.
// Two interleaved half circles (as in scikit-learn's make_moons), Gaussian noise sd 0.15:
//   label 0: (cos t, sin t),            t ~ U[0, pi]
//   label 1: (1 - cos t, 0.5 - sin t),  t ~ U[0, pi]
// Columns: x1, x2, label (header row). train.csv 400 rows, test.csv 200 rows, classes balanced
// and interleaved in random order.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

let state = 20200315 >>> 0;
function u32() {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
const uniform = () => (u32() >>> 8) / 16777216;
const normal = () => Math.sqrt(-2 * Math.log(((u32() >>> 8) + 1) / 16777217)) * Math.cos(2 * Math.PI * uniform());

function moons(n) {
  const labels = [];
  for (let i = 0; i < n; i++) labels.push(i % 2);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [labels[i], labels[j]] = [labels[j], labels[i]];
  }
  const rows = ["x1,x2,label"];
  for (const label of labels) {
    const t = Math.PI * uniform();
    const x = label === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const y = label === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    rows.push(`${(x + 0.15 * normal()).toFixed(4)},${(y + 0.15 * normal()).toFixed(4)},${label}`);
  }
  return rows.join("\n") + "\n";
}

writeFileSync(join(here, "train.csv"), moons(400));
writeFileSync(join(here, "test.csv"), moons(200));
