// Batch norm's one-pass statistics (sums of x - x0 and its square, x0 the channel's first value)
// against a float64 two-pass reference, on data with large offsets, small and large spreads, and
// an outlier as the first value (the shift the one-pass sums use), and the training forward's
// outputs and running buffers against the same reference.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { batchNormForwardTrain } from "../runtime/kernels/norm";
import { Heap, expectClose } from "./reference/conv_norm/harness";

// mean, biased variance and unbiased variance of channel ch of x (n, C, S), two passes, float64
function twoPass(x: ArrayLike<number>, n: number, C: number, S: number, ch: number): [number, number, number] {
  const m = n * S;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < S; j++) s += x[(i * C + ch) * S + j];
  const mu = s / m;
  let q = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < S; j++) {
      const d = x[(i * C + ch) * S + j] - mu;
      q += d * d;
    }
  return [mu, q / m, m > 1 ? q / (m - 1) : q / m];
}

describe("batch norm one-pass statistics", () => {
  it("match a float64 two-pass reference (offsets, spreads, outlier first values)", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 4 }),
          C: fc.integer({ min: 1, max: 3 }),
          S: fc.integer({ min: 1, max: 13 }),
          offset: fc.constantFrom(0, 3, -250, 1e4),
          spread: fc.constantFrom(1e-2, 1, 50),
          outlier: fc.constantFrom(0, 100, -1e4),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        ({ n, C, S, offset, spread, outlier, seed }) => {
          const len = n * C * S;
          let r = seed >>> 0;
          const x = new Float32Array(len);
          for (let i = 0; i < len; i++) {
            r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
            x[i] = offset + spread * (r / 2 ** 32 - 0.5);
          }
          for (let ch = 0; ch < C; ch++) x[ch * S] += outlier;
          const hp = new Heap(3 * len + 8 * C + 16);
          const xo = hp.put(x);
          const y = hp.alloc(len);
          const [mean, invstd, rm, rv, g, b] = [0, 1, 2, 3, 4, 5].map(() => hp.alloc(C));
          for (let ch = 0; ch < C; ch++) {
            hp.H[rm + ch] = 0.5;
            hp.H[rv + ch] = 2;
            hp.H[g + ch] = 1 + ch;
            hp.H[b + ch] = -ch;
          }
          const eps = 1e-5;
          batchNormForwardTrain(hp.H, { C, S, eps, momentum: 0.1 }, xo, g, b, y, mean, invstd, rm, rv, n);
          const want = { mean: [] as number[], invstd: [] as number[], rm: [] as number[], rv: [] as number[], y: new Array<number>(len) };
          for (let ch = 0; ch < C; ch++) {
            const [mu, v, vu] = twoPass(x, n, C, S, ch);
            const is = 1 / Math.sqrt(v + eps);
            want.mean.push(mu);
            want.invstd.push(is);
            want.rm.push(0.9 * 0.5 + 0.1 * mu);
            want.rv.push(0.9 * 2 + 0.1 * vu);
            for (let i = 0; i < n; i++)
              for (let j = 0; j < S; j++) {
                const k = (i * C + ch) * S + j;
                want.y[k] = (1 + ch) * (x[k] - mu) * is - ch;
              }
          }
          const tag = JSON.stringify({ n, C, S, offset, spread, outlier });
          expectClose(hp.get(mean, C), want.mean, `mean ${tag}`, 1e-6, 1e-7);
          expectClose(hp.get(rm, C), want.rm, `running mean ${tag}`, 1e-6, 1e-7);
          // variance, relative to itself (x - x0 is exact in float64; without the shift, an
          // offset of 1e4 with a spread of 1e-2 loses ~1e-3 of it to cancellation)
          for (let ch = 0; ch < C; ch++) {
            const v = 1 / hp.H[invstd + ch] ** 2 - eps;
            const wv = 1 / want.invstd[ch] ** 2 - eps;
            expect(Math.abs(v - wv), `variance ${tag}`).toBeLessThanOrEqual(1e-4 * wv + 1e-9);
          }
          expectClose(hp.get(rv, C), want.rv, `running variance ${tag}`, 1e-4, 1e-6);
          expectClose(hp.get(y, len), want.y, `y ${tag}`, 1e-3, 1e-3);
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
