#!/usr/bin/env node
// Sequence benchmark peer: jax-js (`@jax-js/jax`, the wasm device), the models written as its users
// write them: pure functions of a parameter tree, one jit-compiled training step (forward,
// valueAndGrad, Adam written by hand: the optax package is not on npm).
//
//   node bench/peers/jax-seq.mjs --model s1|s2 --data DIR [--steps N] [--window S] [--conv lax|im2col]
//
// jax-js has no LSTM layer and no lax.scan: S1's LSTM is a JavaScript loop over the T steps inside
// the jitted function (traced once, unrolled into the compiled step), with the four gates' weights
// in one matrix (one matmul per step) and the input projection of all steps in one matmul before the
// loop, as a JAX user writes an LSTM by hand; its embedding lookup is a one-hot matmul (jit cannot
// differentiate np.take feeding a matmul in 0.1.25). S2's conv1d is im2col by default (the k shifted
// slices concatenated and one matmul, as a user who found lax.conv slow would write it; PERF_NOTES
// measured lax.conv at ~0.3 GFLOP/s); `--conv lax` (lax.conv) fails to jit its gradient in 0.1.25
// ("scatter input is not imm").
// Initialization as PyTorch's defaults. One thread (jax-js starts its worker pool only where a
// global Web Worker exists). @jax-js/jax is imported from node_modules, else from the package
// directory in DNNC_BENCH_JAXJS; without either the peer reports an error line and exits 4.
// JSON lines as bench/run.mjs reads them: info, window, done (train_loss, max_rss_kb), error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { SEQ_MODELS } from "../seq-models.mjs";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "s1" },
    data: { type: "string" },
    steps: { type: "string", default: "100" },
    window: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    conv: { type: "string", default: "im2col" },
  },
});
const emit = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const m = SEQ_MODELS[args.model];
if (!m || !args.data) {
  emit({ event: "error", message: `usage: --model ${Object.keys(SEQ_MODELS).join("|")} --data DIR` });
  process.exit(2);
}

let jax;
try {
  jax = await import("@jax-js/jax");
} catch {
  const dir = process.env.DNNC_BENCH_JAXJS;
  try {
    if (!dir) throw new Error("no DNNC_BENCH_JAXJS");
    jax = await import(pathToFileURL(join(dir, "dist", "index.js")).href);
  } catch {
    emit({ event: "error", message: "@jax-js/jax is not installed (npm i -D @jax-js/jax@0.1.25, or DNNC_BENCH_JAXJS=<its package directory>)" });
    process.exit(4);
  }
}
const { numpy: np, nn, lax, jit, valueAndGrad, init, defaultDevice } = jax;
// the default probes WebGPU, which crashes on Node 20 (no navigator): ask for wasm
await init("wasm");
defaultDevice("wasm");

const meta = JSON.parse(readFileSync(join(args.data, "meta.json"), "utf8"));
const readIds = (file, bytes) => {
  const b = readFileSync(join(args.data, file));
  return bytes === 1 ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

// ---- parameters, PyTorch's default initialization, a seeded generator ------------------------------
let rs = Number(args.seed) >>> 0 || 1;
const rand = () => ((rs = (Math.imul(rs, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
const uniform = (shape, bound) => {
  const k = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(k);
  for (let i = 0; i < k; i++) a[i] = (2 * rand() - 1) * bound;
  return np.array(a).reshape(shape);
};
const normal = (shape) => {
  const k = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(k);
  for (let i = 0; i < k; i++) a[i] = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
  return np.array(a).reshape(shape);
};

const B = m.batch;
const L = m.context;
let params, nSamples, fillBatch, lossFn, outUnits;
const xb = new Int32Array(B * L);
let yb;
if (m.kind === "charlm") {
  const s = meta.s1;
  const series = readIds("s1-ids.bin", s.idBytes);
  const V = s.vocab;
  const E = m.embed;
  const U = m.hidden;
  outUnits = V;
  nSamples = s.windows;
  yb = new Int32Array(B * L);
  fillBatch = (idx) => {
    for (let i = 0; i < B; i++) {
      const st = idx[i] * L;
      for (let t = 0; t < L; t++) {
        xb[i * L + t] = series[st + t];
        yb[i * L + t] = series[st + t + 1];
      }
    }
  };
  const k = 1 / Math.sqrt(U);
  // gates i f g o side by side in the columns of wih (E, 4U) and whh (U, 4U); b = b_ih + b_hh
  params = {
    emb: normal([V, E]),
    wih: uniform([E, 4 * U], k),
    whh: uniform([U, 4 * U], k),
    b: uniform([4 * U], k).add(uniform([4 * U], k)),
    wo: uniform([U, V], k),
    bo: uniform([V], k),
  };
  lossFn = (p, x, y) => {
    // the lookup as a one-hot matmul: jax-js 0.1.25 cannot jit the gradient of np.take here ("jit:
    // routine primitive scatter input is not imm" when the lookup feeds a matmul); +2% of the step's FLOPs
    const e = np.matmul(nn.oneHot(x.reshape([B * L]), V), p.emb); // (B*T, E)
    const xp = np
      .matmul(e, p.wih)
      .add(p.b)
      .reshape([B, L, 4 * U]);
    let h = np.zeros([B, U]);
    let c = np.zeros([B, U]);
    const hs = [];
    for (let t = 0; t < L; t++) {
      const z = xp.ref.slice([], t, []).add(np.matmul(h, p.whh.ref));
      const i = nn.sigmoid(z.ref.slice([], [0, U]));
      const f = nn.sigmoid(z.ref.slice([], [U, 2 * U]));
      const g = np.tanh(z.ref.slice([], [2 * U, 3 * U]));
      const o = nn.sigmoid(z.slice([], [3 * U, 4 * U]));
      c = f.mul(c).add(i.mul(g));
      h = o.mul(np.tanh(c.ref));
      hs.push(h.ref);
    }
    xp.dispose();
    h.dispose();
    c.dispose();
    p.whh.dispose();
    const y2 = np.stack(hs, 1).reshape([B * L, U]);
    const logits = np.matmul(y2, p.wo).add(p.bo);
    return nn
      .logSoftmax(logits, -1)
      .mul(nn.oneHot(y.reshape([B * L]), V))
      .sum()
      .mul(-1 / (B * L));
  };
} else {
  const s = meta.s2;
  const xs = readIds("s2-x.bin", s.idBytes);
  const ys = readIds("s2-y.bin", 1);
  const V = s.vocab;
  const E = m.embed;
  const C = m.filters;
  const K = m.kernel;
  const Lo = L - K + 1;
  outUnits = s.classes;
  nSamples = s.n;
  yb = new Int32Array(B);
  fillBatch = (idx) => {
    for (let i = 0; i < B; i++) {
      for (let t = 0; t < L; t++) xb[i * L + t] = xs[idx[i] * L + t];
      yb[i] = ys[idx[i]];
    }
  };
  const kc = 1 / Math.sqrt(E * K);
  const kd = 1 / Math.sqrt(C);
  params = { emb: normal([V, E]), wc: uniform([C, E, K], kc), bc: uniform([C], kc), wo: uniform([C, outUnits], kd), bo: uniform([outUnits], kd) };
  lossFn = (p, x, y) => {
    const e = np.take(p.emb, x, 0); // (B, L, E)
    let h;
    if (args.conv === "im2col") {
      // (B, Lo, K*E) from the K shifted windows, then one matmul with the filters as (K*E, C)
      const cols = [];
      for (let j = 0; j < K; j++) cols.push(e.ref.slice([], [j, j + Lo], []));
      e.dispose();
      const w = p.wc.transpose([2, 1, 0]).reshape([K * E, C]);
      h = np
        .matmul(np.concatenate(cols, 2).reshape([B * Lo, K * E]), w)
        .reshape([B, Lo, C])
        .add(p.bc);
    } else {
      // lax.conv on (B, E, L) with filters (C, E, K): NCH as JAX's default
      h = lax
        .conv(e.transpose([0, 2, 1]), p.wc, [1], "VALID")
        .transpose([0, 2, 1])
        .add(p.bc);
    }
    const pooled = nn.relu(h).max(1); // (B, C)
    const logits = np.matmul(pooled, p.wo).add(p.bo);
    return nn
      .logSoftmax(logits, -1)
      .mul(nn.oneHot(y, outUnits))
      .sum()
      .mul(-1 / B);
  };
}

// ---- one jitted step: loss, gradients, Adam (PyTorch's: bias-corrected, eps outside the sqrt) -------
const lr = m.optimizer.lr;
const [b1, b2, eps] = [0.9, 0.999, 1e-8];
const mapTree = (t, f) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, f(v)]));
let mom = mapTree(params, (v) => np.zeros(v.shape));
let vel = mapTree(params, (v) => np.zeros(v.shape));
// c1 = 1 / (1 - b1^t), c2 = 1 / (1 - b2^t) are arguments (scalars), so that the step is traced once
const step = jit((p, mo, ve, x, y, c1, c2) => {
  const [loss, g] = valueAndGrad(lossFn)(
    mapTree(p, (v) => v.ref),
    x,
    y,
  );
  const np2 = {};
  const nm = {};
  const nv = {};
  for (const k of Object.keys(g)) {
    const gk = g[k];
    nm[k] = mo[k].mul(b1).add(gk.ref.mul(1 - b1));
    nv[k] = ve[k].mul(b2).add(gk.ref.mul(gk).mul(1 - b2));
    np2[k] = p[k].sub(
      nm[k].ref
        .mul(c1.ref)
        .mul(lr)
        .div(np.sqrt(nv[k].ref.mul(c2.ref)).add(eps)),
    );
  }
  c1.dispose();
  c2.dispose();
  return [loss, np2, nm, nv];
});

const leaves = Object.values(params).reduce((s, v) => s + v.size, 0);
emit({
  event: "info",
  system: "jax-js",
  label: "jax-js (wasm, jit)",
  device: "wasm",
  threads: 1,
  model: m.name,
  params: leaves,
  conv: m.kind === "textcnn" ? args.conv : undefined,
});

const perm = new Int32Array(nSamples).map((_, i) => i);
for (let i = nSamples - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [perm[i], perm[j]] = [perm[j], perm[i]];
}
const steps = Number(args.steps);
const windowMs = Number(args.window) * 1000;
let winStart = performance.now();
let winSamples = 0;
let lossValue = null;
try {
  for (let t = 1; t <= steps; t++) {
    const at = ((t - 1) * B) % (nSamples - B + 1);
    fillBatch(perm.subarray(at, at + B));
    const x = np.array(xb, { dtype: np.int32 }).reshape(m.kind === "charlm" ? [B, L] : [B, L]);
    const y = np.array(yb, { dtype: np.int32 }).reshape(m.kind === "charlm" ? [B, L] : [B]);
    const c1 = np.array(new Float32Array([1 / (1 - b1 ** t)])).reshape([]);
    const c2 = np.array(new Float32Array([1 / (1 - b2 ** t)])).reshape([]);
    const [loss, p2, m2, v2] = step(params, mom, vel, x, y, c1, c2);
    params = p2;
    mom = m2;
    vel = v2;
    lossValue = loss.item(); // waits for the step (the loss is the last thing it computes)
    winSamples += B;
    const now = performance.now();
    if (now - winStart >= windowMs) {
      emit({ event: "window", samples: winSamples, seconds: (now - winStart) / 1000, loss: lossValue });
      winStart = now;
      winSamples = 0;
    }
  }
} catch (e) {
  emit({ event: "error", message: String(e?.message ?? e).split("\n")[0] });
  process.exit(3);
}
if (winSamples > 0) emit({ event: "window", samples: winSamples, seconds: (performance.now() - winStart) / 1000, partial: true });
emit({ event: "done", train_loss: lossValue, trained_samples: steps * B, max_rss_kb: process.resourceUsage().maxRSS });
