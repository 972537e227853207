// Naive baselines of a one-step forecaster over the same test windows as a `timeseries(...)` source
// (runtime/data/split.ts splitSpans and runtime/data/timeseries.ts seriesWindows): the rows are
// split by position into train, validation (round(N * validation) rows) and test (round(N * test)
// rows, the last ones); test sample i reads rows s .. s+window-1 of the test span (s = i * stride)
// and predicts row s+window (horizon 1). Baselines: persistence (the window's last value) and
// seasonal (the value `season` rows before the target: the same hour yesterday for hourly data, so
// it must lie inside the window), and with a window longer than the season, seasonal plus the last
// step's anomaly (v[t-season] + v[t-1] - v[t-season-1]). Errors are given in the column's units, in °C for a °F column
// (--fahrenheit), and as MSE in the trainer's standardized units (the training span's population
// std), the unit of a dnnc or PyTorch-target test_loss under `loss mse`. With --run DIR (repeatable)
// the test_loss of DIR/metrics.jsonl is converted back to the same units (RMSE = sqrt(mse) * std).
//
// Run: node scripts/forecast-baselines.mjs specs/data/seattle-temps.csv --column temp --window 24 \
//        --validation 0.1 --test 0.2 --season 24 --fahrenheit [--run runs/seattle-temps-...]
import { readFileSync } from "node:fs";
import { join } from "node:path";

function usage(msg) {
  console.error(`forecast-baselines: ${msg}`);
  console.error(
    "usage: node scripts/forecast-baselines.mjs FILE.csv --column NAME --window W [--validation F] [--test F] [--stride S] [--season K] [--fahrenheit] [--run DIR]...",
  );
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = { validation: 0, test: 0, stride: 1, season: 24, fahrenheit: false, runs: [] };
let file;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    return args[++i];
  };
  const num = (name) => {
    const v = Number(value());
    if (!Number.isFinite(v)) usage(`${name} must be a number, got ${JSON.stringify(args[i])}`);
    return v;
  };
  if (a === "--column") opt.column = value();
  else if (a === "--window") opt.window = num("--window");
  else if (a === "--validation") opt.validation = num("--validation");
  else if (a === "--test") opt.test = num("--test");
  else if (a === "--stride") opt.stride = num("--stride");
  else if (a === "--season") opt.season = num("--season");
  else if (a === "--fahrenheit") opt.fahrenheit = true;
  else if (a === "--run") opt.runs.push(value());
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (file === undefined) file = a;
  else usage(`one CSV file, got ${JSON.stringify(file)} and ${JSON.stringify(a)}`);
}
if (file === undefined) usage("no CSV file given");
if (opt.column === undefined) usage("--column is required");
if (!(Number.isInteger(opt.window) && opt.window >= 1)) usage("--window must be a positive integer");
if (!(opt.test > 0 && opt.test < 1)) usage("--test must be in (0, 1)");
if (!(opt.season >= 1 && opt.season <= opt.window))
  usage(`--season ${opt.season} must be in 1..window (${opt.window}): the seasonal value is read from the window`);

let text;
try {
  text = readFileSync(file, "utf8");
} catch (e) {
  console.error(`forecast-baselines: ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  process.exit(1);
}
const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
const header = lines[0].split(",");
const col = header.indexOf(opt.column);
if (col < 0) {
  console.error(`forecast-baselines: ${file}:1: no column named "${opt.column}" (columns: ${header.join(", ")})`);
  process.exit(1);
}
const v = lines.slice(1).map((l, k) => {
  const x = Number(l.split(",")[col]);
  if (!Number.isFinite(x)) {
    console.error(`forecast-baselines: ${file}:${k + 2}: column "${opt.column}" is not a number`);
    process.exit(1);
  }
  return Math.fround(x);
});

// the spans, as splitSpans
const N = v.length;
const nTest = Math.round(N * opt.test);
const nVal = Math.round(N * opt.validation);
const nTrain = N - nVal - nTest;
let mean = 0;
for (let r = 0; r < nTrain; r++) mean += v[r];
mean /= nTrain;
let q = 0;
for (let r = 0; r < nTrain; r++) q += (v[r] - mean) ** 2;
const std = Math.fround(Math.sqrt(q / nTrain));
const start = nTrain + nVal;
const windows = Math.floor((nTest - opt.window - 1) / opt.stride) + 1;
const toC = opt.fahrenheit ? 5 / 9 : 1;
const unit = opt.fahrenheit ? "°C" : "units";

function score(predict) {
  let se = 0;
  let ae = 0;
  for (let i = 0; i < windows; i++) {
    const s = start + i * opt.stride;
    const e = predict(s) - v[s + opt.window];
    se += e * e;
    ae += Math.abs(e);
  }
  const mse = se / windows;
  return { rmse: Math.sqrt(mse) * toC, mae: (ae / windows) * toC, std_mse: mse / (std * std) };
}

const fmt = (x, d = 3) => x.toFixed(d);
console.log(`${file}: ${N} rows; train ${nTrain}, validation ${nVal}, test ${nTest} rows -> ${windows} test windows of ${opt.window}`);
console.log(`training span: mean ${fmt(mean)}, std ${fmt(std)} (${opt.fahrenheit ? "°F" : "units"})`);
const rows = [
  ["persistence (last value)", score((s) => v[s + opt.window - 1])],
  [`seasonal (value ${opt.season} steps before)`, score((s) => v[s + opt.window - opt.season])],
];
// seasonal plus the last step's departure from its own seasonal value (needs season + 1 steps)
if (opt.window > opt.season)
  rows.push([
    `seasonal + last anomaly (v[t-${opt.season}] + v[t-1] - v[t-${opt.season + 1}])`,
    score((s) => v[s + opt.window - opt.season] + v[s + opt.window - 1] - v[s + opt.window - opt.season - 1]),
  ]);
for (const dir of opt.runs) {
  let m;
  try {
    m = readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.includes("test_loss"))
      .map((l) => JSON.parse(l))
      .pop();
  } catch (e) {
    console.error(`forecast-baselines: ${join(dir, "metrics.jsonl")}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
    process.exit(1);
  }
  if (!m || typeof m.test_loss !== "number") {
    console.error(`forecast-baselines: ${join(dir, "metrics.jsonl")}: no test_loss line`);
    process.exit(1);
  }
  rows.push([`run ${dir} (test_loss, mse)`, { rmse: Math.sqrt(m.test_loss) * std * toC, mae: NaN, std_mse: m.test_loss }]);
}
for (const [name, r] of rows)
  console.log(`${name}: RMSE ${fmt(r.rmse)} ${unit}, MAE ${Number.isNaN(r.mae) ? "-" : fmt(r.mae)} ${unit}, standardized MSE ${fmt(r.std_mse, 5)}`);
