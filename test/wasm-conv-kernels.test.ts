// The loops around the convolution GEMMs in wasm (runtime/wasm/conv.wat: im2col, ReLU, 2x2 max
// pool forward and backward) write the same bytes as their TypeScript references, on random
// shapes, strides, dilations, paddings (negative too, as the input gradient uses), row pitches
// and values (ties, zeros of both signs, NaN, infinities), on a plain and on a shared memory.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../runtime/backend-create";
import { conv2dBackward, conv2dForward, convConfig, convWeightSize, im2colTs, type ConvOptions } from "../runtime/kernels/conv";
import type { WasmBackend } from "../runtime/wasm/wasm-backend";
import { maxPool2dBackward, maxPool2dBackwardTs, maxPool2dForward, maxPool2x2Forward, poolConfig } from "../runtime/kernels/pool";
import { accumulateRef, addRef, makeDenseEpilogues, reluRef } from "../runtime/wasm-kernels";
import { batchNormBackward, batchNormBackwardTs, batchNormNodeForwardTs } from "../runtime/kernels/norm";
import { convExportsOf } from "../runtime/wasm/conv-kernels";

const FLOATS = 1 << 20;
const plain = await createBackend(FLOATS, { backend: "wasm" });
const shared = await createBackend(FLOATS, { backend: "wasm", threads: 2 });
afterAll(() => {
  plain.close();
  shared.close();
});
const backends = [
  ["plain memory", plain],
  ["shared memory", shared],
] as const;

const valueArb = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 6, arbitrary: fc.constantFrom(0, -0, 1, -1, 2) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);
const valuesArb = fc.array(valueArb, { minLength: 97, maxLength: 97 });

function sameBytes(got: Float32Array, want: Float32Array): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i])) throw new Error(`H[${i}] is ${got[i]}, the reference wrote ${want[i]}`);
}

const REGION = 12000;
/** Fills the first REGION floats of H, runs `fast` on H and `ref` on a plain copy, compares. */
function check(H: Float32Array, values: number[], fast: () => void, ref: (R: Float32Array) => void): void {
  for (let i = 0; i < REGION; i++) H[i] = values[(i * 13) % values.length];
  const R = H.slice(0, REGION);
  fast();
  ref(R);
  sameBytes(H.subarray(0, REGION), R);
}

describe.each(backends)("conv loops in wasm (%s)", (_name, be) => {
  const H = be.H;
  const k = convExportsOf(H)!;

  it("the wasm backend registers its heap", () => {
    expect(k).toBeDefined();
  });

  it("im2col: same bytes as the TypeScript im2col", () => {
    const cfgArb = fc.record({
      Cg: fc.integer({ min: 1, max: 3 }),
      IH: fc.integer({ min: 1, max: 9 }),
      IW: fc.integer({ min: 1, max: 9 }),
      kh: fc.integer({ min: 1, max: 4 }),
      kw: fc.integer({ min: 1, max: 4 }),
      sh: fc.integer({ min: 1, max: 3 }),
      sw: fc.integer({ min: 1, max: 3 }),
      dh: fc.integer({ min: 1, max: 2 }),
      dw: fc.integer({ min: 1, max: 2 }),
      ph: fc.integer({ min: -2, max: 3 }),
      pw: fc.integer({ min: -2, max: 3 }),
      pb: fc.integer({ min: 0, max: 3 }),
      pr: fc.integer({ min: 0, max: 3 }),
      same: fc.boolean(),
      extra: fc.integer({ min: 0, max: 5 }),
      xs: fc.integer({ min: 0, max: 400 }),
    });
    fc.assert(
      fc.property(cfgArb, valuesArb, (c, values) => {
        let { sh, sw, pb, pr } = c;
        if (c.same) {
          // stride 1 and OW = IW: the plane copy path
          sh = sw = 1;
          pb = c.dh * (c.kh - 1) - c.ph;
          pr = c.dw * (c.kw - 1) - c.pw;
        }
        const OH = Math.floor((c.IH + c.ph + pb - c.dh * (c.kh - 1) - 1) / sh) + 1;
        const OW = Math.floor((c.IW + c.pw + pr - c.dw * (c.kw - 1) - 1) / sw) + 1;
        if (OH < 1 || OW < 1) return;
        const ld = OH * OW + c.extra;
        const col = 1000;
        expect(col + c.Cg * c.kh * c.kw * ld).toBeLessThan(REGION);
        const args = [c.xs + 6000, c.Cg, c.IH, c.IW, c.kh, c.kw, sh, sw, c.ph, c.pw, c.dh, c.dw, OH, OW, col, ld] as const;
        check(
          H,
          values,
          () => k.im2col(...args),
          (R) => im2colTs(R, ...args),
        );
      }),
      { numRuns: 400 },
    );
  });

  it("ReLU: same bytes as Math.max(v, 0) (NaN stays NaN, -0 becomes 0)", () => {
    const E = makeDenseEpilogues(be);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 41 }), valuesArb, (z, y, len, values) => {
        check(
          H,
          values,
          () => E.relu(z, y + 4000, len),
          (R) => reluRef(R, z, y + 4000, len),
        );
      }),
      { numRuns: 200 },
    );
    H[0] = NaN;
    H[1] = -0;
    E.relu(0, 10, 2);
    expect(H[10]).toBeNaN();
    expect(Object.is(H[11], 0)).toBe(true);
  });

  it("add (with and without its ReLU) and accumulate: same bytes as the emitted loops", () => {
    const E = makeDenseEpilogues(be);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 41 }),
        fc.boolean(),
        valuesArb,
        (a, b, len, relu, values) => {
          const z = 3000 + (a % 5),
            y = relu ? 4000 + (b % 3) : -1;
          check(
            H,
            values,
            () => E.add(a, b + 500, z, y, len),
            (R) => addRef(R, a, b + 500, z, y, len),
          );
          check(
            H,
            values,
            () => E.accumulate(a + 1000, b, len),
            (R) => accumulateRef(R, a + 1000, b, len),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("conv bias gradient: the bytes of the GEMM's dot products with a column of ones", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 60 }), valuesArb, (n, K, s4, values) => {
        const S = 4 * s4,
          dy = 100,
          ones = dy + n * K * S + 8,
          db = ones + S + 8,
          db2 = db + K + 8;
        for (let i = 0; i < db2 + K + 8; i++) H[i] = values[(i * 13) % values.length];
        H.fill(1, ones, ones + S);
        for (let i = 0; i < n; i++) be.gemm(0, 1, K, 1, S, dy + i * K * S, ones, db2, i > 0 ? 1 : 0);
        k.bias_grad(dy, n, K, S, db);
        sameBytes(H.slice(db, db + K), H.slice(db2, db2 + K));
      }),
      { numRuns: 200 },
    );
  });

  it("2x2 max pool forward and backward (general and 2x2 backward): same values, indices and gradients as the TypeScript loops", () => {
    const arb = fc.record({
      planes: fc.integer({ min: 1, max: 4 }),
      IH: fc.integer({ min: 2, max: 20 }),
      IW: fc.integer({ min: 2, max: 21 }),
      x: fc.integer({ min: 0, max: 50 }),
      few: fc.boolean(), // values from a small set: many ties
      relu: fc.boolean(),
      bias: fc.boolean(), // a bias per channel added first (C channels, the first plane's channel c0)
      C: fc.integer({ min: 1, max: 3 }),
      c0: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(arb, valuesArb, (c, values) => {
        const OH = c.IH >> 1;
        const OW = c.IW >> 1;
        const x = c.x,
          y = 3000,
          idx = 4500,
          dy = 6000,
          dx = 7500,
          bias = 2900;
        const vals = c.few ? values.map((v) => (v !== v ? v : Math.sign(v) * (Math.abs(v) > 1 ? 1 : 0))) : values;
        check(
          H,
          vals,
          () => k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW, c.relu ? 1 : 0, c.bias ? bias : -1, c.C, c.c0),
          (R) => maxPool2x2Forward(R, c.IH, c.IW, OH, OW, x, y, idx, c.planes, c.relu, c.bias ? bias : -1, c.C, c.c0),
        );
        if (c.relu) {
          // pooling with relu = the ReLU sweep (E.relu: Math.max(v, 0)), then the plain pool: same y and idx bytes
          check(
            H,
            vals,
            () => k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW, 1, -1, 1, 0),
            (R) => {
              const len = c.planes * c.IH * c.IW;
              const rx = R.slice(x, x + len).map((v) => Math.max(v, 0));
              const S = R.slice();
              S.set(rx, x);
              maxPool2x2Forward(S, c.IH, c.IW, OH, OW, x, y, idx, c.planes);
              R.set(S.subarray(y, y + c.planes * OH * OW), y);
              R.set(S.subarray(idx, idx + c.planes * OH * OW), idx);
            },
          );
        }
        check(
          H,
          vals,
          () => {
            k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW, 0, -1, 1, 0);
            k.maxpool_backward(dy, idx, dx, c.planes, c.IH * c.IW, OH * OW);
          },
          (R) => {
            maxPool2x2Forward(R, c.IH, c.IW, OH, OW, x, y, idx, c.planes);
            maxPool2dBackwardTs(R, c.IH * c.IW, OH * OW, c.planes, dy, idx, dx);
          },
        );
        // the 2x2 backward writes every cell of dx (odd IH/IW: the uncovered row/column is 0)
        check(
          H,
          vals,
          () => {
            k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW, 0, -1, 1, 0);
            k.maxpool2x2_backward(dy, idx, dx, c.planes, c.IH, c.IW, OH, OW, -1);
          },
          (R) => {
            maxPool2x2Forward(R, c.IH, c.IW, OH, OW, x, y, idx, c.planes);
            maxPool2dBackwardTs(R, c.IH * c.IW, OH * OW, c.planes, dy, idx, dx);
          },
        );
      }),
      { numRuns: 300 },
    );
  });

  it("batch-norm node forward (no tail or ReLU, training or evaluation): same bytes as the TypeScript loop", () => {
    const E = makeDenseEpilogues(be);
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 5 }),
      C: fc.integer({ min: 1, max: 9 }), // groups of 4 channels and the rest
      S: fc.integer({ min: 1, max: 24 }), // multiples of 4 (the grouped statistics) and not
      affine: fc.boolean(),
      relu: fc.boolean(),
      train: fc.boolean(),
      momentum: fc.constantFrom(0.1, 0.3, 0.01),
      eps: fc.constantFrom(1e-5, 1e-3),
      shift: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(arb, valuesArb, (c, values) => {
        const cfg = { C: c.C, S: c.S, eps: c.eps, momentum: c.momentum };
        const x = 100 + c.shift,
          z = 1200,
          y = 2400 + c.shift,
          g = c.affine ? 3600 : -1,
          b = c.affine ? 3700 : -1;
        const mean = 3800,
          invstd = 3900,
          rm = 4000,
          rv = 4100;
        const finite = values.map((v) => (Number.isFinite(v) ? v : 0.5));
        check(
          H,
          finite,
          () => {
            for (let i = rv; i < rv + c.C; i++) H[i] = Math.abs(H[i]) + 0.1; // a variance
            E.bnForward(cfg, x, z, y, g, b, mean, invstd, rm, rv, c.relu, c.train, c.n);
          },
          (R) => {
            for (let i = rv; i < rv + c.C; i++) R[i] = Math.abs(R[i]) + 0.1;
            batchNormNodeForwardTs(R, cfg, x, z, y, g, b, mean, invstd, rm, rv, c.relu, c.train, c.n);
          },
        );
      }),
      { numRuns: 300 },
    );
  });

  it("batch-norm forward statistics keep each channel's order of addition (4 channels summed at once)", () => {
    const E = makeDenseEpilogues(be);
    // in float64, 3e38 + 1 - 3e38 is 0 but 3e38 - 3e38 + 1 is 1: any reordering changes the mean
    const cfg = { C: 5, S: 4, eps: 1e-5, momentum: 0.1 };
    const x = 100,
      z = 200,
      y = 300,
      mean = 400,
      invstd = 410,
      rm = 420,
      rv = 430;
    const vals = [3e38, 1, -3e38, 0.5, 1, 3e38, 0.25, -3e38, -3e38, 2, 3e38, 1, 0, 1, 2, 3, 3e38, 1, -3e38, 0.5];
    for (const n of [1, 2]) {
      const ref = H.slice(0, 500);
      for (let i = 0; i < n * 20; i++) ref[x + i] = H[x + i] = vals[i % 20] * (i >= 20 ? -1 : 1);
      for (let i = 0; i < 5; i++) ref[rv + i] = H[rv + i] = 1;
      E.bnForward(cfg, x, z, y, -1, -1, mean, invstd, rm, rv, false, true, n);
      batchNormNodeForwardTs(ref, cfg, x, z, y, -1, -1, mean, invstd, rm, rv, false, true, n);
      sameBytes(H.subarray(0, 500), ref);
      if (n === 1) expect([H[mean], H[mean + 1], H[mean + 2]]).toEqual([0.125, 0, 0.25]); // sums 0.5, 0, 1 in order;
    }
  });

  it("batch-norm backward: same bytes as the TypeScript loop (odd and even plane sizes, optional outputs)", () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 5 }),
      C: fc.integer({ min: 1, max: 5 }),
      S: fc.integer({ min: 1, max: 31 }),
      gamma: fc.boolean(),
      dx: fc.boolean(),
      dg: fc.boolean(),
      shift: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(arb, valuesArb, (c, values) => {
        const cfg = { C: c.C, S: c.S, eps: 1e-5, momentum: 0.1 };
        const x = 100 + c.shift,
          dy = 1200,
          dx = c.dx ? 2400 + c.shift : -1,
          gamma = c.gamma ? 3600 : -1;
        const mean = 3700,
          invstd = 3800,
          dg = c.dg ? 3900 : -1,
          db = c.dg ? 4000 : -1;
        const finite = values.map((v) => (Number.isFinite(v) ? v : -0.25));
        check(
          H,
          finite,
          () => batchNormBackward(H, cfg, x, gamma, mean, invstd, dy, dx, dg, db, c.n),
          (R) => batchNormBackwardTs(R, cfg, x, gamma, mean, invstd, dy, dx, dg, db, c.n),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("the kernels take the wasm path on this heap and refuse ranges outside it", () => {
    const cfg = poolConfig({ C: 2, H: 4, W: 4, kernel: 2 });
    for (let i = 0; i < 64; i++) H[i] = (i * 37) % 11;
    maxPool2dForward(H, cfg, 0, 100, 200, 2);
    const R = H.slice(0, 400);
    maxPool2x2Forward(R, 4, 4, 2, 2, 0, 100, 200, 4);
    sameBytes(H.subarray(0, 400), R);
    maxPool2dBackward(H, cfg, 100, 200, 300, 2);
    expect(H[300 + R[200]]).toBe(R[100]);
    expect(() => maxPool2dForward(H, cfg, FLOATS - 10, 100, 200, 2)).toThrow(RangeError);
    expect(() => makeDenseEpilogues(be).relu(0, FLOATS - 3, 4)).toThrow(RangeError);
  });
});

describe("convolutions split between 2 threads", () => {
  // the same bytes as one thread: samples split for the forward and the stride-1 input gradient,
  // input channels split for the weight gradient (each element summed in the one-thread order)
  const cases: [string, ConvOptions, number][] = [
    ["3x3 same, 16 -> 32 channels (M2's conv2)", { C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" }, 9],
    ["3x3 same, 1 -> 16 channels (M2's conv1)", { C: 1, H: 28, W: 28, K: 16, kernel: 3, padding: "same" }, 11],
    ["5x5, stride 2, padding 1, 6 -> 12 channels", { C: 6, H: 17, W: 15, K: 12, kernel: 5, stride: 2, padding: 1 }, 23],
    ["3x3 dilation 2, odd channels", { C: 7, H: 13, W: 12, K: 13, kernel: 3, dilation: 2, padding: 2 }, 13],
  ];
  it.each(cases)("%s", (_name, o, n) => {
    const c = convConfig(o);
    const HW = c.H * c.W,
      OHW = c.OH * c.OW,
      CKK = c.C * c.kh * c.kw;
    expect(n * c.K * OHW * CKK).toBeGreaterThanOrEqual(1 << 20);
    const x = 0,
      w = x + n * c.C * HW,
      b = w + convWeightSize(c),
      y = b + c.K,
      dy = y + n * c.K * OHW;
    const dx = dy + n * c.K * OHW,
      dw = dx + n * c.C * HW,
      db = dw + convWeightSize(c),
      col = db + c.K + 16;
    const end = col + Math.max(CKK * OHW, 2 * (convWeightSize(c) + c.K * c.kh * c.kw * HW)) + 64;
    expect(end).toBeLessThan(FLOATS);
    const out: Float32Array[] = [];
    for (const be of [plain, shared]) {
      const H = be.H;
      H.fill(0);
      let s = 12345;
      for (let i = 0; i < col; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        H[i] = (s / 2 ** 32 - 0.5) * (i >= w && i < y ? 0.3 : 1);
      }
      const before = (be as WasmBackend).stats.splitCalls;
      const cfg = { ...c, colFloats: undefined };
      conv2dForward(H, be.gemm, cfg, x, w, b, y, col, n);
      conv2dBackward(H, be.gemm, cfg, x, w, dy, c.C > 1 ? dx : -1, dw, db, col, n);
      if (be === shared) expect((be as WasmBackend).stats.splitCalls - before).toBeGreaterThanOrEqual(c.C > 1 ? 2 : 1);
      out.push(H.slice(0, col));
    }
    sameBytes(out[1], out[0]);
  });
});
