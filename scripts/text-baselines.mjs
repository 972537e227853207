// Naive baselines of a character language model, in bits per character over the same test targets
// as a `text("PATH", context=N, test=F)` source with `validation V` (runtime/node/load-text.ts and
// runtime/data/text.ts charCorpus): the files of a directory in name order (dot files skipped)
// joined by "\n", split by position into train, validation (round(L * V) characters) and test
// (round(L * F), the last ones); test window i starts at s = i * N in the test span and its
// targets are the characters s+1 .. s+N. The models are counted on the training span only (its
// characters are the vocabulary, plus one unknown id for the others): unigram (add-one), and
// bigram and trigram with Witten-Bell interpolation down to the unigram; a target's history is
// read inside its window only, as the network sees it. bpc = mean(-log2 p) over the targets.
//
// Run: node scripts/text-baselines.mjs specs/data/fortunes-small --context 64 --validation 0.1 --test 0.1
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

function usage(msg) {
  console.error(`text-baselines: ${msg}`);
  console.error("usage: node scripts/text-baselines.mjs FILE|DIR --context N [--validation F] [--test F]");
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = { validation: 0, test: 0 };
let path;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const num = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    const v = Number(args[++i]);
    if (!Number.isFinite(v)) usage(`${a} must be a number, got ${JSON.stringify(args[i])}`);
    return v;
  };
  if (a === "--context") opt.context = num();
  else if (a === "--validation") opt.validation = num();
  else if (a === "--test") opt.test = num();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (path === undefined) path = a;
  else usage(`one corpus, got ${JSON.stringify(path)} and ${JSON.stringify(a)}`);
}
if (path === undefined) usage("no corpus given");
if (!(Number.isInteger(opt.context) && opt.context >= 1)) usage("--context must be a positive integer");
if (!(opt.test > 0 && opt.test < 1)) usage("--test must be in (0, 1)");

let text;
try {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((n) => !n.startsWith("."))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((n) => join(path, n))
    : [path];
  text = files.map((f) => readFileSync(f, "utf8")).join("\n");
} catch (e) {
  console.error(`text-baselines: ${e.path ?? path}: ${e.code === "ENOENT" ? "no such file or directory" : e.message}`);
  process.exit(1);
}
const cps = Array.from(text, (c) => c.codePointAt(0));
const L = cps.length;
const nTest = Math.round(L * opt.test);
const nVal = Math.round(L * opt.validation);
const nTrain = L - nVal - nTest;

// ids: 0 unknown, then the training span's code points in ascending order (as runtime/data/vocab.ts)
const chars = [...new Set(cps.slice(0, nTrain))].sort((a, b) => a - b);
const idOf = new Map(chars.map((c, k) => [c, k + 1]));
const V = chars.length + 1;
const ids = cps.map((c) => idOf.get(c) ?? 0);

// counts on the training span
const uni = new Float64Array(V);
const bi = new Map(); // history id -> Map(next id -> count)
const tri = new Map(); // history key a*V+b -> Map
const add = (m, h, w) => {
  let row = m.get(h);
  if (!row) m.set(h, (row = new Map()));
  row.set(w, (row.get(w) ?? 0) + 1);
};
for (let p = 0; p < nTrain; p++) {
  uni[ids[p]]++;
  if (p >= 1) add(bi, ids[p - 1], ids[p]);
  if (p >= 2) add(tri, ids[p - 2] * V + ids[p - 1], ids[p]);
}
const total = new Map();
const sum = (row) => {
  let t = total.get(row);
  if (t === undefined) {
    t = 0;
    for (const c of row.values()) t += c;
    total.set(row, t);
  }
  return t;
};
const p1 = (w) => (uni[w] + 1) / (nTrain + V);
// Witten-Bell: (c(h, w) + T(h) * lower(w)) / (c(h) + T(h)), T(h) the distinct followers of h
const wb = (row, w, lower) => (row ? ((row.get(w) ?? 0) + row.size * lower) / (sum(row) + row.size) : lower);
const p2 = (a, w) => wb(bi.get(a), w, p1(w));
const p3 = (a, b, w) => wb(tri.get(a * V + b), w, p2(b, w));

const start = nTrain + nVal;
const windows = Math.floor((nTest - (opt.context + 1)) / opt.context) + 1;
let bits = [0, 0, 0];
let n = 0;
for (let i = 0; i < windows; i++) {
  const s = start + i * opt.context;
  for (let j = 1; j <= opt.context; j++) {
    const p = s + j;
    const w = ids[p];
    bits[0] -= Math.log2(p1(w));
    bits[1] -= Math.log2(p2(ids[p - 1], w));
    bits[2] -= Math.log2(j >= 2 ? p3(ids[p - 2], ids[p - 1], w) : p2(ids[p - 1], w));
    n++;
  }
}
console.log(`${path}: ${L} characters; train ${nTrain}, validation ${nVal}, test ${nTest}; vocabulary ${V} ids (0: unknown)`);
console.log(`${windows} test windows of ${opt.context}: ${n} targets`);
console.log(`unigram (add-one): ${(bits[0] / n).toFixed(3)} bpc`);
console.log(`bigram (Witten-Bell): ${(bits[1] / n).toFixed(3)} bpc`);
console.log(`trigram (Witten-Bell): ${(bits[2] / n).toFixed(3)} bpc`);
