// The training worker (a module worker): compiles the spec to the trainer dnnc generates
// (src/compile-trainer.ts), loads the bundled data, and trains with the library API every trainer
// exports (runtime/api.ts, docs/library.md): fit on the data's arrays, with onStep/onEpoch for the
// chart and an AbortSignal for "stop" (fit yields to this worker's event loop every ~50 ms, so a
// "stop" message is seen within one slice and training ends after the current step); then
// evaluate on the test split; the trained model's picture (src/insights.ts) and weights are posted
// at the end. The page never trains; it only draws.
import { trainerApi } from "../../runtime/api";
import { compileTrainer, SpecError } from "./compile-trainer";
import { loadBundled } from "./datasets";
import { insight } from "./insights";
import type { FromWorker, ToWorker } from "./protocol";

/** Progress messages at most this often (the chart redraws on each). */
const POST_MS = 60;
let abort: AbortController | undefined;
let busy = false;

const post = (m: FromWorker) => (self as unknown as Worker).postMessage(m);

async function train(msg: Extract<ToWorker, { type: "train" }>): Promise<void> {
  post({ type: "status", text: "compiling the spec to its trainer (ts-morph, prettier, TypeScript)…" });
  const c = await compileTrainer(msg.source, msg.file);
  const p = c.program;
  post({
    type: "compiled",
    info: { frontMs: c.frontMs, codegenMs: c.codegenMs, transpileMs: c.transpileMs, trainerTs: c.trainerTs, params: p.layout.N, heapFloats: p.meta.heapFloats },
  });
  post({ type: "status", text: "loading the bundled data…" });
  const data = await loadBundled(p, msg.baseUrl, msg.csv);
  const api = trainerApi(p);
  const epochs = msg.epochs ?? p.train.epochs;
  const ac = (abort = new AbortController());
  // one loss point per `every` steps (about 25 per epoch), sent in batches at most every POST_MS
  let every = 1;
  let points: [number, number][] = [];
  let lossSum = 0;
  let lossCount = 0;
  let lastPost = performance.now();
  let lastStep = 0;
  let lastEpoch = 1;
  let lastRate = 0;
  const t0 = performance.now();
  const model = await api.fit(
    { x: data.train.x, y: data.train.y },
    {
      epochs,
      seed: p.train.seed,
      backend: "auto",
      threads: 1,
      signal: ac.signal,
      onStart: (s) => {
        every = Math.max(1, Math.round(s.stepsPerEpoch / 25));
        post({ type: "started", backend: s.backend.name, trainRows: s.trainRows, testRows: data.test?.n ?? 0, epochs, stepsPerEpoch: s.stepsPerEpoch });
      },
      onStep: (s) => {
        lastStep = s.step;
        lastEpoch = s.epoch;
        lastRate = s.samplesPerSec;
        lossSum += s.loss;
        lossCount++;
        if (lossCount === every) {
          points.push([s.step, lossSum / lossCount]);
          lossSum = 0;
          lossCount = 0;
        }
        const now = performance.now();
        if (points.length > 0 && (now - lastPost >= POST_MS || s.step === s.totalSteps)) {
          post({ type: "progress", step: s.step, epoch: s.epoch, points, samplesPerSec: s.samplesPerSec });
          points = [];
          lastPost = now;
        }
      },
      onEpoch: (m) => post({ type: "epoch", step: lastStep, metrics: m }),
    },
  );
  try {
    if (points.length > 0) post({ type: "progress", step: lastStep, epoch: lastEpoch, points, samplesPerSec: lastRate });
    const h = model.history!;
    if (h.aborted) {
      post({ type: "done", stopped: true, steps: h.steps, testLoss: null, testAcc: null, seconds: (performance.now() - t0) / 1000 });
      return;
    }
    // the trained model's picture (src/insights.ts) and its weights (the file `dnnc train` writes)
    const i = insight(p, (x) => model.predict(x), data);
    if (i) post(i);
    post({ type: "weights", bytes: model.save() });
    const t = data.test ? model.evaluate({ x: data.test.x, y: data.test.y }) : { loss: null, acc: null };
    post({ type: "done", stopped: false, steps: h.steps, testLoss: t.loss, testAcc: t.acc, seconds: (performance.now() - t0) / 1000 });
  } finally {
    model.dispose();
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "stop") {
    abort?.abort();
    return;
  }
  if (msg.type === "train") {
    if (busy) return post({ type: "error", message: "this worker is already training" });
    busy = true;
    train(msg)
      .catch((err: unknown) => {
        if (err instanceof SpecError) post({ type: "error", message: "the spec has errors", diagnostics: err.diagnostics });
        else post({ type: "error", message: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        busy = false;
      });
  }
};
