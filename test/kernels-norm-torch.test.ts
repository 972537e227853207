// Batch norm, layer norm, group norm, instance norm and weight norm kernels against PyTorch 1.13
// (cases from test/reference/conv_norm/make_cases.py).
import { describe, it } from "vitest";
import {
  batchNormForwardTrain,
  batchNormForwardEval,
  batchNormBackward,
  layerNormForward,
  layerNormBackward,
  groupNormForward,
  groupNormBackward,
  instanceNormConfig,
  weightNormForward,
  weightNormBackward,
  type GroupNormConfig,
} from "../runtime/kernels/norm";
import { Heap, loadCases, expectClose } from "./reference/conv_norm/harness";

interface BnStep {
  x: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dgamma: number[];
  dbeta: number[];
  runMean: number[];
  runVar: number[];
}
interface BnCase {
  name: string;
  shape: number[];
  momentum: number;
  eps: number;
  affine: boolean;
  gamma: number[];
  beta: number[];
  steps: BnStep[];
  eval: { x: number[]; y: number[] };
}

describe("batch norm vs PyTorch (3 training steps, running stats, eval)", () => {
  for (const t of loadCases<BnCase>("batchnorm.json")) {
    it(t.name, () => {
      const [n, C] = t.shape;
      const S = t.shape.slice(2).reduce((a, b) => a * b, 1);
      const cfg = { C, S, eps: t.eps, momentum: t.momentum };
      const len = n * C * S;
      const hp = new Heap(1 << 12);
      const gamma = t.affine ? hp.put(t.gamma) : -1;
      const beta = t.affine ? hp.put(t.beta) : -1;
      const runMean = hp.alloc(C, 0);
      const runVar = hp.alloc(C, 1);
      const mean = hp.alloc(C);
      const invstd = hp.alloc(C);
      const x = hp.alloc(len);
      const dy = hp.alloc(len);
      const y = hp.alloc(len);
      const dx = hp.alloc(len);
      const dgamma = t.affine ? hp.alloc(C) : -1;
      const dbeta = t.affine ? hp.alloc(C) : -1;
      t.steps.forEach((s, k) => {
        hp.H.set(s.x, x);
        hp.H.set(s.dy, dy);
        hp.H.fill(NaN, y, y + len);
        hp.H.fill(NaN, dx, dx + len);
        if (t.affine) hp.H.fill(NaN, dgamma, dgamma + C);
        batchNormForwardTrain(hp.H, cfg, x, gamma, beta, y, mean, invstd, runMean, runVar, n);
        batchNormBackward(hp.H, cfg, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, n);
        expectClose(hp.get(y, len), s.y, `step ${k} y`);
        expectClose(hp.get(dx, len), s.dx, `step ${k} dx`);
        if (t.affine) {
          expectClose(hp.get(dgamma, C), s.dgamma, `step ${k} dgamma`);
          expectClose(hp.get(dbeta, C), s.dbeta, `step ${k} dbeta`);
        }
        expectClose(hp.get(runMean, C), s.runMean, `step ${k} running mean`);
        expectClose(hp.get(runVar, C), s.runVar, `step ${k} running var (unbiased)`);
      });
      hp.H.set(t.eval.x, x);
      batchNormForwardEval(hp.H, cfg, x, gamma, beta, runMean, runVar, y, n);
      expectClose(hp.get(y, len), t.eval.y, "eval y");
    });
  }
});

interface NormCase {
  name: string;
  kind: "layer" | "group" | "instance";
  shape: number[];
  G: number | null;
  eps: number;
  affine: boolean;
  gamma: number[];
  beta: number[];
  x: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dgamma: number[];
  dbeta: number[];
}

describe("layer / group / instance norm vs PyTorch", () => {
  for (const t of loadCases<NormCase>("norm.json")) {
    it(t.name, () => {
      const [n, C] = t.shape;
      const D = t.shape.slice(1).reduce((a, b) => a * b, 1);
      const S = D / C;
      const len = n * D;
      const hp = new Heap(1 << 12);
      const gamma = t.affine ? hp.put(t.gamma) : -1;
      const beta = t.affine ? hp.put(t.beta) : -1;
      const x = hp.put(t.x);
      const dy = hp.put(t.dy);
      const y = hp.alloc(len, NaN);
      const dx = hp.alloc(len, NaN);
      const P = t.gamma.length;
      const dgamma = t.affine ? hp.alloc(P, NaN) : -1;
      const dbeta = t.affine ? hp.alloc(P, NaN) : -1;
      const mean = hp.alloc(n * C, NaN);
      const invstd = hp.alloc(n * C, NaN);
      if (t.kind === "layer") {
        const cfg = { D, eps: t.eps };
        layerNormForward(hp.H, cfg, x, gamma, beta, y, mean, invstd, n);
        layerNormBackward(hp.H, cfg, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, n);
      } else {
        const cfg: GroupNormConfig = t.kind === "group" ? { C, S, G: t.G!, eps: t.eps } : instanceNormConfig(C, S, t.eps);
        groupNormForward(hp.H, cfg, x, gamma, beta, y, mean, invstd, n);
        groupNormBackward(hp.H, cfg, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, n);
      }
      expectClose(hp.get(y, len), t.y, "y");
      expectClose(hp.get(dx, len), t.dx, "dx");
      if (t.affine) {
        expectClose(hp.get(dgamma, P), t.dgamma, "dgamma");
        expectClose(hp.get(dbeta, P), t.dbeta, "dbeta");
      }
    });
  }

  // GN(G=1) over (C, H, W) without affine is LayerNorm((C, H, W), elementwise_affine=False).
  it("group norm G=1 reproduces PyTorch's LayerNorm over (C,H,W)", () => {
    const t = loadCases<NormCase>("norm.json").find((c) => c.kind === "layer" && !c.affine)!;
    const [n, C] = t.shape;
    const S = t.shape.slice(2).reduce((a, b) => a * b, 1);
    const len = n * C * S;
    const hp = new Heap(1 << 10);
    const x = hp.put(t.x);
    const dy = hp.put(t.dy);
    const y = hp.alloc(len, NaN);
    const dx = hp.alloc(len, NaN);
    const mean = hp.alloc(n);
    const invstd = hp.alloc(n);
    const cfg = { C, S, G: 1, eps: t.eps };
    groupNormForward(hp.H, cfg, x, -1, -1, y, mean, invstd, n);
    groupNormBackward(hp.H, cfg, x, -1, mean, invstd, dy, dx, -1, -1, n);
    expectClose(hp.get(y, len), t.y, "y");
    expectClose(hp.get(dx, len), t.dx, "dx");
  });
});

interface WnCase {
  name: string;
  vShape: number[];
  g: number[];
  v: number[];
  w: number[];
  dw: number[];
  dg: number[];
  dv: number[];
}

describe("weight norm (dim 0) vs PyTorch", () => {
  for (const t of loadCases<WnCase>("weightnorm.json")) {
    it(t.name, () => {
      const out = t.vShape[0];
      const cfg = { out, inn: t.v.length / out };
      const hp = new Heap(1 << 10);
      const g = hp.put(t.g);
      const v = hp.put(t.v);
      const w = hp.alloc(t.v.length, NaN);
      const norm = hp.alloc(out, NaN);
      const dw = hp.put(t.dw);
      const dg = hp.alloc(out, NaN);
      const dv = hp.alloc(t.v.length, NaN);
      weightNormForward(hp.H, cfg, g, v, w, norm);
      weightNormBackward(hp.H, cfg, g, v, norm, dw, dg, dv);
      expectClose(hp.get(w, t.w.length), t.w, "w");
      expectClose(hp.get(dg, out), t.dg, "dg");
      expectClose(hp.get(dv, t.dv.length), t.dv, "dv");
    });
  }
});
