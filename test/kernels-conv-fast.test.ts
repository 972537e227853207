// The fast paths of the conv and pool kernels (runtime/kernels/conv.ts, pool.ts) against naive
// oracles on random configurations (fast-check): shifted-plane im2col, the stride-1 input
// gradient as a correlation with rotated weights (full size, cut into channel chunks, or the
// GEMM + col2im fallback, depending on cfg.colFloats), the bias gradient by GEMM, and the 2x2
// stride-2 max pool (ties, NaN, -0, -Infinity). Also: nothing outside the outputs and the
// declared scratch is written, inputs are unchanged, the same inputs give the same bytes, and
// the wasm backend's GEMM gives the oracle's result on the M2 shapes.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  convConfig,
  convScratchSize,
  convScratchSizeFast,
  convScratchSizeBatched,
  convWeightSize,
  conv2dForward,
  conv2dBackward,
  type ConvConfig,
  type ConvOptions,
} from "../runtime/kernels/conv";
import { conv2dForwardNaive, conv2dBackwardNaive } from "../runtime/kernels/reference";
import { poolConfig, maxPool2dForward, maxPool2dBackward, type PoolConfig } from "../runtime/kernels/pool";
import { makeGemm } from "../runtime/kernels/gemm";
import { createBackend } from "../runtime/backend-create";
import { Rng } from "../runtime/rng";
import type { GemmFn } from "../runtime/backend";
import { Heap, naiveGemm, expectClose } from "./reference/conv_norm/harness";

type Room = "minimum" | "fast" | "between" | "batched";
const arbConv: fc.Arbitrary<ConvOptions & { n: number; bias: boolean; room: Room; frac: number; nb: number }> = fc
  .record({
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 3 }),
    kg: fc.integer({ min: 1, max: 4 }),
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 2 }),
    dw: fc.integer({ min: 1, max: 2 }),
    // padding up to 3: beyond dilation*(kernel-1), the correlation form has negative padding
    pad: fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      fc.record({ top: fc.nat(3), bottom: fc.nat(3), left: fc.nat(3), right: fc.nat(3) }),
      fc.constant("same" as const),
    ),
    stride1: fc.boolean(),
    n: fc.integer({ min: 1, max: 5 }),
    bias: fc.boolean(),
    room: fc.constantFrom<Room>("minimum", "fast", "between", "batched"),
    frac: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    nb: fc.integer({ min: 2, max: 5 }),
  })
  .map((r) => ({
    C: r.groups * r.cg,
    K: r.groups * r.kg,
    H: r.H,
    W: r.W,
    kernel: [r.kh, r.kw] as [number, number],
    stride: (r.pad === "same" || r.stride1 ? 1 : [r.sh, r.sw]) as number | [number, number],
    dilation: [r.dh, r.dw] as [number, number],
    padding: r.pad,
    groups: r.groups,
    n: r.n,
    bias: r.bias,
    room: r.room,
    frac: r.frac,
    nb: r.nb,
  }))
  .filter((o) => {
    try {
      convConfig(o);
      return true;
    } catch {
      return false;
    }
  });

// minimum: no colFloats; fast: one sample per GEMM with every fast path; between: chunked
// input gradient; batched: between the fast size and nb samples per GEMM (frac 1: exactly nb)
function withRoom(cfg: ConvConfig, room: Room, frac: number, nb: number): ConvConfig {
  const lo = convScratchSize(cfg);
  const hi = convScratchSizeFast(cfg);
  if (room === "minimum") return cfg;
  if (room === "fast") return { ...cfg, colFloats: hi };
  if (room === "between") return { ...cfg, colFloats: lo + Math.floor(frac * (hi - lo)) };
  const top = convScratchSizeBatched(cfg, nb);
  return { ...cfg, colFloats: hi + Math.floor(frac * (top - hi)) };
}

function randomFill(H: Float32Array, o: number, len: number, rng: Rng): void {
  for (let i = 0; i < len; i++) H[o + i] = rng.normal();
}

interface ConvRun {
  y: number[];
  dx: number[];
  dw: number[];
  db: number[];
  want: { y: number[]; dx: number[]; dw: number[]; db: number[] };
  inputsChanged: boolean;
  guards: number[];
}

// Lays out inputs, oracle outputs, fast outputs with a guard word after each, and the scratch
// with exactly max(colFloats, convScratchSize) floats before its guard.
function runConv(cfg: ConvConfig, n: number, bias: boolean, seed: number, mk: (H: Float32Array) => GemmFn): ConvRun {
  const rng = new Rng(seed, 7);
  const xs = n * cfg.C * cfg.H * cfg.W;
  const ys = n * cfg.K * cfg.OH * cfg.OW;
  const ws = convWeightSize(cfg);
  const room = Math.max(cfg.colFloats ?? 0, convScratchSize(cfg));
  const hp = new Heap(3 * (xs + ys + ws + cfg.K) + 2 * (xs + ys + ws + cfg.K) + room + 64);
  const x = hp.alloc(xs);
  const w = hp.alloc(ws);
  const b = bias ? hp.alloc(cfg.K) : -1;
  const dy = hp.alloc(ys);
  randomFill(hp.H, 0, hp.top, rng);
  const inputsEnd = hp.top;
  const y0 = hp.alloc(ys, NaN);
  const dx0 = hp.alloc(xs, NaN);
  const dw0 = hp.alloc(ws, NaN);
  const db0 = hp.alloc(cfg.K, NaN);
  conv2dForwardNaive(hp.H, cfg, x, w, b, y0, n);
  conv2dBackwardNaive(hp.H, cfg, x, w, dy, dx0, dw0, bias ? db0 : -1, n);
  const guards: number[] = [];
  const guarded = (len: number): number => {
    const o = hp.alloc(len, NaN);
    guards.push(hp.alloc(1, 7));
    return o;
  };
  const y = guarded(ys);
  const dx = guarded(xs);
  const dw = guarded(ws);
  const db = guarded(cfg.K);
  const col = guarded(room);
  const before = hp.get(0, inputsEnd);
  const gemm = mk(hp.H);
  conv2dForward(hp.H, gemm, cfg, x, w, b, y, col, n);
  conv2dBackward(hp.H, gemm, cfg, x, w, dy, dx, dw, bias ? db : -1, col, n);
  return {
    y: hp.get(y, ys),
    dx: hp.get(dx, xs),
    dw: hp.get(dw, ws),
    db: bias ? hp.get(db, cfg.K) : [],
    want: { y: hp.get(y0, ys), dx: hp.get(dx0, xs), dw: hp.get(dw0, ws), db: bias ? hp.get(db0, cfg.K) : [] },
    inputsChanged: JSON.stringify(hp.get(0, inputsEnd)) !== JSON.stringify(before),
    guards: guards.map((g) => hp.H[g]),
  };
}

describe("conv2d fast paths equal the naive oracle", () => {
  const gemms: [string, (H: Float32Array) => GemmFn][] = [
    ["the test's naive gemm", naiveGemm],
    ["gemmBlocked", (H) => makeGemm(H, "blocked")],
  ];
  it.each(gemms)("random configurations and scratch sizes, with %s", (_, mk) => {
    let seed = 100;
    fc.assert(
      fc.property(arbConv, (o) => {
        const cfg = withRoom(convConfig(o), o.room, o.frac, o.nb);
        const r = runConv(cfg, o.n, o.bias, ++seed, mk);
        const tag = JSON.stringify({ ...cfg, n: o.n });
        expectClose(r.y, r.want.y, `y ${tag}`);
        expectClose(r.dx, r.want.dx, `dx ${tag}`);
        expectClose(r.dw, r.want.dw, `dw ${tag}`);
        expectClose(r.db, r.want.db, `db ${tag}`);
        expect(r.inputsChanged, `inputs changed ${tag}`).toBe(false);
        expect(r.guards, `guard words ${tag}`).toEqual(r.guards.map(() => 7));
      }),
      { numRuns: 160, seed: 20261125 },
    );
  });

  it("covers each input-gradient path on a stride-1 'same' conv (full, chunked, fallback)", () => {
    const cfg = convConfig({ C: 3, H: 7, W: 6, K: 5, kernel: 3, padding: "same" });
    const min = convScratchSize(cfg);
    const fast = convScratchSizeFast(cfg);
    // the chunked path needs the rotated weights (135 -> 144 floats) plus one channel's columns
    // (9 * 42 = 378): 522 floats; the minimum (378) falls back to GEMM + col2im
    expect([min, fast]).toEqual([3 * 9 * 42, 144 + 5 * 9 * 42]);
    for (const colFloats of [undefined, 144 + 378, 144 + 2 * 378 + 5, fast, fast + 100]) {
      const r = runConv({ ...cfg, colFloats }, 3, true, 5, naiveGemm);
      expectClose(r.dx, r.want.dx, `dx colFloats ${colFloats}`);
      expectClose(r.dw, r.want.dw, `dw colFloats ${colFloats}`);
      expect(r.guards).toEqual([7, 7, 7, 7, 7]);
    }
  });

  it("covers the batched paths (chunks of nb samples, a shorter last chunk; stride 1 and 2)", () => {
    for (const o of [
      { C: 4, H: 6, W: 7, K: 6, kernel: 3, padding: "same" as const, groups: 2 },
      { C: 3, H: 7, W: 6, K: 4, kernel: [3, 2] as [number, number], stride: 2, padding: 1 },
    ]) {
      const cfg = convConfig(o);
      for (const nb of [2, 3, 5, 8]) {
        const r = runConv({ ...cfg, colFloats: convScratchSizeBatched(cfg, nb) }, 5, true, nb, naiveGemm);
        const tag = `${JSON.stringify(o)} nb ${nb}`;
        expectClose(r.y, r.want.y, `y ${tag}`);
        expectClose(r.dx, r.want.dx, `dx ${tag}`);
        expectClose(r.dw, r.want.dw, `dw ${tag}`);
        expectClose(r.db, r.want.db, `db ${tag}`);
        expect(r.guards).toEqual([7, 7, 7, 7, 7]);
      }
    }
  });

  it("gives the same bytes for the same inputs", () => {
    const cfg = convConfig({ C: 4, H: 9, W: 9, K: 6, kernel: 3, padding: "same", groups: 2 });
    for (const c of [cfg, { ...cfg, colFloats: convScratchSizeFast(cfg) }, { ...cfg, colFloats: convScratchSizeBatched(cfg, 2) }]) {
      const a = runConv(c, 3, true, 9, (H) => makeGemm(H, "blocked"));
      const b = runConv(c, 3, true, 9, (H) => makeGemm(H, "blocked"));
      expect(new Float32Array(a.y)).toEqual(new Float32Array(b.y));
      expect(new Float32Array(a.dx)).toEqual(new Float32Array(b.dx));
      expect(new Float32Array(a.dw)).toEqual(new Float32Array(b.dw));
      expect(new Float32Array(a.db)).toEqual(new Float32Array(b.db));
    }
  });

  it("equals the oracle on the M2 conv shapes with the wasm backend's GEMM", async () => {
    for (const o of [
      { C: 1, H: 28, W: 28, K: 16, kernel: 3, padding: "same" as const },
      { C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" as const },
    ]) {
      const base = convConfig(o);
      for (const cfg of [base, { ...base, colFloats: convScratchSizeFast(base) }, { ...base, colFloats: convScratchSizeBatched(base, 2) }]) {
        const n = 2;
        const xs = n * cfg.C * 196 * (cfg.H === 28 ? 4 : 1);
        const ys = n * cfg.K * cfg.OH * cfg.OW;
        const ws = convWeightSize(cfg);
        const room = Math.max(cfg.colFloats ?? 0, convScratchSize(cfg));
        const total = 2 * (xs + ys + ws + cfg.K) + xs + ys + ws + cfg.K + room + 256;
        const be = await createBackend(total, { backend: "wasm", threads: 1 });
        try {
          const hp = new Heap(1);
          hp.H = be.H;
          const rng = new Rng(3, 1);
          const x = hp.alloc(xs);
          const w = hp.alloc(ws);
          const b = hp.alloc(cfg.K);
          const dy = hp.alloc(ys);
          randomFill(hp.H, 0, hp.top, rng);
          const [y0, dx0, dw0, db0] = [hp.alloc(ys), hp.alloc(xs), hp.alloc(ws), hp.alloc(cfg.K)];
          const [y, dx, dw, db] = [hp.alloc(ys), hp.alloc(xs), hp.alloc(ws), hp.alloc(cfg.K)];
          const col = hp.alloc(room);
          conv2dForwardNaive(hp.H, cfg, x, w, b, y0, n);
          conv2dBackwardNaive(hp.H, cfg, x, w, dy, dx0, dw0, db0, n);
          conv2dForward(hp.H, be.gemm, cfg, x, w, b, y, col, n);
          conv2dBackward(hp.H, be.gemm, cfg, x, w, dy, dx, dw, db, col, n);
          const tag = `C${cfg.C} colFloats ${cfg.colFloats}`;
          expectClose(hp.get(y, ys), hp.get(y0, ys), `y ${tag}`);
          expectClose(hp.get(dx, xs), hp.get(dx0, xs), `dx ${tag}`);
          expectClose(hp.get(dw, ws), hp.get(dw0, ws), `dw ${tag}`);
          expectClose(hp.get(db, cfg.K), hp.get(db0, cfg.K), `db ${tag}`);
        } finally {
          be.close();
        }
      }
    }
  });
});

// Max pooling straight from the definition: the running maximum starts at -Infinity on the
// window's first valid cell, and a cell replaces it when greater or NaN (PyTorch's rule), in
// row-major window order; padding never wins.
function maxPoolNaive(H: Float32Array, c: PoolConfig, x: number, y: number, idx: number, n: number): void {
  for (let p = 0; p < n * c.C; p++)
    for (let oh = 0; oh < c.OH; oh++)
      for (let ow = 0; ow < c.OW; ow++) {
        let m = -Infinity;
        let mi = -1;
        for (let ki = 0; ki < c.kh; ki++)
          for (let kj = 0; kj < c.kw; kj++) {
            const ih = oh * c.sh - c.ph + ki;
            const iw = ow * c.sw - c.pw + kj;
            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
            if (mi < 0) mi = ih * c.W + iw;
            const v = H[x + p * c.H * c.W + ih * c.W + iw];
            if (v > m || v !== v) {
              m = v;
              mi = ih * c.W + iw;
            }
          }
        H[y + p * c.OH * c.OW + oh * c.OW + ow] = m;
        H[idx + p * c.OH * c.OW + oh * c.OW + ow] = mi;
      }
}

describe("max pool 2x2 stride 2 equals the definition", () => {
  const special = [-1, 0, -0, 1, 2, NaN, -Infinity, Infinity];
  it("on random planes with ties, NaN, signed zeros and infinities (values and indices, bytes)", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          C: fc.integer({ min: 1, max: 3 }),
          H: fc.integer({ min: 2, max: 9 }),
          W: fc.integer({ min: 2, max: 9 }),
          vals: fc.array(fc.oneof(fc.constantFrom(...special), fc.double({ min: -3, max: 3, noNaN: true })), {
            minLength: 3 * 3 * 81,
            maxLength: 3 * 3 * 81,
          }),
        }),
        ({ n, C, H, W, vals }) => {
          const c = poolConfig({ C, H, W, kernel: 2 });
          const len = n * C * H * W;
          const out = n * C * c.OH * c.OW;
          const hp = new Heap(len + 4 * out + 8);
          const x = hp.put(vals.slice(0, len));
          const y0 = hp.alloc(out);
          const i0 = hp.alloc(out);
          const y = hp.alloc(out, 5);
          const i1 = hp.alloc(out, 5);
          maxPoolNaive(hp.H, c, x, y0, i0, n);
          maxPool2dForward(hp.H, c, x, y, i1, n);
          // byte equality: the same float (NaN, -0 included) from the same cell
          expect(new Uint32Array(new Float32Array(hp.get(y, out)).buffer)).toEqual(new Uint32Array(new Float32Array(hp.get(y0, out)).buffer));
          expect(hp.get(i1, out)).toEqual(hp.get(i0, out));
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it("routes the gradient to the argmax (backward after the fast forward)", () => {
    const c = poolConfig({ C: 2, H: 4, W: 5, kernel: 2 });
    const hp = new Heap(512);
    const rng = new Rng(2, 2);
    const x = hp.alloc(2 * 2 * 20);
    randomFill(hp.H, x, 80, rng);
    const y = hp.alloc(2 * 2 * 4);
    const idx = hp.alloc(16);
    const dy = hp.put(Array.from({ length: 16 }, (_, i) => i + 1));
    const dx = hp.alloc(80, NaN);
    maxPool2dForward(hp.H, c, x, y, idx, 2);
    maxPool2dBackward(hp.H, c, dy, idx, dx, 2);
    const want = new Array<number>(80).fill(0);
    for (let p = 0; p < 4; p++)
      for (let j = 0; j < 4; j++) {
        const [oh, ow] = [j >> 1, j & 1];
        let best = -1;
        for (const [a, b] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ]) {
          const cell = (2 * oh + a) * 5 + 2 * ow + b;
          if (best < 0 || hp.H[x + p * 20 + cell] > hp.H[x + p * 20 + best]) best = cell;
        }
        want[p * 20 + best] += p * 4 + j + 1;
      }
    expect(hp.get(dx, 80)).toEqual(want);
  });
});
