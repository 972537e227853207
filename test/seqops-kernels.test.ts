// The sequence kernels against their naive references on random configurations (fast-check):
// conv1d (im2col + GEMM, in chunks of samples, on the TypeScript and the wasm GEMM), embedding,
// maxpool1d/avgpool1d, the pools over time and last; each with and without padded lengths (time
// maps included); each touches nothing but its outputs and scratch; an empty sample gives zeros.
// Also: the length maps equal the output-length formulas, and a bad token id is an error naming it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  conv1dBackward,
  conv1dBackwardNaive,
  conv1dChunk,
  conv1dForward,
  conv1dForwardNaive,
  conv1dLength,
  conv1dScratchSize,
  conv1dValidRows,
} from "../runtime/kernels/conv1d";
import type { Conv1dConfig } from "../runtime/kernels/conv1d";
import { embeddingBackward, embeddingBackwardNaive, embeddingForward, embeddingForwardNaive, type EmbeddingConfig } from "../runtime/kernels/embedding";
import {
  avgPool1dBackward,
  avgPool1dBackwardNaive,
  avgPool1dForward,
  avgPool1dForwardNaive,
  maxPool1dBackward,
  maxPool1dForward,
  maxPool1dForwardNaive,
  pool1dLength,
  type Pool1dConfig,
} from "../runtime/kernels/pool1d";
import {
  timeAvgPoolBackward,
  timeAvgPoolBackwardNaive,
  timeAvgPoolForward,
  timeAvgPoolForwardNaive,
  timeMaxPoolBackward,
  timeMaxPoolForward,
  timeMaxPoolForwardNaive,
} from "../runtime/kernels/global-pool";
import {
  lastBackward,
  lastBackwardNaive,
  lastForward,
  lastForwardNaive,
  seqLength,
  validLength,
  zeroPadded,
  zeroPaddedNaive,
} from "../runtime/kernels/sequence";
import { makeGemm } from "../runtime/kernels/gemm";
import { createBackend, type ClosableBackend } from "../runtime/backend-create";
import { DnncError } from "../runtime/errors";
import { Rng } from "../runtime/rng";
import type { GemmFn } from "../runtime/backend";
import { closeTo } from "./seqops-helpers";

/** Regions of a heap laid out one after another, with a guard value everywhere else. */
class Heap {
  H: Float32Array;
  private top = 16;
  constructor(floats: number, H?: Float32Array) {
    this.H = H ?? new Float32Array(floats);
    this.H.fill(7.25);
  }
  take(size: number): number {
    const o = this.top;
    this.top += size + 16;
    if (this.top > this.H.length) throw new Error("test heap too small");
    return o;
  }
  fill(o: number, size: number, rng: Rng, lo = -1, hi = 1): number {
    for (let i = 0; i < size; i++) this.H[o + i] = rng.range(lo, hi);
    return o;
  }
  /** Offsets outside `allowed` ([offset, size] regions) that no longer hold the guard. */
  touched(allowed: [number, number][]): number[] {
    const bad: number[] = [];
    for (let i = 0; i < this.top; i++) if (this.H[i] !== 7.25 && !allowed.some(([o, s]) => i >= o && i < o + s)) bad.push(i);
    return bad;
  }
}

/** n lengths in [0, T] (at least one full when `full`), as floats at a fresh region. */
function putLengths(h: Heap, n: number, T: number, rng: Rng): { len: number; L: number[] } {
  const len = h.take(n);
  const L = Array.from({ length: n }, () => Math.floor(rng.range(0, T + 1)));
  h.H.set(L, len);
  return { len, L };
}

let wasm: ClosableBackend;
beforeAll(async () => {
  wasm = await createBackend(1 << 20, { backend: "wasm", threads: 1, relaxed: false });
});
afterAll(() => wasm.close());

const convArb = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  T: fc.integer({ min: 1, max: 12 }),
  cg: fc.integer({ min: 1, max: 3 }),
  kg: fc.integer({ min: 1, max: 3 }),
  groups: fc.integer({ min: 1, max: 3 }),
  k: fc.integer({ min: 1, max: 4 }),
  s: fc.integer({ min: 1, max: 3 }),
  p: fc.integer({ min: 0, max: 2 }),
  d: fc.integer({ min: 1, max: 2 }),
  chunk: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
  padded: fc.boolean(),
  mapped: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  onWasm: fc.boolean(),
});

describe("conv1d: im2col + GEMM equals the direct loops", () => {
  it("forward and backward, random configurations, chunks, groups, lengths", () => {
    fc.assert(
      fc.property(convArb, (a) => {
        const C = a.cg * a.groups;
        const K = a.kg * a.groups;
        const OT = conv1dLength(a.T, a.k, a.s, a.p, a.d);
        fc.pre(OT >= 1);
        const rng = new Rng(a.seed, 1);
        // a time map before this layer (as after a stride-2 pool) when `mapped`
        const maps = a.mapped ? [-2, 2] : [];
        const c: Conv1dConfig = { T: a.T, C, K, k: a.k, s: a.s, p: a.p, d: a.d, groups: a.groups, OT, chunk: Math.min(a.chunk, a.n), maps };
        const h = new Heap(1 << 16, a.onWasm ? wasm.H.subarray(0, 1 << 16) : undefined);
        const gemm: GemmFn = a.onWasm ? wasm.gemm : makeGemm(h.H);
        const x = h.fill(h.take(a.n * a.T * C), a.n * a.T * C, rng);
        const w = h.fill(h.take(K * a.cg * a.k), K * a.cg * a.k, rng);
        const b = a.bias ? h.fill(h.take(K), K, rng) : -1;
        const dy = h.fill(h.take(a.n * OT * K), a.n * OT * K, rng);
        const { len } = a.padded ? putLengths(h, a.n, 2 * a.T, rng) : { len: -1 };
        // dy's padded rows are zero, as the layer's seqmask leaves them (the kernels take them as zero)
        if (len >= 0) for (let bb = 0; bb < a.n; bb++) h.H.fill(0, dy + (bb * OT + conv1dValidRows(h.H, c, len, bb)) * K, dy + (bb + 1) * OT * K);
        const col = h.take(conv1dScratchSize(c));
        const y = h.take(a.n * OT * K);
        const y0 = h.take(a.n * OT * K);
        const dx = h.take(a.n * a.T * C);
        const dx0 = h.take(a.n * a.T * C);
        const dw = h.take(K * a.cg * a.k);
        const dw0 = h.take(K * a.cg * a.k);
        const db = h.take(K);
        const db0 = h.take(K);
        conv1dForward(h.H, gemm, c, x, w, b, y, col, a.n, len);
        conv1dForwardNaive(h.H, c, x, w, b, y0, a.n, len);
        conv1dBackward(h.H, gemm, c, x, w, dy, dx, dw, a.bias ? db : -1, col, a.n, len);
        conv1dBackwardNaive(h.H, c, x, w, dy, dx0, dw0, a.bias ? db0 : -1, a.n, len);
        const sub = (o: number, s: number) => h.H.slice(o, o + s);
        expect(closeTo(sub(y, a.n * OT * K), sub(y0, a.n * OT * K), 1e-5), "y").toBeUndefined();
        expect(closeTo(sub(dx, a.n * a.T * C), sub(dx0, a.n * a.T * C), 1e-5), "dx").toBeUndefined();
        expect(closeTo(sub(dw, K * a.cg * a.k), sub(dw0, K * a.cg * a.k), 1e-5), "dw").toBeUndefined();
        if (a.bias) expect(closeTo(sub(db, K), sub(db0, K), 1e-5), "db").toBeUndefined();
        const outs: [number, number][] = [
          [col, conv1dScratchSize(c)],
          [y, a.n * OT * K],
          [y0, a.n * OT * K],
          [dx, a.n * a.T * C],
          [dx0, a.n * a.T * C],
          [dw, K * a.cg * a.k],
          [dw0, K * a.cg * a.k],
          [db, K],
          [db0, K],
        ];
        expect(
          h.touched([
            [x, a.n * a.T * C],
            [w, K * a.cg * a.k],
            ...(b >= 0 ? [[b, K] as [number, number]] : []),
            [dy, a.n * OT * K],
            ...(len >= 0 ? [[len, a.n] as [number, number]] : []),
            ...outs,
          ]),
        ).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("chunks of samples: the batch in as few chunks as 2^20 floats of columns allow, split evenly", () => {
    const base = { T: 64, C: 128, K: 128, k: 5, s: 1, p: 2, d: 1, groups: 1, OT: 64, maps: [] };
    expect(conv1dChunk(base, 32)).toBe(16); // 25 samples' columns fit (64·640 floats each): 2 chunks of 16
    expect(conv1dChunk(base, 20)).toBe(20);
    expect(conv1dChunk({ ...base, T: 1000, OT: 1000 }, 32)).toBe(1);
  });
});

describe("embedding: row copies and scatters equal the one-hot products", () => {
  it("forward and backward, with padding_idx, repeated ids and lengths", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 4 }),
          T: fc.integer({ min: 1, max: 9 }),
          vocab: fc.integer({ min: 1, max: 7 }),
          dim: fc.integer({ min: 1, max: 6 }),
          pad: fc.boolean(),
          padded: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        (a) => {
          const rng = new Rng(a.seed, 2);
          const c: EmbeddingConfig = { T: a.T, vocab: a.vocab, dim: a.dim, pad: a.pad ? Math.floor(rng.range(0, a.vocab)) : -1, what: "embedding_0" };
          const h = new Heap(1 << 14);
          const ids = h.take(a.n * a.T);
          for (let i = 0; i < a.n * a.T; i++) h.H[ids + i] = Math.floor(rng.range(0, a.vocab));
          const { len, L } = a.padded ? putLengths(h, a.n, a.T, rng) : { len: -1, L: [] };
          // past each length: ids that are no token at all (never read)
          for (let b = 0; b < L.length; b++) for (let t = L[b]; t < a.T; t++) h.H[ids + b * a.T + t] = t % 2 ? 1e6 : -3.5;
          const w = h.fill(h.take(a.vocab * a.dim), a.vocab * a.dim, rng);
          const dy = h.fill(h.take(a.n * a.T * a.dim), a.n * a.T * a.dim, rng);
          const [y, y0, dw, dw0] = [0, 0, 0, 0].map(() => h.take(Math.max(a.n * a.T, a.vocab) * a.dim));
          embeddingForward(h.H, c, ids, w, y, a.n, len);
          embeddingForwardNaive(h.H, c, ids, w, y0, a.n, len);
          embeddingBackward(h.H, c, ids, dy, dw, a.n, len);
          embeddingBackwardNaive(h.H, c, ids, dy, dw0, a.n, len);
          expect(h.H.slice(y, y + a.n * a.T * a.dim)).toEqual(h.H.slice(y0, y0 + a.n * a.T * a.dim));
          expect(closeTo(h.H.slice(dw, dw + a.vocab * a.dim), h.H.slice(dw0, dw0 + a.vocab * a.dim), 1e-6)).toBeUndefined();
          if (c.pad >= 0) for (let j = 0; j < a.dim; j++) expect(h.H[dw + c.pad * a.dim + j]).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("an id outside [0, vocab), not an integer or NaN is an error naming it, the layer and where", () => {
    const c: EmbeddingConfig = { T: 3, vocab: 5, dim: 2, pad: -1, what: "embedding_0 (spec line 3)" };
    for (const bad of [5, -1, 2.5, NaN, 1e9]) {
      const H = new Float32Array(64);
      H.set([0, 1, 2, 3, bad, 4], 0);
      const run = () => embeddingForward(H, c, 0, 8, 32, 2);
      expect(run).toThrow(DnncError);
      expect(run).toThrow(`embedding_0 (spec line 3): token id ${bad} (sample 1 of the batch, position 1) is not an integer in [0, 5)`);
    }
  });
});

const poolArb = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  T: fc.integer({ min: 1, max: 12 }),
  C: fc.integer({ min: 1, max: 5 }),
  k: fc.integer({ min: 1, max: 4 }),
  s: fc.integer({ min: 1, max: 3 }),
  p: fc.integer({ min: 0, max: 2 }),
  padded: fc.boolean(),
  mapped: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

describe("maxpool1d / avgpool1d: channel-inner loops equal the per-element windows", () => {
  it("random windows and lengths", () => {
    fc.assert(
      fc.property(poolArb, (a) => {
        fc.pre(2 * a.p <= a.k);
        const OT = pool1dLength(a.T, a.k, a.s, a.p);
        fc.pre(OT >= 1);
        const rng = new Rng(a.seed, 3);
        const c: Pool1dConfig = { T: a.T, C: a.C, k: a.k, s: a.s, p: a.p, OT, maps: a.mapped ? [0, 1] : [] };
        const h = new Heap(1 << 14);
        const sz = a.n * a.T * a.C;
        const osz = a.n * OT * a.C;
        const x = h.fill(h.take(sz), sz, rng);
        const dy = h.fill(h.take(osz), osz, rng);
        const { len } = a.padded ? putLengths(h, a.n, a.T, rng) : { len: -1 };
        const [y, y0, idx, idx0] = [0, 0, 0, 0].map(() => h.take(osz));
        const [dx, dx0] = [0, 0].map(() => h.take(sz));
        maxPool1dForward(h.H, c, x, y, idx, a.n, len);
        maxPool1dForwardNaive(h.H, c, x, y0, idx0, a.n, len);
        expect(h.H.slice(y, y + osz)).toEqual(h.H.slice(y0, y0 + osz));
        expect(h.H.slice(idx, idx + osz)).toEqual(h.H.slice(idx0, idx0 + osz));
        // the max's gradient: each window's dy at its argmax (summed where windows share it)
        maxPool1dBackward(h.H, c, dy, idx, dx, a.n);
        h.H.fill(0, dx0, dx0 + sz);
        for (let b = 0; b < a.n; b++)
          for (let o = 0; o < OT; o++)
            for (let ch = 0; ch < a.C; ch++) {
              const t = h.H[idx0 + (b * OT + o) * a.C + ch];
              if (t >= 0) h.H[dx0 + (b * a.T + t) * a.C + ch] += h.H[dy + (b * OT + o) * a.C + ch];
            }
        expect(h.H.slice(dx, dx + sz)).toEqual(h.H.slice(dx0, dx0 + sz));
        avgPool1dForward(h.H, c, x, y, a.n, len);
        avgPool1dForwardNaive(h.H, c, x, y0, a.n, len);
        expect(closeTo(h.H.slice(y, y + osz), h.H.slice(y0, y0 + osz), 1e-6)).toBeUndefined();
        avgPool1dBackward(h.H, c, dy, dx, a.n, len);
        avgPool1dBackwardNaive(h.H, c, dy, dx0, a.n, len);
        expect(closeTo(h.H.slice(dx, dx + sz), h.H.slice(dx0, dx0 + sz), 1e-6)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("pools over time and last", () => {
  it("equal their references, padded or not; an empty sample gives zeros and no gradient", () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 5 }),
          T: fc.integer({ min: 1, max: 10 }),
          F: fc.integer({ min: 1, max: 6 }),
          padded: fc.boolean(),
          mapped: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        (a) => {
          const rng = new Rng(a.seed, 4);
          const c = { T: a.T, F: a.F, maps: a.mapped ? [-2, 2] : [] };
          const h = new Heap(1 << 13);
          const sz = a.n * a.T * a.F;
          const osz = a.n * a.F;
          const x = h.fill(h.take(sz), sz, rng);
          const dy = h.fill(h.take(osz), osz, rng);
          const { len } = a.padded ? putLengths(h, a.n, 2 * a.T, rng) : { len: -1 };
          const [y, y0, idx, idx0] = [0, 0, 0, 0].map(() => h.take(osz));
          const [dx, dx0] = [0, 0].map(() => h.take(sz));
          const same = (p: number, q: number, s: number, tol = 0) => expect(closeTo(h.H.slice(p, p + s), h.H.slice(q, q + s), tol)).toBeUndefined();
          timeAvgPoolForward(h.H, c, x, y, a.n, len);
          timeAvgPoolForwardNaive(h.H, c, x, y0, a.n, len);
          same(y, y0, osz, 1e-6);
          timeAvgPoolBackward(h.H, c, dy, dx, a.n, len);
          timeAvgPoolBackwardNaive(h.H, c, dy, dx0, a.n, len);
          same(dx, dx0, sz);
          timeMaxPoolForward(h.H, c, x, y, idx, a.n, len);
          timeMaxPoolForwardNaive(h.H, c, x, y0, idx0, a.n, len);
          same(y, y0, osz);
          same(idx, idx0, osz);
          timeMaxPoolBackward(h.H, c, dy, idx, dx, a.n);
          for (let b = 0; b < a.n; b++) {
            const L = validLength(h.H, len, b, c.maps, a.T);
            for (let t = 0; t < a.T; t++)
              for (let f = 0; f < a.F; f++) {
                const want = t === h.H[idx0 + b * a.F + f] ? h.H[dy + b * a.F + f] : 0;
                expect(h.H[dx + (b * a.T + t) * a.F + f]).toBe(want);
                if (t >= L) expect(want).toBe(0);
              }
            if (L === 0) for (let f = 0; f < a.F; f++) expect(h.H[y + b * a.F + f]).toBe(0);
          }
          lastForward(h.H, c, x, y, a.n, len);
          lastForwardNaive(h.H, c, x, y0, a.n, len);
          same(y, y0, osz);
          lastBackward(h.H, c, dy, dx, a.n, len);
          lastBackwardNaive(h.H, c, dy, dx0, a.n, len);
          same(dx, dx0, sz);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("time maps", () => {
  it("the length of the full sequence through a chain of maps is the chain's output length; 0 stays 0; monotone", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(
          fc.record({
            conv: fc.boolean(),
            k: fc.integer({ min: 1, max: 5 }),
            s: fc.integer({ min: 1, max: 3 }),
            p: fc.integer({ min: 0, max: 2 }),
            d: fc.integer({ min: 1, max: 3 }),
          }),
          {
            maxLength: 4,
          },
        ),
        (T, layers) => {
          let len = T;
          const maps: number[] = [];
          for (const l of layers) {
            const next = l.conv ? conv1dLength(len, l.k, l.s, l.p, l.d) : pool1dLength(len, l.k, l.s, l.p);
            fc.pre(next >= 1);
            maps.push(l.conv ? 2 * l.p - l.d * (l.k - 1) - 1 : 2 * l.p - l.k, l.s);
            len = next;
          }
          expect(seqLength(T, maps)).toBe(len);
          expect(seqLength(0, maps)).toBe(0);
          for (let L = 1; L <= T; L++) expect(seqLength(L, maps)).toBeGreaterThanOrEqual(seqLength(L - 1, maps));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("zeroPadded (the seqmask tail as one fill per sample)", () => {
  it("equals the per-element test on random lengths (0..beyond T) and maps, NaN and -0 in the data; the valid positions keep their bytes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<number[]>([], [-2, 2], [-3, 1, -2, 2], [0, 1]),
        fc.integer({ min: 0, max: 1000 }),
        (n, T, F, maps, seed) => {
          const rng = new Rng(seed, 3);
          const L = n * T * F + 4; // lengths after the data
          const H = Float32Array.from({ length: L + n }, () => rng.range(-2, 2));
          for (let i = 0; i < n * T * F; i += 7) H[i] = i % 2 ? NaN : -0;
          for (let b = 0; b < n; b++) H[L + b] = Math.floor(rng.range(0, 2 * T + 2));
          const a = H.slice();
          const want = H.slice();
          zeroPadded(a, 0, n, T, F, L, maps);
          zeroPaddedNaive(want, 0, n, T, F, L, maps);
          expect(Buffer.from(a.buffer).equals(Buffer.from(want.buffer))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
