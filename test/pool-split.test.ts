// The ReLU backward sweep and the 2x2 max pool, forward and backward, through runtime/kernels/pool.ts on the wasm backend with
// two threads is split by planes between the threads (conv.wat conv_chunk kinds 3 and 4): the same
// bytes as the TypeScript loops, on M2's first pool (64 x 16 planes of 28 x 28) and odd sizes.
import { afterAll, describe, expect, it } from "vitest";
import { createBackend } from "../runtime/backend-create";
import { makeDenseEpilogues, reluBackwardRef, RELU_SPLIT_MIN } from "../runtime/wasm-kernels";
import { maxPool2dBackward, maxPool2dBackwardTs, maxPool2dForward, maxPool2x2Forward, poolConfig, POOL_SPLIT_MIN_FLOATS } from "../runtime/kernels/pool";

const FLOATS = 1 << 22;
const be2 = await createBackend(FLOATS, { backend: "wasm", threads: 2 });
afterAll(() => be2.close());

function sameBytes(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`${what}: [${i}] is ${got[i]}, the TypeScript loop wrote ${want[i]}`);
}

describe("2x2 max pool split between two threads", () => {
  for (const [n, C, Hh, W] of [
    [64, 16, 28, 28],
    [64, 32, 14, 14],
    [33, 5, 21, 19],
    [7, 3, 2, 3],
  ] as const) {
    it(`${n}x${C}x${Hh}x${W}: same values, indices and gradients as the TypeScript loops`, () => {
      const c = poolConfig({ C, H: Hh, W, kernel: 2 });
      const planes = n * C;
      const xs = planes * Hh * W,
        ys = planes * c.OH * c.OW;
      const x = 16,
        y = x + xs + 16,
        idx = y + ys + 16,
        dy = idx + ys + 16,
        dx = dy + ys + 16,
        end = dx + xs + 16;
      expect(end).toBeLessThan(FLOATS);
      const H = be2.H;
      for (let i = 0; i < end; i++) H[i] = i % 97 === 0 ? NaN : i % 13 === 0 ? -0 : Math.sin(i * 0.61) * (i % 5);
      const R = H.slice(0, end);
      const stats = (be2 as unknown as { stats: { chunks: number } }).stats;
      const before = stats.chunks;
      maxPool2dForward(H, c, x, y, idx, n);
      maxPool2dBackward(H, c, dy, idx, dx, n);
      maxPool2x2Forward(R, Hh, W, c.OH, c.OW, x, y, idx, planes);
      maxPool2dBackwardTs(R, Hh * W, c.OH * c.OW, planes, dy, idx, dx);
      sameBytes(H.subarray(0, end), R, "heap");
      const split = xs >= POOL_SPLIT_MIN_FLOATS;
      expect(stats.chunks - before > 0).toBe(split);
    });
  }
});

describe("ReLU backward split between two threads", () => {
  for (const len of [64 * 16 * 28 * 28, RELU_SPLIT_MIN + 3, 1001]) {
    it(`${len} floats: the same bytes as the TypeScript loop`, () => {
      const H = be2.H;
      const v = 8,
        dz = v + len + 5;
      for (let i = 0; i < dz + len + 8; i++) H[i] = i % 89 === 0 ? NaN : i % 11 === 0 ? -0 : Math.sin(i * 0.71) * (i % 3);
      const R = H.slice(0, dz + len + 8);
      const stats = (be2 as unknown as { stats: { chunks: number } }).stats;
      const before = stats.chunks;
      makeDenseEpilogues(be2).reluBackward(v, dz, len);
      reluBackwardRef(R, v, dz, len);
      sameBytes(H.subarray(0, R.length), R, "heap");
      expect(stats.chunks - before > 0).toBe(len >= RELU_SPLIT_MIN);
    });
  }
});
