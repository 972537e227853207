// The loops around the convolution GEMMs in wasm (runtime/wasm/conv.wat: im2col, ReLU, 2x2 max
// pool forward and backward) write the same bytes as their TypeScript references, on random
// shapes, strides, dilations, paddings (negative too, as the input gradient uses), row pitches
// and values (ties, zeros of both signs, NaN, infinities), on a plain and on a shared memory.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../runtime/backend-create";
import { im2colTs } from "../runtime/kernels/conv";
import { maxPool2dBackward, maxPool2dBackwardTs, maxPool2dForward, maxPool2x2Forward, poolConfig } from "../runtime/kernels/pool";
import { makeDenseEpilogues, reluRef } from "../runtime/wasm-kernels";
import { convExportsOf } from "../runtime/wasm/conv-kernels";

const FLOATS = 1 << 16;
const plain = await createBackend(FLOATS, { backend: "wasm" });
const shared = await createBackend(FLOATS, { backend: "wasm", threads: 2 });
afterAll(() => {
  plain.close();
  shared.close();
});
const backends = [
  ["plain memory", plain],
  ["shared memory", shared],
] as const;

const valueArb = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 6, arbitrary: fc.constantFrom(0, -0, 1, -1, 2) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);
const valuesArb = fc.array(valueArb, { minLength: 97, maxLength: 97 });

function sameBytes(got: Float32Array, want: Float32Array): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`H[${i}] is ${got[i]}, the reference wrote ${want[i]}`);
}

const REGION = 12000;
/** Fills the first REGION floats of H, runs `fast` on H and `ref` on a plain copy, compares. */
function check(H: Float32Array, values: number[], fast: () => void, ref: (R: Float32Array) => void): void {
  for (let i = 0; i < REGION; i++) H[i] = values[(i * 13) % values.length];
  const R = H.slice(0, REGION);
  fast();
  ref(R);
  sameBytes(H.subarray(0, REGION), R);
}

describe.each(backends)("conv loops in wasm (%s)", (_name, be) => {
  const H = be.H;
  const k = convExportsOf(H)!;

  it("the wasm backend registers its heap", () => {
    expect(k).toBeDefined();
  });

  it("im2col: same bytes as the TypeScript im2col", () => {
    const cfgArb = fc.record({
      Cg: fc.integer({ min: 1, max: 3 }),
      IH: fc.integer({ min: 1, max: 9 }),
      IW: fc.integer({ min: 1, max: 9 }),
      kh: fc.integer({ min: 1, max: 4 }),
      kw: fc.integer({ min: 1, max: 4 }),
      sh: fc.integer({ min: 1, max: 3 }),
      sw: fc.integer({ min: 1, max: 3 }),
      dh: fc.integer({ min: 1, max: 2 }),
      dw: fc.integer({ min: 1, max: 2 }),
      ph: fc.integer({ min: -2, max: 3 }),
      pw: fc.integer({ min: -2, max: 3 }),
      pb: fc.integer({ min: 0, max: 3 }),
      pr: fc.integer({ min: 0, max: 3 }),
      same: fc.boolean(),
      extra: fc.integer({ min: 0, max: 5 }),
      xs: fc.integer({ min: 0, max: 400 }),
    });
    fc.assert(
      fc.property(cfgArb, valuesArb, (c, values) => {
        let { sh, sw, pb, pr } = c;
        if (c.same) {
          // stride 1 and OW = IW: the plane copy path
          sh = sw = 1;
          pb = c.dh * (c.kh - 1) - c.ph;
          pr = c.dw * (c.kw - 1) - c.pw;
        }
        const OH = Math.floor((c.IH + c.ph + pb - c.dh * (c.kh - 1) - 1) / sh) + 1;
        const OW = Math.floor((c.IW + c.pw + pr - c.dw * (c.kw - 1) - 1) / sw) + 1;
        if (OH < 1 || OW < 1) return;
        const ld = OH * OW + c.extra;
        const col = 1000;
        expect(col + c.Cg * c.kh * c.kw * ld).toBeLessThan(REGION);
        const args = [c.xs + 6000, c.Cg, c.IH, c.IW, c.kh, c.kw, sh, sw, c.ph, c.pw, c.dh, c.dw, OH, OW, col, ld] as const;
        check(H, values, () => k.im2col(...args), (R) => im2colTs(R, ...args));
      }),
      { numRuns: 400 },
    );
  });

  it("ReLU: same bytes as Math.max(v, 0) (NaN stays NaN, -0 becomes 0)", () => {
    const E = makeDenseEpilogues(be);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 41 }), valuesArb, (z, y, len, values) => {
        check(H, values, () => E.relu(z, y + 4000, len), (R) => reluRef(R, z, y + 4000, len));
      }),
      { numRuns: 200 },
    );
    H[0] = NaN;
    H[1] = -0;
    E.relu(0, 10, 2);
    expect(H[10]).toBeNaN();
    expect(Object.is(H[11], 0)).toBe(true);
  });

  it("2x2 max pool forward and backward: same values, indices and gradients as the TypeScript loops", () => {
    const arb = fc.record({
      planes: fc.integer({ min: 1, max: 4 }),
      IH: fc.integer({ min: 2, max: 20 }),
      IW: fc.integer({ min: 2, max: 21 }),
      x: fc.integer({ min: 0, max: 50 }),
      few: fc.boolean(), // values from a small set: many ties
    });
    fc.assert(
      fc.property(arb, valuesArb, (c, values) => {
        const OH = c.IH >> 1;
        const OW = c.IW >> 1;
        const x = c.x, y = 3000, idx = 4500, dy = 6000, dx = 7500;
        const vals = c.few ? values.map((v) => (v !== v ? v : Math.sign(v) * (Math.abs(v) > 1 ? 1 : 0))) : values;
        check(H, vals, () => k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW), (R) => maxPool2x2Forward(R, c.IH, c.IW, OH, OW, x, y, idx, c.planes));
        check(
          H, vals,
          () => {
            k.maxpool2x2(x, y, idx, c.planes, c.IH, c.IW, OH, OW);
            k.maxpool_backward(dy, idx, dx, c.planes, c.IH * c.IW, OH * OW);
          },
          (R) => {
            maxPool2x2Forward(R, c.IH, c.IW, OH, OW, x, y, idx, c.planes);
            maxPool2dBackwardTs(R, c.IH * c.IW, OH * OW, c.planes, dy, idx, dx);
          },
        );
      }),
      { numRuns: 300 },
    );
  });

  it("the kernels take the wasm path on this heap and refuse ranges outside it", () => {
    const cfg = poolConfig({ C: 2, H: 4, W: 4, kernel: 2 });
    for (let i = 0; i < 64; i++) H[i] = (i * 37) % 11;
    maxPool2dForward(H, cfg, 0, 100, 200, 2);
    const R = H.slice(0, 400);
    maxPool2x2Forward(R, 4, 4, 2, 2, 0, 100, 200, 4);
    sameBytes(H.subarray(0, 400), R);
    maxPool2dBackward(H, cfg, 100, 200, 300, 2);
    expect(H[300 + R[200]]).toBe(R[100]);
    expect(() => maxPool2dForward(H, cfg, FLOATS - 10, 100, 200, 2)).toThrow(RangeError);
    expect(() => makeDenseEpilogues(be).relu(0, FLOATS - 3, 4)).toThrow(RangeError);
  });
});
