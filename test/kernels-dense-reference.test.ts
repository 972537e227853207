// Our dense kernels against PyTorch 1.13 (cases written by test/reference/dense/make_cases.py):
// Linear forward/backward through the three GEMM calls of docs/architecture.md (both GEMMs),
// every activation forward/backward, every loss value and gradient. float32, relative 1e-4 with
// a small absolute floor for values near 0.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { gemmBlocked, gemmNaive } from "../runtime/kernels/gemm";
import { activationBackward, activationForward, erf, erfc, type ActivationKind } from "../runtime/kernels/activations";
import { bceWithLogits, huber, l1Loss, lossStats, mse, softmaxCrossEntropy } from "../runtime/kernels/losses";

const dir = new URL("./reference/dense/", import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, dir), "utf8"));

/** Every element within rel·|want| + floor; reports the first offender with its index. */
function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-4, floor = 1e-6) {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.abs(want[i]) + floor;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      expect.fail(`${what}[${i}]: got ${got[i]}, PyTorch ${want[i]} (tolerance ${tol})`);
    }
  }
}

/** A heap with the given arrays laid out one after another; returns the heap and offsets. */
function heap(parts: Record<string, number | number[]>) {
  let size = 1; // offset 0 left unused so that offset bugs show
  const off: Record<string, number> = {};
  for (const [k, v] of Object.entries(parts)) {
    off[k] = size;
    size += typeof v === "number" ? v : v.length;
  }
  const H = new Float32Array(size).fill(NaN); // outputs must be written, never read first
  for (const [k, v] of Object.entries(parts)) if (typeof v !== "number") H.set(v, off[k]);
  return { H, off };
}

describe("Linear through the three GEMM calls", () => {
  const { cases } = load("linear.json");
  for (const gemm of [gemmNaive, gemmBlocked]) {
    for (const cs of cases) {
      it(`${gemm.name}: n=${cs.n} in=${cs.in} out=${cs.out}`, () => {
        const { n, out } = cs;
        const inp = cs.in;
        const { H, off } = heap({ x: cs.x, W: cs.W, b: cs.b, dy: cs.dy, y: n * out, dx: n * inp, dW: out * inp, db: out });
        // forward: y = x Wᵀ + b
        gemm(H, 0, 1, n, out, inp, off.x, off.W, off.y, 0);
        for (let i = 0; i < n; i++) for (let j = 0; j < out; j++) H[off.y + i * out + j] += H[off.b + j];
        // input gradient: dx = dy W; weight gradient: dW = dyᵀ x; bias gradient: column sums of dy
        gemm(H, 0, 0, n, inp, out, off.dy, off.W, off.dx, 0);
        gemm(H, 1, 0, out, inp, n, off.dy, off.x, off.dW, 0);
        for (let j = 0; j < out; j++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += H[off.dy + i * out + j];
          H[off.db + j] = s;
        }
        const view = (k: string, len: number) => H.subarray(off[k], off[k] + len);
        expectClose("y", view("y", n * out), cs.y, 1e-4, 1e-5);
        expectClose("dx", view("dx", n * inp), cs.dx, 1e-4, 1e-5);
        expectClose("dW", view("dW", out * inp), cs.dW, 1e-4, 1e-5);
        expectClose("db", view("db", out), cs.db, 1e-4, 1e-5);
        // weight gradient accumulation (beta = 1) doubles it
        gemm(H, 1, 0, out, inp, n, off.dy, off.x, off.dW, 1);
        expectClose(
          "2 dW",
          view("dW", out * inp),
          cs.dW.map((v: number) => 2 * v),
          1e-4,
          2e-5,
        );
      });
    }
  }
});

describe("activations", () => {
  const ref = load("activations.json");
  for (const cs of ref.cases) {
    const kind = cs.kind as ActivationKind;
    it(`${kind}${cs.alpha === null ? "" : ` (alpha ${cs.alpha})`}: forward and backward`, () => {
      const len = cs.x.length;
      const alpha = cs.alpha ?? undefined;
      const { H, off } = heap({ x: cs.x, dy: cs.dy, y: len, dx: len });
      activationForward(kind, H, off.x, off.y, len, alpha);
      expectClose("y", H.subarray(off.y, off.y + len), cs.y);
      activationBackward(kind, H, off.x, off.y, off.dy, off.dx, len, alpha);
      expectClose("dx", H.subarray(off.dx, off.dx + len), cs.dx);
      // in place: forward y === x, backward dx === dy (x kept aside for the kinds that read it)
      const { H: G, off: o } = heap({ x: cs.x, keep: cs.x, dy: cs.dy });
      activationForward(kind, G, o.x, o.x, len, alpha);
      expectClose("y in place", G.subarray(o.x, o.x + len), cs.y);
      activationBackward(kind, G, o.keep, o.x, o.dy, o.dy, len, alpha);
      expectClose("dx in place", G.subarray(o.dy, o.dy + len), cs.dx);
    });
  }

  it("erf and erfc against float64 torch.erf/erfc: |erf error| < 1e-7, erfc relative < 1e-7", () => {
    const { z, erf: e, erfc: ec } = ref.erf;
    for (let i = 0; i < z.length; i++) {
      expect(Math.abs(erf(z[i]) - e[i]), `erf(${z[i]})`).toBeLessThan(1e-7);
      expect(Math.abs(erfc(z[i]) - ec[i]) / ec[i], `erfc(${z[i]})`).toBeLessThan(1e-7);
    }
  });
});

describe("losses", () => {
  const ref = load("losses.json");
  for (const cs of ref.crossEntropy) {
    it(`softmax cross-entropy n=${cs.n} C=${cs.classes} label smoothing ${cs.labelSmoothing}`, () => {
      const len = cs.n * cs.classes;
      const { H, off } = heap({ z: cs.logits, t: cs.labels, dz: len });
      const loss = softmaxCrossEntropy(H, off.z, off.t, off.dz, cs.n, cs.classes, cs.labelSmoothing);
      expectClose("loss", [loss], [cs.loss]);
      expect(lossStats.correct).toBe(cs.correct);
      expectClose("dlogits", H.subarray(off.dz, off.dz + len), cs.dlogits);
      // evaluation: same loss, gradient untouched
      H.fill(7, off.dz, off.dz + len);
      expectClose("eval loss", [softmaxCrossEntropy(H, off.z, off.t, -1, cs.n, cs.classes, cs.labelSmoothing)], [cs.loss]);
      expect(H[off.dz]).toBe(7);
    });
  }

  const fns = {
    bce: (H: Float32Array, p: number, t: number, d: number, n: number, k: number) => bceWithLogits(H, p, t, d, n, k),
    mse,
    l1: l1Loss,
    huber,
  };
  for (const cs of ref.pairs) {
    it(`${cs.kind}${cs.delta === undefined ? "" : ` delta ${cs.delta}`} n=${cs.n} k=${cs.k}`, () => {
      const len = cs.n * cs.k;
      const { H, off } = heap({ p: cs.pred, t: cs.target, d: len });
      const f = fns[cs.kind as keyof typeof fns];
      const loss = cs.kind === "huber" ? huber(H, off.p, off.t, off.d, cs.n, cs.k, cs.delta) : f(H, off.p, off.t, off.d, cs.n, cs.k);
      expectClose("loss", [loss], [cs.loss]);
      expectClose("dpred", H.subarray(off.d, off.d + len), cs.dpred);
    });
  }

  it("a label that is not a class index is a DnncError naming the row", () => {
    const H = new Float32Array([0, 1, 0, 1, 2.5]);
    expect(() => softmaxCrossEntropy(H, 0, 3, -1, 2, 2, 0)).toThrow(/label 2.5 of row 1/);
  });
});
