// findNonFinite against a naive scan: on the parameter arena of real compiled specs, with NaN and
// ±Infinity planted at random places (params, grads, arena padding, running statistics).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { compileToIr } from "../compiler/pipeline";
import { programConstants } from "../compiler/codegen/emit-trainer";
import { describeNonFinite, findNonFinite, type NonFinite } from "../runtime/divergence";
import type { Program } from "../runtime/program";

function programOf(src: string): Pick<Program, "segments" | "layout" | "tensors"> & { heapFloats: number } {
  const r = compileToIr(src, "t.dnn");
  if (!r.ir) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const c = programConstants(r.ir, ".");
  return { segments: c.segments, layout: c.layout, tensors: c.tensors, heapFloats: c.meta.heapFloats };
}

/** The reference: every param element in arena order, then every grad element. */
function naive(H: Float32Array, p: Pick<Program, "segments" | "layout">): NonFinite | undefined {
  for (const kind of ["param", "grad"] as const)
    for (const s of p.segments)
      for (let i = 0; i < s.size; i++) {
        const v = H[(kind === "param" ? p.layout.P : p.layout.G) + s.offset + i];
        if (!Number.isFinite(v)) return { tensor: s.name!, index: i, value: v, kind };
      }
  return undefined;
}

const small = `model m {
  input [1, 6, 6]
  conv2d(3, 3, padding=same) -> bn -> relu
  flatten
  dense(7) -> layernorm -> tanh
  dense(3)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4
  optimizer adam(lr=0.01) }
`;

describe("findNonFinite", () => {
  const p = programOf(small);
  const H = new Float32Array(p.heapFloats);
  const fill = (seed: number) => {
    let s = seed >>> 0;
    for (let i = 0; i < H.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      H[i] = (s / 2 ** 32 - 0.5) * 4;
    }
  };

  it("finds nothing in a finite arena, even at float32's extremes (the float64 sum cannot overflow)", () => {
    fill(1);
    expect(findNonFinite(H, p)).toBeUndefined();
    for (const s of p.segments) H.fill(3.4028234663852886e38, p.layout.P + s.offset, p.layout.P + s.offset + s.size);
    expect(findNonFinite(H, p)).toBeUndefined();
    for (const s of p.segments) H.fill(-3.4028234663852886e38, p.layout.G + s.offset, p.layout.G + s.offset + s.size);
    expect(findNonFinite(H, p)).toBeUndefined();
  });

  it("names the same tensor, element and value as a naive scan (random plants)", () => {
    const total = p.segments.reduce((a, s) => a + s.size, 0);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            where: fc.constantFrom("param", "grad", "other"),
            at: fc.nat({ max: total - 1 }),
            value: fc.constantFrom(NaN, Infinity, -Infinity),
          }),
          { minLength: 0, maxLength: 4 },
        ),
        fc.nat(),
        (plants, seed) => {
          fill(seed);
          for (const { where, at, value } of plants) {
            if (where === "other")
              H[p.layout.G + p.layout.N + (at % (H.length - p.layout.G - p.layout.N))] = value; // state, stats, activations
            else H[(where === "param" ? p.layout.P : p.layout.G) + at] = value;
          }
          const got = findNonFinite(H, p);
          const want = naive(H, p);
          if (want === undefined) expect(got).toBeUndefined();
          else {
            expect(got).toBeDefined();
            expect({ ...got!, value: String(got!.value) }).toEqual({ ...want, value: String(want.value) });
          }
        },
      ),
      { seed: 20261125, numRuns: 300 },
    );
  });

  it("reports the layer: a NaN in the first weight's gradient names dense_0.weight, row-major index", () => {
    fill(2);
    const seg = p.segments.find((s) => s.name === "dense_0.weight")!;
    const cols = seg.cols;
    H[p.layout.G + seg.offset + 2 * cols + 5] = NaN;
    const f = findNonFinite(H, p)!;
    expect(f).toMatchObject({ tensor: "dense_0.weight", index: 2 * cols + 5, kind: "grad" });
    expect(describeNonFinite(f)).toBe(`gradient of dense_0.weight is NaN at element ${2 * cols + 5}`);
    H[p.layout.P + seg.offset + 1] = -Infinity; // a broken parameter wins over a broken gradient
    expect(findNonFinite(H, p)).toMatchObject({ tensor: "dense_0.weight", index: 1, kind: "param", value: -Infinity });
  });

  it("scope: only gradients, or only parameters", () => {
    fill(4);
    const seg = p.segments[1];
    H[p.layout.P + seg.offset] = NaN;
    H[p.layout.G + seg.offset + 1] = Infinity;
    expect(findNonFinite(H, p, "grads")).toEqual({ tensor: seg.name, index: 1, value: Infinity, kind: "grad" });
    expect(findNonFinite(H, p, "params")).toMatchObject({ tensor: seg.name, index: 0, kind: "param" });
    H[p.layout.G + seg.offset + 1] = 0;
    expect(findNonFinite(H, p, "grads")).toBeUndefined();
  });

  it("ignores the padding after the last segment and the running statistics", () => {
    fill(3);
    const used = p.segments.reduce((a, s) => Math.max(a, s.offset + s.size), 0);
    expect(p.layout.N).toBeGreaterThan(used); // this spec's arena is padded
    H[p.layout.P + used] = NaN;
    H[p.layout.G + used] = NaN;
    const stat = p.tensors.find((t) => t.kind === "stat")!;
    H[stat.offset] = NaN;
    expect(findNonFinite(H, p)).toBeUndefined();
  });

  it("works on the example MLP's arena", () => {
    const mlp = programOf(readFileSync("specs/fashion-mlp.dnn", "utf8"));
    const H2 = new Float32Array(mlp.heapFloats);
    expect(findNonFinite(H2, mlp)).toBeUndefined();
    const last = mlp.segments[mlp.segments.length - 1];
    H2[mlp.layout.G + last.offset + last.size - 1] = Infinity;
    expect(findNonFinite(H2, mlp)).toEqual({ tensor: last.name, index: last.size - 1, value: Infinity, kind: "grad" });
  });
});
