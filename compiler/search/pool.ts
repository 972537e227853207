// A small worker_threads pool so CPU-bound trials use every core. Each worker imports `modulePath`
// once and calls its export `exportName(job)` (sync or async) for each job it is given; jobs and
// results cross the thread boundary by structured clone. A worker that dies (crash, exit) fails
// its job and is replaced.
//
// A .ts/.mts/.cts module is loaded through tsx's CommonJS hook (Node 20 does not apply ESM loader
// hooks such as `--import tsx` inside worker threads: nodejs/node#47747), so such a module may not
// use top-level await or import.meta; production callers should pass an esbuild-built .mjs.

import { Worker } from "node:worker_threads";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as path from "node:path";
import { createRequire } from "node:module";

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
let fnP = (workerData.tsx
  ? Promise.resolve().then(() => { require(workerData.tsx).register(); return require(workerData.file); })
  : import(workerData.url)
).then((m) => {
  const f = m[workerData.exportName] ?? (m.default && m.default[workerData.exportName]);
  if (typeof f !== "function") throw new Error(workerData.url + " has no exported function " + workerData.exportName);
  return f;
});
parentPort.on("message", async ({ id, job }) => {
  try {
    const f = await fnP;
    const result = await f(job);
    parentPort.postMessage({ id, ok: true, result });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: e && e.message ? e.message : String(e), name: e && e.name });
  }
});
`;

export interface WorkerPool<J, R> {
  run(job: J): Promise<R>;
  close(): Promise<void>;
  readonly size: number;
}

export interface WorkerPoolOptions {
  execArgv?: string[];
}

interface Slot {
  worker: Worker;
  busy: { id: number; resolve: (r: any) => void; reject: (e: Error) => void } | null;
}

export function createWorkerPool<J, R>(modulePath: string, exportName: string, size: number, options: WorkerPoolOptions = {}): WorkerPool<J, R> {
  const file = modulePath.startsWith("file:") ? fileURLToPath(modulePath) : path.resolve(modulePath);
  const url = pathToFileURL(file).href;
  let tsx: string | null = null;
  if (/\.[mc]?ts$/.test(file)) {
    try {
      tsx = createRequire(import.meta.url).resolve("tsx/cjs/api");
    } catch {
      throw new Error(`createWorkerPool: ${file} is TypeScript and tsx is not installed; pass a built .mjs`);
    }
  }
  const n = Math.max(1, Math.floor(size));
  const queue: { job: J; resolve: (r: R) => void; reject: (e: Error) => void }[] = [];
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const spawn = (): Slot => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { url, file, tsx, exportName },
      ...(options.execArgv ? { execArgv: options.execArgv } : {}),
    });
    const slot: Slot = { worker, busy: null };
    worker.on("message", (msg: { id: number; ok: boolean; result?: R; error?: string; name?: string }) => {
      const b = slot.busy;
      if (!b || b.id !== msg.id) return;
      slot.busy = null;
      if (msg.ok) b.resolve(msg.result);
      else {
        const err = new Error(msg.error);
        if (msg.name) err.name = msg.name;
        b.reject(err);
      }
      pump();
    });
    const die = (why: string) => {
      const i = slots.indexOf(slot);
      if (i < 0) return;
      slots.splice(i, 1);
      const b = slot.busy;
      slot.busy = null;
      if (b) b.reject(new Error(`worker for ${exportName} died: ${why}`));
      if (!closed) {
        slots.push(spawn());
        pump();
      }
    };
    worker.on("error", (e) => die(e.message));
    worker.on("exit", (code) => die(`exit code ${code}`));
    worker.unref(); // an idle pool never keeps the process alive
    return slot;
  };

  const pump = () => {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (slot.busy) continue;
      const { job, resolve, reject } = queue.shift()!;
      const id = nextId++;
      slot.busy = { id, resolve, reject };
      slot.worker.ref();
      slot.worker.postMessage({ id, job });
    }
    for (const slot of slots) if (!slot.busy) slot.worker.unref();
  };

  for (let i = 0; i < n; i++) slots.push(spawn());

  return {
    size: n,
    run(job: J): Promise<R> {
      if (closed) return Promise.reject(new Error("worker pool is closed"));
      return new Promise<R>((resolve, reject) => {
        queue.push({ job, resolve, reject });
        pump();
      });
    },
    async close(): Promise<void> {
      closed = true;
      for (const q of queue.splice(0)) q.reject(new Error("worker pool closed"));
      const all = slots.splice(0);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}

/** Runs every job on `parallel` workers; results in job order. Rejects with the first failure. */
export async function runInWorkers<J, R>(modulePath: string, exportName: string, jobs: J[], parallel: number, options: WorkerPoolOptions = {}): Promise<R[]> {
  const pool = createWorkerPool<J, R>(modulePath, exportName, Math.min(Math.max(1, parallel), Math.max(1, jobs.length)), options);
  try {
    return await Promise.all(jobs.map((j) => pool.run(j)));
  } finally {
    await pool.close();
  }
}
