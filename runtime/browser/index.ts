// The browser face of a compiled trainer (docs/browser.md): what `dnnc compile --target browser`
// bundles in place of the Node entry point. The same fit/load/predict/evaluate/save as
// runtime/api.ts (which does the work), with fit moved off the page: called on a page, it starts
// a module Worker running this very module (or the one `worker` gives), which trains with the
// WebAssembly backend, on two threads when the page is cross-origin isolated (SharedArrayBuffer)
// and one otherwise, posts its progress and finally the model's bytes; the page loads them
// (predict runs on the page). Called in a worker (or with worker: false), fit trains in place.
import type { ArrayData, EpochMetrics, FitHistory, FitOptions, FitStart, StepProgress, TrainedModel, Trainer } from "../api-types";
import { trainerApi } from "../api";
import { sharedMemorySupported } from "../backend-create";
import { DnncError } from "../errors";
import type { Program } from "../program";
import { PARALLEL_MIN_MACS } from "../wasm/wasm-backend";

export { fromCsv, fromImages, fetchCsv } from "./data";

/** The worker name that makes this module serve training requests when loaded as a Worker. */
export const WORKER_NAME = "dnnc-trainer";

export interface BrowserFitOptions extends FitOptions {
  /**
   * Where fit trains, when called on a page: a module Worker of this module (default: started
   * from the module's own URL), a function that starts one (bundlers: `() => new Worker(new
   * URL("./x.browser.mjs", import.meta.url), { type: "module", name: "dnnc-trainer" })`), or
   * false: on the calling thread.
   */
  worker?: Worker | (() => Worker) | false;
}

/** The backend that trained a model, and where. */
export interface TrainedOn {
  name: string;
  threads: number;
  /** Whether fit trained in a Web Worker. */
  worker: boolean;
  /** Whether the page was cross-origin isolated (SharedArrayBuffer usable: a second thread possible). */
  crossOriginIsolated: boolean;
}

export interface BrowserModel extends TrainedModel {
  readonly trainedOn: TrainedOn | null;
}

type ToWorker = {
  type: "fit";
  x: ArrayData["x"];
  y: ArrayData["y"];
  validation?: ArrayData;
  options: Omit<FitOptions, "onStart" | "onStep" | "onEpoch" | "signal" | "validation">;
};
type FromWorker =
  | { type: "start"; start: FitStart }
  | { type: "steps"; steps: StepProgress[] }
  | { type: "epoch"; metrics: EpochMetrics }
  | { type: "done"; bytes: Uint8Array; history: FitHistory; trainedOn: TrainedOn }
  | { type: "error"; message: string };

const inWorker = () => typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function" && typeof document === "undefined";
const isolated = () => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && sharedMemorySupported();

/**
 * GEMM threads for this engine: the caller's, or 2 where shared memory is usable (a cross-origin
 * isolated page) and the model has a GEMM large enough to split (as the trainer's command line
 * decides), else 1.
 */
export function browserThreads(p: Program, asked?: number): number {
  if (asked !== undefined) return asked;
  return isolated() && (p.meta.maxGemmMacs ?? Infinity) >= PARALLEL_MIN_MACS ? 2 : 1;
}

/** The functions of a browser trainer module; `moduleUrl`: the module's own URL (import.meta.url). */
export function browserTrainer(p: Program, moduleUrl: string): Trainer & { fit(data: ArrayData, o?: BrowserFitOptions): Promise<BrowserModel> } {
  const api = trainerApi(p);
  const here = async (data: ArrayData, o: BrowserFitOptions): Promise<BrowserModel> => {
    const threads = browserThreads(p, o.threads);
    const m = await api.fit(data, { ...o, threads });
    return Object.assign(m, { trainedOn: { name: m.backend.name, threads: m.backend.threads, worker: inWorker(), crossOriginIsolated: isolated() } });
  };
  async function fit(data: ArrayData, o: BrowserFitOptions = {}): Promise<BrowserModel> {
    if (o.worker === false || inWorker() || typeof Worker !== "function") return here(data, o);
    const w = typeof o.worker === "function" ? o.worker() : (o.worker ?? new Worker(moduleUrl, { type: "module", name: WORKER_NAME }));
    const own = o.worker === undefined || typeof o.worker === "function";
    const { onStart, onStep, onEpoch, signal, validation, worker, ...options } = o;
    void worker;
    try {
      const done = await new Promise<Extract<FromWorker, { type: "done" }>>((resolve, reject) => {
        const onAbort = () => w.postMessage({ type: "abort" });
        signal?.addEventListener("abort", onAbort, { once: true });
        w.onmessage = (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          try {
            if (m.type === "start") onStart?.(m.start);
            else if (m.type === "steps") for (const s of m.steps) onStep?.(s);
            else if (m.type === "epoch") onEpoch?.(m.metrics);
            else {
              signal?.removeEventListener("abort", onAbort);
              if (m.type === "done") resolve(m);
              else reject(new DnncError(m.message));
            }
          } catch (err) {
            reject(err);
          }
        };
        w.onerror = (e) =>
          reject(new DnncError(`the training worker failed: ${e.message || "it could not be started (is the module served, and is it the browser build?)"}`));
        const msg: ToWorker = { type: "fit", x: data.x, y: data.y, validation, options };
        w.postMessage(msg);
        if (signal?.aborted) onAbort();
      });
      const m = await api.load(done.bytes, { backend: o.backend, fma: o.fma });
      Object.defineProperty(m, "history", { value: done.history });
      return Object.assign(m, { trainedOn: done.trainedOn });
    } finally {
      if (own) w.terminate();
    }
  }
  return { ...api, fit };
}

/** In a Worker named WORKER_NAME: train on request, post progress (batched every ~50 ms), then the model's bytes. */
export function serveTraining(p: Program, moduleUrl: string): void {
  if (!inWorker() || (globalThis as { name?: string }).name !== WORKER_NAME) return;
  const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: FromWorker, t?: Transferable[]): void };
  const api = browserTrainer(p, moduleUrl);
  let ac: AbortController | undefined;
  scope.onmessage = (e: MessageEvent<ToWorker | { type: "abort" }>) => {
    const msg = e.data;
    if (msg.type === "abort") return ac?.abort();
    if (msg.type !== "fit") return;
    ac = new AbortController();
    let steps: StepProgress[] = [];
    let last = Date.now();
    const flush = () => {
      if (steps.length > 0) scope.postMessage({ type: "steps", steps });
      steps = [];
      last = Date.now();
    };
    api
      .fit(
        { x: msg.x, y: msg.y },
        {
          ...msg.options,
          validation: msg.validation,
          worker: false,
          signal: ac.signal,
          onStart: (start) => scope.postMessage({ type: "start", start }),
          onStep: (s) => {
            steps.push(s);
            if (Date.now() - last > 50) flush();
          },
          onEpoch: (m) => {
            flush();
            scope.postMessage({ type: "epoch", metrics: m });
          },
        },
      )
      .then((m) => {
        flush();
        const bytes = m.save();
        const trainedOn = { ...m.trainedOn!, worker: true };
        const history = m.history!;
        m.dispose();
        scope.postMessage({ type: "done", bytes, history, trainedOn }, [bytes.buffer]);
      })
      .catch((err: unknown) => scope.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) }));
  };
}
