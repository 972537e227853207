// The gate sweeps of the recurrent kernels in wasm (runtime/wasm/rnn.wat lstm_row, gru_row,
// lstm_bwd_row) write the same bytes as their TypeScript references (runtime/kernels/rnn.ts
// lstmRowF32, gruRowF32, lstmBackRow: the backward's on finite values) on
// random widths (tails of 1-3 lanes) and values over the whole float32 range (tiny, huge, around
// the tanh branch point 0.625 and the exp clamps, zeros of both signs, NaN, infinities), on a
// plain and on a shared memory. (Whole kernels on a wasm heap are compared with the naive oracle
// in kernels-rnn.test.ts and with PyTorch in kernels-rnn-torch.test.ts.) Also: the float32
// nonlinearities against the exact functions, in ulps.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../runtime/backend-create";
import { rnnExportsOf } from "../runtime/wasm/rnn-kernels";
import { expF32, gruRowF32, lstmBackRow, lstmRowF32, sigmoidF32, tanhF32 } from "../runtime/kernels/rnn";

const FLOATS = 1 << 18;
const plain = await createBackend(FLOATS, { backend: "wasm" });
const shared = await createBackend(FLOATS, { backend: "wasm", threads: 2 });
afterAll(() => {
  plain.close();
  shared.close();
});

const valueArb = fc.oneof(
  { weight: 20, arbitrary: fc.float({ min: -8, max: 8, noNaN: true }) },
  { weight: 4, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }) },
  { weight: 3, arbitrary: fc.float({ noNaN: true }) },
  { weight: 3, arbitrary: fc.float({ min: Math.fround(-1e-3), max: Math.fround(1e-3), noNaN: true }) },
  { weight: 4, arbitrary: fc.constantFrom(0, -0, 1, -1, 0.625, -0.625, 0.3125, -0.3125, 43.5, -43.5, 44, 87, -87, 88, 89, -89, 1e-30, -1e-30) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

function sameBytes(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] !== got[i] && want[i] !== want[i]))
      throw new Error(`${what}: H[${i}] is ${got[i]}, the reference wrote ${want[i]}`);
}

const REGION = 4096;

describe.each([
  ["plain memory", plain],
  ["shared memory", shared],
] as const)("recurrent gate sweeps in wasm (%s)", (_name, be) => {
  const H = be.H;
  const k = rnnExportsOf(H)!;

  it("the wasm backend registers its heap", () => {
    expect(k).toBeDefined();
    expect(rnnExportsOf(new Float32Array(4))).toBeUndefined();
  });

  it("lstm_row and gru_row: same bytes as lstmRowF32 and gruRowF32", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 23 }), fc.array(valueArb, { minLength: 211, maxLength: 211 }), (U, values) => {
        for (let i = 0; i < REGION; i++) H[i] = values[(i * 7) % values.length];
        const R = H.slice(0, REGION);
        // g (4U), r (4U), b (4U), c, h, tc / hn (U each), unaligned on purpose
        const g = 3;
        const r = g + 4 * U + 1;
        const b = r + 4 * U + 2;
        const c = b + 4 * U + 3;
        const h = c + U + 1;
        const t = h + U + 2;
        const U4 = U & ~3;
        k.lstm_row(g, r, b, c, h, t, U, U4);
        lstmRowF32(H, g, r, b, c, h, t, U, U4);
        lstmRowF32(R, g, r, b, c, h, t, U, 0);
        sameBytes(H.subarray(0, REGION), R, `lstm U=${U}`);
        for (let i = 0; i < REGION; i++) H[i] = values[(i * 5) % values.length];
        R.set(H.subarray(0, REGION));
        k.gru_row(g, r, b, c, h, U, U4);
        gruRowF32(H, g, r, b, c, h, U, U4);
        gruRowF32(R, g, r, b, c, h, U, 0);
        sameBytes(H.subarray(0, REGION), R, `gru U=${U}`);
      }),
      { numRuns: 300, seed: 4711 },
    );
  });

  it("lstm_bwd_row: same bytes as lstmBackRow (float64 lanes), with and without an output gradient", () => {
    // finite values: the gradients a training step meets (NaN payloads are not compared)
    const finite = fc.oneof(
      { weight: 10, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
      { weight: 3, arbitrary: fc.float({ min: 0, max: 1, noNaN: true }) },
      { weight: 2, arbitrary: fc.float({ min: -1e6, max: 1e6, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -0, 1, -1, 1e-30, -1e-30, 3e38, -3e38) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 23 }), fc.array(finite, { minLength: 211, maxLength: 211 }), fc.boolean(), (U, values, withDy) => {
        for (let i = 0; i < REGION; i++) H[i] = values[(i * 7) % values.length];
        const R = H.slice(0, REGION);
        // gi (4U), cp, tco, dh, dc, dy (U each), dr (4U), unaligned on purpose
        const gi = 5;
        const cp = gi + 4 * U + 1;
        const tco = cp + U + 2;
        const dh = tco + U + 3;
        const dc = dh + U + 1;
        const dy = withDy ? dc + U + 2 : -1;
        const dr = dc + 2 * U + 7;
        const U2 = U & ~1;
        k.lstm_bwd_row(gi, cp, tco, dh, dc, dy, dr, U, U2);
        lstmBackRow(H, gi, cp, tco, dh, dc, dy, dr, U, U2);
        lstmBackRow(R, gi, cp, tco, dh, dc, dy, dr, U, 0);
        sameBytes(H.subarray(0, REGION), R, `lstm backward U=${U}`);
      }),
      { numRuns: 300, seed: 4712 },
    );
  });
});

describe("float32 nonlinearities", () => {
  // distance in units of the last place of the exact value's float32 neighbourhood
  const ulps = (got: number, exact: number): number => {
    const w = Math.fround(exact);
    const a = Math.abs(w);
    const ulp = a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
    return Math.abs(got - exact) / ulp;
  };
  it("are within 2 ulps of the exact functions (sigmoid 3: rounding 1 + e^-x adds one for x < -8)", () => {
    let worst = [0, 0, 0];
    const xs: number[] = [];
    for (let i = 0; i <= 400000; i++) xs.push(Math.fround(-40 + i * 2e-4));
    for (let i = 1; i <= 20000; i++) xs.push(Math.fround(i * 3e-5), Math.fround(-i * 3e-5), Math.fround(i * 1e-9));
    for (const x of xs) {
      worst = [
        Math.max(worst[0], x > -86 && x < 87 ? ulps(expF32(x), Math.exp(x)) : 0),
        Math.max(worst[1], ulps(sigmoidF32(x), 1 / (1 + Math.exp(-x)))),
        Math.max(worst[2], ulps(tanhF32(x), Math.tanh(x))),
      ];
    }
    expect(worst[0], "exp").toBeLessThan(2);
    expect(worst[1], "sigmoid").toBeLessThan(3);
    expect(worst[2], "tanh").toBeLessThan(2);
  });
  it("saturate cleanly", () => {
    // exp's argument is clamped to [-87, 88]: sigmoid(-200) = 1 / (1 + e^88), tiny and positive
    expect(sigmoidF32(-200)).toBeGreaterThan(0);
    expect(sigmoidF32(-200)).toBeLessThan(1e-38);
    expect([sigmoidF32(200), sigmoidF32(0)]).toEqual([1, 0.5]);
    expect([tanhF32(50), tanhF32(-50), tanhF32(Infinity), tanhF32(-Infinity)]).toEqual([1, -1, 1, -1]);
    expect([tanhF32(0), tanhF32(1e-30), tanhF32(-1e-30)]).toEqual([0, Math.fround(1e-30), Math.fround(-1e-30)]);
    expect(Number.isNaN(tanhF32(NaN)) && Number.isNaN(sigmoidF32(NaN))).toBe(true);
  });
});
