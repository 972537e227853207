// Attention kernels (runtime/kernels/attention.ts): the fast GEMM-based forward and backward equal
// the naive float64 oracle (runtime/kernels/attention-reference.ts) on random configurations
// (fast-check: n = 1, T = 1, one head or several, causal or not, padded lengths including 0,
// dropout in training with the same regenerated mask, with the blocked GEMM, the naive one and the
// wasm backend's), write nothing outside their output, dx, parameter gradients and areas; a padded
// position changes nothing (garbage there leaves the valid outputs and gradients unchanged); the
// oracle's gradients match central finite differences; the forward is deterministic.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeGemm } from "../runtime/kernels/gemm";
import { createBackend } from "../runtime/backend-create";
import { attentionBackward, attentionForward, attentionPlan, type AttentionConfig, type AttentionShape } from "../runtime/kernels/attention";
import { attentionReference } from "../runtime/kernels/attention-reference";
import type { GemmFn } from "../runtime/backend";

const wasm = await createBackend(1 << 18, { backend: "wasm" });
afterAll(() => wasm.close());

interface Case {
  s: AttentionShape;
  n: number;
  lengths: number[] | null;
  seed: number;
  train: boolean;
}

/** A small deterministic generator of values in [-1, 1). */
function values(seed: number, len: number, scale = 1): Float32Array {
  let st = seed >>> 0 || 1;
  const v = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    v[i] = Math.fround(((st >>> 8) / (1 << 24)) * 2 - 1) * scale;
  }
  return v;
}

/** The heap layout of one case: parameters, gradients, x, y, dy, dx, lengths, the layer's areas, and a guard band after each. */
function layout(k: Case) {
  const { T, F } = k.s;
  const B = k.n;
  let top = 16;
  const take = (len: number) => {
    const o = top;
    top += len + 16;
    return o;
  };
  const win = take(3 * F * F),
    bin = take(3 * F),
    wout = take(F * F),
    bout = take(F);
  const gwin = take(3 * F * F),
    gbin = take(3 * F),
    gwout = take(F * F),
    gbout = take(F);
  const x = take(B * T * F),
    y = take(B * T * F),
    dy = take(B * T * F),
    dx = take(B * T * F),
    len = take(B);
  const sizes = attentionPlan(k.s, B, { save: 0, tmp: 0 });
  const save = take(sizes.saveFloats);
  const tmp = take(sizes.tmpFloats);
  const plan = attentionPlan(k.s, B, { save, tmp });
  const bias = k.s.bias;
  const cfg: AttentionConfig = {
    ...k.s,
    maps: [],
    stream: 77,
    win,
    bin: bias ? bin : -1,
    wout,
    bout: bias ? bout : -1,
    gwin,
    gbin: bias ? gbin : -1,
    gwout,
    gbout: bias ? gbout : -1,
    ...plan,
  };
  return { cfg, x, y, dy, dx, len, total: top, areas: [save, sizes.saveFloats, tmp, sizes.tmpFloats] };
}

/** Run the fast kernels on H with gemm: y and every gradient. */
function runFast(H: Float32Array, gemm: GemmFn, k: Case, withDx: boolean) {
  const L = layout(k);
  const { T, F } = k.s;
  const c = L.cfg;
  H.fill(NaN); // nothing may read what it did not write
  const w = weights(k);
  H.set(w.win, c.win);
  H.set(w.wout, c.wout);
  if (k.s.bias) {
    H.set(w.bin, L.cfg.bin);
    H.set(w.bout, L.cfg.bout);
  }
  const x = values(k.seed + 5, k.n * T * F);
  const dy = values(k.seed + 6, k.n * T * F);
  H.set(x, L.x);
  H.set(dy, L.dy);
  if (k.lengths) H.set(k.lengths, L.len);
  const lenArg = k.lengths ? L.len : -1;
  attentionForward(H, gemm, c, L.x, L.y, k.n, lenArg, k.train, 1234, 9);
  const y = Float32Array.from(H.subarray(L.y, L.y + k.n * T * F));
  attentionBackward(H, gemm, c, L.x, L.dy, withDx ? L.dx : -1, k.n, lenArg, 1234, 9);
  const g = (o: number, len: number) => Float32Array.from(H.subarray(o, o + len));
  return {
    y,
    dx: withDx ? g(L.dx, k.n * T * F) : undefined,
    gwin: g(c.gwin, 3 * F * F),
    gbin: k.s.bias ? g(c.gbin, 3 * F) : undefined,
    gwout: g(c.gwout, F * F),
    gbout: k.s.bias ? g(c.gbout, F) : undefined,
    x,
    dy,
    L,
  };
}

function weights(k: Case) {
  const F = k.s.F;
  return {
    win: values(k.seed + 1, 3 * F * F, 0.6),
    bin: values(k.seed + 2, 3 * F, 0.3),
    wout: values(k.seed + 3, F * F, 0.6),
    bout: values(k.seed + 4, F, 0.3),
  };
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i]));
    if (!ok) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 7 }),
    heads: fc.integer({ min: 1, max: 3 }),
    dh: fc.integer({ min: 1, max: 5 }),
    causal: fc.boolean(),
    bias: fc.boolean(),
    padded: fc.boolean(),
    lenDraws: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 3, maxLength: 3 }),
    p: fc.constantFrom(0, 0, 0.3),
    train: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((r) => ({
    s: { T: r.T, F: r.heads * r.dh, heads: r.heads, causal: r.causal, p: r.p, bias: r.bias },
    n: r.n,
    lengths: r.padded ? Array.from({ length: r.n }, (_, b) => r.lenDraws[b] % (r.T + 1)) : null,
    seed: r.seed,
    train: r.train,
  }));

function checkAgainstReference(H: Float32Array, gemm: GemmFn, k: Case) {
  const f = runFast(H, gemm, k, true);
  const w = weights(k);
  const ref = attentionReference(
    k.s,
    k.s.bias ? w : { win: w.win, wout: w.wout },
    f.x,
    k.n,
    k.lengths,
    k.train ? { seed: 1234, stream: 77, step: 9 } : undefined,
    f.dy,
  );
  close(f.y, ref.y, 2e-5, "y");
  if (!k.train) return; // backward reads the training forward (its dropout mask)
  close(f.dx!, ref.dx!, 5e-5, "dx");
  close(f.gwin, ref.gwin!, 5e-5, "in_proj_weight grad");
  close(f.gwout, ref.gwout!, 5e-5, "out_proj.weight grad");
  if (k.s.bias) {
    close(f.gbin!, ref.gbin!, 5e-5, "in_proj_bias grad");
    close(f.gbout!, ref.gbout!, 5e-5, "out_proj.bias grad");
  }
  // nothing written outside the outputs, gradients and areas: the guard bands are still NaN
  const L = f.L;
  for (const o of [
    L.cfg.win + 3 * k.s.F * k.s.F,
    L.cfg.gwin + 3 * k.s.F * k.s.F,
    L.y + k.n * k.s.T * k.s.F,
    L.dx + k.n * k.s.T * k.s.F,
    L.areas[0] + L.areas[1],
    L.areas[2] + L.areas[3],
  ])
    for (let i = 0; i < 16; i++) expect(Number.isNaN(H[o + i]), `guard after ${o}`).toBe(true);
}

describe("attention kernels: fast equals the naive oracle", () => {
  it("random configurations, blocked GEMM", () => {
    const H = new Float32Array(1 << 16);
    fc.assert(
      fc.property(arbCase, (k) => {
        checkAgainstReference(H, makeGemm(H, "blocked"), { ...k, train: true });
        checkAgainstReference(H, makeGemm(H, "blocked"), { ...k, train: false });
      }),
      { numRuns: 120, seed: 19 },
    );
  });

  it("random configurations, naive GEMM and the wasm backend's GEMM", () => {
    const H = new Float32Array(1 << 16);
    fc.assert(
      fc.property(arbCase, (k) => {
        checkAgainstReference(H, makeGemm(H, "naive"), { ...k, train: true });
        checkAgainstReference(wasm.H, wasm.gemm, { ...k, train: true });
      }),
      { numRuns: 40, seed: 20 },
    );
  });

  it("a larger case: T = 33, 4 heads of 8, causal, padded", () => {
    const H = new Float32Array(1 << 18);
    checkAgainstReference(H, makeGemm(H, "blocked"), {
      s: { T: 33, F: 32, heads: 4, causal: true, p: 0, bias: true },
      n: 3,
      lengths: [33, 17, 1],
      seed: 5,
      train: true,
    });
  });

  it("a padded position changes nothing: garbage past each length leaves the valid outputs and every gradient as they were", () => {
    const H = new Float32Array(1 << 16);
    const gemm = makeGemm(H, "blocked");
    for (const causal of [false, true]) {
      const k: Case = { s: { T: 6, F: 6, heads: 2, causal, p: 0, bias: true }, n: 3, lengths: [6, 2, 4], seed: 11, train: true };
      const L = layout(k);
      const { T, F } = k.s;
      const run = (garbage: number) => {
        H.fill(0);
        const w = weights(k);
        H.set(w.win, L.cfg.win);
        H.set(w.bin, L.cfg.bin);
        H.set(w.wout, L.cfg.wout);
        H.set(w.bout, L.cfg.bout);
        const x = values(3, k.n * T * F);
        const dy = values(4, k.n * T * F);
        for (let b = 0; b < k.n; b++)
          for (let t = k.lengths![b]; t < T; t++)
            for (let f = 0; f < F; f++) {
              x[(b * T + t) * F + f] = garbage;
              dy[(b * T + t) * F + f] = 0; // (the seqmask tail zeroes the gradient at padded positions)
            }
        H.set(x, L.x);
        H.set(dy, L.dy);
        H.set(k.lengths!, L.len);
        attentionForward(H, gemm, L.cfg, L.x, L.y, k.n, L.len, true, 1, 1);
        attentionBackward(H, gemm, L.cfg, L.x, L.dy, L.dx, k.n, L.len, 1, 1);
        const valid: number[] = [];
        const dxv: number[] = [];
        for (let b = 0; b < k.n; b++)
          for (let t = 0; t < k.lengths![b]; t++)
            for (let f = 0; f < F; f++) {
              valid.push(H[L.y + (b * T + t) * F + f]);
              dxv.push(H[L.dx + (b * T + t) * F + f]);
            }
        return { valid, dxv, gw: Array.from(H.subarray(L.cfg.gwin, L.cfg.gwin + 3 * F * F)), gb: Array.from(H.subarray(L.cfg.gbin, L.cfg.gbin + 3 * F)) };
      };
      const a = run(0);
      const b = run(1e3);
      expect(b.valid).toEqual(a.valid);
      expect(b.dxv).toEqual(a.dxv);
      expect(b.gw).toEqual(a.gw);
      expect(b.gb).toEqual(a.gb);
      expect(a.valid.some((v) => v !== 0)).toBe(true);
    }
  });

  it("causal: the output at position t does not depend on the inputs after t", () => {
    const H = new Float32Array(1 << 16);
    const gemm = makeGemm(H, "blocked");
    const k: Case = { s: { T: 5, F: 4, heads: 2, causal: true, p: 0, bias: true }, n: 1, lengths: null, seed: 3, train: false };
    const L = layout(k);
    const w = weights(k);
    const out = (x: Float32Array) => {
      H.fill(0);
      H.set(w.win, L.cfg.win);
      H.set(w.bin, L.cfg.bin);
      H.set(w.wout, L.cfg.wout);
      H.set(w.bout, L.cfg.bout);
      H.set(x, L.x);
      attentionForward(H, gemm, L.cfg, L.x, L.y, 1, -1, false, 0, 0);
      return Array.from(H.subarray(L.y, L.y + 20));
    };
    const x = values(8, 20);
    const a = out(x);
    x.fill(7, 12); // positions 3 and 4
    const b = out(x);
    expect(b.slice(0, 12)).toEqual(a.slice(0, 12));
    expect(b.slice(12)).not.toEqual(a.slice(12));
  });

  it("dropout: about p of the weights dropped, a fresh mask per step, the identity in evaluation", () => {
    const k: Case = { s: { T: 16, F: 8, heads: 2, causal: false, p: 0.25, bias: true }, n: 2, lengths: null, seed: 3, train: true };
    const H = new Float32Array(1 << 16);
    const gemm = makeGemm(H, "blocked");
    const L = layout(k);
    const w = weights(k);
    const x = values(9, 2 * 16 * 8);
    const run = (train: boolean, step: number) => {
      H.fill(0);
      H.set(w.win, L.cfg.win);
      H.set(w.bin, L.cfg.bin);
      H.set(w.wout, L.cfg.wout);
      H.set(w.bout, L.cfg.bout);
      H.set(x, L.x);
      attentionForward(H, gemm, L.cfg, L.x, L.y, 2, -1, train, 5, step);
      // the last head's dropped weights (sample 1): the scratch holds them
      const P = Array.from(H.subarray(L.cfg.s, L.cfg.s + 256));
      return { y: Array.from(H.subarray(L.y, L.y + 256)), P };
    };
    const a = run(true, 1);
    const zeros = a.P.filter((v) => v === 0).length / 256;
    expect(zeros).toBeGreaterThan(0.15);
    expect(zeros).toBeLessThan(0.35);
    expect(run(true, 1).y).toEqual(a.y);
    expect(run(true, 2).y).not.toEqual(a.y);
    const e = run(false, 1);
    expect(e.P.some((v) => v === 0)).toBe(false);
    const ref = attentionReference(k.s, w, x, 2, null);
    close(e.y, ref.y, 2e-5, "eval y");
  });
});

describe("the attention oracle's gradients", () => {
  it("match central finite differences (float64)", () => {
    const s: AttentionShape = { T: 4, F: 4, heads: 2, causal: true, p: 0, bias: true };
    const n = 2;
    const lengths = [4, 3];
    const x = Float64Array.from(values(1, n * 16));
    const dy = Float64Array.from(values(2, n * 16));
    const w = {
      win: Float64Array.from(values(3, 48)),
      bin: Float64Array.from(values(4, 12)),
      wout: Float64Array.from(values(5, 16)),
      bout: Float64Array.from(values(6, 4)),
    };
    const loss = () => {
      const y = attentionReference(s, w, x, n, lengths).y;
      let l = 0;
      for (let i = 0; i < y.length; i++) l += y[i] * dy[i];
      return l;
    };
    const r = attentionReference(s, w, x, n, lengths, undefined, dy);
    const h = 1e-6;
    const fd = (arr: Float64Array, i: number) => {
      const v = arr[i];
      arr[i] = v + h;
      const a = loss();
      arr[i] = v - h;
      const b = loss();
      arr[i] = v;
      return (a - b) / (2 * h);
    };
    for (const [arr, grad] of [
      [x, r.dx!],
      [w.win, r.gwin!],
      [w.bin, r.gbin!],
      [w.wout, r.gwout!],
      [w.bout, r.gbout!],
    ] as const)
      for (let i = 0; i < arr.length; i++) expect(Math.abs(fd(arr, i) - grad[i])).toBeLessThan(1e-6);
  });
});
