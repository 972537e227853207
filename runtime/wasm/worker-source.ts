// The code a GEMM worker thread runs, as a source string, so that a single bundled trainer file
// can start it (Node: new Worker(code, { eval: true }); browsers: a Blob URL) with no file to
// find at run time. It instantiates the shared GEMM module on the shared memory it is given, then
// loops: wait for a new job number in its control slots, run the GEMM on its row/column range
// with its own packing scratch, publish "done". Plain JavaScript, no imports.
//
// Control slots (Int32Array of 32 at ctrlByte, 128 bytes per worker):
//   0 job number posted by the main thread   1 job number finished by the worker
//   2 quit flag   3 error flag   4..16 the 13 arguments of the module's gemm (without scratch)
export const CTRL_INTS = 32;
export const CTRL_SEQ = 0;
export const CTRL_DONE = 1;
export const CTRL_QUIT = 2;
export const CTRL_ERROR = 3;
export const CTRL_ARGS = 4;

const body = String.raw`
async function dnncGemmWorker(d, post) {
  const inst = await WebAssembly.instantiate(d.module, { env: { mem: d.memory } });
  const gemm = inst.exports.gemm;
  const ctl = new Int32Array(d.memory.buffer, d.ctrlByte, 32);
  const scratch = d.scratchByte, spin = d.spin;
  let seen = Atomics.load(ctl, 0);
  post("ready");
  for (;;) {
    let s = Atomics.load(ctl, 0);
    for (let i = 0; s === seen && i < spin; i++) s = Atomics.load(ctl, 0);
    while (s === seen) {
      Atomics.wait(ctl, 0, seen);
      s = Atomics.load(ctl, 0);
    }
    seen = s;
    if (Atomics.load(ctl, 2) !== 0) return;
    try {
      gemm(ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], ctl[12],
           ctl[13], ctl[14], ctl[15], ctl[16], scratch);
    } catch (e) {
      Atomics.store(ctl, 3, 1);
    }
    Atomics.store(ctl, 1, s);
    Atomics.notify(ctl, 1);
  }
}
`;

/** Worker source for Node's worker_threads (eval: true); the data comes as workerData. */
export const NODE_WORKER_SOURCE =
  body +
  `const wt = require("node:worker_threads");
dnncGemmWorker(wt.workerData, (m) => wt.parentPort.postMessage(m));`;

/** Worker source for a browser Web Worker; the data comes as the first message. */
export const WEB_WORKER_SOURCE =
  body +
  `self.onmessage = (e) => { self.onmessage = null; dnncGemmWorker(e.data, (m) => self.postMessage(m)); };`;
