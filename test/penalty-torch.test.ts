// The penalties against PyTorch's double backprop (test/reference/penalty/make_cases.py): the same
// networks, weights, inputs, dropout masks and projection vectors; the loss, the penalty value, the
// penalty's own parameter gradients and those of L + penalty, after the trainer's step order
// (forward, loss gradient, backward, penalty). Float64 heap: 1e-6 of the largest entry; float32
// heap: relative 1e-4 of the largest entry.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { float64Backend } from "./helpers/compile";
import { compileWithPenalty, spec, type PenaltyProgram } from "./reference/penalty/helpers";
import { lossForward } from "../runtime/loss";
import { gemmNaive } from "../runtime/kernels/gemm";
import type { Backend } from "../runtime/backend";

interface Entry {
  kind: string;
  penalty: string;
  loss: number;
  value: number;
  grads: Record<string, number[]>;
  penaltyGrads: Record<string, number[]>;
  v?: number[];
}
interface Case {
  name: string;
  input: number[];
  body: string;
  loss: string;
  seed: number;
  step: number;
  n: number;
  params: Record<string, number[]>;
  x: number[];
  labels: number[];
  penalties: Entry[];
}
const REF = JSON.parse(readFileSync(new URL("./reference/penalty/cases.json", import.meta.url), "utf8")) as { cases: Case[] };

function float32Backend(floats: number): Backend {
  const H = new Float32Array(floats);
  return { H, name: "float32-naive", threads: 1, gemm: (tA, tB, M, N, K, a, b, c, beta) => gemmNaive(H, tA, tB, M, N, K, a, b, c, beta) };
}

/** max |a - b| over the largest |b|: one number per tensor family. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-12);
}

function run(program: PenaltyProgram, c: Case, be: Backend) {
  const H = be.H;
  const model = program.create(be, c.seed);
  model.init();
  const params = program.tensors.filter((t) => t.kind === "param");
  expect(params.map((t) => t.name).sort()).toEqual(Object.keys(c.params).sort());
  for (const t of params) H.set(c.params[t.name], t.offset);
  H.set(c.x, program.layout.x);
  H.set(c.labels, program.layout.labels);
  const { G, P, N } = program.layout;
  model.forward(c.n, true, c.step);
  const loss = lossForward(H, program, c.n, true).loss;
  model.backward(c.n, c.step);
  const before = Float64Array.from(H.subarray(G, G + N));
  const value = model.penalty(c.n, c.step);
  const grad = (name: string, after: boolean) => {
    const t = params.find((p) => p.name === name)!;
    const o = t.offset - P;
    return Array.from({ length: t.size }, (_, i) => H[G + o + i] - (after ? 0 : before[o + i]));
  };
  return { loss, value, grad };
}

describe("penalties equal PyTorch's double backprop", () => {
  for (const c of REF.cases) {
    for (const e of c.penalties) {
      it(`${c.name}: ${e.penalty}`, async () => {
        const { program, ir } = await compileWithPenalty(spec(`[${c.input.join(", ")}]`, c.body, c.loss, e.penalty, c.n));
        for (const [be, tol, tolLoss] of [
          [float64Backend(program.meta.heapFloats), 1e-6, 1e-9], // gelu's erfc: ~1e-8 relative
          [float32Backend(program.meta.heapFloats), 1e-4, 1e-6],
        ] as const) {
          const r = run(program, c, be);
          expect(Math.abs(r.loss - e.loss) / e.loss).toBeLessThan(tolLoss);
          expect(Math.abs(r.value - e.value) / e.value).toBeLessThan(tol);
          for (const name of Object.keys(c.params)) {
            const pg = r.grad(name, false);
            const g = r.grad(name, true);
            expect(relErr(pg, e.penaltyGrads[name]), `penalty gradient of ${name} (${be.name})`).toBeLessThan(tol);
            expect(relErr(g, e.grads[name]), `gradient of L + penalty, ${name} (${be.name})`).toBeLessThan(tol);
          }
          if (e.v) {
            // the last projection's v's stay in the output's gradient buffer: the same draws as Python's
            const k = program.meta.outputSize;
            const off = ir.layout!.offsets[`pen:d:${ir.nodes[ir.nodes.length - 1].output}`];
            const last = e.v.slice(e.v.length - c.n * k);
            expect(relErr(be.H.subarray(off, off + c.n * k), last)).toBeLessThan(be.name.startsWith("float64") ? 1e-12 : 1e-7);
          }
        }
      });
    }
  }
});
