// The library face of a compiled program (docs/library.md): fit on arrays, predict, evaluate, save
// and load, platform-neutral (Node and browsers alike). Every generated trainer exports
// `trainerApi(program)`'s functions, and the library's `compile` returns the same object. Nothing
// here is a second training loop: fit drives train-loop.ts's trainSteps, predict and evaluate feed
// batches through its BatchFeeder (scale, shift, fitted preprocessing) and evaluate, and save writes
// what node/main.ts writes as model.safetensors (model-file.ts).
import type { ArrayData, FitHistory, FitOptions, StepProgress, TrainedModel, Trainer, TrainerInfo } from "./api-types";
import { createBackend, type ClosableBackend } from "./backend-create";
import type { Dataset } from "./data/dataset";
import { DnncError } from "./errors";
import { isRegression, modelClasses, modelMetadata, modelTensors } from "./model-file";
import { preprocessFromStored, preprocessMetadata, preprocessTensors, type FittedPreprocess } from "./preprocess";
import type { Model, Program } from "./program";
import { decodeSafetensors, encodeSafetensors } from "./safetensors";
import { BatchFeeder, evaluate as evaluateRows, trainSteps, type TrainResult } from "./train-loop";

export type * from "./api-types";

const MODEL = Symbol.for("dnnc.model");

interface ModelState {
  p: Program;
  be: ClosableBackend;
  model: Model;
  pre: FittedPreprocess | undefined;
  seed: number;
  steps: number;
  disposed: boolean;
}

/** A macrotask (not a microtask): lets timers, messages and an abort run between slices of steps. */
function nextTask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (typeof g.setImmediate === "function") return new Promise((r) => g.setImmediate!(r));
  if (typeof MessageChannel === "function") {
    const ch = new MessageChannel();
    return new Promise((r) => {
      ch.port1.onmessage = () => {
        ch.port1.close();
        r();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}

function floats(v: ArrayLike<number>, what: string): Float32Array | Uint8Array {
  if (v instanceof Float32Array || v instanceof Uint8Array) return v;
  if (v === null || typeof v !== "object" || typeof (v as { length?: unknown }).length !== "number")
    throw new DnncError(`${what}: expected a Float32Array (or an array of numbers), got ${v === null ? "null" : typeof v}`);
  return Float32Array.from(v);
}

function isEvalData(d: unknown): d is ArrayData {
  return typeof d === "object" && d !== null && "x" in d && "y" in d;
}

/** The raw feature count a model takes: its input size, or what its fitted preprocessing reads. */
function rawFeatures(p: Program, pre: FittedPreprocess | undefined): number {
  return pre ? pre.inDim : p.meta.inputSize;
}

/**
 * A Dataset over the caller's arrays, checked against the program: rows come from the targets
 * (one per row, or one per output / position), features from x's length.
 */
export function arrayDataset(p: Program, d: ArrayData, what: string, features?: number): Dataset {
  if (!isEvalData(d)) throw new DnncError(`${what}: expected { x, y } (inputs and targets)`);
  const x = floats(d.x, `${what}.x`);
  const y = floats(d.y, `${what}.y`);
  const k = p.meta.outputSize;
  const positions = p.meta.positions ?? 1;
  const classes = modelClasses(p);
  // targets per row: one (a class id, or one real value), one per position of a sequence output, or
  // (a loss other than softmax cross-entropy over k > 1 outputs) k real values instead of a class id
  const pre = ((p.data.preprocess ?? []) as unknown[]).length > 0;
  const F0 = features ?? (pre ? undefined : p.meta.inputSize);
  let per = positions > 1 ? positions : 1;
  let cls = classes;
  let targetShape: number[] | undefined = positions > 1 ? [positions] : undefined;
  if (positions === 1 && k > 1 && p.loss.kind !== "softmax_cross_entropy") {
    const rows = F0 !== undefined ? x.length / F0 : undefined;
    const ids = y.every((c) => Number.isInteger(c) && c >= 0 && c < k);
    if ((rows !== undefined && y.length === rows * k && rows !== y.length) || (rows === undefined && !ids)) {
      per = k;
      cls = undefined;
      targetShape = [k];
    }
  }
  if (y.length % per !== 0) throw new DnncError(`${what}.y: ${y.length} targets are not a whole number of rows of ${per}`);
  const n = y.length / per;
  if (n === 0) throw new DnncError(`${what}: no rows (y is empty)`);
  if (x.length % n !== 0) throw new DnncError(`${what}.x: ${x.length} values are not ${n} rows (one per target row) of equal length`);
  const F = x.length / n;
  const want = F0 ?? F;
  if (F !== want) throw new DnncError(`${what}.x: ${n} rows of ${F} values, but the model takes ${want} per row ([${p.meta.inputShape.join(", ")}])`);
  expectFinite(x, F, `${what}.x`);
  expectFinite(y, per, `${what}.y`);
  if (cls !== undefined)
    for (let i = 0; i < y.length; i++) {
      const c = y[i];
      if (!(Number.isInteger(c) && c >= 0 && c < cls) && !(positions > 1 && c === -1))
        throw new DnncError(
          `${what}.y: row ${Math.floor(i / per)} has label ${c}; the model takes class ids 0..${cls - 1}${positions > 1 ? " (or -1, padding)" : ""}`,
        );
    }
  else if (per === 1 && !isRegression(p)) throw new DnncError(`${what}.y: this model needs class ids or ${k} targets per row`);
  return {
    x,
    y: y instanceof Float32Array ? y : Float32Array.from(y),
    n,
    shape: F === p.meta.inputSize ? p.meta.inputShape : [F],
    classes: cls,
    ...(targetShape ? { targetShape } : {}),
  };
}

/** Every value finite (as a CSV file's must be), else an error naming the row and the value. */
function expectFinite(v: Float32Array | Uint8Array, perRow: number, what: string): void {
  if (v instanceof Uint8Array) return;
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i])) throw new DnncError(`${what}: row ${Math.floor(i / perRow)} holds ${v[i]}; every value must be finite`);
}

function rowsOf(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

function stateOf(m: TrainedModel): ModelState {
  const s = (m as unknown as { [MODEL]?: ModelState })[MODEL];
  if (!s) throw new DnncError("expected a model made by fit or load");
  if (s.disposed) throw new DnncError("this model was disposed");
  return s;
}

function makeModel(s: ModelState, history: FitHistory | null): TrainedModel {
  const m: TrainedModel = {
    predict: (x) => predictWith(s, x),
    evaluate: (d) => evaluateWith(s, d),
    save: () => saveWith(s),
    dispose: () => {
      if (!s.disposed) s.be.close();
      s.disposed = true;
    },
    history,
    backend: { name: s.be.name, threads: s.be.threads },
  };
  Object.defineProperty(m, MODEL, { value: s });
  return m;
}

function predictWith(s: ModelState, xIn: ArrayLike<number>): Float32Array {
  if (s.disposed) throw new DnncError("this model was disposed");
  const { p, be, model, pre } = s;
  const x = floats(xIn, "predict: x");
  const F = rawFeatures(p, pre);
  if (x.length % F !== 0) throw new DnncError(`predict: x has ${x.length} values, not a whole number of rows of ${F}`);
  const n = x.length / F;
  expectFinite(x, F, "predict: x");
  const k = p.meta.outputSize;
  const out = new Float32Array(n * k);
  const ds: Dataset = { x, y: new Float32Array(n), n, shape: F === p.meta.inputSize ? p.meta.inputShape : [F] };
  const feeder = new BatchFeeder(p, be.H, pre, F);
  const order = rowsOf(n);
  const B = p.meta.batch;
  model.resetState?.();
  for (let r = 0; r < n; r += B) {
    const b = Math.min(B, n - r);
    feeder.feed(ds, order, r, b, false, 0, 0);
    model.forward(b, false, 0);
    out.set(be.H.subarray(p.layout.out, p.layout.out + b * k), r * k);
  }
  return out;
}

function evaluateWith(s: ModelState, d: ArrayData): { loss: number; acc: number | null } {
  if (s.disposed) throw new DnncError("this model was disposed");
  const { p, be, model, pre } = s;
  const F = rawFeatures(p, pre);
  const ds = arrayDataset(p, d, "evaluate", F);
  model.resetState?.();
  return evaluateRows(p, be, model, ds, rowsOf(ds.n), new BatchFeeder(p, be.H, pre, F));
}

function saveWith(s: ModelState): Uint8Array {
  if (s.disposed) throw new DnncError("this model was disposed");
  const { p, be, pre } = s;
  const tensors = [...modelTensors(p, be.H), ...(pre ? preprocessTensors(pre) : [])];
  const nf = tensors.find((t) => !t.data.every(Number.isFinite));
  if (nf) throw new DnncError(`save: tensor ${nf.name} holds ${nf.data.find((v) => !Number.isFinite(v))}; not saving a non-finite model`);
  return encodeSafetensors(
    tensors,
    modelMetadata(p, {
      seed: String(s.seed),
      steps: String(s.steps),
      ...(pre ? preprocessMetadata(pre) : {}),
      ...(p.data.auto !== undefined ? { auto: JSON.stringify(p.data.auto) } : {}),
    }),
  );
}

export function trainerInfo(p: Program): TrainerInfo {
  const m = p.meta;
  return {
    name: m.name,
    file: m.file,
    specHash: m.specHash,
    dnncVersion: m.dnncVersion,
    batch: m.batch,
    inputShape: m.inputShape,
    inputSize: m.inputSize,
    outputShape: m.outputShape,
    outputSize: m.outputSize,
    params: p.layout.N,
  };
}

/** fit, load, predict, evaluate and save for one compiled program (every generated trainer exports them). */
export function trainerApi(p: Program): Trainer {
  async function fit(data: ArrayData, o: FitOptions = {}): Promise<TrainedModel> {
    const train = arrayDataset(p, data, "fit");
    const validation =
      o.validation !== undefined
        ? arrayDataset(
            p,
            o.validation,
            "fit: validation",
            train.shape.reduce((a, b) => a * b, 1),
          )
        : undefined;
    const epochs = o.epochs ?? p.train.epochs;
    const seed = o.seed ?? p.train.seed;
    if (!(Number.isInteger(epochs) && epochs >= 1)) throw new DnncError(`fit: epochs must be an integer >= 1, got ${o.epochs}`);
    if (!(Number.isInteger(seed) && seed >= 0)) throw new DnncError(`fit: seed must be an integer >= 0, got ${o.seed}`);
    if (o.maxSteps !== undefined && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 1))
      throw new DnncError(`fit: maxSteps must be an integer >= 1, got ${o.maxSteps}`);
    // fused multiply-adds where the engine has relaxed SIMD, as the trainer's command line (its --fma default)
    const be = await createBackend(p.meta.heapFloats, {
      backend: o.backend ?? "auto",
      threads: o.threads ?? 1,
      relaxed: o.fma ?? true,
      convColFloats: p.meta.convColFloats,
    });
    try {
      const model = p.create(be, seed);
      model.init();
      const B = p.meta.batch;
      const trainRows = validation ? train.n : train.n - Math.round(train.n * p.data.validation);
      const stepsPerEpoch = Math.ceil(trainRows / B);
      const totalSteps = Math.min(epochs * stepsPerEpoch, o.maxSteps ?? Infinity);
      o.onStart?.({
        backend: { name: be.name, threads: be.threads },
        trainRows,
        validationRows: validation ? validation.n : train.n - trainRows,
        epochs,
        stepsPerEpoch,
        totalSteps,
      });
      let epoch = 1;
      const t0 = Date.now();
      let aborted = false;
      const gen = trainSteps(p, be, model, validation ? { train, validation } : { train }, {
        epochs,
        seed,
        maxSteps: o.maxSteps,
        stop: () => (aborted = o.signal?.aborted === true),
        onEpoch: (m) => {
          epoch = m.epoch + 1;
          o.onEpoch?.(m);
        },
        onStep: o.onStep
          ? (step, loss, samples, epochSamples) => {
              const secs = Math.max(1e-3, (Date.now() - t0) / 1000);
              const rate = (step * B) / secs;
              const s: StepProgress = {
                step,
                epoch: Math.min(epoch, epochs),
                epochs,
                loss,
                samples,
                epochSamples,
                totalSteps,
                samplesPerSec: rate,
                eta: ((totalSteps - step) * B) / rate,
              };
              o.onStep!(s);
            }
          : undefined,
      });
      let r: IteratorResult<void, TrainResult>;
      let last = Date.now();
      for (;;) {
        r = gen.next();
        if (r.done) break;
        if (Date.now() - last > 50) {
          await nextTask();
          last = Date.now();
        }
      }
      const res = r.value;
      const history: FitHistory = { epochs: res.epochs, steps: res.steps, stoppedEarly: res.stoppedEarly, bestEpoch: res.bestEpoch, aborted, seed };
      return makeModel({ p, be, model, pre: res.preprocess, seed, steps: res.steps, disposed: false }, history);
    } catch (e) {
      be.close();
      throw e;
    }
  }

  async function load(bytes: Uint8Array, o: { backend?: "auto" | "wasm" | "ts"; fma?: boolean } = {}): Promise<TrainedModel> {
    if (!(bytes instanceof Uint8Array))
      throw new DnncError(`load: expected the bytes of a model (a Uint8Array), got ${bytes === null ? "null" : typeof bytes}`);
    const { tensors, metadata } = decodeSafetensors(bytes, "model");
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const t of p.tensors) {
      const v = byName.get(t.name);
      if (!v) throw new DnncError(`load: the model has no tensor "${t.name}"; was it trained from another spec than ${p.meta.file}?`);
      if (v.data.length !== t.size)
        throw new DnncError(
          `load: tensor "${t.name}" has ${v.data.length} values, the program's has ${t.size} ([${t.shape.join(", ")}]); was it trained from another spec?`,
        );
    }
    const pre = preprocessFromStored(metadata, tensors) ?? undefined;
    const be = await createBackend(p.meta.heapFloats, { backend: o.backend ?? "auto", threads: 1, relaxed: o.fma ?? true });
    const seed = Number(metadata.seed ?? p.train.seed);
    const model = p.create(be, Number.isInteger(seed) ? seed : p.train.seed);
    model.init();
    for (const t of p.tensors) be.H.set(byName.get(t.name)!.data, t.offset);
    return makeModel({ p, be, model, pre, seed, steps: Number(metadata.steps ?? 0), disposed: false }, null);
  }

  return {
    info: trainerInfo(p),
    fit,
    load,
    predict: (m, x) => predictWith(stateOf(m), x),
    evaluate: (m, d) => evaluateWith(stateOf(m), d),
    save: (m) => saveWith(stateOf(m)),
  };
}
