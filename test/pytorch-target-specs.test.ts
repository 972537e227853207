// Cross-backend check on every spec in specs/ (needs /usr/bin/python3 with torch; skipped with one
// line otherwise): our TypeScript trainer (the real pipeline, in-process) trains 20 steps from its
// seeded initial weights; the generated PyTorch trainer starts from those weights (--init-from) and
// trains 20 steps on the same batches. Dropout is set to 0 and augmentation is removed (both draw
// from different generators otherwise; augmentation ON is checked separately below and in
// test/pytorch-target-tricks.test.ts, where its draws are dnnc's). Required: the same loss trace
// (relative 1e-4), the same final parameters and running statistics (1e-3, relative to max(1, |v|)),
// and for specs with input preprocessing the same fitted tensors (relative 1e-5 of the tensor's
// largest entry). The Python processes run two at a time while our trainer runs the next spec.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSafetensors } from "../runtime/safetensors";
import { pythonTrainer, runOurs, safetensorsOf } from "./reference/networks/harness";

const PY = "/usr/bin/python3";
const probe = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
const hasTorch = probe.status === 0;
if (!hasTorch)
  console.warn(`pytorch-target-specs: skipped: ${PY} -c "import torch" failed (${(probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop()})`);

const SPECS = resolve("specs");
const STEPS = 20;
/** Specs of specs/ that the PyTorch target does not support, with the reason (none today). */
const EXCLUDED: Record<string, string> = {};
/**
 * Where the brief's tolerances cannot hold for ANY float32 implementation, measured (20 steps, both
 * backends from the same weights, PyTorch also run in float64 as the arbiter):
 * - trick-ic-layer: relu -> bn on near-dead units (variance ~ 0, so BN multiplies round-off by up to
 *   1/sqrt(eps)) makes the run chaotic: PyTorch float32 departs from PyTorch float64 by 1.2e-2 in
 *   the loss at step 20 (ours stays within 3e-6 of float64, tensors 4e-5). Checked over 10 steps.
 * - trick-iternorm: IterNorm's Newton iterations amplify float32 rounding of the whole network:
 *   PyTorch float32 departs from PyTorch float64 by 2.1e-4 in the loss at step 18 and 8e-3 in the
 *   tensors at step 20 (ours: 2.3e-5 and 2.2e-4 from float64). Checked over 15 steps, tensors
 *   at 3e-3 (measured 1.1e-3 at step 15).
 * - trick-resnet-weightnorm: Adam (amsgrad, lr 3e-3) turns round-off in the near-zero gradients of
 *   one almost-dead ReLU channel (conv2d_0 channel 5, conv2d_3 channel 13) into full-size steps;
 *   loss traces agree within 5e-6, tensors within 1.1e-2 (PyTorch float32 vs float64: 1.1e-3).
 * Plus, on every spec, a bias directly followed by batch norm has a zero true gradient (BN removes
 * it): under Adam its value, and the running mean that carries it, are round-off amplified to
 * lr-size steps (PyTorch float32 vs float64 differ by 1.2e-2 on fashion-cnn's conv biases). Those
 * tensors are compared at BIAS_BEFORE_BN_TOL; everything else at 1e-3, except single tensors where
 * PyTorch float32's own error (against its float64 run) is already at 1e-3:
 * - fashion-cnn(-aug, the same network) bn_1.running_var: PyTorch float32 vs float64 1.09e-3, ours
 *   vs float64 2e-4.
 */
/**
 * Specs with a recurrent layer run our side on the wasm backend: the TypeScript backend's GEMM makes
 * char-lstm's 20 steps take ~30 s there, against ~4 s. Its recurrent kernels are those of the
 * TypeScript backend byte for byte (test/wasm-rnn-kernels.test.ts); its GEMM rounds differently,
 * within float32 rounding, and PyTorch is the comparison here, not the TypeScript backend.
 */
// (attention models too: char-transformer's 20 steps are GEMM-bound as well)
const RECURRENT = /^\s*(lstm|gru|attention|transformer)\(|\{\s*transformer\(/m;
// char-transformer: 8 steps (about 1.4 s of CPU a step on each side; its warm-up moves the weights by
// ~1e-3 by then); the 20-step parity of the same blocks at a small width is test/pytorch-target-attention.test.ts
const STEPS_OF: Record<string, number> = { "trick-ic-layer.dnn": 10, "trick-iternorm.dnn": 15, "char-transformer.dnn": 8 };
const TENSOR_TOL: Record<string, number> = { "trick-resnet-weightnorm.dnn": 2e-2, "trick-iternorm.dnn": 3e-3 };
const BIAS_BEFORE_BN_TOL = 5e-2;
const TENSOR_TOL_OF: Record<string, Record<string, number>> = {
  "fashion-cnn.dnn": { "bn_1.running_var": 3e-3 },
  "fashion-cnn-aug.dnn": { "bn_1.running_var": 3e-3 },
};

/** Parameters with a zero true gradient (a bias feeding batch norm directly) and the running means of those BNs. */
function roundOffDriven(ir: Outcome["ours"]["ir"]): Set<string> {
  const out = new Set<string>();
  for (const bn of ir.nodes.filter((n) => n.op === "bn")) {
    const prod = ir.nodes.find((n) => n.output === bn.inputs[0]);
    if (prod && prod.tail.length === 0 && prod.params.includes(`${prod.id}.bias`)) {
      out.add(`${prod.id}.bias`);
      out.add(`${bn.id}.running_mean`);
    }
  }
  return out;
}
const ALL = readdirSync(SPECS)
  .filter((f) => f.endsWith(".dnn"))
  .sort();

/** The spec with dropout 0, augmentation removed (unless keepAugment) and its data path made absolute. */
function variant(text: string, keepAugment: boolean): string {
  // (and a layer's own dropout argument: lstm's between layers, attention's and transformer's)
  let t = text.replace(/\b(spatial_dropout|dropout)\([^)]*\)/g, "$1(0)").replace(/\bdropout=[0-9.eE+-]+/g, "dropout=0");
  if (!keepAugment) t = t.replace(/\n\s*augment\s*\{[^}]*\}/, "");
  return t.replace(/source (\w+)\("([^"]+)"/, (_m, kind: string, path: string) => `source ${kind}("${resolve(SPECS, path)}"`);
}

interface Outcome {
  name: string;
  ours: Awaited<ReturnType<typeof runOurs>>;
  trace: number[];
  steps: number;
  tensors: Map<string, Float32Array>;
  metadata: Record<string, string>;
}

// Two persistent Python workers (torch is imported once per worker, not once per spec: ~1 s of CPU
// each): a job is one line of JSON {trainer, args}; the worker imports the trainer as a module,
// calls its main(args) and answers one line {ok} or {ok: false, error}.
const WORKER = String.raw`
import importlib.util, json, sys, traceback
import torch
for k, line in enumerate(sys.stdin):
    job = json.loads(line)
    try:
        spec = importlib.util.spec_from_file_location(f"trainer_{k}", job["trainer"])
        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
        m.main(job["args"])
        print(json.dumps({"ok": True}), flush=True)
    except BaseException as e:
        print(json.dumps({"ok": False, "error": "".join(traceback.format_exception(e))}), flush=True)
`;

interface Worker {
  run(trainer: string, args: string[]): Promise<void>;
  close(): void;
}

function startWorker(script: string): Worker {
  const p = spawn(PY, [script], { env: { ...process.env, OMP_NUM_THREADS: "1" }, stdio: ["pipe", "pipe", "pipe"] });
  let buf = "";
  let err = "";
  let pending: { res: () => void; rej: (e: Error) => void } | undefined;
  p.stderr.on("data", (d) => (err += d));
  p.stdout.on("data", (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith("{")) continue; // a trainer's own printing (they run --quiet)
      const r = JSON.parse(line) as { ok: boolean; error?: string };
      const q = pending;
      pending = undefined;
      if (r.ok) q?.res();
      else q?.rej(new Error(`${r.error}\n${err}`));
    }
  });
  p.on("close", (code) => pending?.rej(new Error(`python worker exited ${code}:\n${err}`)));
  return {
    run: (trainer, args) =>
      new Promise<void>((res, rej) => {
        pending = { res, rej };
        p.stdin.write(JSON.stringify({ trainer, args }) + "\n");
      }),
    close: () => p.stdin.end(),
  };
}

/** Jobs onto a fixed set of workers, each taking the next job when it is free. */
function pool(workers: Worker[]) {
  const free = [...workers];
  const waiting: ((w: Worker) => void)[] = [];
  return async (trainer: string, args: string[]): Promise<void> => {
    const w = free.pop() ?? (await new Promise<Worker>((r) => waiting.push(r)));
    try {
      await w.run(trainer, args);
    } finally {
      const next = waiting.shift();
      if (next) next(w);
      else free.push(w);
    }
  };
}

// DNNC_SPECS=a.dnn,b.dnn runs only those (while investigating one spec)
const ONLY = process.env.DNNC_SPECS?.split(",");
const CASES = [...ALL.filter((f) => !EXCLUDED[f]).map((f) => ({ file: f, augment: false })), { file: "trick-augment.dnn", augment: true }].filter(
  (c) => !ONLY || ONLY.includes(c.file),
);

function startAll(): Map<string, Promise<Outcome>> {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-pt-specs-"));
  writeFileSync(join(dir, "worker.py"), WORKER);
  const workers = [startWorker(join(dir, "worker.py")), startWorker(join(dir, "worker.py"))];
  const runPython = pool(workers);
  const out = new Map<string, Promise<Outcome>>();
  let chain: Promise<unknown> = Promise.resolve();
  for (const c of CASES) {
    const name = c.augment ? `${c.file} (augmentation on)` : c.file;
    const stem = c.file.replace(/\.dnn$/, "") + (c.augment ? "-aug" : "");
    const spec = join(dir, `${stem}.dnn`);
    writeFileSync(spec, variant(readFileSync(join(SPECS, c.file), "utf8"), c.augment));
    // our trainer runs one spec at a time (in this process); each Python run starts as soon as our initial weights exist
    const steps = STEPS_OF[c.file] ?? STEPS;
    const backend = RECURRENT.test(readFileSync(spec, "utf8")) ? "wasm" : "ts";
    const oursDone = chain.then(() => runOurs(spec, { maxSteps: steps, backend }));
    chain = oursDone.catch(() => undefined);
    out.set(
      name,
      oursDone.then(async (ours) => {
        const init = join(dir, `${stem}.init.safetensors`);
        writeFileSync(init, safetensorsOf(ours.program, ours.initial));
        const trainer = join(dir, `${stem}.trainer.py`);
        writeFileSync(trainer, pythonTrainer(spec, ours.ir));
        const run = join(dir, stem);
        mkdirSync(run, { recursive: true });
        const traceFile = join(run, "trace.json");
        await runPython(trainer, ["--init-from", init, "--max-steps", String(steps), "--trace", traceFile, "--out", run, "--quiet"]);
        const t = JSON.parse(readFileSync(traceFile, "utf8")) as { loss: number[]; steps: number };
        const st = decodeSafetensors(readFileSync(join(run, "model.safetensors")), `${stem}/model.safetensors`);
        return { name, ours, trace: t.loss, steps: t.steps, tensors: new Map(st.tensors.map((x) => [x.name, x.data])), metadata: st.metadata };
      }),
    );
  }
  // the workers end when every run is done (or failed)
  void Promise.allSettled(out.values()).then(() => workers.forEach((w) => w.close()));
  return out;
}

function worstRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return w;
}

describe.skipIf(!hasTorch)(`every spec in specs/: ${STEPS} steps on both backends from the same weights`, () => {
  let runs: Map<string, Promise<Outcome>> | undefined;
  const get = (name: string) => (runs ??= startAll()).get(name)!;

  it("covers every spec (none excluded)", () => {
    expect(ALL.length).toBeGreaterThanOrEqual(17);
    if (!ONLY) expect(CASES.length).toBe(ALL.length + 1);
    expect(Object.keys(EXCLUDED)).toEqual([]);
  });

  for (const c of CASES) {
    const name = c.augment ? `${c.file} (augmentation on)` : c.file;
    const steps = STEPS_OF[c.file] ?? STEPS;
    it(`${name}: ${steps} steps, loss trace within 1e-4 (relative), final tensors within ${TENSOR_TOL[c.file] ?? 1e-3}`, async () => {
      const r = await get(name);
      const { ours } = r;
      expect(ours.result.steps).toBe(steps);
      expect(r.steps).toBe(steps);
      const badLoss = ours.result.lossTrace
        .map((l, i) => ({ step: i + 1, ours: l, torch: r.trace[i] }))
        .filter((x) => !(Math.abs(x.ours - x.torch) <= 1e-4 * Math.abs(x.ours)));
      if (badLoss.length || process.env.DNNC_SPECS) console.log(name, JSON.stringify(ours.result.lossTrace.map((l, i) => [l, r.trace[i]])));
      expect(badLoss).toEqual([]);
      expect(r.trace.length).toBe(steps);
      const badTensors: string[] = [];
      const loose = roundOffDriven(ours.ir);
      for (const t of ours.program.tensors) {
        const got = r.tensors.get(t.name);
        const tol = loose.has(t.name) ? BIAS_BEFORE_BN_TOL : (TENSOR_TOL_OF[c.file]?.[t.name] ?? TENSOR_TOL[c.file] ?? 1e-3);
        if (!got) badTensors.push(`${t.name}: missing`);
        else if (!(worstRel(got, ours.final[t.name]) <= tol)) badTensors.push(`${t.name}: ${worstRel(got, ours.final[t.name])} > ${tol}`);
      }
      expect(badTensors).toEqual([]);
      // training moved the weights (the comparison is not between two untouched copies)
      expect(Object.keys(ours.initial).some((k) => ours.initial[k].some((v, i) => Math.abs(v - ours.final[k][i]) > 1e-3))).toBe(true);
      const fitted = ours.result.preprocess;
      if (fitted) {
        expect(r.metadata["preprocess.kind"]).toBe(fitted.kind);
        for (const key of ["mode", "in_dim", "out_dim", "channels", "eps", "rows"])
          expect(r.metadata[`preprocess.${key}`], key).toBe(
            String({ in_dim: fitted.inDim, out_dim: fitted.outDim, mode: fitted.mode, channels: fitted.channels, eps: fitted.eps, rows: fitted.rows }[key]),
          );
        for (const [k, want] of Object.entries(fitted.tensors)) {
          const got = r.tensors.get(`preprocess.${k}`)!;
          expect(got, k).toBeDefined();
          expect(got.length).toBe(want.length);
          let d = 0;
          let m = 0;
          for (let i = 0; i < want.length; i++) {
            d = Math.max(d, Math.abs(got[i] - want[i]));
            m = Math.max(m, Math.abs(want[i]));
          }
          expect(d / Math.max(m, 1e-12), `preprocess.${k}`).toBeLessThanOrEqual(1e-5);
        }
      } else expect(r.metadata["preprocess.kind"]).toBeUndefined();
    }, 600_000);
  }
});
