// Kill/resume campaign for run directories (issue 16): trainings killed with SIGKILL at random
// moments, resumed in place and into other directories (`--resume A --out B`), resumes refused
// (another spec's trainer, nothing to resume), and two writers racing for one directory. Usage:
//
//   node scripts/kill-resume-campaign.mjs [--runs 100] [--seed 1] [--work DIR] [--keep] [--json]
//
// Needs the built CLI (node scripts/build.mjs). Each run starts a fresh run directory (with
// `dnnc train` or the compiled trainer), kills it or lets it end, then chains 1 to 3 actions on
// it: resume in place, resume into a new directory (which the chain then follows), a refused
// resume, or two resumes at once; any of them may be killed too. Oracle:
//  - before and after every command, every run directory the command did not name as its output
//    is hashed (names and bytes of every file): any change is a failure. A refused command (exit
//    1) must leave even its own output as it was;
//  - every exit is 0, 1 with one `error:` line and no stack trace, or the campaign's SIGKILL;
//  - at the end every directory is resumed to completion (no kill): it must either end with
//    model.safetensors and loss-trace.f64 byte-identical to an uninterrupted reference run (and
//    the same metrics.jsonl but for seconds), or be refused with a message because no checkpoint
//    was written yet (and then, started again without --resume as the message says, end so);
//    a directory that ran to the end holds no lock and no temporary file.
// The module exports runCampaign: test/kill-resume-campaign.test.ts runs a few runs of it.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DNNC = join(ROOT, "bin", "dnnc.mjs");
const DATA = join(ROOT, "specs", "data", "two-moons");

/** The campaign's spec: early stopping (best snapshot, a run that may stop early), plateau schedule, preprocessing. */
function specText(seed) {
  return `model campaign {
  input [2]
  dense(32, init=xavier_normal) -> tanh
  dense(32, init=xavier_normal) -> tanh
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv(${JSON.stringify(DATA)}, label="label")
  validation 0.2
  preprocess standardize(feature)
}
train {
  seed ${seed}
  batch 32
  epochs 30
  optimizer rmsprop(lr=0.01, alpha=0.9)
  schedule plateau(factor=0.5, patience=2, monitor=val_loss)
  early_stopping(patience=4, monitor=val_loss, min_delta=1e-4)
}
`;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** sha256 over the sorted names and bytes of every file below `dir` ("absent" when there is none). */
export function hashDir(dir) {
  if (!existsSync(dir)) return "absent";
  const h = createHash("sha256");
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      h.update(`${relative(dir, p)}\0${st.isDirectory() ? "dir" : st.size}\0`);
      if (st.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest("hex");
}

/** Run a command; with killMs, SIGKILL it after that many milliseconds (if still running). */
function run(argv, killMs) {
  return new Promise((res) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let killed = false;
    const timer = killMs === undefined ? undefined : setTimeout(() => ((killed = child.kill("SIGKILL")), undefined), killMs);
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      res({ code, signal, killed: killed && signal === "SIGKILL", stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const oneLineError = (s) => /^error: [^\n]+\n$/.test(s) && !/\n\s+at /.test(s);

export async function runCampaign(o = {}) {
  const runs = o.runs ?? 100;
  const rand = mulberry32(o.seed ?? 1);
  const log = o.log ?? (() => {});
  const work = o.work ?? mkdtempSync(join(tmpdir(), "dnnc-campaign-"));
  const runsDir = join(work, "runs");
  mkdirSync(runsDir, { recursive: true });
  const EPOCHS = "30";
  const specA = join(work, "a.dnn");
  const specB = join(work, "b.dnn"); // the same model, another seed: another spec hash
  writeFileSync(specA, specText(4));
  writeFileSync(specB, specText(5));
  // both trainers at once (they are independent)
  const compiled = await Promise.all(
    [
      [specA, "compiled-a"],
      [specB, "compiled-b"],
    ].map(async ([spec, out]) => {
      const r = await run([DNNC, "compile", spec, "-o", join(work, out), "--quiet"]);
      if (r.code !== 0) throw new Error(`compile ${spec}: ${r.stderr}`);
      return r.ms;
    }),
  );
  const compileMs = Math.min(...compiled);
  const trainerA = join(work, "compiled-a", "a.trainer.mjs");
  const trainerB = join(work, "compiled-b", "b.trainer.mjs");
  const t0 = Date.now();
  const ref = join(work, "reference");
  const refRun = await run([trainerA, "--out", ref, "--epochs", EPOCHS, "--quiet"]);
  if (refRun.code !== 0) throw new Error(`reference run: ${refRun.stderr}`);
  const refMs = Date.now() - t0;
  // start-up times (to the first step), so that kills land mostly while training
  const startTrainer = (await run([trainerA, "--epochs", "1", "--max-steps", "1", "--quiet"])).ms;
  const startDnnc = compileMs + startTrainer; // dnnc train: the compile, then the same start
  const trainMs = Math.max(50, refMs - startTrainer);
  const noSeconds = (text) => text.replace(/"seconds":[^,}]*/g, '"seconds":0');
  const refFiles = {
    model: readFileSync(join(ref, "model.safetensors")),
    // (absent when the campaign is pointed at a dnnc from before the trace had its own file)
    trace: existsSync(join(ref, "loss-trace.f64")) ? readFileSync(join(ref, "loss-trace.f64")) : undefined,
    metrics: noSeconds(readFileSync(join(ref, "metrics.jsonl"), "utf8")),
  };

  const stats = {
    runs,
    commands: 0,
    kills: 0,
    killsLanded: 0,
    completed: 0,
    refused: 0,
    lockRefusals: 0,
    dnncCommands: 0,
    resumeInPlace: 0,
    resumeToNew: 0,
    refusedResumes: 0,
    races: 0,
  };
  const failures = [];
  const dirs = []; // every directory named as an output
  const fail = (what) => {
    failures.push(what);
    log(`FAIL ${what}`);
  };
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const ckFlags = () => ["--checkpoint-steps", String(pick([1, 2, 3, 5, 8]))];
  // no kill now and then; otherwise from a little before training starts to a little after it
  // would end (checkpoints every few steps make runs slower than the reference)
  const killDelay = (dnnc) =>
    rand() < 0.15 ? undefined : Math.floor((dnnc ? startDnnc * (0.9 + 0.3 * rand()) : startTrainer * (0.8 + 0.2 * rand())) + rand() * trainMs * 2);

  /** The commands of one action, `out` named as their output; checks the directories not named. */
  async function command(argv, out, killMs, expect = "any", shared = false) {
    const before = new Map(readdirSync(runsDir).map((d) => [d, hashDir(join(runsDir, d))]));
    stats.commands++;
    if (argv[0] === DNNC) stats.dnncCommands++;
    if (killMs !== undefined) stats.kills++;
    const r = await run(argv, killMs);
    if (r.killed) stats.killsLanded++;
    const label = `${argv.map((a) => (a === DNNC ? "dnnc" : a.startsWith("/") ? relative(work, a) : a)).join(" ")}${killMs !== undefined ? ` (kill after ${killMs} ms${r.killed ? "" : ", ended before"})` : ""}`;
    log(`  ${label}: ${r.killed ? "killed" : `exit ${r.code}`}${r.code === 1 ? ` ${r.stderr.trim()}` : ""}`);
    if (!r.killed && r.code !== 0 && !(r.code === 1 && oneLineError(r.stderr)))
      fail(`${label}: exit ${r.code ?? r.signal}, stderr ${JSON.stringify(r.stderr.slice(0, 400))}`);
    if (r.code === 1) stats.refused++;
    if (r.code === 0) stats.completed++;
    if (expect === "refused" && !r.killed && r.code !== 1) fail(`${label}: expected a refusal, got exit ${r.code}`);
    for (const [d, h] of before) {
      const named = out !== undefined && resolve(runsDir, d) === resolve(out);
      // (in a race the other process may write the shared output while this one is refused)
      if ((!named || (r.code === 1 && !shared)) && hashDir(join(runsDir, d)) !== h)
        fail(`${label}: modified ${d}${named ? " although it refused" : ", which it was not given as output"}`);
    }
    if (r.code === 1 && out !== undefined && !before.has(relative(runsDir, out)) && existsSync(out)) fail(`${label}: refused but created ${out}`);
    if (out !== undefined && !dirs.includes(out) && existsSync(out)) dirs.push(out);
    return r;
  }

  const trainerOrDnnc = (dnnc, spec, trainer, flags) =>
    dnnc ? [DNNC, "train", spec, "--epochs", EPOCHS, "--no-report", "--quiet", ...flags] : [trainer, "--epochs", EPOCHS, "--quiet", ...flags];

  for (let i = 0; i < runs; i++) {
    let cur = join(runsDir, `r${i}`);
    log(`run ${i}`);
    // the first runs cover every kind of action (dnnc train resuming into a new directory, and
    // refused; dnnc train killed in a fresh run); then they are drawn at random
    const forced = ["to-new", "refused", "race", "in-place", "to-new"][i];
    const dnncFresh = i === 4 || (i >= 5 && rand() < 0.2);
    let k = killDelay(dnncFresh);
    await command(trainerOrDnnc(dnncFresh, specA, trainerA, ["--out", cur, ...ckFlags()]), cur, k);
    const actions = forced ? 1 : 1 + Math.floor(rand() * 3);
    for (let a = 0; a < actions && existsSync(cur); a++) {
      const kind = forced ?? pick(["in-place", "in-place", "to-new", "to-new", "refused", "race"]);
      const dnnc = forced !== undefined ? i < 2 : rand() < 0.2;
      if (kind === "in-place") {
        stats.resumeInPlace++;
        k = killDelay(dnnc);
        await command(trainerOrDnnc(dnnc, specA, trainerA, ["--resume", cur, ...ckFlags()]), cur, k);
      } else if (kind === "to-new") {
        stats.resumeToNew++;
        const next = join(runsDir, `r${i}-${a}`);
        k = killDelay(dnnc);
        await command(trainerOrDnnc(dnnc, specA, trainerA, ["--resume", cur, "--out", next, ...ckFlags()]), next, k);
        cur = next;
      } else if (kind === "refused") {
        stats.refusedResumes++;
        // another spec's trainer (or dnnc train of it), resuming this run: refused, nothing written
        await command(trainerOrDnnc(dnnc, specB, trainerB, ["--resume", cur]), cur, undefined, "refused");
        if (rand() < 0.5) await command([trainerA, "--resume", join(runsDir, `never-${i}`), "--quiet"], join(runsDir, `never-${i}`), undefined, "refused");
      } else {
        stats.races++;
        // two resumes of one directory at once: one holds the lock, the other is refused (or
        // starts after the first ended); either may be killed
        const argv = trainerOrDnnc(false, specA, trainerA, ["--resume", cur, ...ckFlags()]);
        const [r1, r2] = await Promise.all([command(argv, cur, killDelay(false), "any", true), command(argv, cur, killDelay(false), "any", true)]);
        for (const r of [r1, r2]) if (r.code === 1 && /another training run \(pid \d+/.test(r.stderr)) stats.lockRefusals++;
      }
    }
  }

  // the end: every directory resumed to completion, or refused because it has no checkpoint yet
  const outcomes = { identical: 0, refusedNoCheckpoint: 0, other: 0 };
  /** A directory that ran to the end: the reference's bytes, and no lock or temporary file left. */
  const finished = (d) => {
    const leftovers = readdirSync(d).filter((f) => /\.tmp$|\.lock$|\.takeover$/.test(f));
    if (leftovers.length > 0) fail(`${relative(work, d)}: left behind ${leftovers.join(", ")}`);
    return (
      readFileSync(join(d, "model.safetensors")).equals(refFiles.model) &&
      (refFiles.trace === undefined || readFileSync(join(d, "loss-trace.f64")).equals(refFiles.trace)) &&
      noSeconds(readFileSync(join(d, "metrics.jsonl"), "utf8")) === refFiles.metrics
    );
  };
  for (const d of dirs) {
    const r = await command([trainerA, "--resume", d, "--epochs", EPOCHS, "--quiet"], d);
    if (r.code === 0) {
      if (finished(d)) outcomes.identical++;
      else {
        outcomes.other++;
        fail(`${relative(work, d)}: resumed to the end, but not byte-identical to the reference`);
      }
    } else if (r.code === 1 && /no checkpoint yet/.test(r.stderr)) {
      // killed before its first checkpoint: the message says to start again without --resume,
      // which must take over the dead run's lock, remove its temporary files and run normally
      outcomes.refusedNoCheckpoint++;
      const again = await command([trainerA, "--out", d, "--epochs", EPOCHS, "--quiet"], d);
      if (again.code !== 0 || !finished(d)) fail(`${relative(work, d)}: started again without --resume: exit ${again.code}, or not the reference's bytes`);
    } else {
      outcomes.other++;
      fail(`${relative(work, d)}: final resume: exit ${r.code}, ${r.stderr.trim()}`);
    }
  }
  const summary = {
    ...stats,
    startupMs: { trainer: startTrainer, dnnc: startDnnc },
    directories: dirs.length,
    outcomes,
    failures,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    referenceMs: refMs,
    work,
  };
  if (!o.keep && !o.work) rmSync(work, { recursive: true, force: true });
  return summary;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const json = args.includes("--json");
  const summary = await runCampaign({
    runs: Number(opt("--runs") ?? 100),
    seed: Number(opt("--seed") ?? 1),
    work: opt("--work"),
    keep: args.includes("--keep"),
    log: json ? undefined : (s) => process.stdout.write(s + "\n"),
  });
  if (json) process.stdout.write(JSON.stringify(summary) + "\n");
  else {
    const { failures, ...rest } = summary;
    process.stdout.write(
      `${JSON.stringify(rest, null, 2)}\n${failures.length === 0 ? "no failures" : `${failures.length} failures:\n${failures.join("\n")}`}\n`,
    );
  }
  process.exit(summary.failures.length === 0 ? 0 : 1);
}
