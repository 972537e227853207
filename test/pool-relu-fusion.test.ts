// A 2x2 max pool over a ReLU's output applies the ReLU's backward in its own backward
// (runtime/kernels/pool.ts maxPool2dBackward with the pool's output as yp; compiler/plan-memory.ts
// poolReluFusions decides where): the same bytes as the pool's backward followed by the ReLU
// backward sweep dz *= (z > 0 ? 1 : 0), on the wasm backend (1 and 2 threads, split by planes) and
// the ts backend, with NaN, -0 and negative gradients; other pools take the TypeScript mask. The
// compiler fuses exactly the pools whose input has a lone ReLU tail and no other gradient. 2x2
// pools also apply the ReLU in their forward (reading the pre-activation, the ReLU's output never
// written) where the producer is a conv or add read by the pool alone: the same bytes again.
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createBackend } from "../runtime/backend-create";
import { reluBackwardRef } from "../runtime/wasm-kernels";
import { maxPool2dBackward, maxPool2dBackwardTs, maxPool2dForward, poolConfig, type PoolConfig } from "../runtime/kernels/pool";
import { compileToIr } from "../compiler/pipeline";
import { conv2dForward, convConfig, convScratchSizeFast } from "../runtime/kernels/conv";
import { winogradScratchSize } from "../runtime/kernels/winograd";
import { makeGemm } from "../runtime/kernels/gemm";
import type { IR } from "../compiler/ir";

/** scheduleKernels' decisions: the pools applying a ReLU (pool id -> producer id), and those doing it in the forward too. */
const poolReluFusions = (ir: IR) => new Map(ir.nodes.flatMap((n) => (n.sched?.poolRelu ? [[n.id, n.sched.poolRelu.of] as const] : [])));
const poolReluForward = (ir: IR) => new Map(ir.nodes.flatMap((n) => (n.sched?.poolRelu?.forward ? [[n.id, n.sched.poolRelu.of] as const] : [])));

const FLOATS = 1 << 22;
const be1 = await createBackend(FLOATS, { backend: "wasm", threads: 1 });
const be2 = await createBackend(FLOATS, { backend: "wasm", threads: 2 });
afterAll(() => {
  be1.close();
  be2.close();
});

function sameBytes(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`${what}: [${i}] is ${got[i]}, the unfused loops wrote ${want[i]}`);
}

describe("max pool backward with its input's ReLU", () => {
  const cases: [string, number, number, number, number, Partial<Parameters<typeof poolConfig>[0]>][] = [
    ["M2 pool1", 64, 16, 28, 28, {}],
    ["M2 pool2", 64, 32, 14, 14, {}],
    ["odd sizes", 9, 5, 21, 19, {}],
    ["narrow rows", 7, 3, 2, 3, {}],
    ["3x3 stride 2 (overlapping windows)", 4, 3, 11, 9, { kernel: 3, stride: 2 }],
  ];
  for (const [name, n, C, Hh, W, extra] of cases) {
    it(`${name}: same bytes as pool backward + ReLU backward`, () => {
      const c: PoolConfig = poolConfig({ C, H: Hh, W, kernel: 2, ...extra });
      const planes = n * C;
      const xs = planes * Hh * W,
        ys = planes * c.OH * c.OW;
      // z (pre-activation), r = relu(z) (the pool's input), y, idx, dy, dx
      const z = 16,
        r = z + xs + 16,
        y = r + xs + 16,
        idx = y + ys + 16,
        dy = idx + ys + 16,
        dx = dy + ys + 16,
        end = dx + xs + 16;
      expect(end).toBeLessThan(FLOATS);
      const init = new Float32Array(end);
      for (let i = 0; i < end; i++) init[i] = i % 97 === 0 ? NaN : i % 13 === 0 ? -0 : Math.sin(i * 0.61) * (i % 5);
      for (let i = 0; i < xs; i++) init[r + i] = Math.max(init[z + i], 0);
      // the unfused reference: TypeScript pool forward, pool backward, ReLU backward on z
      const R = init.slice();
      maxPool2dForward(R, c, r, y, idx, n);
      maxPool2dBackwardTs(R, Hh * W, c.OH * c.OW, planes, dy, idx, dx);
      reluBackwardRef(R, z, dx, xs);
      const is2x2 = c.kh === 2 && c.sh === 2;
      for (const [label, H] of [
        ["ts", init.slice()],
        ["wasm x1", be1.H],
        ["wasm x2", be2.H],
      ] as const) {
        H.set(init);
        maxPool2dForward(H, c, r, y, idx, n);
        maxPool2dBackward(H, c, dy, idx, dx, n, y);
        sameBytes(H.subarray(0, end), R, label);
        if (!is2x2) continue;
        // and the forward too: the pool reads z with max(v, 0) (r is not read or written)
        H.set(init);
        maxPool2dForward(H, c, z, y, idx, n, true);
        maxPool2dBackward(H, c, dy, idx, dx, n, y);
        sameBytes(H.subarray(0, end), R, `${label}, ReLU in the forward`);
      }
      if (!is2x2) expect(() => maxPool2dForward(init, c, z, y, idx, n, true)).toThrow(/relu and bias need a 2x2 window/);
    });
  }

  it("a conv that leaves its bias to the pool: the same pooled values and indices (wasm, 1 and 2 threads; the ts backend keeps it)", () => {
    // conv (bias) -> ReLU -> 2x2 pool, unfused, against conv2dForward(deferBias) + the pool adding
    // the bias and the ReLU; M2's first conv (im2col, one GEMM slice: deferred), its second
    // (Winograd: the bias stays in the conv) and a deep one (C*9 > 256: stays in the conv)
    for (const [o, n, defers] of [
      [{ C: 1, H: 28, W: 28, K: 16 }, 5, true],
      [{ C: 16, H: 14, W: 14, K: 32, wino: 4 }, 3, false],
      [{ C: 32, H: 6, W: 6, K: 4 }, 3, false],
    ] as const) {
      const { wino, ...shape } = o as typeof o & { wino?: number };
      const c0 = convConfig({ ...shape, kernel: 3, padding: "same" });
      const room = Math.max(convScratchSizeFast(c0), wino ? winogradScratchSize(c0, wino) : 0);
      const c = { ...c0, colFloats: room, ...(wino ? { wino } : {}) };
      const pc = poolConfig({ C: c.K, H: c.OH, W: c.OW, kernel: 2 });
      const xs = n * c.C * c.H * c.W,
        zs = n * c.K * c.OH * c.OW,
        ps = n * c.K * pc.OH * pc.OW;
      const x = 16,
        w = x + xs + 16,
        b = w + c.K * c.C * 9 + 16,
        z = b + c.K + 16,
        r = z + zs + 16;
      const y = r + zs + 16,
        idx = y + ps + 16,
        col = idx + ps + 16,
        end = col + room + 16;
      const ts = new Float32Array(end);
      for (const [H, gemm, wasm] of [
        [ts, makeGemm(ts), false],
        [be1.H, be1.gemm, true],
        [be2.H, be2.gemm, true],
      ] as const) {
        H.fill(0, 0, end);
        for (let i = 0; i < b + c.K; i++) H[i] = Math.sin(i * 0.37) * 0.5;
        conv2dForward(H, gemm, c, x, w, b, z, col, n, r);
        maxPool2dForward(H, pc, r, y, idx, n);
        const want = { y: H.slice(y, y + ps), idx: H.slice(idx, idx + ps) };
        H.fill(NaN, z, idx + ps);
        const bias = conv2dForward(H, gemm, c, x, w, b, z, col, n, -1, true);
        // (the TypeScript GEMM sums onto the pre-filled bias: there the conv keeps it)
        expect(bias, JSON.stringify(o)).toBe(defers && wasm ? b : -1);
        maxPool2dForward(H, pc, z, y, idx, n, true, bias);
        sameBytes(H.slice(y, y + ps), want.y, `${JSON.stringify(o)} pooled`);
        sameBytes(H.slice(idx, idx + ps), want.idx, `${JSON.stringify(o)} indices`);
      }
    }
  });

  it("the compiler fuses the pools after a lone ReLU whose output has no other gradient", () => {
    const fusions = (f: string) => {
      const r = compileToIr(readFileSync(f, "utf8"), f);
      return poolReluFusions(r.ir!);
    };
    // M2: conv -> relu -> pool, twice
    expect([...fusions("bench/specs/m2.dnn").values()]).toEqual(["conv2d_0", "conv2d_1"]);
    // M4: bn -> relu -> pool (twice); the residual joins' ReLUs are not followed by a pool
    expect(fusions("bench/specs/m4.dnn").size).toBe(2);
    // no pool at all
    expect(fusions("bench/specs/m1.dnn").size).toBe(0);
    // the forward too where the producer is a conv or add whose output only the pool reads
    // (M4's are batch norms: their sweep writes the ReLU's output)
    const fwd = (f: string) => poolReluForward(compileToIr(readFileSync(f, "utf8"), f).ir!);
    expect([...fwd("bench/specs/m2.dnn").values()]).toEqual(["conv2d_0", "conv2d_1"]);
    expect(fwd("bench/specs/m4.dnn").size).toBe(0);
    // a penalty re-reads the forward buffers: no forward fusion
    const pen = readFileSync("bench/specs/m2.dnn", "utf8").replace(/train \{/, "train {\n  input_grad_penalty 0.1");
    const r = compileToIr(pen, "pen.dnn");
    expect(r.ir, r.diagnostics.map((d) => d.message).join("; ")).toBeDefined();
    expect(poolReluFusions(r.ir!).size).toBe(2);
    expect(poolReluForward(r.ir!).size).toBe(0);
  });
});
