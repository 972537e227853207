// Dropout between stacked recurrent layers (`lstm(..., layers=3, dropout=p)`), tested by what it
// must do rather than against PyTorch's random numbers: in training the output sequence of every
// layer but the last is multiplied by a mask of 0 and 1/(1-p) drawn at rate p (one stream per
// layer, keyed by the seed and the step: the same masks for the same seed and step, others for
// another step or seed, the same bytes on both backends), the first layer's output is exactly its
// undropped output times the mask, nothing is dropped in evaluation (the output equals the model
// compiled without dropout, byte for byte), and the gradient flows through the masks (central
// finite differences in float64 with the masks held by the seed and step).
import { describe, expect, it } from "vitest";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { Rng } from "../runtime/rng";
import type { Backend } from "../runtime/backend";
import type { Program } from "../runtime/program";
import type { IR } from "../compiler/ir";
import { rnnLayerConfig, type RnnNode } from "../compiler/ops/rnn";
import { float64Backend } from "./helpers/compile";
import { seqProgram } from "./seqops-helpers";

const P = 0.4;
const B = 8;
const T = 12;
const spec = (cell: string, p: number) => `model drop {
  input [${T}, 3]
  ${cell}(8, layers=3, bidirectional=true${p > 0 ? `, dropout=${p}` : ""})
  dense(2)
  loss mse
}
data { source csv("d.csv") }
train { batch ${B} }
`;

/** Random weights and a random batch (inputs and targets), the same for every program of this spec. */
function fill(p: Program, H: Float32Array): void {
  const rng = new Rng(3, 1);
  for (const t of p.tensors) for (let i = 0; i < t.size; i++) H[t.offset + i] = rng.range(-0.6, 0.6);
  for (let i = 0; i < B * T * 3; i++) H[p.layout.x + i] = rng.range(-2, 2);
  for (let i = 0; i < B * T * 2; i++) H[p.layout.labels + i] = rng.range(-1, 1);
}

// each spec compiled once
const programs = new Map<string, ReturnType<typeof seqProgram>>();
const compile = (cell: string, p: number) => {
  const key = `${cell} ${p}`;
  if (!programs.has(key)) programs.set(key, seqProgram(spec(cell, p)));
  return programs.get(key)!;
};

const areas = (ir: IR) => rnnLayerConfig(ir.nodes[0] as RnnNode, ir, (name) => ir.layout!.offsets[name]);

describe("dropout between recurrent layers", () => {
  for (const cell of ["lstm", "gru"])
    it(`${cell}: masks at rate p scaled by 1/(1-p), deterministic per seed and step, the same on both backends; off in evaluation`, async () => {
      const { program: p, ir } = await compile(cell, P);
      const c = areas(ir);
      const size = B * T * 2 * 8;
      expect(c.masks).toHaveLength(2);
      const bes: Backend[] = [];
      try {
        const run = async (backend: "ts" | "wasm", seed: number, step: number, train: boolean, prog = p) => {
          const be = await createBackend(prog.meta.heapFloats, { backend, relaxed: false });
          bes.push(be);
          const model = prog.create(be, seed);
          model.init();
          fill(prog, be.H);
          model.forward(B, train, step);
          return be.H;
        };
        const H = await run("ts", 1, 3, true);
        const scale = Math.fround(1 / (1 - P));
        const masks = c.masks.map((m) => H.slice(m, m + size));
        for (const m of masks) {
          let zeros = 0;
          for (const v of m) {
            expect(v === 0 || v === scale).toBe(true);
            if (v === 0) zeros++;
          }
          // rate p within four standard deviations of the binomial
          expect(Math.abs(zeros / size - P)).toBeLessThan(4 * Math.sqrt((P * (1 - P)) / size));
        }
        expect(masks[0]).not.toEqual(masks[1]);
        // the first layer's output is its undropped output times the mask
        const E = await run("ts", 1, 3, false);
        const y0 = c.ys[0];
        for (let i = 0; i < size; i++) expect(H[y0 + i]).toBe(Math.fround(E[y0 + i] * masks[0][i]));
        // evaluation drops nothing: the output of the model compiled without dropout (gru), byte for byte
        const out = B * T * 2;
        if (cell === "gru") {
          const { program: p0 } = await compile(cell, 0);
          const E0 = await run("ts", 1, 3, false, p0);
          expect(E.slice(p.layout.out, p.layout.out + out)).toEqual(E0.slice(p0.layout.out, p0.layout.out + out));
        }
        expect(H.slice(p.layout.out, p.layout.out + out)).not.toEqual(E.slice(p.layout.out, p.layout.out + out));
        // deterministic per seed and step; the wasm backend draws the same masks and computes the same outputs (the
        // ts backend's gate sweeps are float64, the wasm's float32: equal to float32 rounding)
        const again = await run("ts", 1, 3, true);
        expect(again.slice(c.masks[0], c.masks[0] + size)).toEqual(masks[0]);
        const step4 = await run("ts", 1, 4, true);
        expect(step4.slice(c.masks[0], c.masks[0] + size)).not.toEqual(masks[0]);
        const seed2 = await run("ts", 2, 3, true);
        expect(seed2.slice(c.masks[0], c.masks[0] + size)).not.toEqual(masks[0]);
        const W = await run("wasm", 1, 3, true);
        for (const m of c.masks) expect(W.slice(m, m + size)).toEqual(H.slice(m, m + size));
      } finally {
        for (const be of bes) (be as { close?: () => void }).close?.();
      }
    });

  it("the gradient flows through the masks: central finite differences in float64 (gru, masks held by the seed and step)", async () => {
    const { program: p } = await compile("gru", P);
    const be = float64Backend(p.meta.heapFloats);
    const H = be.H;
    const model = p.create(be, 7);
    model.init();
    fill(p, H);
    const STEP = 5;
    const loss = () => {
      model.forward(B, true, STEP);
      return lossForward(H, p, B, true).loss;
    };
    loss();
    H.fill(0, p.layout.G, p.layout.G + p.layout.N);
    model.backward(B, STEP);
    const grads = Float64Array.from(H.subarray(p.layout.G, p.layout.G + p.layout.N));
    const rng = new Rng(11, 2);
    // parameters of each of the three layers (the first two reach the loss through the masks)
    for (const name of ["gru_0.weight_ih_l0", "gru_0.weight_hh_l0_reverse", "gru_0.bias_hh_l1", "gru_0.weight_ih_l2_reverse"]) {
      const t = p.tensors.find((q) => q.name === name)!;
      for (let k = 0; k < 3; k++) {
        const i = t.offset + Math.floor(rng.range(0, t.size));
        const w = H[i];
        const h = 1e-6;
        H[i] = w + h;
        const up = loss();
        H[i] = w - h;
        const down = loss();
        H[i] = w;
        const fd = (up - down) / (2 * h);
        const g = grads[i - p.layout.P];
        expect(Math.abs(fd - g), `${name}[${i - t.offset}]: ${fd} vs ${g}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(g)));
      }
    }
  });
});
