// Properties of the activation and loss kernels on random inputs (fast-check): every backward
// equals the central finite difference of its forward, computed from plain double-precision
// references written here; the loss gradients equal finite differences of the loss kernels;
// cross-entropy is shift-invariant per row and its gradient rows sum to zero.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ACTIVATION_KINDS, activationBackward, activationForward, defaultAlpha, erf, type ActivationKind } from "../runtime/kernels/activations";
import { bceWithLogits, huber, l1Loss, mse, softmaxCrossEntropy } from "../runtime/kernels/losses";

// naive double-precision references, one line each (erf is checked against torch separately)
const ref: Record<ActivationKind, (x: number, a: number) => number> = {
  relu: (x) => Math.max(0, x),
  leaky_relu: (x, a) => (x > 0 ? x : a * x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  elu: (x, a) => (x > 0 ? x : a * (Math.exp(x) - 1)),
  silu: (x) => x / (1 + Math.exp(-x)),
  softplus: (x) => (x > 20 ? x : Math.log(1 + Math.exp(x))),
  mish: (x) => x * Math.tanh(Math.log(1 + Math.exp(x))),
};

const f32 = Math.fround;
const xs = fc.array(fc.double({ min: -8, max: 8, noNaN: true }), { minLength: 1, maxLength: 40 });

describe("activation backward = finite difference of the forward", () => {
  for (const kind of ACTIVATION_KINDS) {
    it(kind, () => {
      fc.assert(
        fc.property(xs, fc.double({ min: 0.05, max: 2, noNaN: true }), (raw, alphaRaw) => {
          // stay off the kinks of relu, leaky_relu and elu
          const x = raw.map((v) => f32(Math.abs(v) < 1e-3 ? v + 0.01 : v));
          const alpha = kind === "leaky_relu" || kind === "elu" ? f32(alphaRaw) : defaultAlpha(kind);
          const n = x.length;
          const H = new Float32Array(4 * n);
          H.set(x, 0);
          for (let i = 0; i < n; i++) H[2 * n + i] = f32(1 - i / n); // dy
          activationForward(kind, H, 0, n, n, alpha);
          activationBackward(kind, H, 0, n, 2 * n, 3 * n, n, alpha);
          const h = 1e-5;
          for (let i = 0; i < n; i++) {
            const y = ref[kind](x[i], alpha);
            expect(Math.abs(H[n + i] - y)).toBeLessThanOrEqual(2e-7 * Math.abs(y) + 1e-7);
            const d = (ref[kind](x[i] + h, alpha) - ref[kind](x[i] - h, alpha)) / (2 * h);
            const want = H[2 * n + i] * d;
            expect(Math.abs(H[3 * n + i] - want)).toBeLessThanOrEqual(1e-4 * Math.abs(want) + 1e-6);
          }
        }),
        { numRuns: 60, seed: 7 },
      );
    });
  }
});

// A loss kernel taking (H, pred, target, dpred, n, k) and returning the mean loss.
type LossFn = (H: Float32Array, p: number, t: number, d: number, n: number, k: number) => number;

/**
 * d(loss)/d(pred_i) by central differences in float32 steps, the loss evaluated in double.
 * Heap layout: pred (n*k) at 0, its gradient at n*k, targets (any length) at 2*n*k.
 */
function checkGradient(f: LossFn, pred: number[], target: number[], n: number, k: number) {
  const len = n * k;
  const H = new Float32Array(2 * len + target.length);
  H.set(pred, 0);
  H.set(target, 2 * len);
  f(H, 0, 2 * len, len, n, k);
  for (let i = 0; i < len; i++) {
    const x = H[i];
    const h = Math.max(1e-3, Math.abs(x) * 1e-3);
    H[i] = f32(x + h);
    const up = H[i];
    const lossUp = f(H, 0, 2 * len, -1, n, k);
    H[i] = f32(x - h);
    const down = H[i];
    const lossDown = f(H, 0, 2 * len, -1, n, k);
    H[i] = x;
    const fd = (lossUp - lossDown) / (up - down);
    expect(Math.abs(H[len + i] - fd), `element ${i}: ${H[len + i]} vs ${fd}`).toBeLessThanOrEqual(1e-4 * Math.abs(fd) + 1e-6);
  }
}

const shape = fc.record({ n: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 1, max: 6 }) });
const vals = (len: number, lo: number, hi: number) => fc.array(fc.double({ min: lo, max: hi, noNaN: true }).map(f32), { minLength: len, maxLength: len });

describe("loss gradients = finite differences of the loss", () => {
  it("softmax cross-entropy, with and without label smoothing", () => {
    fc.assert(
      fc.property(
        shape.chain(({ n, k }) =>
          fc.tuple(
            fc.constant(n),
            fc.constant(k + 1),
            vals(n * (k + 1), -6, 6),
            fc.array(fc.integer({ min: 0, max: k }), { minLength: n, maxLength: n }),
            fc.constantFrom(0, 0.1, 0.3),
          ),
        ),
        ([n, C, logits, labels, eps]) => {
          const f: LossFn = (H, p, t, d, nn, kk) => softmaxCrossEntropy(H, p, t, d, nn, kk, eps);
          checkGradient(f, logits, labels, n, C);
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  const pairs: [string, LossFn, number][] = [
    ["bce with logits", bceWithLogits, 0],
    ["mse", mse, 0],
    ["l1", l1Loss, 1e-2],
    ["huber delta 1", (H, p, t, d, n, k) => huber(H, p, t, d, n, k, 1), 1e-2],
    ["huber delta 0.3", (H, p, t, d, n, k) => huber(H, p, t, d, n, k, 0.3), 1e-2],
  ];
  for (const [name, f, kinkGap] of pairs) {
    it(name, () => {
      fc.assert(
        fc.property(
          shape.chain(({ n, k }) => fc.tuple(fc.constant(n), fc.constant(k), vals(n * k, -4, 4), vals(n * k, 0, 1))),
          ([n, k, pred, target]) => {
            // keep d = pred - target away from the kinks at 0 and ±delta
            const p = pred.map((v, i) => {
              const d = v - target[i];
              const near = (at: number) => Math.abs(Math.abs(d) - at) < kinkGap;
              return near(0) || near(1) || near(0.3) ? f32(v + 3 * kinkGap) : v;
            });
            checkGradient(f, p, target, n, k);
          },
        ),
        { numRuns: 40, seed: 13 },
      );
    });
  }
});

describe("cross-entropy invariants", () => {
  it("adding a constant to a row leaves loss and gradient unchanged; gradient rows sum to 0", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 8 })
          .chain((C) =>
            fc.tuple(
              fc.constant(C),
              vals(C, -5, 5),
              fc.integer({ min: 0, max: C - 1 }),
              fc.double({ min: -50, max: 50, noNaN: true }).map(f32),
              fc.constantFrom(0, 0.2),
            ),
          ),
        ([C, z, y, shift, eps]) => {
          const H = new Float32Array(4 * C + 1);
          H.set(z, 0);
          H.set(
            z.map((v) => f32(v + shift)),
            C,
          );
          H[4 * C] = y;
          const a = softmaxCrossEntropy(H, 0, 4 * C, 2 * C, 1, C, eps);
          const b = softmaxCrossEntropy(H, C, 4 * C, 3 * C, 1, C, eps);
          // the shifted logits are rounded to float32, so allow that rounding's effect
          expect(Math.abs(a - b)).toBeLessThan(1e-5 * (1 + Math.abs(shift)));
          let sum = 0;
          for (let c = 0; c < C; c++) {
            sum += H[2 * C + c];
            expect(Math.abs(H[2 * C + c] - H[3 * C + c])).toBeLessThan(1e-5 * (1 + Math.abs(shift)));
          }
          expect(Math.abs(sum)).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 100, seed: 17 },
    );
  });
});
