// lstm and gru in the compiled trainer, beyond the PyTorch cases: padded data whose lengths are all
// full gives the bytes of unpadded data (through a strided conv1d's time map, stacked, bidirectional,
// with dropout, both backends); an empty sequence (length 0) gives zeros and moves no weight; the
// step allocates nothing (the emitted code, the layer glue and the kernels); the layer's areas are
// planned by liveness (the scratch of two recurrent layers shares memory, their kept areas do not);
// training is deterministic (same seed: the same bytes).
import { describe, expect, it } from "vitest";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { train } from "../runtime/train-loop";
import { Rng } from "../runtime/rng";
import * as rnnLayer from "../runtime/kernels/rnn-layer";
import * as rnn from "../runtime/kernels/rnn";
import { seqProgram } from "./seqops-helpers";

const T = 14;
const STACK = `model stack {
  input [${T}]
  embedding(9, 6)
  conv1d(8, 3, stride=2) -> tanh
  lstm(5, layers=2, bidirectional=true, dropout=0.3)
  gru(4, return_sequences=false)
  dense(3)
  loss softmax_cross_entropy
}
data { source csv("d.csv") }
train { batch 4; optimizer adam(lr=0.01) }
`;

// each (spec, padded) compiled once
const programs = new Map<string, ReturnType<typeof seqProgram>>();
const compile = (source: string, lengths: boolean) => {
  const key = `${lengths} ${source}`;
  if (!programs.has(key)) programs.set(key, seqProgram(source, { lengths }));
  return programs.get(key)!;
};

async function step(lengths: number[] | undefined, backend: "ts" | "wasm", labels = [0, 1, 2, 0]) {
  const { program: p, ts, ir } = await compile(STACK, lengths !== undefined);
  const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
  try {
    const H = be.H;
    const model = p.create(be, 3);
    model.init();
    const rng = new Rng(11, 2);
    const n = 4;
    for (let i = 0; i < n * T; i++) H[p.layout.x + i] = Math.floor(rng.range(0, 9));
    H.set(labels, p.layout.labels);
    if (lengths) H.set(lengths, p.layout.lengths!);
    model.forward(n, true, 5);
    const out = H.slice(p.layout.out, p.layout.out + n * 3); // (its memory is reused in backward)
    H.fill(0, p.layout.G, p.layout.G + p.layout.N);
    const r = lossForward(H, p, n, true);
    model.backward(n, 5);
    return { out, grads: H.slice(p.layout.G, p.layout.G + p.layout.N), loss: r.loss, ts, ir, p };
  } finally {
    be.close();
  }
}

describe("padded data", () => {
  for (const backend of ["ts", "wasm"] as const)
    it(`every length full equals unpadded data, byte for byte (${backend})`, async () => {
      const a = await step(undefined, backend);
      const b = await step([T, T, T, T], backend);
      expect(b.ts).toMatch(/const CFG_lstm_0 = \{[^}]*\bmaps: \[-3, 2\]/); // the lengths through the conv's time map
      expect(b.loss).toBe(a.loss);
      expect(b.out).toEqual(a.out);
      expect(b.grads).toEqual(a.grads);
    });

  it("an empty sequence (length 0, and a length the strided conv maps to 0): zero state, no gradient into the recurrent layers", async () => {
    // samples 1 and 3 are empty for the recurrent layers: their logits are the dense's bias alone
    const r = await step([T, 0, 9, 2], "ts");
    const bias = r.p.tensors.find((t) => t.name === "dense_0.bias")!;
    const be = await createBackend(r.p.meta.heapFloats, { backend: "ts" });
    r.p.create(be, 3).init();
    const init = Array.from(be.H.subarray(bias.offset, bias.offset + 3));
    for (const s of [1, 3]) expect(Array.from(r.out.subarray(s * 3, s * 3 + 3))).toEqual(init);
    // other labels for the empty samples move the dense's bias gradient only
    const q = await step([T, 0, 9, 2], "ts", [0, 2, 2, 1]);
    for (const t of r.p.tensors) {
      const g = (x: typeof r) => Array.from(x.grads.subarray(t.offset - r.p.layout.P, t.offset - r.p.layout.P + t.size));
      if (t.name === "dense_0.bias") expect(g(q), t.name).not.toEqual(g(r));
      else expect(g(q), t.name).toEqual(g(r));
    }
  });
});

describe("nothing allocated per step", () => {
  it("the emitted forward and backward hold no allocation (the layer's configs are module constants)", async () => {
    const { ts } = await step(undefined, "ts");
    const body = ts.slice(ts.indexOf("forward(n: number"));
    expect(body).not.toMatch(/\bnew\b|[=(,:]\s*\[|Array\.|\{\s*[A-Za-z]+:/);
    expect(body).toContain("rnnLayerForward(");
    expect(body).toContain("rnnLayerBackward(");
  });

  it("the layer glue and the recurrent kernels hold no allocation (the plan, a compile-time function, may)", () => {
    const fns = Object.entries({ ...rnnLayer, ...rnn }).filter(([k, f]) => typeof f === "function" && /(Forward|Backward|ResetState|MaxLength)$/.test(k));
    expect(fns.map(([k]) => k).sort()).toEqual(
      [
        "gruBackward",
        "gruForward",
        "lstmBackward",
        "lstmForward",
        "rnnLayerBackward",
        "rnnLayerForward",
        "rnnLayerResetState",
        "rnnMaxLength",
        "rnnStackBackward",
        "rnnStackForward",
      ].sort(),
    );
    // (a thrown error is not a step's allocation: it ends the run)
    for (const [k, f] of fns)
      expect(String(f).replace(/throw new \w+\(/g, "throw("), k).not.toMatch(/\bnew\b|Array\.|\.slice\(|\.map\(|\.concat\(|\[\]|return \{|= \[/);
  });
});

describe("memory planning", () => {
  it("the two recurrent layers' scratch shares memory; what each keeps for its backward does not overlap anything live with it", async () => {
    const { ir } = await compile(STACK, false);
    const L = ir.layout!;
    const at = (k: string) => [L.offsets[k], L.offsets[k] + L.sizes[k]] as const;
    const overlap = (a: readonly [number, number], b: readonly [number, number]) => a[0] < b[1] && b[0] < a[1];
    expect(overlap(at("tmp:lstm_0"), at("tmp:gru_0"))).toBe(true);
    expect(overlap(at("save:lstm_0"), at("save:gru_0"))).toBe(false);
    for (const k of ["tmp:lstm_0", "tmp:gru_0", "z:lstm_0", "z:gru_0", "save:gru_0"]) expect(overlap(at("save:lstm_0"), at(k)), k).toBe(false);
    // the kept area holds the lengths, the first layer's output and its dropout mask, and both layers' save areas (batch 4)
    const seq = 4 * 6 * 10; // (B, T', 2·5) after the conv: T' = 6
    const saves = 4 * 848; // 2 layers x 2 directions, 7·U per position (LSTM): 4·6·7·5 = 840 floats, aligned to 16
    expect(L.sizes["save:lstm_0"]).toBe(16 + 2 * seq + saves);
  });
});

describe("training is deterministic", () => {
  it("same seed, same bytes (dropout between layers included), both backends", async () => {
    const { program: p } = await compile(STACK, false);
    const rng = new Rng(5, 5);
    const n = 24;
    const data = {
      x: Float32Array.from({ length: n * T }, () => Math.floor(rng.range(0, 9))),
      y: Float32Array.from({ length: n }, (_, i) => i % 3),
      n,
      shape: [T],
      classes: 3,
    };
    const run = async (backend: "ts" | "wasm") => {
      const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
      try {
        const model = p.create(be, p.train.seed);
        model.init();
        const r = train(p, be, model, { train: data }, { epochs: 2 });
        return { params: be.H.slice(p.layout.P, p.layout.P + p.layout.N), trace: r.lossTrace };
      } finally {
        be.close();
      }
    };
    for (const backend of ["ts", "wasm"] as const) {
      const a = await run(backend);
      const b = await run(backend);
      expect(a.trace.length).toBeGreaterThan(4);
      expect(b.params).toEqual(a.params);
      expect(b.trace).toEqual(a.trace);
    }
  });
});
