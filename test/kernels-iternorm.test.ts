// IterNorm (decorrelated batch norm by Newton iterations) against torch autograd in float64
// (test/reference/iternorm/make_cases.py): forward, running statistics, eval forward, and the
// gradients w.r.t. the input, gamma and beta. Our kernel runs on a float64 heap here, so the
// tolerance is tight; a float32 run is checked too, at float32 tolerance.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  iterNormBackward,
  iterNormForwardEval,
  iterNormForwardTrain,
  iterNormSaveSize,
  iterNormTmpSize,
  type IterNormConfig,
} from "../runtime/kernels/iternorm";

interface Case {
  name: string;
  shape: number[];
  G: number;
  T: number;
  eps: number;
  momentum: number;
  [k: string]: unknown;
}
const ref = JSON.parse(readFileSync(join(__dirname, "reference/iternorm/cases.json"), "utf8")) as { cases: Case[] };

function run(c: Case, H: Float32Array) {
  const [n, C, ...sp] = c.shape;
  const S = sp.reduce((a, b) => a * b, 1);
  const cfg: IterNormConfig = { C, S, G: c.G, T: c.T, eps: c.eps, momentum: c.momentum };
  const g = C / c.G;
  let top = 0;
  const at = (k: number) => ((top += k), top - k);
  const size = n * C * S;
  const x = at(size),
    gamma = at(C),
    beta = at(C),
    y = at(size),
    dy = at(size),
    dx = at(size),
    dg = at(C),
    db = at(C);
  const save = at(iterNormSaveSize(cfg)),
    tmp = at(iterNormTmpSize(cfg)),
    rm = at(C),
    rwm = at(c.G * g * g),
    xe = at(size),
    ye = at(size);
  if (top > H.length) throw new Error("heap too small");
  const put = (off: number, k: string) => (c[k] as number[]).forEach((v, i) => (H[off + i] = v));
  (put(x, "x"), put(gamma, "gamma"), put(beta, "beta"), put(dy, "dy"), put(xe, "x_eval"));
  for (let k = 0; k < c.G; k++) for (let a = 0; a < g; a++) H[rwm + k * g * g + a * g + a] = 1;
  iterNormForwardTrain(H, cfg, x, gamma, beta, y, save, tmp, rm, rwm, n);
  iterNormBackward(H, cfg, x, gamma, dy, save, tmp, dx, dg, db, n);
  iterNormForwardEval(H, cfg, xe, gamma, beta, ye, rm, rwm, n);
  const get = (off: number, k: number) => Array.from(H.subarray(off, off + k));
  return {
    y: get(y, size),
    dx: get(dx, size),
    dgamma: get(dg, C),
    dbeta: get(db, C),
    running_mean: get(rm, C),
    running_wm: get(rwm, c.G * g * g),
    y_eval: get(ye, size),
  };
}

function worst(got: number[], want: number[]): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return w;
}

describe("iternorm kernels match torch autograd", () => {
  it("has the reference cases", () => expect(ref.cases.length).toBe(3));
  for (const c of ref.cases) {
    it(`${c.name}: float64 heap within 1e-9`, () => {
      const got = run(c, new Float64Array(1 << 14) as unknown as Float32Array);
      for (const k of ["y", "dx", "dgamma", "dbeta", "running_mean", "running_wm", "y_eval"] as const)
        expect(worst(got[k], c[k] as number[]), k).toBeLessThan(1e-9);
    });
    it(`${c.name}: float32 heap within 1e-3`, () => {
      const got = run(c, new Float32Array(1 << 14));
      for (const k of ["y", "dx", "dgamma", "dbeta", "running_mean", "running_wm", "y_eval"] as const)
        expect(worst(got[k], c[k] as number[]), k).toBeLessThan(1e-3);
    });
  }
  it("whitens: with enough iterations the batch covariance of the output is close to the identity", () => {
    const n = 64,
      C = 3,
      T = 12;
    const H = new Float64Array(1 << 14) as unknown as Float32Array;
    const cfg: IterNormConfig = { C, S: 1, G: 1, T, eps: 1e-6, momentum: 0.1 };
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648 - 0.5);
    for (let i = 0; i < n; i++) {
      const a = rnd(),
        b = rnd(),
        d = rnd();
      H[i * C] = a;
      H[i * C + 1] = 0.6 * a + 0.8 * b;
      H[i * C + 2] = d * 3;
    }
    const y = 1000,
      save = 2000,
      tmp = 4000;
    iterNormForwardTrain(H, cfg, 0, -1, -1, y, save, tmp, -1, -1, n);
    for (let a = 0; a < C; a++)
      for (let b = 0; b < C; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += H[y + i * C + a] * H[y + i * C + b];
        expect(Math.abs(s / n - (a === b ? 1 : 0)), `cov[${a}][${b}]`).toBeLessThan(0.02);
      }
  });
});
