// The Winograd F(2,3) convolution path (runtime/kernels/winograd.ts), chosen by cfg.wino: forward,
// input and weight gradients against the naive direct convolution (runtime/kernels/reference.ts)
// on random 3x3 stride-1 configurations (fast-check), on the ts backend (TypeScript transforms) and
// the wasm backend (conv.wat wino_in / wino_out / wino_dy); the wasm transforms against their
// TypeScript references byte for byte; nothing outside the outputs and the declared scratch is
// written; the same inputs give the same bytes; too little room falls back to im2col.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { convConfig, conv2dForward, conv2dBackward, convScratchSizeFast, type ConvConfig } from "../runtime/kernels/conv";
import { CONV_COL_FLOATS } from "../runtime/wasm/instance";
import { WINO_SCRATCH_MAX, winogradApplies, winogradScratchSize, winoInputRef, winoOutputRef, winoDyRef, winoDxRef } from "../runtime/kernels/winograd";
import { winogradPays, winogradPlanBlock } from "../compiler/ops/conv";
import { conv2dForwardNaive, conv2dBackwardNaive } from "../runtime/kernels/reference";
import { makeGemm } from "../runtime/kernels/gemm";
import { createBackend } from "../runtime/backend-create";
import { convExportsOf } from "../runtime/wasm/conv-kernels";
import type { GemmFn } from "../runtime/backend";
import { Rng } from "../runtime/rng";
import { expectClose } from "./reference/conv_norm/harness";

const arb = fc.record({
  C: fc.integer({ min: 1, max: 6 }),
  K: fc.integer({ min: 1, max: 6 }),
  th: fc.integer({ min: 1, max: 5 }),
  tw: fc.integer({ min: 1, max: 9 }),
  oddH: fc.boolean(),
  oddW: fc.boolean(),
  pad: fc.constantFrom<"same" | "valid" | [number, number]>("same", "valid", [2, 1], [0, 1], [1, 2]),
  n: fc.integer({ min: 0, max: 5 }),
  nb: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
  relu: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

// A config with output (2th - oddH) x (2tw - oddW) for the padding.
function configOf(t: {
  C: number;
  K: number;
  th: number;
  tw: number;
  oddH: boolean;
  oddW: boolean;
  pad: "same" | "valid" | [number, number];
}): ConvConfig | null {
  const OH = Math.max(1, 2 * t.th - (t.oddH ? 1 : 0));
  const OW = Math.max(1, 2 * t.tw - (t.oddW ? 1 : 0));
  const [p, q] = t.pad === "same" ? [1, 1] : t.pad === "valid" ? [0, 0] : t.pad;
  if (OH + 2 - 2 * p < 1 || OW + 2 - 2 * q < 1) return null; // no input that small
  return convConfig({ C: t.C, H: OH + 2 - 2 * p, W: OW + 2 - 2 * q, K: t.K, kernel: 3, padding: t.pad === "same" ? "same" : [p, q] });
}

interface Case {
  c: ConvConfig;
  n: number;
  x: number;
  w: number;
  b: number;
  y: number;
  ry: number;
  dy: number;
  dx: number;
  dw: number;
  db: number;
  col: number;
  room: number;
  end: number;
}

function layout(H: Float32Array, c: ConvConfig, n: number, bias: boolean, seed: number, room: number): Case {
  const rng = new Rng(seed, 0);
  let top = 16;
  const take = (k: number) => ((top += k + 16), top - k - 16);
  const x = take(n * c.C * c.H * c.W);
  const w = take(c.K * c.C * 9);
  const b = bias ? take(c.K) : -1;
  const y = take(n * c.K * c.OH * c.OW);
  const ry = take(n * c.K * c.OH * c.OW);
  const dy = take(n * c.K * c.OH * c.OW);
  const dx = take(n * c.C * c.H * c.W);
  const dw = take(c.K * c.C * 9);
  const db = bias ? take(c.K) : -1;
  const col = take(room);
  const end = top;
  if (end > H.length) throw new Error("test heap too small");
  H.fill(Number.NaN, 0, H.length);
  for (const [o, len] of [
    [x, n * c.C * c.H * c.W],
    [w, c.K * c.C * 9],
    [b, c.K],
    [dy, n * c.K * c.OH * c.OW],
  ] as const)
    if (o >= 0) for (let i = 0; i < len; i++) H[o + i] = rng.uniform() * 2 - 1;
  return { c, n, x, w, b, y, ry, dy, dx, dw, db, col, room, end };
}

async function withBackends(f: (H: Float32Array, gemm: GemmFn, name: string) => void | Promise<void>) {
  const ts = new Float32Array(1 << 20);
  await f(ts, makeGemm(ts), "ts");
  const be = await createBackend(1 << 20, { backend: "wasm", threads: 1 });
  try {
    expect(convExportsOf(be.H)).toBeDefined();
    await f(be.H, be.gemm, "wasm");
  } finally {
    be.close();
  }
}

describe("Winograd F(2,3) convolution", () => {
  it("applies to 3x3 stride-1 dilation-1 ungrouped convs (odd sizes too); pays from 8 channels", () => {
    const same = convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" });
    expect(winogradApplies(same)).toBe(true);
    expect(winogradPays(same)).toBe(true);
    expect(winogradPays(convConfig({ C: 1, H: 28, W: 28, K: 16, kernel: 3, padding: "same" }))).toBe(false);
    expect(winogradApplies(convConfig({ C: 16, H: 7, W: 7, K: 32, kernel: 3, padding: "same" }))).toBe(true);
    expect(winogradApplies(convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: 1, stride: 2 }))).toBe(false);
    expect(winogradApplies(convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: 2, dilation: 2 }))).toBe(false);
    expect(winogradApplies(convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same", groups: 2 }))).toBe(false);
    expect(winogradApplies(convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 5, padding: "same" }))).toBe(false);
  });

  it("plans blocks whose scratch fits a worker thread's column area", () => {
    expect(WINO_SCRATCH_MAX).toBe(CONV_COL_FLOATS);
    const m2 = convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" });
    expect(winogradPlanBlock(m2)).toBe(4);
    const big = convConfig({ C: 16, H: 28, W: 28, K: 16, kernel: 3, padding: "same" });
    const nb = winogradPlanBlock(big);
    expect(nb).toBeGreaterThan(0);
    expect(winogradScratchSize(big, nb)).toBeLessThanOrEqual(CONV_COL_FLOATS);
    expect(winogradScratchSize(big, nb * 2)).toBeGreaterThan(CONV_COL_FLOATS);
    // one sample beyond the default area: blocks of 1 (larger worker areas); beyond 16 MB: im2col
    expect(winogradPlanBlock(convConfig({ C: 64, H: 56, W: 56, K: 64, kernel: 3, padding: "same" }))).toBe(1);
    expect(winogradPlanBlock(convConfig({ C: 128, H: 112, W: 112, K: 128, kernel: 3, padding: "same" }))).toBe(0);
    expect(winogradPlanBlock(convConfig({ C: 1, H: 28, W: 28, K: 16, kernel: 3, padding: "same" }))).toBe(0);
  });

  it("forward, input and weight gradients match the naive convolution (both backends)", async () => {
    await withBackends(async (H, gemm, name) => {
      fc.assert(
        fc.property(arb, (t) => {
          const c1 = configOf(t);
          fc.pre(c1 !== null);
          const c0 = c1!;
          const room = winogradScratchSize(c0, t.nb);
          const c = { ...c0, wino: t.nb, colFloats: room };
          const k = layout(H, c, t.n, t.bias, t.seed, room);
          const ySize = t.n * c.K * c.OH * c.OW;
          const xSize = t.n * c.C * c.H * c.W;
          const before = H.slice(0, k.end);
          conv2dForward(H, gemm, c, k.x, k.w, k.b, k.y, k.col, t.n, t.relu ? k.ry : -1);
          conv2dBackward(H, gemm, c, k.x, k.w, k.dy, k.dx, k.dw, k.db, k.col, t.n);
          const got = {
            y: H.slice(k.y, k.y + ySize),
            ry: H.slice(k.ry, k.ry + ySize),
            dx: H.slice(k.dx, k.dx + xSize),
            dw: H.slice(k.dw, k.dw + c.K * c.C * 9),
          };
          // nothing outside the outputs and the scratch changed (NaN-filled: compare bytes)
          const after = new Uint32Array(H.slice(0, k.end).buffer);
          const was = new Uint32Array(before.buffer);
          const written = (i: number) =>
            (i >= k.y && i < k.y + ySize) ||
            (t.relu && i >= k.ry && i < k.ry + ySize) ||
            (i >= k.dx && i < k.dx + xSize) ||
            (i >= k.dw && i < k.dw + c.K * c.C * 9) ||
            (t.bias && i >= k.db && i < k.db + c.K) ||
            (i >= k.col && i < k.col + room);
          for (let i = 0; i < k.end; i++) if (!written(i) && after[i] !== was[i]) expect.fail(`${name}: H[${i}] written`);
          // the oracle
          const plain = { ...c0 };
          conv2dForwardNaive(H, plain, k.x, k.w, k.b, k.y, t.n);
          conv2dBackwardNaive(H, plain, k.x, k.w, k.dy, k.dx, k.dw, -1, t.n);
          expectClose(got.y, H.slice(k.y, k.y + ySize), `${name} y`, 1e-5, 1e-5);
          if (t.relu)
            expectClose(
              got.ry,
              H.slice(k.y, k.y + ySize).map((v) => Math.max(v, 0)),
              `${name} relu(y)`,
              1e-5,
              1e-5,
            );
          expectClose(got.dx, H.slice(k.dx, k.dx + xSize), `${name} dx`, 1e-5, 1e-5);
          expectClose(got.dw, H.slice(k.dw, k.dw + c.K * c.C * 9), `${name} dw`, 1e-5, 1e-5);
        }),
        { numRuns: 60, seed: 7 },
      );
    });
  });

  it("the wasm transforms write the bytes of their TypeScript references, and nothing else", async () => {
    const be = await createBackend(1 << 18, { backend: "wasm", threads: 1 });
    try {
      const ex = convExportsOf(be.H)!;
      const H = be.H;
      const arbT = fc.record({
        C: fc.integer({ min: 1, max: 5 }),
        m: fc.integer({ min: 1, max: 3 }),
        th: fc.integer({ min: 1, max: 4 }),
        tw: fc.integer({ min: 1, max: 10 }),
        oh1: fc.boolean(),
        ow1: fc.boolean(),
        ph: fc.integer({ min: 0, max: 2 }),
        pw: fc.integer({ min: 0, max: 2 }),
        dh: fc.integer({ min: -2, max: 2 }),
        dw: fc.integer({ min: -2, max: 2 }),
        bias: fc.boolean(),
        relu: fc.boolean(),
        split: fc.boolean(),
        seed: fc.integer({ min: 1, max: 1 << 30 }),
      });
      fc.assert(
        fc.property(arbT, (t) => {
          // split: rows [0, 2) then [2, 4) of each tile, as two threads store them
          const TH = t.th,
            TW = t.tw,
            T = t.m * TH * TW;
          const OH = 2 * TH - (t.oh1 ? 1 : 0),
            OW = 2 * TW - (t.ow1 ? 1 : 0);
          const IH = Math.max(1, 2 * TH + t.dh),
            IW = Math.max(1, 2 * TW + t.dw);
          const x = 64,
            v = x + t.m * t.C * IH * IW + 64,
            plane = v + 16 * (t.C * T + 4) + 64;
          // the 4 floats after each position's matrix: where a last group of < 4 tiles puts its
          // unused lanes (wasm only; their values are not defined)
          const clearSlack = () => {
            for (let p = 0; p < 16; p++) H.fill(Number.NaN, v + p * (t.C * T + 4) + t.C * T, v + (p + 1) * (t.C * T + 4));
          };
          const y = plane + (2 * TH + 2) * (2 * TW + 2) + 64,
            ry = y + t.m * t.C * OH * OW + 64;
          // the input gradient's window: rows h with h + ph < 2TH + 2 (and columns)
          const DH = Math.min(IH, 2 * TH + 2 - t.ph),
            DW = Math.min(IW, 2 * TW + 2 - t.pw);
          const b = ry + t.m * t.C * OH * OW + 64,
            dx = b + t.C + 64,
            end = dx + t.m * t.C * DH * DW + 64;
          const run = (wasm: boolean) => {
            const r2 = new Rng(t.seed, 0);
            for (let i = 0; i < end; i++) H[i] = i >= x && i < v ? r2.uniform() * 2 - 1 : Number.NaN;
            for (let i = 0; i < t.C; i++) H[b + i] = r2.uniform() - 0.5;
            // input transform of x, then (reading V as M with K = C) the output transform, then dy's
            if (wasm && t.split) {
              ex.wino_in(x, t.m, t.C, IH, IW, t.ph, t.pw, TH, TW, v, T, plane, 2, 4);
              ex.wino_in(x, t.m, t.C, IH, IW, t.ph, t.pw, TH, TW, v, T, plane, 0, 2);
            } else if (wasm) ex.wino_in(x, t.m, t.C, IH, IW, t.ph, t.pw, TH, TW, v, T, plane, 0, 4);
            else winoInputRef(H, x, t.m, t.C, IH, IW, t.ph, t.pw, TH, TW, v, T);
            for (let i = plane; i < y; i++) H[i] = Number.NaN; // the plane is scratch
            clearSlack();
            if (wasm) ex.wino_out(v, T, t.C, t.m, TH, TW, OH, OW, t.bias ? b : -1, y, t.relu ? ry : -1);
            else winoOutputRef(H, v, T, t.C, t.m, TH, TW, OH, OW, t.bias ? b : -1, y, t.relu ? ry : -1);
            // dy := y (m, C, 2TH, 2TW) into V
            if (wasm && t.split) {
              ex.wino_dy(y, t.m, t.C, TH, TW, OH, OW, v, T, 0, 2);
              ex.wino_dy(y, t.m, t.C, TH, TW, OH, OW, v, T, 2, 4);
            } else if (wasm) ex.wino_dy(y, t.m, t.C, TH, TW, OH, OW, v, T, 0, 4);
            else winoDyRef(H, y, t.m, t.C, TH, TW, OH, OW, v, T);
            clearSlack();
            // and back (V as dV; its slack, NaN, is read as zeros)
            if (wasm) ex.wino_dx(v, T, t.C, t.m, TH, TW, DH, DW, t.ph, t.pw, dx, plane);
            else winoDxRef(H, v, T, t.C, t.m, TH, TW, DH, DW, t.ph, t.pw, dx, plane);
            return new Uint32Array(H.slice(0, end).buffer);
          };
          const want = run(false);
          const got = run(true);
          for (let i = 0; i < end; i++)
            if (got[i] !== want[i])
              expect.fail(
                `H[${i}] ${new Float32Array(got.buffer)[i]} vs ${new Float32Array(want.buffer)[i]} (x ${x}, v ${v}, plane ${plane}, y ${y}, ry ${ry}, b ${b}, dx ${dx})`,
              );
        }),
        { numRuns: 80, seed: 11 },
      );
    } finally {
      be.close();
    }
  });

  it("1 and 2 threads (blocks, tile rows split) and too little worker room give the same bytes", async () => {
    const one = await createBackend(1 << 21, { backend: "wasm", threads: 1 });
    const two = await createBackend(1 << 21, { backend: "wasm", threads: 2 });
    try {
      for (const [o, n, nb] of [
        [{ C: 16, H: 14, W: 14, K: 32 }, 9, 4],
        [{ C: 8, H: 28, W: 28, K: 12 }, 5, 2],
        [{ C: 16, H: 28, W: 28, K: 16 }, 3, 16], // scratch beyond a worker's area: one thread
        [{ C: 32, H: 7, W: 7, K: 32 }, 10, 4], // odd sizes (M4's res32)
      ] as const) {
        const c0 = convConfig({ ...o, kernel: 3, padding: "same" });
        const room = winogradScratchSize(c0, nb);
        const c = { ...c0, wino: nb, colFloats: room };
        const out: Uint32Array[] = [];
        for (const be of [one, two]) {
          const k = layout(be.H, c, n, true, 5, room);
          conv2dForward(be.H, be.gemm, c, k.x, k.w, k.b, k.y, k.col, n, k.ry);
          conv2dBackward(be.H, be.gemm, c, k.x, k.w, k.dy, k.dx, k.dw, k.db, k.col, n);
          out.push(new Uint32Array(be.H.slice(0, k.col).buffer));
        }
        expect(out[1].length).toBe(out[0].length);
        let diff = -1;
        for (let i = 0; i < out[0].length && diff < 0; i++) if (out[0][i] !== out[1][i]) diff = i;
        expect(diff, `${JSON.stringify(o)}: first differing float`).toBe(-1);
      }
    } finally {
      one.close();
      two.close();
    }
  });

  it("a layer whose one-sample block exceeds the default worker area gets larger areas (and is still split)", async () => {
    // CIFAR-sized: 32 -> 32 channels at 32 x 32
    const c0 = convConfig({ C: 32, H: 32, W: 32, K: 32, kernel: 3, padding: "same" });
    expect(winogradPlanBlock(c0)).toBe(1);
    const room = winogradScratchSize(c0, 1);
    expect(room).toBeGreaterThan(CONV_COL_FLOATS);
    const c = { ...c0, wino: 1, colFloats: room };
    const n = 3;
    const one = await createBackend(1 << 21, { backend: "wasm", threads: 1 });
    const two = await createBackend(1 << 21, { backend: "wasm", threads: 2, convColFloats: room });
    try {
      const out: Uint32Array[] = [];
      for (const be of [one, two]) {
        const stats = (be as unknown as { stats: { chunks: number } }).stats;
        const before = stats.chunks;
        const k = layout(be.H, c, n, true, 9, room);
        conv2dForward(be.H, be.gemm, c, k.x, k.w, k.b, k.y, k.col, n, -1);
        conv2dBackward(be.H, be.gemm, c, k.x, k.w, k.dy, k.dx, k.dw, k.db, k.col, n);
        if (be === two) expect(stats.chunks - before).toBeGreaterThanOrEqual(3 + 3 + 2); // fwd, dgrad blocks; wgrad rows
        out.push(new Uint32Array(be.H.slice(0, k.col).buffer));
      }
      let diff = -1;
      for (let i = 0; i < out[0].length && diff < 0; i++) if (out[0][i] !== out[1][i]) diff = i;
      expect(diff).toBe(-1);
    } finally {
      one.close();
      two.close();
    }
  });

  it("the trainer asks for those worker areas (program meta.convColFloats)", async () => {
    const { compileToIr } = await import("../compiler/pipeline");
    const { programConstants } = await import("../compiler/codegen/emit-trainer");
    const spec = (K: number) => `model big {
  input [1, 28, 28]
  conv2d(32, 3, padding=same) -> relu
  conv2d(${K}, 3, padding=same) -> relu
  global_avgpool
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("data/fashion-mnist-small")
  scale 1/255
}
train {
  batch 4
  epochs 1
  optimizer sgd(lr=0.1)
}
`;
    const meta = async (src: string) => {
      const r = compileToIr(src, "big.dnn");
      expect(r.diagnostics?.filter((d: { severity: string }) => d.severity === "error") ?? []).toEqual([]);
      return programConstants(r.ir!, ".").meta as { convColFloats?: number };
    };
    const big = await meta(spec(48));
    expect(big.convColFloats).toBeGreaterThan(CONV_COL_FLOATS);
    expect(big.convColFloats).toBe(winogradScratchSize(convConfig({ C: 32, H: 28, W: 28, K: 48, kernel: 3, padding: "same" }), 1));
    expect((await meta(spec(16))).convColFloats).toBeUndefined();
  });
});
