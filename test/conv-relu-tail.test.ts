// conv2dForward with a ReLU tail (its last argument ry: the compiler passes the node's output when
// a conv's only tail is a ReLU) writes ry = max(y, 0) sample by sample, right after each sample's
// GEMM. It must give the bytes of the unfused order (the whole conv, then the ReLU sweep), on
// every path: one sample per GEMM, several samples per GEMM (cfg.colFloats), split between two
// threads (conv.wat conv_chunk), pointwise, grouped; on the ts and the wasm backend.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { conv2dForward, convConfig, convScratchSize, convScratchSizeBatched, convWeightSize, type ConvConfig } from "../runtime/kernels/conv";
import { reluRef } from "../runtime/wasm-kernels";
import { createBackend } from "../runtime/backend-create";
import type { ClosableBackend } from "../runtime/backend-create";

const FLOATS = 1 << 21;
const backends: [string, ClosableBackend][] = [
  ["ts", await createBackend(FLOATS, { backend: "ts" })],
  ["wasm, 1 thread", await createBackend(FLOATS, { backend: "wasm", threads: 1 })],
  ["wasm, 2 threads", await createBackend(FLOATS, { backend: "wasm", threads: 2 })],
];
afterAll(() => backends.forEach(([, be]) => be.close?.()));

function sameBytes(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`${what}: H[${i}] is ${got[i]}, the unfused order wrote ${want[i]}`);
}

/** Runs the fused and the unfused forward on the same inputs and compares every float they touch. */
function compare(be: ClosableBackend, c: ConvConfig, n: number, bias: boolean, seed: number): void {
  const H = be.H;
  const CKKK = convWeightSize(c);
  const xs = n * c.C * c.H * c.W;
  const ys = n * c.K * c.OH * c.OW;
  const room = Math.max(c.colFloats ?? 0, convScratchSize(c));
  const x = 64,
    w = x + xs + 64,
    b = w + CKKK + 64,
    y = b + c.K + 64,
    ry = y + ys + 64,
    col = ry + ys + 64;
  const end = col + room + 64;
  expect(end).toBeLessThan(FLOATS);
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < end; i++) H[i] = rnd();
  for (let i = 0; i < xs; i += 7) H[x + i] = i % 3 === 0 ? -0 : 0; // exact zeros and -0 in the input
  const before = H.slice(0, end);
  conv2dForward(H, be.gemm, c, x, w, bias ? b : -1, y, col, n, ry);
  const fused = H.slice(0, end);
  H.set(before);
  conv2dForward(H, be.gemm, c, x, w, bias ? b : -1, y, col, n);
  reluRef(H, y, ry, ys);
  // the column scratch is the kernels' own: compare everything else
  sameBytes(fused.subarray(0, col), H.subarray(0, col), "outputs and inputs");
  sameBytes(fused.subarray(col + room, end), H.subarray(col + room, end), "past the scratch");
}

describe.each(backends)("conv forward with a ReLU tail (%s)", (_name, be) => {
  it("M2's second conv at batch 64 (the threads split it by samples)", () => {
    const c = convConfig({ C: 16, H: 14, W: 14, K: 32, kernel: 3, padding: "same" });
    compare(be, c, 64, true, 1);
  });

  it("random shapes, one sample or several per GEMM, pointwise and grouped", () => {
    fc.assert(
      fc.property(
        fc.record({
          groups: fc.integer({ min: 1, max: 2 }),
          cg: fc.integer({ min: 1, max: 3 }),
          kg: fc.integer({ min: 1, max: 4 }),
          H: fc.integer({ min: 3, max: 8 }), // at least the kernel
          W: fc.integer({ min: 3, max: 8 }),
          k: fc.integer({ min: 1, max: 3 }),
          stride: fc.integer({ min: 1, max: 2 }),
          same: fc.boolean(),
          n: fc.integer({ min: 1, max: 5 }),
          nb: fc.integer({ min: 1, max: 4 }),
          bias: fc.boolean(),
          seed: fc.integer(),
        }),
        (r) => {
          const base = convConfig({
            C: r.groups * r.cg,
            K: r.groups * r.kg,
            H: r.H,
            W: r.W,
            kernel: r.k,
            groups: r.groups,
            stride: r.same ? 1 : r.stride,
            padding: r.same ? "same" : 0,
          });
          const c = { ...base, colFloats: convScratchSizeBatched(base, r.nb) };
          compare(be, c, r.n, r.bias, r.seed);
        },
      ),
      { numRuns: 150 },
    );
  });
});
