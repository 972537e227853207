import { describe, expect, it } from "vitest";
import fc from "fast-check";
import cases from "./reference/preprocess/cases.json";
import { symEig, symEigJacobi } from "../runtime/linalg";
import { makeGemm } from "../runtime/kernels/gemm";
import {
  applyPreprocess,
  applyPreprocessGemm,
  preprocessAffine,
  fitPreprocess,
  fitPreprocessOn,
  preprocessFromStored,
  preprocessMetadata,
  preprocessScratchSize,
  preprocessTensors,
  trainingRows,
  type FittedPreprocess,
  type PreprocessSpec,
} from "../runtime/preprocess";
import { DnncError } from "../runtime/errors";
import { Rng } from "../runtime/rng";

// Applies p to a copy of all rows of x (n, d), placed at an offset inside a bigger heap.
function applyAll(p: FittedPreprocess, x: ArrayLike<number>, n: number): Float32Array {
  const off = 3;
  const H = new Float32Array(off + n * p.inDim + 5).fill(7);
  H.set(Float32Array.from(x), off);
  applyPreprocess(p, H, off, n, new Float32Array(preprocessScratchSize(p)));
  expect(H[off + n * p.inDim + 4]).toBe(7); // nothing written past the batch
  return H.slice(off, off + n * p.outDim);
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
}

const dense = cases.dense;
const src = (x: number[], d: number) => ({ kind: "f32" as const, data: Float32Array.from(x), rowLength: d });

describe("linalg.symEig", () => {
  it("matches PyTorch eigh on the covariance of the reference case", () => {
    const d = dense.d;
    const p = fitPreprocessOn({ kind: "pca" }, src(dense.x, d), dense.train);
    expectClose(p.tensors.eigenvalues, dense.eigenvalues, 1e-5);
    // eigenvectors up to sign: |<v_ts, v_torch>| = 1
    for (let k = 0; k < d; k++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += p.tensors.matrix[k * d + j] * dense.vectors_T[k * d + j];
      expect(Math.abs(dot)).toBeCloseTo(1, 5);
    }
  });

  it("equals the Jacobi reference and reconstructs A on random symmetric matrices", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1e6 }), (n, seed) => {
        const r = new Rng(seed, 5);
        const A = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i * n + j] = A[j * n + i] = r.range(-2, 2);
        const E = symEig(A, n);
        const J = symEigJacobi(A, n);
        for (let k = 0; k < n; k++) expect(E.values[k]).toBeCloseTo(J.values[k], 9);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            let o = 0;
            for (let k = 0; k < n; k++) {
              s += E.vectors[k * n + i] * E.values[k] * E.vectors[k * n + j];
              o += E.vectors[i * n + k] * E.vectors[j * n + k];
            }
            expect(s).toBeCloseTo(A[i * n + j], 9);
            expect(o).toBeCloseTo(i === j ? 1 : 0, 9);
          }
        for (let k = 1; k < n; k++) expect(E.values[k]).toBeLessThanOrEqual(E.values[k - 1]);
      }),
      { numRuns: 60 },
    );
  });

  it("handles repeated eigenvalues and diagonal matrices", () => {
    const n = 5;
    const A = new Float64Array(n * n);
    [3, 1, 3, 0, 1].forEach((v, i) => (A[i * n + i] = v));
    const E = symEig(A, n);
    expect(Array.from(E.values)).toEqual([3, 3, 1, 1, 0]);
  });
});

describe("standardize", () => {
  it("per feature matches PyTorch (population std, constant feature divided by 1)", () => {
    const c = cases.standardize;
    const p = fitPreprocessOn({ kind: "standardize" }, src(c.x, c.d), c.train);
    expectClose(p.tensors.mean, c.mean, 1e-6);
    expectClose(p.tensors.std, c.std, 1e-6);
    expect(p.tensors.std[2]).toBe(1);
    expectClose(applyAll(p, c.x, c.rows), c.y, 1e-5);
  });

  it("per channel on bytes times 1/255 matches PyTorch", () => {
    const c = cases.channel;
    const source = { kind: "u8" as const, data: Uint8Array.from(c.bytes), rowLength: c.C * c.H * c.W, scale: c.scale };
    const p = fitPreprocessOn({ kind: "standardize", mode: "channel" }, source, c.train, { C: c.C, H: c.H, W: c.W });
    expect(p.tensors.mean.length).toBe(3);
    expectClose(p.tensors.mean, c.mean, 1e-6);
    expectClose(p.tensors.std, c.std, 1e-6);
    const x = Array.from(c.bytes, (b) => b * c.scale);
    expectClose(applyAll(p, x, c.rows), c.y, 1e-5);
  });

  it("channel mode needs a shape that matches the row length", () => {
    const c = cases.channel;
    const source = { kind: "u8" as const, data: Uint8Array.from(c.bytes), rowLength: 60 };
    expect(() => fitPreprocessOn({ kind: "standardize", mode: "channel" }, source, [0])).toThrow(DnncError);
    expect(() => fitPreprocessOn({ kind: "standardize", mode: "channel" }, source, [0], { C: 3, H: 4, W: 4 })).toThrow(/does not match row length 60/);
  });
});

describe("pca / whiten / zca against PyTorch", () => {
  const d = dense.d;
  const n = dense.rows;

  it("pca(k) projects onto the top-k directions (up to sign per component)", () => {
    const p = fitPreprocessOn({ kind: "pca", k: dense.k }, src(dense.x, d), dense.train);
    expect(p.outDim).toBe(3);
    const y = applyAll(p, dense.x, n);
    for (let c = 0; c < dense.k; c++) {
      const sign = Math.sign(y[c]) === Math.sign(dense.pca[c]) ? 1 : -1;
      for (let i = 0; i < n; i++) expect(sign * y[i * 3 + c]).toBeCloseTo(dense.pca[i * 3 + c], 4);
    }
  });

  it("whitened training rows have identity covariance; all rows match PyTorch up to sign", () => {
    const p = fitPreprocessOn({ kind: "whiten", eps: dense.eps }, src(dense.x, d), dense.train);
    const y = applyAll(p, dense.x, n);
    for (let c = 0; c < d; c++) {
      const sign = Math.sign(y[c]) === Math.sign(dense.whiten[c]) ? 1 : -1;
      for (let i = 0; i < n; i++) expect(sign * y[i * d + c]).toBeCloseTo(dense.whiten[i * d + c], 3);
    }
    const m = dense.train.length;
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) {
        let s = 0;
        for (const r of dense.train) s += y[r * d + a] * y[r * d + b];
        const lam = dense.eigenvalues[a];
        expect(s / m).toBeCloseTo(a === b ? lam / (lam + dense.eps) : 0, 4);
      }
  });

  it("zca (sign-free) matches PyTorch exactly", () => {
    const p = fitPreprocessOn({ kind: "zca", eps: dense.eps }, src(dense.x, d), dense.train);
    expectClose(applyAll(p, dense.x, n), dense.zca, 2e-4);
  });

  it("batches of any size (the 4-row blocks and the tail) give the same rows", () => {
    const p = fitPreprocessOn({ kind: "whiten", k: 4 }, src(dense.x, d), dense.train);
    const all = applyAll(p, dense.x, n);
    for (const bn of [1, 2, 3, 5, 7]) {
      const part = applyAll(p, dense.x.slice(6 * d, (6 + bn) * d), bn);
      expectClose(part, all.slice(6 * 4, (6 + bn) * 4), 1e-6);
    }
  });
});

describe("GEMM path and covariance on random shapes", () => {
  it("applyPreprocessGemm equals applyPreprocess (pca, whiten, zca)", () => {
    const d = dense.d;
    const n = dense.rows;
    for (const spec of [{ kind: "pca", k: 3 }, { kind: "whiten", k: 5 }, { kind: "zca" }] as PreprocessSpec[]) {
      const p = fitPreprocessOn(spec, src(dense.x, d), dense.train);
      const ref = applyAll(p, dense.x, n);
      const { matrix, bias } = preprocessAffine(p);
      const H = new Float32Array(n * d + n * p.outDim + matrix.length + bias.length + 1);
      const xOff = 1;
      const yOff = xOff + n * d;
      const matOff = yOff + n * p.outDim;
      const biasOff = matOff + matrix.length;
      H.set(dense.x, xOff);
      H.set(matrix, matOff);
      H.set(bias, biasOff);
      applyPreprocessGemm(makeGemm(H), H, xOff, yOff, n, d, p.outDim, matOff, biasOff);
      expectClose(H.subarray(yOff, yOff + n * p.outDim), ref, 1e-4);
    }
    expect(() => preprocessAffine(fitPreprocessOn({ kind: "standardize" }, src(dense.x, d), dense.train))).toThrow();
  });

  it("whitened training rows have identity covariance for every row length 1..9 (covariance tiles + padding)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1e6 }), (d, seed) => {
        const m = 3 * d + 5;
        const r = new Rng(seed, 21);
        const x = Float32Array.from({ length: m * d }, (_, i) => r.normal() * (1 + (i % d)) + (i % 3));
        const rows = Array.from({ length: m }, (_, i) => i);
        const p = fitPreprocessOn({ kind: "whiten", eps: 1e-9 }, { kind: "f32", data: x, rowLength: d }, rows);
        const y = applyAll(p, x, m);
        for (let a = 0; a < d; a++)
          for (let b = 0; b < d; b++) {
            let s = 0;
            for (let i = 0; i < m; i++) s += y[i * d + a] * y[i * d + b];
            expect(s / m).toBeCloseTo(a === b ? 1 : 0, 3);
          }
      }),
      { numRuns: 40 },
    );
  });
});

describe("fitting sees only training rows", () => {
  // Poison every non-training row with NaN: the fit must not notice.
  const d = dense.d;
  const poisoned = Float32Array.from(dense.x);
  const train = new Set(dense.train);
  for (let r = 0; r < dense.rows; r++) if (!train.has(r)) poisoned.fill(NaN, r * d, (r + 1) * d);
  const specs: PreprocessSpec[] = [{ kind: "standardize" }, { kind: "pca", k: 2 }, { kind: "whiten" }, { kind: "zca", eps: 0.01 }];
  for (const spec of specs)
    it(`${spec.kind}: identical parameters with validation/test rows poisoned`, () => {
      const clean = fitPreprocessOn(spec, src(dense.x, d), dense.train);
      const dirty = fitPreprocessOn(spec, { kind: "f32", data: poisoned, rowLength: d }, dense.train);
      for (const [name, t] of Object.entries(dirty.tensors)) {
        expect(t.every(Number.isFinite)).toBe(true);
        expect(Array.from(t)).toEqual(Array.from(clean.tensors[name]));
      }
    });

  it("the view refuses rows outside the training set, and the fit copies the indices", () => {
    const idx = [1, 4, 9];
    const view = trainingRows(src(dense.x, d), idx);
    const out = new Float64Array(d);
    expect(() => view.read(3, out, 0)).toThrow(RangeError);
    idx[0] = 2; // later edits do not change what the view reads
    view.read(0, out, 0);
    expect(out[0]).toBe(Math.fround(dense.x[1 * d]));
  });

  it("rejects bad indices, empty sets and non-finite training values with DnncError", () => {
    const s = { ...src(dense.x, d), name: "train.csv" };
    expect(() => trainingRows(s, [0, 50])).toThrow(/train.csv: training index 50/);
    expect(() => trainingRows(s, [1.5])).toThrow(DnncError);
    expect(() => trainingRows(s, [])).toThrow(DnncError);
    expect(() => fitPreprocess({ kind: "pca" }, trainingRows({ kind: "f32", data: poisoned, rowLength: d }, [0, 1, 2]))).toThrow(/non-finite/);
    expect(() => fitPreprocessOn({ kind: "pca", k: 7 }, s, dense.train)).toThrow(/k must be/);
  });
});

describe("storage round trip", () => {
  it("tensors + metadata rebuild an equivalent preprocessor", () => {
    const specs: PreprocessSpec[] = [{ kind: "standardize" }, { kind: "whiten", k: 3 }, { kind: "zca" }];
    for (const spec of specs) {
      const p = fitPreprocessOn(spec, src(dense.x, dense.d), dense.train);
      const stored = preprocessTensors(p, "pre.");
      if (spec.kind === "whiten") expect(stored.find((t) => t.name === "pre.matrix")!.shape).toEqual([3, 6]);
      for (const t of stored) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      const q = preprocessFromStored(preprocessMetadata(p, "pre."), stored, "pre.");
      expect(q).toEqual(p);
    }
  });

  it("no stored preprocessing gives null; damaged entries give DnncError", () => {
    expect(preprocessFromStored({}, [])).toBeNull();
    expect(() => preprocessFromStored({ "preprocess.kind": "nope" }, [])).toThrow(DnncError);
    const p = fitPreprocessOn({ kind: "pca", k: 2 }, src(dense.x, dense.d), dense.train);
    const meta = preprocessMetadata(p);
    const stored = preprocessTensors(p);
    expect(() => preprocessFromStored(meta, stored.slice(1))).toThrow(/"preprocess.mean" is missing/);
    const short = stored.map((t) => (t.name === "preprocess.matrix" ? { ...t, data: t.data.subarray(1) } : t));
    expect(() => preprocessFromStored(meta, short)).toThrow(/has 11 values, expected 12/);
    expect(() => preprocessFromStored({ ...meta, "preprocess.in_dim": "x" }, stored)).toThrow(DnncError);
  });
});

describe("linalg.symEig at a larger size", () => {
  it("n = 60 covariance of rank 20: reconstructs and agrees with Jacobi", () => {
    const n = 60;
    const r = new Rng(3, 9);
    const X = Array.from({ length: 20 * n }, () => r.normal());
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < 20; t++) s += X[t * n + i] * X[t * n + j];
        A[i * n + j] = s / 20;
      }
    const E = symEig(A, n);
    const J = symEigJacobi(A, n);
    let worst = 0;
    for (let k = 0; k < n; k++) worst = Math.max(worst, Math.abs(E.values[k] - J.values[k]));
    expect(worst).toBeLessThan(1e-9);
    expect(Math.abs(E.values[25])).toBeLessThan(1e-9); // rank 20
    for (let k = 0; k < 20; k++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += E.vectors[k * n + j] * J.vectors[k * n + j];
      expect(dot).toBeCloseTo(1, 6); // same sign normalization on both
    }
  });
});
