// Normalization kernels: gradients against central finite differences of L = sum(y * r)
// (float64 heap, tiny random shapes), and the identities GN(G=1) = LN, BN(dense) = BN(S=1).
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  batchNormForwardTrain,
  batchNormBackward,
  layerNormForward,
  layerNormBackward,
  groupNormForward,
  groupNormBackward,
  weightNormForward,
  weightNormBackward,
} from "../runtime/kernels/norm";
import { Rng } from "../runtime/rng";
import { Heap, expectClose } from "./reference/conv_norm/harness";

// One normalization op bound to a heap: forward() writes y, backward() writes grads of
// L = sum(y * r) for each (param, grad, len) in `wrt`.
interface Op {
  hp: Heap;
  y: number;
  ylen: number;
  r: number;
  forward(): void;
  backward(): void;
  wrt: [string, number, number, number][];
}

function checkFiniteDifferences(op: Op, tag: string): void {
  const loss = (): number => {
    op.forward();
    let s = 0;
    for (let i = 0; i < op.ylen; i++) s += op.hp.H[op.y + i] * op.hp.H[op.r + i];
    return s;
  };
  op.forward();
  op.backward();
  const H = op.hp.H;
  const h = 1e-5;
  for (const [name, p, g, len] of op.wrt) {
    const want: number[] = [];
    const got = op.hp.get(g, len);
    for (let i = 0; i < len; i++) {
      const v = H[p + i];
      H[p + i] = v + h;
      const lp = loss();
      H[p + i] = v - h;
      const lm = loss();
      H[p + i] = v;
      want.push((lp - lm) / (2 * h));
    }
    expectClose(got, want, `${tag} d${name}`, 1e-5, 1e-6);
  }
}

function fillNormal(hp: Heap, o: number, len: number, rng: Rng, scale = 1, shift = 0): void {
  for (let i = 0; i < len; i++) hp.H[o + i] = shift + scale * rng.normal();
}

const shape = fc.record({
  n: fc.integer({ min: 2, max: 4 }),
  G: fc.integer({ min: 1, max: 3 }),
  cg: fc.integer({ min: 1, max: 2 }),
  S: fc.integer({ min: 1, max: 4 }),
  affine: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 20 }),
});

describe("norm gradients match central finite differences", () => {
  it("batch norm (dense when S = 1, per channel otherwise)", () => {
    fc.assert(
      fc.property(shape, ({ n, G, cg, S, affine, seed }) => {
        const C = G * cg;
        const len = n * C * S;
        const hp = new Heap(8 * len + 16 * C, true);
        const rng = new Rng(seed, 1);
        const cfg = { C, S, eps: 1e-5, momentum: 0.1 };
        const x = hp.alloc(len);
        const r = hp.alloc(len);
        const gamma = hp.alloc(C);
        const beta = hp.alloc(C);
        fillNormal(hp, x, len, rng, 2, 1);
        fillNormal(hp, r, len, rng);
        fillNormal(hp, gamma, C, rng, 0.5, 1);
        fillNormal(hp, beta, C, rng);
        const [y, dx] = [hp.alloc(len), hp.alloc(len)];
        const [mean, invstd, dgamma, dbeta] = [hp.alloc(C), hp.alloc(C), hp.alloc(C), hp.alloc(C)];
        const gm = affine ? gamma : -1;
        const bt = affine ? beta : -1;
        checkFiniteDifferences(
          {
            hp,
            y,
            ylen: len,
            r,
            forward: () => batchNormForwardTrain(hp.H, cfg, x, gm, bt, y, mean, invstd, -1, -1, n),
            backward: () => batchNormBackward(hp.H, cfg, x, gm, mean, invstd, r, dx, affine ? dgamma : -1, affine ? dbeta : -1, n),
            wrt: [
              ["x", x, dx, len],
              ...(affine
                ? ([
                    ["gamma", gamma, dgamma, C],
                    ["beta", beta, dbeta, C],
                  ] as [string, number, number, number][])
                : []),
            ],
          },
          `BN n=${n} C=${C} S=${S}`,
        );
      }),
      { numRuns: 40, seed: 1 },
    );
  });

  it("layer norm (per-element affine)", () => {
    fc.assert(
      fc.property(shape, ({ n, G, cg, S, affine, seed }) => {
        const D = G * cg * S + 1;
        const len = n * D;
        const hp = new Heap(8 * len + 8 * D, true);
        const rng = new Rng(seed, 2);
        const cfg = { D, eps: 1e-5 };
        const x = hp.alloc(len);
        const r = hp.alloc(len);
        const gamma = hp.alloc(D);
        const beta = hp.alloc(D);
        fillNormal(hp, x, len, rng, 2, -1);
        fillNormal(hp, r, len, rng);
        fillNormal(hp, gamma, D, rng, 0.5, 1);
        fillNormal(hp, beta, D, rng);
        const [y, dx, dgamma, dbeta] = [hp.alloc(len), hp.alloc(len), hp.alloc(D), hp.alloc(D)];
        const [mean, invstd] = [hp.alloc(n), hp.alloc(n)];
        const gm = affine ? gamma : -1;
        const bt = affine ? beta : -1;
        checkFiniteDifferences(
          {
            hp,
            y,
            ylen: len,
            r,
            forward: () => layerNormForward(hp.H, cfg, x, gm, bt, y, mean, invstd, n),
            backward: () => layerNormBackward(hp.H, cfg, x, gm, mean, invstd, r, dx, affine ? dgamma : -1, affine ? dbeta : -1, n),
            wrt: [
              ["x", x, dx, len],
              ...(affine
                ? ([
                    ["gamma", gamma, dgamma, D],
                    ["beta", beta, dbeta, D],
                  ] as [string, number, number, number][])
                : []),
            ],
          },
          `LN n=${n} D=${D}`,
        );
      }),
      { numRuns: 40, seed: 2 },
    );
  });

  it("group norm (per-channel affine; G = C is instance norm)", () => {
    fc.assert(
      fc.property(shape, ({ n, G, cg, S, affine, seed }) => {
        const C = G * cg;
        const len = n * C * S;
        if (cg * S < 2) return; // a one-value group has zero variance: not differentiable in a useful way
        const hp = new Heap(8 * len + 8 * C + 4 * n * G, true);
        const rng = new Rng(seed, 3);
        const cfg = { C, S, G, eps: 1e-5 };
        const x = hp.alloc(len);
        const r = hp.alloc(len);
        const gamma = hp.alloc(C);
        const beta = hp.alloc(C);
        fillNormal(hp, x, len, rng, 2, 0.5);
        fillNormal(hp, r, len, rng);
        fillNormal(hp, gamma, C, rng, 0.5, 1);
        fillNormal(hp, beta, C, rng);
        const [y, dx, dgamma, dbeta] = [hp.alloc(len), hp.alloc(len), hp.alloc(C), hp.alloc(C)];
        const [mean, invstd] = [hp.alloc(n * G), hp.alloc(n * G)];
        const gm = affine ? gamma : -1;
        const bt = affine ? beta : -1;
        checkFiniteDifferences(
          {
            hp,
            y,
            ylen: len,
            r,
            forward: () => groupNormForward(hp.H, cfg, x, gm, bt, y, mean, invstd, n),
            backward: () => groupNormBackward(hp.H, cfg, x, gm, mean, invstd, r, dx, affine ? dgamma : -1, affine ? dbeta : -1, n),
            wrt: [
              ["x", x, dx, len],
              ...(affine
                ? ([
                    ["gamma", gamma, dgamma, C],
                    ["beta", beta, dbeta, C],
                  ] as [string, number, number, number][])
                : []),
            ],
          },
          `GN n=${n} C=${C} G=${G} S=${S}`,
        );
      }),
      { numRuns: 40, seed: 3 },
    );
  });

  it("weight norm (g and v)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1 << 20 }), (out, inn, seed) => {
        const len = out * inn;
        const hp = new Heap(8 * len + 8 * out, true);
        const rng = new Rng(seed, 4);
        const cfg = { out, inn };
        const g = hp.alloc(out);
        const v = hp.alloc(len);
        const r = hp.alloc(len);
        fillNormal(hp, g, out, rng, 0.5, 1);
        fillNormal(hp, v, len, rng, 1, 0.3);
        fillNormal(hp, r, len, rng);
        const [w, norm, dg, dv] = [hp.alloc(len), hp.alloc(out), hp.alloc(out), hp.alloc(len)];
        checkFiniteDifferences(
          {
            hp,
            y: w,
            ylen: len,
            r,
            forward: () => weightNormForward(hp.H, cfg, g, v, w, norm),
            backward: () => weightNormBackward(hp.H, cfg, g, v, norm, r, dg, dv),
            wrt: [
              ["g", g, dg, out],
              ["v", v, dv, len],
            ],
          },
          `WN ${out}x${inn}`,
        );
      }),
      { numRuns: 40, seed: 4 },
    );
  });
});

describe("norm identities", () => {
  it("group norm with G = 1 equals layer norm over C*S with identity affine", () => {
    fc.assert(
      fc.property(shape, ({ n, G, cg, S, seed }) => {
        const C = G * cg;
        const D = C * S;
        const len = n * D;
        const hp = new Heap(8 * len + 4 * D + 8 * n);
        const rng = new Rng(seed, 5);
        const x = hp.alloc(len);
        const dy = hp.alloc(len);
        fillNormal(hp, x, len, rng, 3, 1);
        fillNormal(hp, dy, len, rng);
        const ones = hp.alloc(D, 1);
        const zeros = hp.alloc(D, 0);
        const [y1, dx1, y2, dx2] = [hp.alloc(len), hp.alloc(len), hp.alloc(len), hp.alloc(len)];
        const [m1, s1, m2, s2] = [hp.alloc(n), hp.alloc(n), hp.alloc(n), hp.alloc(n)];
        const gn = { C, S, G: 1, eps: 1e-5 };
        groupNormForward(hp.H, gn, x, ones, zeros, y1, m1, s1, n);
        groupNormBackward(hp.H, gn, x, ones, m1, s1, dy, dx1, -1, -1, n);
        const ln = { D, eps: 1e-5 };
        layerNormForward(hp.H, ln, x, ones, zeros, y2, m2, s2, n);
        layerNormBackward(hp.H, ln, x, ones, m2, s2, dy, dx2, -1, -1, n);
        expectClose(hp.get(y1, len), hp.get(y2, len), "y");
        expectClose(hp.get(dx1, len), hp.get(dx2, len), "dx");
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  it("batch norm training output has zero mean and unit biased variance per channel", () => {
    const n = 5,
      C = 3,
      S = 4;
    const hp = new Heap(1024);
    const rng = new Rng(9, 9);
    const x = hp.alloc(n * C * S);
    fillNormal(hp, x, n * C * S, rng, 4, 2);
    const y = hp.alloc(n * C * S);
    const [mean, invstd] = [hp.alloc(C), hp.alloc(C)];
    batchNormForwardTrain(hp.H, { C, S, eps: 0, momentum: 0.1 }, x, -1, -1, y, mean, invstd, -1, -1, n);
    for (let c = 0; c < C; c++) {
      let s = 0,
        q = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < S; j++) s += hp.H[y + (i * C + c) * S + j];
      for (let i = 0; i < n; i++) for (let j = 0; j < S; j++) q += hp.H[y + (i * C + c) * S + j] ** 2;
      expect(Math.abs(s / (n * S))).toBeLessThan(1e-6);
      expect(q / (n * S)).toBeCloseTo(1, 5);
    }
  });
});
