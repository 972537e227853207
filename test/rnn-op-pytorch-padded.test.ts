// lstm and gru on padded data in the PyTorch target (nn.LSTM / nn.GRU over pack_padded_sequence),
// against our kernels (needs /usr/bin/python3 with torch; skipped with one line otherwise):
// - the generated Net, given each sample's length, equals our forward from the same random weights:
//   lstm and gru, two stacked layers, bidirectional, return_sequences true (its output the model's,
//   padded positions and all) and false, bias=false, a recurrent layer reading the model's input directly (its padded rows hold values that must not
//   matter), lengths through a strided conv1d and a valid conv1d that maps short samples to length 0,
//   and samples of length 0 at the input; other values at the padded positions give the same output;
// - the generated trainer, from our initial weights on the same batches, gives our loss at each of
//   20 steps and our final tensors: a text_classes spec (documents shorter than the context padded)
//   with a strided conv1d before a stacked bidirectional lstm's final state, and a tokens spec whose
//   valid conv1d maps the shortest rows to length 0 before a bidirectional gru; one whole epoch of
//   the first gives our metrics.jsonl; with dropout between its layers (torch's masks) it trains;
// - the generated forward packs at each recurrent layer and zeroes the empty samples after it; the
//   ONNX exporter still refuses padded models.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkTarget } from "../compiler/check-targets";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import type { IR } from "../compiler/ir";
import { createBackend } from "../runtime/backend-create";
import type { Program } from "../runtime/program";
import { Rng } from "../runtime/rng";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { seqIr, seqProgram } from "./seqops-helpers";
import { hasTorch, noTorchReason, ourProgram, seqSpecIr, startPyWorker, trainOurs, worstRel, writePyTrainer } from "./pytorch-target-seq-helpers";

if (!hasTorch) console.warn(`rnn-op-pytorch-padded: the PyTorch runs are skipped: /usr/bin/python3 -c "import torch" failed (${noTorchReason})`);

// one Python process for the whole file (torch is imported once)
let worker: ReturnType<typeof startPyWorker> | undefined;
const py = new Proxy({} as ReturnType<typeof startPyWorker>, { get: (_t, k: keyof ReturnType<typeof startPyWorker>) => (worker ??= startPyWorker())[k] });
afterAll(() => worker?.close());

// ---- the Net's forward on padded data -----------------------------------------------------------

interface NetCase {
  name: string;
  /** the input shape: [T] token ids (vocab) or [T, F] values */
  input: number[];
  vocab?: number;
  body: string;
  /** output floats per sample */
  out: number;
}

const NETS: NetCase[] = [
  { name: "lstm_stack_bi_seq", input: [9, 3], body: "lstm(5, layers=2, bidirectional=true)\n  dense(2)", out: 18 },
  {
    name: "gru_stack_bi_final",
    input: [8],
    vocab: 7,
    body: "embedding(7, 4)\n  gru(4, layers=2, bidirectional=true, dropout=0.25, return_sequences=false)\n  dense(3)",
    out: 3,
  },
  { name: "gru_stack_bi_seq_out", input: [6, 2], body: "gru(3, layers=2, bidirectional=true)", out: 36 },
  { name: "lstm_final", input: [8, 2], body: "lstm(5, return_sequences=false)\n  dense(3)", out: 3 },
  { name: "gru_seq_nobias", input: [8, 3], body: "gru(4, bias=false)\n  global_maxpool\n  dense(2)", out: 2 },
  { name: "lstm_bi_final", input: [7, 2], body: "lstm(3, bidirectional=true, return_sequences=false)", out: 6 },
  {
    name: "conv_stride_rnns",
    input: [10],
    vocab: 9,
    body: "embedding(9, 4, padding_idx=0)\n  conv1d(6, 3, stride=2, padding=1) -> relu\n  lstm(5, bidirectional=true)\n  gru(4, return_sequences=false)\n  dense(3)",
    out: 3,
  },
  {
    name: "conv_valid_to_empty",
    input: [9],
    vocab: 6,
    body: "embedding(6, 4)\n  conv1d(5, 4, padding=valid) -> tanh\n  gru(3, layers=2, bidirectional=true)\n  global_avgpool\n  dense(2)",
    out: 2,
  },
];

const netText = (s: NetCase) => `model ${s.name} {
  input [${s.input.join(", ")}]
  ${s.body}
  loss mse
}
data { source csv("d.csv") }
train { batch 12 }
`;

/** Our forward (eval mode, ts backend) of a padded batch from these tensors. */
async function ourForward(p: Program, params: { name: string; data: Float32Array }[], x: Float32Array, lens: number[], out: number): Promise<number[]> {
  const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
  try {
    const model = p.create(be, 0);
    model.init();
    for (const q of params) be.H.set(q.data, p.tensors.find((t) => t.name === q.name)!.offset);
    be.H.set(x, p.layout.x);
    lens.forEach((l, i) => (be.H[p.layout.lengths! + i] = l));
    model.forward(lens.length, false, 0);
    return Array.from(be.H.subarray(p.layout.out, p.layout.out + lens.length * out));
  } finally {
    be.close();
  }
}

describe.skipIf(!hasTorch)("padded data: the generated Net (pack_padded_sequence) equals our forward from the same random weights", () => {
  for (const s of NETS)
    it(
      s.name,
      async () => {
        const d = mkdtempSync(join(tmpdir(), "dnnc-ptrnn-net-"));
        const { program: p, ir } = await seqProgram(netText(s), { lengths: true });
        expect(checkTarget(ir, "pytorch")).toEqual([]);
        expect(p.meta.outputSize).toBe(s.out);
        const path = writePyTrainer(ir, d, ".");
        const T = s.input[0];
        const size = s.input.reduce((a, b) => a * b, 1);
        // two samples of length 0, short ones (mapped to 0 by a valid conv), full ones
        const lens = [0, 1, 2, 3, 4, T - 1, T, 0, T];
        const n = lens.length;
        const rng = new Rng(41, 3);
        const params = ir.params.map((q) => ({ name: q.name, shape: q.shape, data: Float32Array.from({ length: q.size }, () => rng.range(-0.8, 0.8)) }));
        const draw = () => (s.vocab ? Math.floor(rng.range(0, s.vocab)) : rng.range(-2, 2));
        const x = Float32Array.from({ length: n * size }, draw);
        const tensors = Object.fromEntries(params.map((q) => [q.name, { shape: q.shape, data: Array.from(q.data) }]));
        const want = await ourForward(p, params, x, lens, s.out);
        const got = await py.net(path, tensors, Array.from(x), lens);
        expect(got.length).toBe(want.length);
        expect(worstRel(got, want)).toBeLessThan(2e-5);
        // what an empty sample gives is not all zeros by accident of its weights: full samples differ from it
        expect(want.some((v) => v !== 0)).toBe(true);
        // other values at the padded positions: the same output, here and in ours
        const other = Array.from(x, (v, i) => (Math.floor((i % size) / (size / T)) >= lens[Math.floor(i / size)] ? draw() : v));
        expect(await py.net(path, tensors, other, lens)).toEqual(got);
        expect(await ourForward(p, params, Float32Array.from(other), lens, s.out)).toEqual(want);
      },
      60_000,
    );
});

// ---- the trainer on padded data ------------------------------------------------------------------

const FIX = resolve("test/fixtures/seq-pytorch");
const STEPS = 20;

const TRAIN: Record<string, { text: string; data: string }> = {
  docs_lstm: {
    data: join(FIX, "classes"),
    text: `model docs_lstm {
  input [40]
  embedding(64, 6, padding_idx=1)
  conv1d(8, 3, stride=2, padding=1) -> relu
  lstm(5, layers=2, bidirectional=true, return_sequences=false)
  dense(auto)
  loss softmax_cross_entropy
}
data {
  source text_classes("${FIX}/classes", context=40, test=0.2)
  validation 0.2
}
train { seed 3; batch 4; epochs 1; optimizer adam(lr=0.02) }
`,
  },
  tok_gru: {
    data: join(FIX, "tokens.csv"),
    text: `model tok_gru {
  input [12]
  embedding(16, 5, padding_idx=0)
  conv1d(6, 4, padding=valid) -> relu
  gru(4, bidirectional=true) -> tanh
  global_avgpool
  dense(2)
  loss softmax_cross_entropy
}
data {
  source tokens("${FIX}/tokens.csv", max_length=12)
  validation 0.2
}
train { seed 4; batch 8; optimizer sgd(lr=0.1, momentum=0.9) }
`,
  },
};

const dir = mkdtempSync(join(tmpdir(), "dnnc-ptrnn-"));

describe.skipIf(!hasTorch)("padded data: the PyTorch target's trainer with lstm / gru trains as ours", () => {
  const compiled = new Map<string, Promise<{ ir: IR; program: Program }>>();
  const compile = (name: string) => {
    if (!compiled.has(name)) {
      const ir = seqSpecIr(TRAIN[name].text, join(dir, `${name}.dnn`));
      compiled.set(
        name,
        ourProgram(ir, TRAIN[name].data).then((program) => ({ ir, program })),
      );
    }
    return compiled.get(name)!;
  };

  /** Ours (the given steps or epochs), then the Python trainer from our initial weights. */
  async function both(name: string, opts: { maxSteps?: number; epochs: number }) {
    const s = TRAIN[name];
    const d = join(dir, `${name}-${opts.maxSteps ?? `e${opts.epochs}`}`);
    mkdirSync(d, { recursive: true });
    const { ir, program } = await compile(name);
    expect(ir.data.lengths).toBe(true);
    expect(checkTarget(ir, "pytorch")).toEqual([]);
    const ours = await trainOurs(program, s.data, opts);
    const init = join(d, "init.safetensors");
    writeFileSync(init, encodeSafetensors(program.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(ours.initial[t.name]) }))));
    const trainer = writePyTrainer(ir, d, s.data);
    const args = ["--init-from", init, "--out", join(d, "py"), "--quiet", "--trace", join(d, "trace.json"), "--epochs", String(opts.epochs)];
    await py.main(trainer, [...args, ...(opts.maxSteps ? ["--max-steps", String(opts.maxSteps)] : [])]);
    const trace = JSON.parse(readFileSync(join(d, "trace.json"), "utf8")) as { loss: number[]; steps: number };
    const st = decodeSafetensors(readFileSync(join(d, "py", "model.safetensors")), `${name}/model.safetensors`);
    const metrics = readFileSync(join(d, "py", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number | null>);
    return { ours, trace, st, metrics };
  }

  for (const name of Object.keys(TRAIN))
    it(`${name}: ${STEPS} steps from our initial weights: the same loss trace (1e-4) and tensors (1e-3)`, async () => {
      const r = await both(name, { maxSteps: STEPS, epochs: 100 });
      expect(r.ours.result.steps).toBe(STEPS);
      expect(r.trace.steps).toBe(STEPS);
      const bad = r.ours.result.lossTrace.map((l, i) => [i + 1, l, r.trace.loss[i]]).filter(([, a, b]) => !(Math.abs(a - b) <= 1e-4 * Math.abs(a)));
      expect(bad).toEqual([]);
      const tensors = r.ours.program.tensors.map((t) => {
        const got = r.st.tensors.find((x) => x.name === t.name);
        return [t.name, got ? worstRel(got.data, r.ours.final[t.name]) : Infinity] as const;
      });
      expect(tensors.filter(([, w]) => !(w <= 1e-3))).toEqual([]);
      // every recurrent tensor moved (the comparison is not between two untouched copies)
      const rnn = r.ours.program.tensors.filter((t) => /^(lstm|gru)_0\.weight_hh_l0/.test(t.name));
      expect(rnn.length).toBeGreaterThan(0);
      for (const t of rnn)
        expect(
          r.ours.initial[t.name].some((v, i) => Math.abs(v - r.ours.final[t.name][i]) > 1e-3),
          t.name,
        ).toBe(true);
    }, 120_000);

  it("dropout between stacked layers on padded data: nn.LSTM's own (torch's masks, as on unpadded data), in training", async () => {
    const d = join(dir, "drop");
    mkdirSync(d, { recursive: true });
    const text = TRAIN.docs_lstm.text.replace("docs_lstm", "docs_drop").replace("layers=2,", "layers=2, dropout=0.3,");
    const ir = seqSpecIr(text, join(d, "docs_drop.dnn"));
    expect(checkTarget(ir, "pytorch")).toEqual([]);
    const trainer = writePyTrainer(ir, d, TRAIN.docs_lstm.data);
    expect(readFileSync(trainer, "utf8")).toContain("self.lstm_0 = nn.LSTM(8, 5, num_layers=2, bias=True, batch_first=True, dropout=0.3, bidirectional=True)");
    await py.main(trainer, ["--out", join(d, "py"), "--quiet", "--trace", join(d, "trace.json"), "--epochs", "100", "--max-steps", "3"]);
    const trace = JSON.parse(readFileSync(join(d, "trace.json"), "utf8")) as { loss: number[]; steps: number };
    expect(trace.steps).toBe(3);
    for (const l of trace.loss) expect(Number.isFinite(l) && l > 0).toBe(true);
  }, 60_000);

  it("docs_lstm: one whole epoch: the same metrics.jsonl (the source's validation and test splits)", async () => {
    const r = await both("docs_lstm", { epochs: 1 });
    const om = r.ours.result.epochs[0] as unknown as Record<string, number | null>;
    expect(r.metrics.length).toBe(2);
    expect(Object.keys(r.metrics[0])).toEqual(Object.keys(om));
    for (const k of Object.keys(om))
      if (k !== "seconds")
        expect(Math.abs(r.metrics[0][k]! - om[k]!) <= 1e-4 * Math.max(1, Math.abs(om[k]!)), `${k}: ${r.metrics[0][k]} vs ${om[k]}`).toBe(true);
    expect(r.metrics[1].test_loss).not.toBeNull();
    expect(Math.abs(r.metrics[1].test_loss! - r.ours.result.test_loss!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(r.ours.result.test_loss!)));
  }, 120_000);
});

// ---- what the generated trainer holds; ONNX ------------------------------------------------------

describe("padded data: the recurrent layers' PyTorch code", () => {
  it("packs each recurrent layer's input by its lengths (through the conv's time map), zeroes empty samples after it; unpadded code is unchanged", () => {
    const s = NETS.find((c) => c.name === "conv_stride_rnns")!;
    const ir = seqIr(netText(s), { lengths: true });
    expect(checkTarget(ir, "pytorch")).toEqual([]);
    const text = generatePytorchTrainer(ir, { dataPath: "." });
    expect(text).toContain(
      "lstm_0_packed = nn.utils.rnn.pack_padded_sequence(conv1d_0, len_conv1d_0.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)",
    );
    expect(text).toContain("lstm_0, _ = nn.utils.rnn.pad_packed_sequence(self.lstm_0(lstm_0_packed)[0], batch_first=True, total_length=5)");
    expect(text).toContain("lstm_0 = lstm_0.masked_fill((len_conv1d_0 == 0).view(-1, 1, 1), 0.0)");
    expect(text).toMatch(/gru_0_packed = nn\.utils\.rnn\.pack_padded_sequence\(lstm_0, (\w+)\.clamp\(min=1\)\.cpu\(\)/);
    expect(text).toMatch(/_, gru_0_h = self\.gru_0\(gru_0_packed\)\n\s+gru_0 = gru_0_h\[-1\]\.masked_fill\(\(\w+ == 0\)\.view\(-1, 1\), 0\.0\)/);
    // the state-dict names are those of unpadded data
    expect(text).toContain("self.lstm_0 = nn.LSTM(6, 5, num_layers=1, bias=True, batch_first=True, dropout=0, bidirectional=True)");
    const plain = generatePytorchTrainer(seqIr(netText(s)), { dataPath: "." });
    expect(plain).not.toContain("pack_padded_sequence");
    expect(plain).toContain("lstm_0, _ = self.lstm_0(conv1d_0)");
    expect(plain).toContain("_, gru_0_h = self.gru_0(lstm_0)\n        gru_0 = gru_0_h[-1]\n");
  });

  it("the ONNX exporter still refuses padded models (its graph has no lengths), at the first layer", () => {
    for (const s of NETS) {
      const o = checkTarget(seqIr(netText(s), { lengths: true }), "onnx");
      expect(o).toHaveLength(1);
      expect(o[0].code).toBe("E0405");
      expect(o[0].message).toContain("padded sequences");
      expect(checkTarget(seqIr(netText(s)), "onnx")).toEqual([]);
    }
  });
});
