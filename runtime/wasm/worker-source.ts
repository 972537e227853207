// The code a GEMM worker thread runs, as a source string, so that a single bundled trainer file
// can start it (Node: new Worker(code, { eval: true }); browsers: a Blob URL) with no file to
// find at run time. It instantiates the shared GEMM module on the shared memory it is given, then
// loops: wait for a new job number, claim chunks of the job (column or row ranges of C) until none
// is left, running each with its own packing scratch, and count them as finished.
//
// Control block (Int32Array of CTRL_INTS at ctrlByte, shared by the main thread and all workers):
//   SEQ   job number, bumped (and notified) by the main thread for each job
//   LEFT  chunks not yet claimed; a thread claims chunk LEFT-1 by compare-exchange LEFT -> LEFT-1
//   FIN   chunks finished; the thread finishing the last one notifies the main thread
//   QUIT, ERROR flags; ARGS.. the job: tA tB M N K a b c beta byCols size nChunks kind;
//   kind 0 is a GEMM, kind 1 a convolution split by chunks (conv.wat conv_chunk, whose
//   parameters start at CTRL_CONV; each worker runs it with its own im2col area, d.colFloat)
// The main thread writes ARGS and FIN = 0 before it stores LEFT, and starts a new job only after
// FIN reached nChunks, so a thread holding a claimed chunk always reads the ARGS of that job.
export const CTRL_INTS = 64;
export const CTRL_SEQ = 0;
export const CTRL_LEFT = 1;
export const CTRL_FIN = 2;
export const CTRL_QUIT = 3;
export const CTRL_ERROR = 4;
export const CTRL_ARGS = 8;
export const CTRL_KIND = CTRL_ARGS + 12;
export const CTRL_CONV = 24;

const body = String.raw`
async function dnncGemmWorker(d, post) {
  const inst = await WebAssembly.instantiate(d.module, { env: { mem: d.memory } });
  const gemm = inst.exports.gemm;
  const conv = (await WebAssembly.instantiate(d.convModule, { env: { mem: d.memory, gemm } })).exports.conv_chunk;
  const convArgs = d.ctrlByte + ${CTRL_CONV} * 4, colFloat = d.colFloat;
  const ctl = new Int32Array(d.memory.buffer, d.ctrlByte, ${CTRL_INTS});
  const scratch = d.scratchByte, spin = d.spin;
  const SEQ = ${CTRL_SEQ}, LEFT = ${CTRL_LEFT}, FIN = ${CTRL_FIN}, QUIT = ${CTRL_QUIT}, ERROR = ${CTRL_ERROR}, A = ${CTRL_ARGS};
  let seen = Atomics.load(ctl, SEQ);
  post("ready");
  for (;;) {
    let s = Atomics.load(ctl, SEQ);
    for (let i = 0; s === seen && i < spin; i++) s = Atomics.load(ctl, SEQ);
    while (s === seen) {
      Atomics.wait(ctl, SEQ, seen);
      s = Atomics.load(ctl, SEQ);
    }
    seen = s;
    if (Atomics.load(ctl, QUIT) !== 0) return;
    for (;;) {
      const v = Atomics.load(ctl, LEFT);
      if (v <= 0) break;
      if (Atomics.compareExchange(ctl, LEFT, v, v - 1) !== v) continue;
      const id = v - 1, byCols = ctl[A + 9], size = ctl[A + 10], n = ctl[A + 11];
      const M = ctl[A + 2], N = ctl[A + 3], lo = id * size, hi = Math.min(byCols ? N : M, lo + size);
      try {
        if (ctl[${CTRL_KIND}] === 1) conv(convArgs, id, colFloat, scratch);
        else if (byCols) gemm(ctl[A], ctl[A + 1], M, N, ctl[A + 4], ctl[A + 5], ctl[A + 6], ctl[A + 7], ctl[A + 8], 0, M, lo, hi, scratch);
        else gemm(ctl[A], ctl[A + 1], M, N, ctl[A + 4], ctl[A + 5], ctl[A + 6], ctl[A + 7], ctl[A + 8], lo, hi, 0, N, scratch);
      } catch (e) {
        Atomics.store(ctl, ERROR, 1);
      }
      if (Atomics.add(ctl, FIN, 1) + 1 === n) Atomics.notify(ctl, FIN);
    }
  }
}
`;

/** Worker source for Node's worker_threads (eval: true); the data comes as workerData. */
export const NODE_WORKER_SOURCE =
  body +
  `const wt = require("node:worker_threads");
dnncGemmWorker(wt.workerData, (m) => wt.parentPort.postMessage(m));`;

/** Worker source for a browser Web Worker; the data comes as the first message. */
export const WEB_WORKER_SOURCE = body + `self.onmessage = (e) => { self.onmessage = null; dnncGemmWorker(e.data, (m) => self.postMessage(m)); };`;
