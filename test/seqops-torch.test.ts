// The sequence layers against PyTorch 1.13 (test/reference/seqops/make_cases.py): embedding,
// conv1d, maxpool1d/avgpool1d, global_avgpool/global_maxpool over time (and global_maxpool over
// images), last, and a chain of them, compiled through the real pipeline on both backends: from the
// same weights, the output, the MSE loss, every parameter's gradient and the gradient at the tested
// layer's input. The padded cases compile as if the data source padded (ir.data.lengths, see
// seqops-helpers.ts) and put each sample's length in the heap; PyTorch ran each sample cut at its
// length alone, so these check that a padded position changes nothing.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { closeTo, seqProgram } from "./seqops-helpers";

interface Case {
  name: string;
  spec: string;
  shape: number[];
  n: number;
  x: number[];
  lengths: number[] | null;
  y: number[];
  out: number[];
  outShape: number[];
  loss: number;
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
  dx?: number[];
}

const ref = JSON.parse(readFileSync(new URL("./reference/seqops/cases.json", import.meta.url), "utf8")) as { torch: string; cases: Case[] };

const spec = (c: Case) => `model seqop {
  input [${c.shape.join(", ")}]
  ${c.spec}
  loss mse
}
data { source csv("d.csv") }
train { batch ${c.n} }
`;

describe("sequence layers against PyTorch", () => {
  it("the reference holds every layer, padded and not", () => {
    expect(ref.torch).toMatch(/^1\.13/);
    const names = ref.cases.map((c) => c.name).join(" ");
    for (const l of ["embedding", "conv1d", "maxpool1d", "avgpool1d", "global_avgpool", "global_maxpool", "last", "chain"]) {
      expect(names).toContain(l);
      expect(names).toContain(`${l}${l === "embedding" ? "" : " "}`);
    }
    expect(ref.cases.filter((c) => c.lengths).length).toBeGreaterThanOrEqual(10);
  });

  // each case compiled once, run on both backends
  const compiled = new Map<Case, ReturnType<typeof seqProgram>>();
  const compile = (c: Case) => {
    if (!compiled.has(c)) compiled.set(c, seqProgram(spec(c), { lengths: c.lengths !== null }));
    return compiled.get(c)!;
  };
  for (const c of ref.cases)
    for (const backend of ["ts", "wasm"] as const)
      it(`${c.name} (${c.spec.replace(/\s+/g, " ")}), ${backend}`, async () => {
        const padded = c.lengths !== null;
        const { program: p, ir } = await compile(c);
        expect(p.meta.outputShape).toEqual(c.outShape);
        const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
        try {
          const H = be.H;
          const model = p.create(be, 0);
          model.init();
          for (const t of p.tensors) if (t.kind === "param") H.set(c.params[t.name], t.offset);
          H.set(c.x, p.layout.x);
          H.set(c.y, p.layout.labels);
          if (padded) {
            expect(p.layout.lengths).toBeDefined();
            H.set(c.lengths!, p.layout.lengths!);
          } else expect(p.layout.lengths).toBeUndefined();
          model.forward(c.n, true, 0);
          const outSize = c.outShape.reduce((a, b) => a * b, 1);
          expect(closeTo(H.subarray(p.layout.out, p.layout.out + c.n * outSize), c.out, 2e-5), "output").toBeUndefined();
          H.fill(0, p.layout.G, p.layout.G + p.layout.N);
          const r = lossForward(H, p, c.n, true);
          expect(Math.abs(r.loss - c.loss)).toBeLessThanOrEqual(2e-5 * Math.max(1, c.loss));
          model.backward(c.n, 0);
          for (const t of p.tensors.filter((t) => t.kind === "param")) {
            const g = H.subarray(p.layout.G + (t.offset - p.layout.P), p.layout.G + (t.offset - p.layout.P) + t.size);
            expect(closeTo(g, c.grads[t.name], 1e-4), `grad ${t.name}`).toBeUndefined();
          }
          if (c.dx) {
            // the gradient at the tested layer's input: that of the dense before it (written last in the step)
            const o = ir.layout!.offsets["grad:dense_0"];
            expect(closeTo(H.subarray(o, o + c.dx.length), c.dx, 1e-4), "dx").toBeUndefined();
          }
        } finally {
          be.close();
        }
      });
});
