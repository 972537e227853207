// The training worker (a module worker): compiles the spec to the trainer dnnc generates
// (src/compile-trainer.ts), loads the bundled data, and runs the runtime's training loop
// (trainSteps, one optimizer step per next()) in slices of ~SLICE_MS, posting the mean loss of
// each slice and every epoch's metrics, and yielding to its event loop between slices so that a
// "stop" message is seen within one slice. The page never trains; it only draws.
import { createBackend, type ClosableBackend } from "../../runtime/backend-create";
import { trainSteps } from "../../runtime/train-loop";
import { compileTrainer, SpecError } from "./compile-trainer";
import { loadBundled } from "./datasets";
import { insight, weightsFile } from "./insights";
import type { FromWorker, ToWorker } from "./protocol";

const SLICE_MS = 60;
let stopRequested = false;
let busy = false;

const post = (m: FromWorker) => (self as unknown as Worker).postMessage(m);

// a macrotask without setTimeout's clamping: lets queued messages ("stop") run
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldToEvents = () =>
  new Promise<void>((res) => {
    waiting.push(res);
    channel.port2.postMessage(0);
  });

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
  let be: ClosableBackend | undefined;
  try {
    be = await createBackend(p.meta.heapFloats, { backend: "auto", threads: 1 });
    const seed = p.train.seed;
    const model = p.create(be, seed);
    model.init();
    const epochs = msg.epochs ?? p.train.epochs;
    const valRows = Math.round(data.train.n * p.data.validation); // as splitValidation
    // one loss point per `every` steps (about 25 per epoch), sent in batches at the end of each slice
    const stepsPerEpoch = Math.ceil((data.train.n - valRows) / p.meta.batch);
    const every = Math.max(1, Math.round(stepsPerEpoch / 25));
    let points: [number, number][] = [];
    let lossSum = 0;
    let lossCount = 0;
    let samples = 0;
    let lastStep = 0;
    let epoch = 1;
    let showModel = false; // an epoch ended: post the model's picture after the slice (src/insights.ts)
    const postInsight = () => {
      const i = insight(p, be!, model, data);
      if (i) post(i);
    };
    post({
      type: "started",
      backend: be.name,
      trainRows: data.train.n - valRows,
      testRows: data.test?.n ?? 0,
      epochs,
      stepsPerEpoch,
    });
    const gen = trainSteps(p, be, model, data, {
      epochs,
      seed,
      onStep: (step, loss) => {
        lossSum += loss;
        lossCount++;
        lastStep = step;
        if (lossCount === every) {
          points.push([step, lossSum / lossCount]);
          lossSum = 0;
          lossCount = 0;
        }
      },
      onEpoch: (m) => {
        epoch = m.epoch + 1;
        post({ type: "epoch", step: lastStep, metrics: m });
        showModel = true;
      },
    });
    const t0 = performance.now();
    for (;;) {
      const s0 = performance.now();
      let r: IteratorResult<void, import("../../runtime/train-loop").TrainResult> | undefined;
      const before = lastStep;
      while (performance.now() - s0 < SLICE_MS) {
        r = gen.next();
        if (r.done) break;
      }
      const dt = (performance.now() - s0) / 1000;
      samples = (lastStep - before) * p.meta.batch;
      if (points.length > 0 || r?.done) {
        post({ type: "progress", step: lastStep, epoch: Math.min(epoch, epochs), points, samplesPerSec: dt > 0 ? samples / dt : 0 });
        points = [];
      }
      if (showModel || r?.done) postInsight();
      showModel = false;
      if (r?.done) {
        post({ type: "weights", bytes: weightsFile(p, be) });
        post({
          type: "done",
          stopped: false,
          steps: r.value.steps,
          testLoss: r.value.test_loss,
          testAcc: r.value.test_acc,
          seconds: (performance.now() - t0) / 1000,
        });
        return;
      }
      await yieldToEvents();
      if (stopRequested) {
        gen.return(undefined as never);
        post({ type: "done", stopped: true, steps: lastStep, testLoss: null, testAcc: null, seconds: (performance.now() - t0) / 1000 });
        return;
      }
    }
  } finally {
    be?.close();
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "stop") {
    stopRequested = true;
    return;
  }
  if (msg.type === "train") {
    if (busy) return post({ type: "error", message: "this worker is already training" });
    busy = true;
    stopRequested = false;
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
