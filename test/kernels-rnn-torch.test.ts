// Recurrent kernels against PyTorch 1.13 (test/reference/rnn/make_cases.py): nn.LSTM / nn.GRU
// (batch_first) with 1 and 2 layers, bidirectional, variable lengths (pack_padded_sequence),
// initial state, no bias, and truncated BPTT over two windows with the state carried in place,
// run through the stack helper (rnnStackPlan / rnnStackForward / rnnStackBackward) on the
// TypeScript and the wasm backends: outputs, final states, the gradients of every parameter,
// of x and of the initial state.
import { describe, it, expect, afterAll } from "vitest";
import { createBackend, type ClosableBackend } from "../runtime/backend-create";
import type { GemmFn } from "../runtime/backend";
import { rnnStackBackward, rnnStackForward, rnnStackPlan, type RnnStackConfig, type RnnWeights } from "../runtime/kernels/rnn";
import { expectClose, loadCases } from "./reference/conv_norm/harness";

interface TorchCase {
  name: string;
  cell: "lstm" | "gru";
  n: number;
  T: number;
  F: number;
  H: number;
  layers: number;
  bidirectional: boolean;
  bias: boolean;
  lengths: number[] | null;
  x: number[];
  h0: number[] | null;
  c0: number[] | null;
  params: Record<string, number[]>;
  dy: number[];
  dhn: number[] | null;
  dcn: number[] | null;
  y: number[];
  hn: number[];
  cn: number[] | null;
  grads: Record<string, number[]>;
  dx: number[];
  dh0: number[] | null;
  dc0: number[] | null;
}

interface TbpttCase {
  name: string;
  cell: "lstm" | "gru";
  n: number;
  T: number;
  F: number;
  H: number;
  layers: number;
  x: number[];
  params: Record<string, number[]>;
  dy1: number[];
  dy2: number[];
  y1: number[];
  y2: number[];
  hn: number[];
  cn: number[] | null;
  grads: Record<string, number[]>;
}

const cases = loadCases<TorchCase>("../rnn/cases.json");
const tbptt = loadCases<TbpttCase>("../rnn/tbptt.json");

/** A bump allocator over a backend's heap (it may be a view of wasm memory). */
class Bump {
  top = 16;
  constructor(public H: Float32Array) {}
  alloc(n: number): number {
    const o = this.top;
    this.top += (n + 15) & ~15;
    if (this.top > this.H.length) throw new Error(`heap overflow: ${this.top} > ${this.H.length}`);
    this.H.fill(NaN, o, this.top);
    return o;
  }
  put(v: readonly number[] | null): number {
    if (!v) return -1;
    const o = this.alloc(v.length);
    this.H.set(v, o);
    return o;
  }
  get(o: number, n: number): number[] {
    return Array.from(this.H.subarray(o, o + n));
  }
}

const suffix = (l: number, d: number): string => `_l${l}${d === 1 ? "_reverse" : ""}`;

/** Parameters and their gradient buffers of every (layer, direction), PyTorch's names. */
function placeParams(b: Bump, s: RnnStackConfig, params: Record<string, number[]>, bias: boolean): { w: RnnWeights[]; g: RnnWeights[] } {
  const w: RnnWeights[] = [];
  const g: RnnWeights[] = [];
  for (let l = 0; l < s.layers; l++)
    for (let d = 0; d < s.dirs; d++) {
      const p = (k: string): number[] => params[`${k}${suffix(l, d)}`];
      w.push({ wih: b.put(p("weight_ih")), whh: b.put(p("weight_hh")), bih: bias ? b.put(p("bias_ih")) : -1, bhh: bias ? b.put(p("bias_hh")) : -1 });
      g.push({
        wih: b.alloc(p("weight_ih").length),
        whh: b.alloc(p("weight_hh").length),
        bih: bias ? b.alloc(p("bias_ih").length) : -1,
        bhh: bias ? b.alloc(p("bias_hh").length) : -1,
      });
    }
  return { w, g };
}

function expectGrads(b: Bump, s: RnnStackConfig, g: RnnWeights[], grads: Record<string, number[]>, tag: string, bias: boolean): void {
  for (let l = 0; l < s.layers; l++)
    for (let d = 0; d < s.dirs; d++) {
      const gi = g[l * s.dirs + d];
      const names: [string, number][] = [
        ["weight_ih", gi.wih],
        ["weight_hh", gi.whh],
      ];
      if (bias) names.push(["bias_ih", gi.bih], ["bias_hh", gi.bhh]);
      for (const [k, o] of names) {
        const want = grads[`${k}${suffix(l, d)}`];
        expectClose(b.get(o, want.length), want, `${tag}: grad ${k}${suffix(l, d)}`);
      }
    }
}

const backends: [string, () => Promise<ClosableBackend>][] = [
  ["ts", () => createBackend(1 << 20, { backend: "ts" })],
  ["wasm", () => createBackend(1 << 20, { backend: "wasm" })],
];
const opened: ClosableBackend[] = [];
afterAll(() => opened.forEach((b) => b.close()));

for (const [bname, make] of backends)
  describe(`rnn kernels against PyTorch 1.13 (${bname} backend)`, () => {
    let be: ClosableBackend | undefined;
    const backend = async (): Promise<{ H: Float32Array; gemm: GemmFn }> => {
      if (!be) {
        be = await make();
        opened.push(be);
      }
      return be;
    };
    for (const c of cases)
      it(c.name, async () => {
        const { H, gemm } = await backend();
        const b = new Bump(H);
        const dirs = c.bidirectional ? 2 : 1;
        const s: RnnStackConfig = { cell: c.cell, layers: c.layers, dirs, T: c.T, F: c.F, hidden: c.H };
        const { w, g } = placeParams(b, s, c.params, c.bias);
        const x = b.put(c.x);
        const len = b.put(c.lengths);
        const h0 = b.put(c.h0);
        const c0 = b.put(c.c0);
        const stateLen = c.layers * dirs * c.n * c.H;
        const y = b.alloc(c.y.length);
        const hT = b.alloc(stateLen);
        const cT = c.cell === "lstm" ? b.alloc(stateLen) : -1;
        const dy = b.put(c.dy);
        const dhT = b.put(c.dhn);
        const dcT = b.put(c.dcn);
        const dx = b.alloc(c.x.length);
        const dh0 = b.alloc(stateLen);
        const dc0 = c.cell === "lstm" ? b.alloc(stateLen) : -1;
        const p = rnnStackPlan(s, c.n, b.alloc(0));
        b.alloc(p.size);
        rnnStackForward(H, gemm, s, p, w, x, len, h0, c0, y, hT, cT, c.n);
        const tag = `${bname} ${c.name}`;
        expectClose(b.get(y, c.y.length), c.y, `${tag}: output`);
        expectClose(b.get(hT, stateLen), c.hn, `${tag}: h_n`);
        if (c.cn) expectClose(b.get(cT, stateLen), c.cn, `${tag}: c_n`);
        rnnStackBackward(H, gemm, s, p, w, g, x, len, dy, dhT, dcT, dx, dh0, dc0, c.n, 0);
        expectGrads(b, s, g, c.grads, tag, c.bias);
        expectClose(b.get(dx, c.dx.length), c.dx, `${tag}: dx`);
        if (c.dh0) expectClose(b.get(dh0, stateLen), c.dh0, `${tag}: dh0`);
        if (c.dc0) expectClose(b.get(dc0, stateLen), c.dc0, `${tag}: dc0`);
      });

    for (const c of tbptt)
      it(c.name, async () => {
        const { H, gemm } = await backend();
        const b = new Bump(H);
        const s: RnnStackConfig = { cell: c.cell, layers: c.layers, dirs: 1, T: c.T, F: c.F, hidden: c.H };
        const { w, g } = placeParams(b, s, c.params, true);
        const { n, T, F, H: U } = c;
        // the two windows of x, each (n, T, F)
        const xs = [0, 1].map((k) => b.put(Array.from({ length: n * T * F }, (_, i) => c.x[(Math.floor(i / (T * F)) * 2 * T + k * T) * F + (i % (T * F))])));
        const stateLen = c.layers * n * U;
        // the carried state: h0 = hT (and c0 = cT), zero before the first window
        const hS = b.put(new Array(stateLen).fill(0));
        const cS = c.cell === "lstm" ? b.put(new Array(stateLen).fill(0)) : -1;
        const y = b.alloc(n * T * U);
        const p = rnnStackPlan(s, n, b.alloc(0));
        b.alloc(p.size);
        const dys = [b.put(c.dy1), b.put(c.dy2)];
        const wants = [c.y1, c.y2];
        for (let k = 0; k < 2; k++) {
          rnnStackForward(H, gemm, s, p, w, xs[k], -1, hS, cS, y, hS, cS, n);
          expectClose(b.get(y, n * T * U), wants[k], `${bname} ${c.name}: window ${k + 1} output`);
          rnnStackBackward(H, gemm, s, p, w, g, xs[k], -1, dys[k], -1, -1, -1, -1, -1, n, k === 0 ? 0 : 1);
        }
        expectClose(b.get(hS, stateLen), c.hn, `${bname} ${c.name}: h_n`);
        if (c.cn) expectClose(b.get(cS, stateLen), c.cn, `${bname} ${c.name}: c_n`);
        expectGrads(b, s, g, c.grads, `${bname} ${c.name}`, true);
      });
  });

describe("rnn reference cases", () => {
  it("cover the variants the issue names", () => {
    const names = cases.map((c) => c.name).join("\n");
    for (const cell of ["lstm", "gru"])
      for (const v of ["1 layer", "2 layers", "bidirectional", "variable lengths", "initial state"]) expect(names).toContain(`${cell} ${v}`);
    expect(tbptt.map((c) => c.cell)).toEqual(["lstm", "gru"]);
  });
});
