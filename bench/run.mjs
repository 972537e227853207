#!/usr/bin/env node
// `npm run bench`: dnnc against its peers (tfjs CPU, tfjs WASM, PyTorch 1 and 2 threads) on the
// full Fashion-MNIST, models M1..M4 of bench/models.mjs, and on Debian's fortunes, the sequence
// models S1 (character LSTM) and S2 (1-D CNN text classifier) of bench/seq-models.mjs (against
// tfjs WASM, jax-js and PyTorch), in one session with alternating runs.
//
//   node bench/run.mjs [--quick] [--models m1,m2,s1] [--systems dnnc,tfjs-cpu,tfjs-wasm,jax-js,pytorch]
//                      [--reps N] [--peak 60 | --peak 1:60,2:110] [--run-limit SECONDS] [--out FILE]
//
// Every system is a child process speaking JSON lines on stdout ({"event":"window"|"done"|...}).
// Throughput: median samples/s over the windows after warm-up (the first window of each run is
// dropped), pooled over the repetitions. Peak RSS: what the child reports (getrusage maxRSS),
// else the highest VmHWM sampled from /proc. Accuracy: test set after one full epoch; runs that
// train on fewer samples (tfjs CPU; --quick) report none. See bench/README.md.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MODELS, MODEL_NAMES, trainFlopsPerSample } from "./models.mjs";
import { SEQ_MODELS, SEQ_MODEL_NAMES, seqSpec, seqTrainFlopsPerSample } from "./seq-models.mjs";
import { DATA_DIR, missingDataFiles } from "./idx.mjs";
import { formatTable, median, parseEvents, parsePeakArg, peakReader, steadyGc, steadyRates } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const PY = "/usr/bin/python3";
const SYSTEMS = ["dnnc", "tfjs-cpu", "tfjs-wasm", "jax-js", "pytorch"];
/** Debian's fortunes (apt-get install fortunes): the corpus of the sequence models. */
const FORTUNES = "/usr/share/games/fortunes";

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    models: { type: "string", default: [...MODEL_NAMES, ...SEQ_MODEL_NAMES].join(",") },
    systems: { type: "string", default: SYSTEMS.join(",") },
    reps: { type: "string" },
    peak: { type: "string" },
    out: { type: "string" },
    "run-limit": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (opt.help) {
  console.log(
    readFileSync(fileURLToPath(import.meta.url), "utf8")
      .split("\n")
      .slice(0, 13)
      .join("\n"),
  );
  process.exit(0);
}
const quick = opt.quick;
const models = opt.models
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const systems = opt.systems
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const m of models) if (!MODELS[m] && !SEQ_MODELS[m]) fail(`unknown model "${m}" (known: ${[...MODEL_NAMES, ...SEQ_MODEL_NAMES].join(", ")})`);
for (const s of systems) if (!SYSTEMS.includes(s)) fail(`unknown system "${s}" (known: ${SYSTEMS.join(", ")})`);
const reps = Number(opt.reps ?? (quick ? 1 : 2));
/** Wall-time cap of one run (s): a run stopped there keeps its windows but reports no accuracy. */
const runLimit = Number(opt["run-limit"] ?? (quick ? 10 : 150));

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

const missing = models.some((m) => MODELS[m]) ? missingDataFiles(DATA_DIR) : [];
if (missing.length) {
  console.error(`bench: Fashion-MNIST not found in ${DATA_DIR} (missing ${missing.join(", ")}).`);
  console.error("Install it with: apt-get install dataset-fashion-mnist");
  process.exit(1);
}
if (models.some((m) => SEQ_MODELS[m]) && !existsSync(FORTUNES)) {
  console.error(`bench: the sequence models (${SEQ_MODEL_NAMES.join(", ")}) train on Debian's fortunes, not found in ${FORTUNES}.`);
  console.error(`Install them with: apt-get install fortunes (or leave them out: --models ${MODEL_NAMES.join(",")})`);
  process.exit(1);
}

// ---- the SGEMM peak ------------------------------------------------------------------------
let peak = () => null;
let peakSource = "n/a (pass --peak or write bench/gemm-peak.json)";
if (opt.peak) {
  peak = parsePeakArg(opt.peak);
  peakSource = `--peak ${opt.peak}`;
} else if (existsSync(join(here, "gemm-peak.json"))) {
  try {
    peak = peakReader(JSON.parse(readFileSync(join(here, "gemm-peak.json"), "utf8")));
    peakSource = "bench/gemm-peak.json";
  } catch (e) {
    peakSource = `n/a (bench/gemm-peak.json unreadable: ${e.message})`;
  }
}

// ---- what can run ----------------------------------------------------------------------------
const torchOk = systems.includes("pytorch") && existsSync(PY) && spawnSync(PY, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
const blasAlt = spawnSync("update-alternatives", ["--display", "libblas.so.3-x86_64-linux-gnu"], { encoding: "utf8" });
const blasAlternative =
  blasAlt.status === 0
    ? (blasAlt.stdout
        .split("\n")
        .find((l) => l.includes("link currently points to"))
        ?.trim() ?? null)
    : null;
const dnncBin = join(root, "bin", "dnnc.mjs");
const work = mkdtempSync(join(tmpdir(), "dnnc-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

/** Set when a compile timed out: the other models are not tried. */
let compilerHung = "";

/** Compiles bench/specs/<m>.dnn; returns the trainer path or a reason why dnnc cannot run. */
function compileDnnc(m) {
  const spec = join(here, "specs", `${m}.dnn`);
  if (!existsSync(dnncBin)) return { skip: "not built yet (bin/dnnc.mjs missing)" };
  if (!existsSync(spec)) return { skip: `not built yet (bench/specs/${m}.dnn missing)` };
  const out = join(work, m);
  if (compilerHung) return { skip: compilerHung };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [dnncBin, "compile", spec, "-o", out], { cwd: root, encoding: "utf8", timeout: (quick ? 60 : 180) * 1000 });
  process.stderr.write(`  ${m}: dnnc compile ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  if (r.error) return { skip: (compilerHung = `compile did not finish (${m}: ${r.error.message})`) };
  if (r.status !== 0) return { skip: `compile failed: ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" / ")}` };
  const name = existsSync(join(out, `${m}.trainer.mjs`)) ? `${m}.trainer.mjs` : readdirSync(out).find((f) => f.endsWith(".trainer.mjs"));
  return name ? { trainer: join(out, name) } : { skip: `compile wrote no *.trainer.mjs in ${out}` };
}

/** Training-sample budget and test-set size per system (Infinity = one full epoch). */
function budget(system, model) {
  const conv = model.layers.some((l) => l.op === "conv");
  if (quick) {
    if (system === "tfjs-cpu") return conv ? { skip: "skipped in --quick (one batch takes seconds)" } : { samples: 600, test: 0 };
    if (system === "tfjs-wasm") return { samples: model.batch >= 64 ? 3000 : 1500, test: 0 };
    if (system === "pytorch") return { samples: conv ? 2000 : 15000, test: 0, stopAfterWindows: 4 };
    return { samples: Infinity, test: 0, stopAfterWindows: 2 };
  }
  if (system === "tfjs-cpu") return { samples: conv ? 4 * model.batch : 3000, test: 0, reps: 1 };
  return { samples: Infinity, test: 10000 };
}

function peerEnvTorch(threads) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  // OpenBLAS (pthread build) keeps its own pool; unset, torch at 1 thread still runs 2 GEMM threads.
  env.OPENBLAS_NUM_THREADS = "1";
  return env;
}

/** The runs of one model: { system, threads, cmd, args, env, budget } or { system, threads, skip }. */
function plan(m) {
  const model = MODELS[m];
  const entries = [];
  const win = quick ? "0.25" : "1";
  if (systems.includes("dnnc")) {
    const c = compileDnnc(m);
    const b = budget("dnnc", model);
    for (const t of [1, 2]) {
      if (c.skip) entries.push({ system: "dnnc", threads: t, skip: c.skip });
      else {
        const args = [c.trainer, "--data", DATA_DIR, "--epochs", "1", "--bench", "--threads", String(t)];
        if (Number.isFinite(b.samples)) args.push("--max-steps", String(Math.ceil(b.samples / model.batch)));
        entries.push({ system: "dnnc", threads: t, cmd: process.execPath, args, env: process.env, budget: b });
      }
    }
  }
  for (const backend of ["cpu", "wasm"]) {
    const system = `tfjs-${backend}`;
    if (!systems.includes(system)) continue;
    const b = budget(system, model);
    if (b.skip) {
      entries.push({ system, threads: 1, skip: b.skip });
      continue;
    }
    const samples = Number.isFinite(b.samples) ? b.samples : 60000;
    const args = [join(here, "peers", "tfjs.mjs"), "--backend", backend, "--model", m, "--samples", String(samples), "--test", String(b.test), "--window", win];
    entries.push({ system, threads: 1, cmd: process.execPath, args, env: process.env, budget: b });
  }
  if (systems.includes("pytorch")) {
    const b = budget("pytorch", model);
    for (const t of [1, 2]) {
      if (!torchOk) {
        entries.push({ system: "pytorch", threads: t, skip: `${PY} cannot import torch` });
        continue;
      }
      const samples = Number.isFinite(b.samples) ? b.samples : 60000;
      const args = [
        join(here, "peers", "torch_peer.py"),
        "--model-json",
        JSON.stringify(model),
        "--threads",
        String(t),
        "--samples",
        String(samples),
        "--test",
        String(b.test),
        "--window",
        quick ? "0.1" : "0.25",
      ];
      entries.push({ system: "pytorch", threads: t, cmd: PY, args, env: peerEnvTorch(t), budget: b });
    }
  }
  return entries;
}

// ---- the sequence models (bench/seq-models.mjs) --------------------------------------------------
/** The prepared data of the sequence models (bench/seq-prep.mts, run once): { dir, meta } or { skip }. */
let seqPrepared = null;
function seqData() {
  if (seqPrepared) return seqPrepared;
  const dir = join(work, "seq-data");
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "seq-prep.mts"), FORTUNES, dir], { cwd: root, encoding: "utf8", timeout: 120000 });
  if (r.status !== 0) seqPrepared = { skip: `data preparation failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-2).join(" / ")}` };
  else seqPrepared = { dir, meta: JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) };
  return seqPrepared;
}

/** The sizes the data gave a sequence model (its vocabulary; S2: its classes). */
function seqFacts(m) {
  const d = seqData();
  if (d.skip) return null;
  return m === "s1" ? { vocab: d.meta.s1.vocab } : { vocab: d.meta.s2.vocab, classes: d.meta.s2.classes };
}

/**
 * Training steps of one run of a sequence model per system (each run is also cut at --run-limit):
 * enough windows after warm-up for a steady median, at each system's speed on this machine.
 */
const SEQ_STEPS = {
  s1: { dnnc: 150, "dnnc-ts": 40, pytorch: 150, "jax-js": 40, "tfjs-wasm": 12 },
  s2: { dnnc: 400, "dnnc-ts": 150, pytorch: 400, "jax-js": 100, "tfjs-wasm": 40 },
};
const seqSteps = (m, system) => Math.max(4, Math.round(SEQ_STEPS[m][system] / (quick ? 5 : 1)));

/**
 * dnnc's S1/S2 trainer: the spec of seqSpec with the sizes the data gave, compiled by `dnnc
 * compile` as the image models' specs are. Returns { trainer } or { skip }.
 */
function compileSeqDnnc(m, facts) {
  if (!existsSync(dnncBin)) return { skip: "not built yet (bin/dnnc.mjs missing)" };
  const dir = join(work, m);
  mkdirSync(dir, { recursive: true });
  const spec = join(dir, `${m}.dnn`);
  writeFileSync(spec, seqSpec(SEQ_MODELS[m], facts, FORTUNES));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [dnncBin, "compile", spec, "-o", dir], { cwd: root, encoding: "utf8", timeout: (quick ? 60 : 180) * 1000 });
  process.stderr.write(`  ${m}: dnnc compile ${((performance.now() - t0) / 1000).toFixed(1)} s${r.status === 0 ? "" : " (refused)"}\n`);
  if (r.status === 0 && existsSync(join(dir, `${m}.trainer.mjs`))) return { trainer: join(dir, `${m}.trainer.mjs`) };
  return { skip: `compile failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(0, 3).join(" / ")}` };
}

/** The runs of one sequence model, as plan() for the image models. */
function planSeq(m) {
  const model = SEQ_MODELS[m];
  const entries = [];
  const win = quick ? "0.25" : "1";
  const d = seqData();
  const facts = seqFacts(m);
  const budgetOf = (system) => ({ samples: seqSteps(m, system) * model.batch, test: 0, steps: seqSteps(m, system) });
  if (systems.includes("dnnc")) {
    const c = d.skip ? d : compileSeqDnnc(m, facts);
    const b = budgetOf("dnnc");
    // the wasm backend (the default) at 1 and 2 threads, and the TypeScript backend (one thread:
    // its GEMM does not split) for what WebAssembly gains on these models
    for (const [backend, t] of [
      ["wasm", 1],
      ["wasm", 2],
      ["ts", 1],
    ]) {
      if (c.skip) entries.push({ system: "dnnc", backend, threads: t, skip: c.skip });
      else {
        // --trace-gc: the collections during the steady state tell whether a step allocates (steadyGc)
        const args = ["--trace-gc", c.trainer, "--data", FORTUNES, "--epochs", "1", "--bench", "--threads", String(t), "--backend", backend];
        args.push("--max-steps", String(b.steps));
        const budget = backend === "ts" ? budgetOf("dnnc-ts") : b;
        entries.push({ system: "dnnc", backend, threads: t, cmd: process.execPath, args, env: process.env, budget, gcBatch: model.batch });
      }
    }
  }
  if (systems.includes("tfjs-cpu"))
    entries.push({ system: "tfjs-cpu", threads: 1, skip: "not run for the sequence models (tfjs-wasm is the JavaScript peer the issue names)" });
  for (const [system, script] of [
    ["tfjs-wasm", "tfjs-seq.mjs"],
    ["jax-js", "jax-seq.mjs"],
  ]) {
    if (!systems.includes(system)) continue;
    if (d.skip) {
      entries.push({ system, threads: 1, skip: d.skip });
      continue;
    }
    const b = budgetOf(system);
    const args = [join(here, "peers", script), "--model", m, "--data", d.dir, "--steps", String(b.steps), "--window", win];
    entries.push({ system, threads: 1, cmd: process.execPath, args, env: process.env, budget: b });
  }
  if (systems.includes("pytorch")) {
    const b = budgetOf("pytorch");
    for (const t of [1, 2]) {
      if (!torchOk || d.skip) {
        entries.push({ system: "pytorch", threads: t, skip: d.skip ? d.skip : `${PY} cannot import torch` });
        continue;
      }
      const args = [
        join(here, "peers", "torch_seq.py"),
        "--model-json",
        JSON.stringify(model),
        "--data",
        d.dir,
        "--threads",
        String(t),
        "--steps",
        String(b.steps),
        "--window",
        quick ? "0.1" : "0.25",
      ];
      entries.push({ system: "pytorch", threads: t, cmd: PY, args, env: peerEnvTorch(t), budget: b });
    }
  }
  return entries;
}

/** The child running now, stopped with us on Ctrl-C or SIGTERM. */
let current = null;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    current?.kill("SIGTERM");
    process.exit(130);
  });
}

function readHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs one child to completion (or until stopAfterWindows windows, or the time limit). */
function runOne(e) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const load = loadavg()[0];
    const child = spawn(e.cmd, e.args, { cwd: root, env: e.env, stdio: ["ignore", "pipe", "pipe"] });
    current = child;
    let out = "";
    let err = "";
    let hwm = 0;
    let windows = 0;
    let stopped = false;
    const limitMs = runLimit * 1000;
    const sampler = setInterval(() => (hwm = Math.max(hwm, readHwmKb(child.pid))), 100);
    const timer = setTimeout(() => {
      stopped = "time limit";
      child.kill("SIGTERM");
    }, limitMs);
    child.stdout.on("data", (d) => {
      out += d;
      hwm = Math.max(hwm, readHwmKb(child.pid));
      windows = (out.match(/"event":\s*"window"/g) ?? []).length;
      if (e.budget?.stopAfterWindows && windows >= e.budget.stopAfterWindows + 1 && !stopped) {
        stopped = "enough windows";
        child.kill("SIGTERM");
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      current = null;
      clearInterval(sampler);
      clearTimeout(timer);
      const { events } = parseEvents(out);
      const gc = e.gcBatch ? steadyGc(out, e.gcBatch) : null;
      resolve({ code, stopped, events, gc, stderr: err.trim().split("\n").slice(-3).join(" / "), hwm, wallSeconds: (performance.now() - t0) / 1000, load });
    });
  });
}

/** One table row from the runs of one entry (flops: FLOPs per training sample). */
function summarize(e, runs, flops, seq) {
  const row = { system: e.system, threads: e.threads, rate: null, gflops: null, peakShare: null, rssMb: null, acc: null, note: "" };
  // dnnc on the TypeScript backend (sequence models): its own row, not the one the ratios use
  if (e.backend === "ts") Object.assign(row, { label: "dnnc (ts backend)", tsBackend: true });
  if (e.skip) return { ...row, note: e.skip };
  const rates = [];
  const notes = new Set();
  let rss = 0;
  const accs = [];
  let trained = 0;
  const loads = [];
  for (const r of runs) {
    const wins = r.events.filter((x) => x.event === "window");
    rates.push(...steadyRates(wins, 1));
    trained = Math.max(
      trained,
      wins.reduce((s, w) => s + w.samples, 0),
    );
    const done = r.events.find((x) => x.event === "done");
    const error = r.events.find((x) => x.event === "error");
    const info = r.events.find((x) => x.event === "info" && x.blas_libs);
    if (info) row.blas = info.blas_libs;
    // which kernels a dnnc trainer ran (wasm-relaxed-simd: the fused multiply-add, its default)
    const start = r.events.find((x) => x.event === "start" && x.backend);
    if (start) row.backend = start.backend;
    // a peer that had to be patched to run says so (tfjs-wasm with the Conv2DBackpropFilter it lacks)
    const label = r.events.find((x) => x.event === "info" && x.label && x.label !== e.system)?.label;
    if (label) row.label = label;
    if (error) notes.add(error.cannot_train ? `cannot train: ${error.message}` : `error: ${error.message}`);
    else if (!done && !r.stopped) notes.add(`failed (exit ${r.code}): ${r.stderr}`);
    if (r.stopped === "time limit") notes.add(`stopped at ${runLimit} s`);
    rss = Math.max(rss, done?.max_rss_kb ?? 0, r.hwm);
    const full = done && (done.full_epoch ?? !Number.isFinite(e.budget?.samples));
    if (full && typeof done.test_acc === "number") accs.push(done.test_acc);
    loads.push(r.load);
  }
  const busy = loads.filter((l) => l > cpus().length + 0.5);
  if (busy.length) notes.add(`load ${Math.min(...busy).toFixed(1)}${busy.length > 1 ? `-${Math.max(...busy).toFixed(1)}` : ""}`);
  if (rates.length) {
    row.rate = median(rates);
    row.bestWindow = Math.max(...rates);
    row.gflops = (row.rate * flops) / 1e9;
    const p = peak(e.threads);
    row.peakShare = p ? row.gflops / p : null;
  }
  row.rssMb = rss ? rss / 1024 : null;
  row.acc = accs.length ? median(accs) : null;
  const gcs = runs.map((r) => r.gc).filter(Boolean);
  if (gcs.length) {
    // allocation per step: what the collections of the steady state freed, per step trained there
    const sum = (k) => gcs.reduce((a, g) => a + g[k], 0);
    row.gc = { collections: sum("gcs"), mbFreed: sum("mbFreed"), steps: sum("steps") };
    const kb = (1024 * row.gc.mbFreed) / Math.max(1, row.gc.steps);
    notes.add(row.gc.collections ? `GC: ${row.gc.collections} in ${row.gc.steps} steps, <= ${kb.toFixed(1)} KB/step` : `no GC in ${row.gc.steps} steps`);
  }
  if (seq && rates.length) {
    const last = runs.map((r) => r.events.find((x) => x.event === "done")?.train_loss).filter((v) => typeof v === "number");
    notes.add(`${trained.toLocaleString("en-US")} samples${last.length ? `, last train loss ${last[last.length - 1].toFixed(3)}` : ""}`);
  } else if (!accs.length && rates.length) notes.add(`${trained.toLocaleString("en-US")} samples, no 1-epoch accuracy`);
  row.windows = rates.length;
  row.note = [...notes].join("; ");
  return row;
}

// ---- main ----------------------------------------------------------------------------------
const date = new Date().toISOString().slice(0, 10);
console.log(
  `dnnc bench ${quick ? "(--quick) " : ""}${date}: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${reps} alternating rep(s)`,
);
console.log(`SGEMM peak: ${peakSource}${peak(1) ? ` (1 thread ${peak(1)}, 2 threads ${peak(2)} GFLOP/s)` : ""}`);
if (systems.includes("pytorch")) {
  console.log(
    `PyTorch: ${torchOk ? `${PY}, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for it, OPENBLAS_NUM_THREADS=1 (torch threads only)` : "not available"}; libblas alternative: ${blasAlternative ?? "unknown"}`,
  );
}
const results = {
  date,
  quick,
  reps,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  peak: { source: peakSource, t1: peak(1), t2: peak(2) },
  blasAlternative,
  models: {},
};

for (const m of models) {
  const seq = !!SEQ_MODELS[m];
  const model = seq ? SEQ_MODELS[m] : MODELS[m];
  const facts = seq ? seqFacts(m) : null;
  const flops = seq ? (facts ? seqTrainFlopsPerSample(model, facts) : NaN) : trainFlopsPerSample(model);
  const entries = seq ? planSeq(m) : plan(m);
  const runs = entries.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    // Alternate: every system once per repetition, starting one later each time.
    for (let k = 0; k < entries.length; k++) {
      const i = (k + rep) % entries.length;
      const e = entries[i];
      if (e.skip || rep >= (e.budget?.reps ?? reps)) continue;
      process.stderr.write(`  ${m} rep ${rep + 1}/${reps}: ${e.system} ×${e.threads} ...`);
      const r = await runOne(e);
      runs[i].push(r);
      process.stderr.write(` ${r.wallSeconds.toFixed(1)} s\n`);
    }
  }
  const rows = entries.map((e, i) => summarize(e, runs[i], flops, seq));
  const dnncRate = (t) => rows.find((r) => r.system === "dnnc" && !r.tsBackend && r.threads === t)?.rate ?? null;
  const bestDnnc = Math.max(...rows.filter((r) => r.system === "dnnc" && !r.tsBackend && r.rate).map((r) => r.rate), -Infinity);
  for (const r of rows) {
    if (r.system === "dnnc" || !r.rate) continue;
    const d = dnncRate(r.threads) ?? (Number.isFinite(bestDnnc) ? bestDnnc : null);
    r.ratio = d ? d / r.rate : null;
  }
  console.log(
    `\n${model.title}; ${(flops / 1e6).toFixed(3)} MFLOP per training sample${
      facts
        ? ` (${Object.entries(facts)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")})`
        : ""
    }`,
  );
  console.log(formatTable(rows));
  const torchBlas = rows.find((r) => r.blas)?.blas;
  if (torchBlas) console.log(`PyTorch measured with BLAS: ${torchBlas.join(", ")}`);
  const kernels = [...new Set(rows.filter((r) => r.system === "dnnc" && r.backend).map((r) => r.backend.replace(/ x\d+$/, "")))];
  if (kernels.length) console.log(`dnnc kernels: ${kernels.join(", ")}`);
  results.models[m] = {
    title: model.title,
    flops_per_sample: flops,
    ...(facts ? { facts } : {}),
    rows,
    runs: entries.map((e, i) => ({ system: e.system, threads: e.threads, skip: e.skip, args: e.args?.filter((a) => !a.startsWith("{")), runs: runs[i] })),
  };
}

const outFile = opt.out ?? join(here, "results", `${date}${quick ? "-quick" : ""}.json`);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(results, null, 1) + "\n");
console.log(`\nratio dnnc÷peer: dnnc at the peer's thread count (tfjs: 1). Results: ${outFile}`);
