// Truncated backpropagation through time (`tbptt true`): the windows of a text source in track
// order, each recurrent layer's final state carried into the next batch (no gradient into it),
// zero at each epoch's start; validation evaluated statefully in track order from a zero state.
// Checked against a PyTorch twin in the manner of word_language_model (hidden.detach(),
// test/reference/rnnop/make_tbptt.py): every step's loss, each epoch's training and validation
// loss, the final parameters, on both backends. Also: the track order; the carried state is
// exactly the previous window's (two windows of T in a row = one window of 2T); without carrying
// (predict, generate, test) the model is the one compiled without tbptt, byte for byte; the
// user errors; the PyTorch target refuses it.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createBackend } from "../runtime/backend-create";
import { train, trackOrder } from "../runtime/train-loop";
import { Rng } from "../runtime/rng";
import type { Dataset } from "../runtime/data/dataset";
import { compileToIr } from "../compiler/pipeline";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { closeTo, seqProgram } from "./seqops-helpers";

interface Case {
  name: string;
  spec: string;
  T: number;
  B: number;
  V: number;
  train: number[];
  val: number[];
  params: Record<string, number[]>;
  losses: number[];
  epochs: { train_loss: number; val_loss: number }[];
  final: Record<string, number[]>;
}
const ref = JSON.parse(readFileSync(new URL("./reference/rnnop/tbptt.json", import.meta.url), "utf8")) as {
  torch: string;
  lr: number;
  clip: number;
  epochs: number;
  cases: Case[];
};

const spec = (body: string, T: number, B: number, extra = "") => `model lm {
  input [${T}]
  ${body}
  loss softmax_cross_entropy
}
data { source text("corpus.txt", context=${T}); validation 0.2 }
train { batch ${B}; epochs ${ref.epochs}; optimizer adam(lr=${ref.lr}); clip_norm ${ref.clip}; tbptt true${extra} }
`;

/** A span's windows as the text source cuts them: x = ids[iT, iT+T), y = the next ids. */
function windows(ids: number[], T: number, V: number): Dataset {
  const n = Math.floor((ids.length - T - 1) / T) + 1;
  const x = new Float32Array(n * T);
  const y = new Float32Array(n * T);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < T; t++) {
      x[i * T + t] = ids[i * T + t];
      y[i * T + t] = ids[i * T + t + 1];
    }
  return { x, y, n, shape: [T], targetShape: [T], classes: V };
}

describe("tbptt against a PyTorch twin (word_language_model: tracks, hidden.detach(), reset per epoch)", () => {
  it("the reference", () => {
    expect(ref.torch).toMatch(/^1\.13/);
    expect(ref.cases.map((c) => c.name)).toEqual(["lstm layers=2", "gru"]);
  });
  for (const c of ref.cases) {
    const compiled = seqProgram(spec(c.spec, c.T, c.B));
    for (const backend of ["ts", "wasm"] as const)
      it(`${c.name}, ${backend}: every step's loss, each epoch's training and validation loss, the final parameters`, async () => {
        const { program: p, ts } = await compiled;
        expect(ts).toContain("carryState(on: boolean)");
        const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
        try {
          const model = p.create(be, 0);
          model.init();
          for (const t of p.tensors) be.H.set(c.params[t.name], t.offset);
          const r = train(p, be, model, { train: windows(c.train, c.T, c.V), validation: windows(c.val, c.T, c.V) });
          expect(closeTo(r.lossTrace, c.losses, 2e-5), "losses").toBeUndefined();
          expect(r.epochs).toHaveLength(ref.epochs);
          for (let e = 0; e < ref.epochs; e++) {
            expect(Math.abs(r.epochs[e].train_loss - c.epochs[e].train_loss), `epoch ${e + 1} train_loss`).toBeLessThan(2e-5);
            expect(Math.abs(r.epochs[e].val_loss! - c.epochs[e].val_loss), `epoch ${e + 1} val_loss`).toBeLessThan(2e-5);
          }
          for (const t of p.tensors) expect(closeTo(be.H.subarray(t.offset, t.offset + t.size), c.final[t.name], 1e-4), t.name).toBeUndefined();
        } finally {
          be.close();
        }
      });
  }
});

describe("the carried state", () => {
  it("track order: row b of batch j+1 continues row b of batch j; the remainder is left out", () => {
    expect(Array.from(trackOrder(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), 3))).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(Array.from(trackOrder(Int32Array.from([5, 6]), 4))).toEqual([5, 6]);
    expect(Array.from(trackOrder(new Int32Array(0), 4))).toEqual([]);
  });

  it("two windows of T in a row, carrying, equal one window of 2T; without carrying, the model compiled without tbptt (byte for byte)", async () => {
    const T = 6;
    const body = "embedding(7, 4)\n  lstm(5, layers=2) -> tanh\n  gru(3)\n  dense(7)";
    const { program: p } = await seqProgram(spec(body, T, 2));
    const { program: long } = await seqProgram(spec(body, 2 * T, 2).replace("; tbptt true", ""));
    const { program: plain } = await seqProgram(spec(body, T, 2).replace("; tbptt true", ""));
    const rng = new Rng(4, 4);
    const ids = Array.from({ length: 2 * 2 * T }, () => Math.floor(rng.range(0, 7)));
    const bes: { close(): void }[] = [];
    const model = async (prog: typeof p) => {
      const be = await createBackend(prog.meta.heapFloats, { backend: "ts" });
      bes.push(be);
      const m = prog.create(be, 9);
      m.init(); // the same seed and names: the same initial weights
      return { m, H: be.H, prog };
    };
    try {
      const V = 7;
      const a = await model(p);
      const b = await model(long);
      const q = await model(plain);
      // one window of 2T per sample
      for (let s = 0; s < 2; s++) for (let t = 0; t < 2 * T; t++) b.H[long.layout.x + s * 2 * T + t] = ids[s * 2 * T + t];
      b.m.forward(2, false, 0);
      // the same as two windows of T, carrying the state
      a.m.carryState!(true);
      a.m.resetState!();
      for (let w = 0; w < 2; w++) {
        for (let s = 0; s < 2; s++) for (let t = 0; t < T; t++) a.H[p.layout.x + s * T + t] = ids[s * 2 * T + w * T + t];
        a.m.forward(2, false, 0);
        for (let s = 0; s < 2; s++) {
          const got = a.H.subarray(p.layout.out + s * T * V, p.layout.out + (s + 1) * T * V);
          const want = b.H.subarray(long.layout.out + (s * 2 * T + w * T) * V, long.layout.out + (s * 2 * T + (w + 1) * T) * V);
          expect(closeTo(got, want, 1e-6), `window ${w}, sample ${s}`).toBeUndefined();
        }
      }
      // not carrying (as predict, generate and test run it): each forward starts from zero
      a.m.carryState!(false);
      q.H.set(a.H.subarray(p.layout.x, p.layout.x + 2 * T), plain.layout.x);
      a.m.forward(2, false, 0);
      q.m.forward(2, false, 0);
      expect(a.H.slice(p.layout.out, p.layout.out + 2 * T * V)).toEqual(q.H.slice(plain.layout.out, plain.layout.out + 2 * T * V));
    } finally {
      for (const be of bes) be.close();
    }
  });
});

describe("tbptt: user errors and targets", () => {
  const diagnose = (text: string) => {
    const r = compileToIr(text, "s.dnn");
    expect(r.ir).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    const d = r.diagnostics[0];
    return { code: d.code, message: d.message, at: `${d.span.line}:${d.span.col}`, hint: d.hint };
  };
  const LM = "embedding(7, 4)\n  lstm(5)\n  dense(7)";

  it("a source of separate samples", () => {
    expect(
      diagnose(spec(LM, 6, 2).replace(`text("corpus.txt", context=6); validation 0.2`, `tokens("t.csv")`).replace("loss softmax_cross_entropy", "loss mse")),
    ).toEqual({
      code: "E0403",
      message: "tbptt carries the recurrent state across consecutive windows of one corpus; a tokens(...) source gives separate samples",
      at: "9:68",
      hint: 'use a text("...", context=N) source, or drop tbptt',
    });
  });
  it("overlapping windows", () => {
    const d = diagnose(spec(LM, 6, 2).replace("context=6", "context=6, stride=3"));
    expect(d.code).toBe("E0403");
    expect(d.message).toBe("tbptt needs each window to start where the previous one ends: stride 3 differs from context 6");
  });
  it("no recurrent layer", () => {
    const d = diagnose(spec("embedding(7, 4)\n  conv1d(4, 1) -> relu\n  dense(7)", 6, 2));
    expect(d).toMatchObject({
      code: "E0403",
      message: "tbptt carries the state of recurrent layers, and the model has none",
      hint: "add lstm(...) or gru(...), or drop tbptt",
    });
  });
  it("a bidirectional layer", () => {
    const d = diagnose(spec("embedding(7, 4)\n  gru(5, bidirectional=true)\n  dense(7)", 6, 2));
    expect(d).toEqual({
      code: "E0403",
      message: "tbptt carries each layer's final state into the next window, but a bidirectional gru's reverse direction ends at the window's start",
      at: "4:3",
      hint: "drop bidirectional=true, or tbptt",
    });
  });
  it("early stopping every N steps", () => {
    const d = diagnose(spec(LM, 6, 2, "; early_stopping(patience=2, every_steps=10)"));
    expect(d.code).toBe("E0403");
    expect(d.message).toContain("early stopping every N steps would cut the carried state");
  });
  it("tbptt false is the default: the same IR", () => {
    const a = compileToIr(spec(LM, 6, 2).replace("tbptt true", "tbptt false"), "s.dnn");
    const b = compileToIr(spec(LM, 6, 2).replace("; tbptt true", ""), "s.dnn");
    expect(a.diagnostics).toEqual([]);
    expect(a.ir!.nodes).toEqual(b.ir!.nodes);
    expect(a.ir!.layout).toEqual(b.ir!.layout);
  });
  it("the PyTorch target refuses it (its loop shuffles windows and starts each batch from a zero state)", () => {
    const r = compileToIr(spec(LM, 6, 2), "s.dnn");
    expect(r.diagnostics).toEqual([]);
    expect(() => generatePytorchTrainer(r.ir!, { dataPath: "." })).toThrow(/cannot map tbptt/);
  });
});
