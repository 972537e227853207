// The sequence core against PyTorch 1.13 (test/reference/seq/make_cases.py): dense and layer norm at
// every position of a sequence [T, F], softmax cross-entropy with a class at every position and the
// padded positions (label -1) ignored: the compiled trainer's logits, loss, accuracy count and every
// parameter's gradient from the same weights.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compileProgram } from "./helpers/compile";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";

interface Case {
  n: number;
  T: number;
  F: number;
  hidden: number;
  classes: number;
  x: number[];
  y: number[];
  logits: number[];
  loss: number;
  correct: number;
  count: number;
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
}
const ref = JSON.parse(readFileSync("test/reference/seq/cases.json", "utf8")) as { cases: Case[] };

const spec = (c: Case, extra = "") => `model seq {
  input [${c.T}, ${c.F}]
  dense(${c.hidden}) -> layernorm -> tanh
  dense(${c.classes})
  loss softmax_cross_entropy
}
data { source idx("d")${extra} }
train { batch ${c.n} }
`;

const close = (got: ArrayLike<number>, want: number[], what: string, tol = 2e-5) => {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i])));
};

describe("a class at every position of a sequence, against PyTorch", () => {
  for (const [k, c] of ref.cases.entries()) {
    for (const backend of ["ts", "wasm"] as const)
      it(`case ${k} (n ${c.n}, T ${c.T}, F ${c.F}, ${c.count} of ${c.n * c.T} positions counted), ${backend}`, async () => {
        const { program: p } = await compileProgram(spec(c));
        expect(p.meta.positions).toBe(c.T);
        const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
        try {
          const H = be.H;
          const model = p.create(be, 0);
          model.init();
          for (const t of p.tensors) if (c.params[t.name]) H.set(c.params[t.name], t.offset);
          H.set(c.x, p.layout.x);
          H.set(c.y, p.layout.labels);
          model.forward(c.n, true, 0);
          close(H.subarray(p.layout.out, p.layout.out + c.n * c.T * c.classes), c.logits, "logits");
          H.fill(0, p.layout.G, p.layout.G + p.layout.N);
          const r = lossForward(H, p, c.n, true);
          expect(Math.abs(r.loss - c.loss)).toBeLessThan(1e-5);
          expect(r.count).toBe(c.count);
          expect(r.correct).toBe(c.correct);
          model.backward(c.n, 0);
          for (const t of p.tensors.filter((t) => t.kind === "param"))
            close(H.subarray(p.layout.G + (t.offset - p.layout.P), p.layout.G + (t.offset - p.layout.P) + t.size), c.grads[t.name], `grad ${t.name}`, 1e-4);
        } finally {
          be.close();
        }
      });
  }
});
