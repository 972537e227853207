// Recurrent kernels (runtime/kernels/rnn.ts): the fast LSTM / GRU direction kernels equal the
// naive per-sample oracles (runtime/kernels/rnn-reference.ts) on random configurations
// (fast-check: n = 1, T = 1, hidden sizes that are not multiples of 4, lengths, both
// directions, initial state, state carried in place, accumulated gradients), write nothing but
// their outputs, save and scratch, and their gradients match central finite differences.
import { afterAll, describe, it, expect } from "vitest";
import fc from "fast-check";
import { makeGemm } from "../runtime/kernels/gemm";
import { createBackend } from "../runtime/backend-create";
import { lstmForward, rnnMaxLength, type RnnConfig } from "../runtime/kernels/rnn";
import { expectClose, naiveGemm } from "./reference/conv_norm/harness";
import { layout, runFast, runForward, runNaive, gatesOf, type DirCase } from "./reference/rnn/harness";

const wasm = await createBackend(1 << 16, { backend: "wasm" });
afterAll(() => wasm.close());

const arbCase: fc.Arbitrary<DirCase> = fc
  .record({
    cell: fc.constantFrom<"lstm" | "gru">("lstm", "gru"),
    n: fc.integer({ min: 1, max: 4 }),
    T: fc.integer({ min: 1, max: 6 }),
    F: fc.integer({ min: 1, max: 5 }),
    U: fc.integer({ min: 1, max: 7 }),
    dirs: fc.constantFrom<1 | 2>(1, 2),
    second: fc.boolean(),
    lengths: fc.boolean(),
    lenDraws: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 4, maxLength: 4 }),
    bias: fc.boolean(),
    h0: fc.boolean(),
    alias: fc.boolean(),
    dy: fc.boolean(),
    dhT: fc.boolean(),
    beta: fc.constantFrom<0 | 1>(0, 1),
    betaX: fc.constantFrom<0 | 1>(0, 1),
    skip: fc.record({ y: fc.boolean(), final: fc.boolean(), dx: fc.boolean(), dh0: fc.boolean() }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((r) => {
    const cfg: RnnConfig = { T: r.T, F: r.F, hidden: r.U, dirs: r.dirs, reverse: r.dirs === 2 && r.second };
    const lens = r.lengths ? Array.from({ length: r.n }, (_, s) => r.lenDraws[s] % (r.T + 1)) : undefined;
    // at most one of y and the final state is left out, and a gradient flows into what is kept
    const skip = { ...r.skip, final: r.skip.final && !r.skip.y };
    const dy = !skip.y && (r.dy || !r.dhT || skip.final);
    const dhT = !skip.final && (r.dhT || skip.y);
    return { cell: r.cell, cfg, n: r.n, lens, bias: r.bias, h0: r.h0, alias: r.alias, dy, dhT, beta: r.beta, betaX: r.betaX, skip, seed: r.seed };
  });

function describeCase(k: DirCase): string {
  const { T, F, hidden, dirs, reverse } = k.cfg;
  return `${k.cell} n=${k.n} T=${T} F=${F} U=${hidden} dirs=${dirs}${reverse ? " reverse" : ""} lens=${k.lens ?? "-"} bias=${k.bias} h0=${k.h0}${k.alias ? " (=hT)" : ""} dy=${k.dy} dhT=${k.dhT} beta=${k.beta}/${k.betaX} skip=${JSON.stringify(k.skip ?? {})}`;
}

function compareFastNaive(k: DirCase, gemmKind: "blocked" | "naive" | "wasm"): void {
  const { hp, L } = layout(k, false, gemmKind === "wasm" ? wasm.H : undefined);
  const ref = hp.H.slice(0, hp.top);
  const gemm = gemmKind === "blocked" ? makeGemm(hp.H, "blocked") : gemmKind === "wasm" ? wasm.gemm : naiveGemm(hp.H);
  runFast(k, hp.H, gemm, L);
  runNaive(k, ref, L);
  const tag = describeCase(k);
  hp.checkGuards(tag);
  for (const [name, o, len] of L.outputs) expectClose(hp.get(o, len), Array.from(ref.subarray(o, o + len)), `${tag}: ${name}`, 2e-5, 2e-6);
  // padded positions of this direction are 0, the other direction's half is untouched
  const { T, hidden: U, dirs, reverse } = k.cfg;
  if (L.y >= 0)
    for (let s = 0; s < k.n; s++)
      for (let t = 0; t < T; t++) {
        const row = L.y + (s * T + t) * dirs * U;
        const mine = row + (reverse && dirs === 2 ? U : 0);
        if (k.lens && t >= k.lens[s]) for (let j = 0; j < U; j++) expect(hp.H[mine + j], `${tag}: y[${s},${t}] padded`).toBe(0);
        if (dirs === 2) for (let j = 0; j < U; j++) expect(hp.H[row + (reverse ? 0 : U) + j], `${tag}: other half`).toBe(-7);
      }
}

describe("rnn kernels: fast equals the naive oracle", () => {
  it("on random configurations (blocked TypeScript GEMM)", () => {
    fc.assert(
      fc.property(arbCase, (k) => compareFastNaive(k, "blocked")),
      { numRuns: 300, seed: 20260518 },
    );
  });
  it("on random configurations (wasm backend: its GEMM and the float32 wasm gate sweeps)", () => {
    fc.assert(
      fc.property(arbCase, (k) => compareFastNaive(k, "wasm")),
      { numRuns: 150, seed: 5150 },
    );
  });
  it("on the edge sizes n = 1, T = 1, U = 1 and with every length 1 (naive GEMM)", () => {
    for (const cell of ["lstm", "gru"] as const)
      for (const reverse of [false, true]) {
        const base = { cell, bias: true, h0: true, alias: false, dy: true, dhT: true, beta: 0 as const, betaX: 0 as const, seed: 5 };
        compareFastNaive({ ...base, n: 1, cfg: { T: 1, F: 3, hidden: 5, dirs: 2, reverse } }, "naive");
        compareFastNaive({ ...base, n: 3, cfg: { T: 4, F: 2, hidden: 1, dirs: 1, reverse } }, "naive");
        compareFastNaive({ ...base, n: 3, lens: [1, 1, 1], cfg: { T: 5, F: 2, hidden: 6, dirs: 2, reverse } }, "naive");
      }
  });
  it("a second backward over the same save area gives the same bytes (the save is left intact)", () => {
    for (const cell of ["lstm", "gru"] as const) {
      const k: DirCase = {
        cell,
        n: 3,
        cfg: { T: 5, F: 3, hidden: 6, dirs: 2, reverse: true },
        lens: [5, 2, 4],
        bias: true,
        h0: true,
        alias: false,
        dy: true,
        dhT: true,
        beta: 0,
        betaX: 0,
        seed: 9,
      };
      const { hp, L } = layout(k);
      const gemm = makeGemm(hp.H, "blocked");
      runFast(k, hp.H, gemm, L);
      const first = L.outputs.map(([, o, len]) => hp.get(o, len));
      runFast(k, hp.H, gemm, L);
      expect(L.outputs.map(([, o, len]) => hp.get(o, len))).toEqual(first);
    }
  });
});

describe("rnn kernels: lengths", () => {
  it("refuse a length outside 0..T, naming it", () => {
    const H = new Float32Array(64);
    const cfg: RnnConfig = { T: 4, F: 1, hidden: 1, dirs: 1, reverse: false };
    H.set([4, -1], 10);
    expect(() => rnnMaxLength(H, cfg, 10, 2)).toThrow(/length -1 of sample 1 is not an integer in 0\.\.4/);
    H.set([0, 0], 10);
    expect(rnnMaxLength(H, cfg, 10, 2)).toBe(0);
    H.set([2.5], 10);
    expect(() => rnnMaxLength(H, cfg, 10, 1)).toThrow(/length 2.5 of sample 0/);
    H.set([5], 10);
    expect(() => lstmForward(H, naiveGemm(H), cfg, { wih: 0, whh: 0, bih: -1, bhh: -1 }, 0, 10, -1, -1, -1, -1, -1, 20, 40, 1)).toThrow(/length 5/);
    H.set([3, 4, 1], 10);
    expect(rnnMaxLength(H, cfg, 10, 3)).toBe(4);
    expect(rnnMaxLength(H, cfg, -1, 3)).toBe(4);
  });
  it("a padded step changes nothing: a sample's outputs and final state do not depend on its padded input", () => {
    for (const cell of ["lstm", "gru"] as const)
      for (const reverse of [false, true]) {
        const k: DirCase = {
          cell,
          n: 2,
          cfg: { T: 6, F: 3, hidden: 5, dirs: 2, reverse },
          lens: [3, 6],
          bias: true,
          h0: true,
          alias: false,
          dy: true,
          dhT: true,
          beta: 0,
          betaX: 0,
          seed: 3,
        };
        const a = layout(k);
        const b = layout(k);
        // other padded inputs for sample 0 (t = 3..5)
        for (let t = 3; t < 6; t++) for (let f = 0; f < 3; f++) b.hp.H[b.L.x + t * 3 + f] = 100 * (f + t);
        runFast(k, a.hp.H, makeGemm(a.hp.H), a.L);
        runFast(k, b.hp.H, makeGemm(b.hp.H), b.L);
        for (const [name, o, len] of a.L.outputs) {
          if (name === "dx") {
            // the padded rows of dx are 0, the others equal
            expect(b.hp.get(o, 9)).toEqual(a.hp.get(o, 9));
            expect(b.hp.get(o + 9, 9)).toEqual(new Array(9).fill(0));
            expect(b.hp.get(o + 18, len - 18)).toEqual(a.hp.get(o + 18, len - 18));
          } else expect(b.hp.get(o, len), `${cell} ${name}`).toEqual(a.hp.get(o, len));
        }
      }
  });
});

// Central finite differences of L = sum(y * dy) + sum(hT * dhT) (+ sum(cT * dcT)) with respect to
// every parameter, x and the initial state:
// - of the naive oracle on a float64 heap (step 1e-6, tight): its backward is the gradient of its
//   forward, which the fast kernels equal (above);
// - of the fast kernels themselves, TypeScript path (float64 sweeps on a float64 heap), alike.
describe("rnn kernels: gradients match finite differences", () => {
  for (const impl of ["naive oracle", "fast"] as const)
    for (const cell of ["lstm", "gru"] as const)
      for (const [dirs, reverse, lens] of [
        [1, false, undefined],
        [2, true, [3, 1]],
        [2, false, [2, 3]],
      ] as const)
        it(`${impl}: ${cell} dirs=${dirs}${reverse ? " reverse" : ""} lengths=${lens ?? "-"}`, () => {
          const naive = impl === "naive oracle";
          const k: DirCase = {
            cell,
            n: 2,
            cfg: { T: 3, F: 2, hidden: 3, dirs, reverse },
            lens: lens ? [...lens] : undefined,
            bias: true,
            h0: true,
            alias: false,
            dy: true,
            dhT: true,
            beta: 0,
            betaX: 0,
            seed: 17,
          };
          const { hp, L } = layout(k, true);
          const H = hp.H;
          const gemm = naiveGemm(H);
          // padded dy must be finite here: the loss reads it (times a zero output)
          for (let i = 0; i < k.n * k.cfg.T * dirs * k.cfg.hidden; i++) if (Number.isNaN(H[L.dy + i])) H[L.dy + i] = 0.5;
          const U = k.cfg.hidden;
          const nU = k.n * U;
          const loss = (): number => {
            runForward(k, H, naive ? undefined : gemm, L);
            let s = 0;
            const ylen = k.n * k.cfg.T * dirs * U;
            for (let i = 0; i < ylen; i++) s += H[L.y + i] * H[L.dy + i];
            for (let i = 0; i < nU; i++) s += H[L.hT + i] * H[L.dhT + i];
            if (L.cT >= 0) for (let i = 0; i < nU; i++) s += H[L.cT + i] * H[L.dcT + i];
            return s;
          };
          if (naive) runNaive(k, H, L);
          else runFast(k, H, gemm, L);
          const G = gatesOf(cell) * U;
          const F = k.cfg.F;
          const wrt: [string, number, number, number][] = [
            ["W_ih", L.w.wih, L.g.wih, G * F],
            ["W_hh", L.w.whh, L.g.whh, G * U],
            ["b_ih", L.w.bih, L.g.bih, G],
            ["b_hh", L.w.bhh, L.g.bhh, G],
            ["x", L.x, L.dx, k.n * k.cfg.T * F],
            ["h0", L.h0, L.dh0, nU],
          ];
          if (L.c0 >= 0) wrt.push(["c0", L.c0, L.dc0, nU]);
          const got = wrt.map(([, , g, len]) => hp.get(g, len));
          const h = 1e-6;
          wrt.forEach(([name, p, , len], wi) => {
            const want: number[] = [];
            for (let i = 0; i < len; i++) {
              const v = H[p + i];
              H[p + i] = v + h;
              const lp = loss();
              H[p + i] = v - h;
              const lm = loss();
              H[p + i] = v;
              want.push((lp - lm) / (2 * h));
            }
            expectClose(got[wi], want, `${impl} ${cell} d${name}`, 1e-6, 1e-7);
          });
        });
});
