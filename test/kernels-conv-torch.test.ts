// conv2d and pooling kernels against PyTorch 1.13 (cases from test/reference/conv_norm/make_cases.py).
import { describe, it, expect } from "vitest";
import { convConfig, convScratchSize, conv2dForward, conv2dBackward, type ConvPadding } from "../runtime/kernels/conv";
import { conv2dForwardNaive, conv2dBackwardNaive } from "../runtime/kernels/reference";
import {
  poolConfig,
  maxPool2dForward,
  maxPool2dBackward,
  avgPool2dForward,
  avgPool2dBackward,
  globalAvgPoolForward,
  globalAvgPoolBackward,
} from "../runtime/kernels/pool";
import { Heap, naiveGemm, loadCases, expectClose } from "./reference/conv_norm/harness";

interface ConvCase {
  name: string;
  n: number;
  C: number;
  H: number;
  W: number;
  K: number;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  groups: number;
  padding: "same" | [number, number];
  bias: boolean;
  x: number[];
  w: number[];
  b: number[];
  yShape: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dw: number[];
  db: number[];
}

describe("conv2d vs PyTorch", () => {
  for (const t of loadCases<ConvCase>("conv.json")) {
    for (const impl of ["im2col+gemm", "naive"] as const) {
      it(`${t.name} (${impl})`, () => {
        const cfg = convConfig({
          C: t.C,
          H: t.H,
          W: t.W,
          K: t.K,
          kernel: t.kernel,
          stride: t.stride,
          padding: t.padding as ConvPadding,
          dilation: t.dilation,
          groups: t.groups,
        });
        expect([t.n, cfg.K, cfg.OH, cfg.OW]).toEqual(t.yShape);
        const hp = new Heap(1 << 16);
        const x = hp.put(t.x);
        const w = hp.put(t.w);
        const b = t.bias ? hp.put(t.b) : -1;
        const y = hp.alloc(t.y.length, NaN);
        const dy = hp.put(t.dy);
        const dx = hp.alloc(t.x.length, NaN);
        const dw = hp.alloc(t.w.length, NaN);
        const db = t.bias ? hp.alloc(t.K, NaN) : -1;
        const col = hp.alloc(convScratchSize(cfg), NaN);
        const gemm = naiveGemm(hp.H);
        if (impl === "naive") {
          conv2dForwardNaive(hp.H, cfg, x, w, b, y, t.n);
          conv2dBackwardNaive(hp.H, cfg, x, w, dy, dx, dw, db, t.n);
        } else {
          conv2dForward(hp.H, gemm, cfg, x, w, b, y, col, t.n);
          conv2dBackward(hp.H, gemm, cfg, x, w, dy, dx, dw, db, col, t.n);
        }
        expectClose(hp.get(y, t.y.length), t.y, "y");
        expectClose(hp.get(dx, t.dx.length), t.dx, "dx");
        expectClose(hp.get(dw, t.dw.length), t.dw, "dw");
        if (t.bias) expectClose(hp.get(db, t.K), t.db, "db");
      });
    }
  }
});

interface PoolCase {
  name: string;
  kind: "max" | "avg" | "global";
  n: number;
  C: number;
  H: number;
  W: number;
  kernel: [number, number] | null;
  stride: [number, number] | null;
  padding: [number, number] | 0;
  countIncludePad: boolean;
  idx?: number[];
  x: number[];
  yShape: number[];
  y: number[];
  dy: number[];
  dx: number[];
}

describe("pooling vs PyTorch", () => {
  for (const t of loadCases<PoolCase>("pool.json")) {
    it(t.name, () => {
      const hp = new Heap(1 << 14);
      const x = hp.put(t.x);
      const y = hp.alloc(t.y.length, NaN);
      const dy = hp.put(t.dy);
      const dx = hp.alloc(t.x.length, NaN);
      if (t.kind === "global") {
        globalAvgPoolForward(hp.H, t, x, y, t.n);
        globalAvgPoolBackward(hp.H, t, dy, dx, t.n);
      } else {
        const cfg = poolConfig({
          C: t.C,
          H: t.H,
          W: t.W,
          kernel: t.kernel!,
          stride: t.stride!,
          padding: t.padding,
          countIncludePad: t.countIncludePad,
        });
        expect([t.n, t.C, cfg.OH, cfg.OW]).toEqual(t.yShape);
        if (t.kind === "max") {
          const idx = hp.alloc(t.y.length, NaN);
          maxPool2dForward(hp.H, cfg, x, y, idx, t.n);
          expect(hp.get(idx, t.y.length)).toEqual(t.idx);
          maxPool2dBackward(hp.H, cfg, dy, idx, dx, t.n);
        } else {
          avgPool2dForward(hp.H, cfg, x, y, t.n);
          avgPool2dBackward(hp.H, cfg, dy, dx, t.n);
        }
      }
      expectClose(hp.get(y, t.y.length), t.y, "y");
      expectClose(hp.get(dx, t.dx.length), t.dx, "dx");
    });
  }
});
