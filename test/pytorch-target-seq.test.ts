// The PyTorch target trains the sequence specs as our trainer does (needs /usr/bin/python3 with
// torch; skipped with one line otherwise). One Python process for the file.
// - 20 steps on the data of test/fixtures/seq-pytorch/ from our initial weights, on the same
//   batches: a character language model (text: embedding, conv1d, dense per position, a class at
//   every position), document classes (text_classes, padded: embedding with padding_idx, conv1d,
//   maxpool1d with a stride, global_maxpool), token-id rows (tokens, padded: valid conv1d,
//   avgpool1d, layernorm per position, last) and a series (timeseries, MSE): the same loss trace
//   (relative 1e-4) and the same final tensors (1e-3, relative to max(1, |v|)).
// - one epoch of the language model and of the document classifier: the same metrics.jsonl
//   (validation and test from the source's own splits; perplexity and bits per character) and the
//   same vocabulary, class names and series statistics stored with the model.
// - padded data, every masked layer: the generated Net, given each sample's length, equals our
//   forward (lengths that the strided layers map to zero included).
// - bad inputs to the Python trainer: one line naming the file, exit 1, no traceback.
// - E0405: a layer that masks its own padding without a padded PyTorch mapping is refused.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { checkTarget, pytorchTakesPadded } from "../compiler/check-targets";
import { embeddingNode } from "../compiler/ops/embedding";
import { NODES } from "../compiler/ops";
import { createBackend } from "../runtime/backend-create";
import { Rng } from "../runtime/rng";
import { seqProgram } from "./seqops-helpers";
import type { IR } from "../compiler/ir";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { pyString } from "../compiler/escape";
import type { Program } from "../runtime/program";
import {
  hasTorch,
  noTorchReason,
  ourProgram,
  PY,
  PyWorkerError,
  seqSpecIr,
  startPyWorker,
  trainOurs,
  worstRel,
  writePyTrainer,
} from "./pytorch-target-seq-helpers";

if (!hasTorch) console.warn(`pytorch-target-seq: the PyTorch runs are skipped: /usr/bin/python3 -c "import torch" failed (${noTorchReason})`);

const FIX = resolve("test/fixtures/seq-pytorch");
const STEPS = 20;

const SPECS: Record<string, { text: string; data: string }> = {
  lm: {
    data: join(FIX, "corpus.txt"),
    text: `model lm {
  input [16]
  embedding(64, 8)
  conv1d(16, 3, padding=same) -> relu
  dense(12) -> tanh
  dense(auto)
  loss softmax_cross_entropy
}
data {
  source text("${FIX}/corpus.txt", context=16, stride=4, test=0.1)
  validation 0.1
}
train { seed 3; batch 8; epochs 1; optimizer adam(lr=0.01) }
`,
  },
  docs: {
    data: join(FIX, "classes"),
    text: `model docs {
  input [24]
  embedding(64, 8, padding_idx=1)
  conv1d(12, 3, padding=same) -> relu
  maxpool1d(3, 2, padding=1)
  conv1d(8, 3, stride=2, padding=1) -> tanh
  global_maxpool
  dense(auto)
  loss softmax_cross_entropy(label_smoothing=0.1)
}
data {
  source text_classes("${FIX}/classes", context=24, test=0.2)
  validation 0.2
}
train { seed 3; batch 8; epochs 2; optimizer adam(lr=0.02) }
`,
  },
  tokens: {
    data: join(FIX, "tokens.csv"),
    text: `model tok {
  input [12]
  embedding(16, 6, padding_idx=0)
  conv1d(8, 3, padding=valid) -> relu
  avgpool1d(2, 1)
  layernorm
  dense(8) -> tanh
  last
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
  series: {
    data: join(FIX, "series.csv"),
    text: `model temps {
  input [12, 2]
  conv1d(8, 3, padding=same) -> relu
  dense(8) -> tanh
  global_avgpool
  dense(2)
  loss mse
}
data {
  source timeseries("${FIX}/series.csv", window=12, horizon=2, stride=2, target="temp", inputs=["temp", "humidity"], test=0.15)
  validation 0.15
}
train { seed 5; batch 8; optimizer adamw(lr=0.01, weight_decay=0.01) }
`,
  },
};

const dir = mkdtempSync(join(tmpdir(), "dnnc-seqpt-"));

// one Python process for the whole file (torch is imported once)
let worker: ReturnType<typeof startPyWorker> | undefined;
const py = new Proxy({} as ReturnType<typeof startPyWorker>, { get: (_t, k: keyof ReturnType<typeof startPyWorker>) => (worker ??= startPyWorker())[k] });
afterAll(() => worker?.close());

const metricLines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number | null>);

function close(a: number | null | undefined, b: number | null | undefined, tol: number): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return a === b;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

describe.skipIf(!hasTorch)("the PyTorch target trains the sequence specs as our trainer does", () => {
  // each spec compiled once for both backends
  const compiled = new Map<string, Promise<{ ir: IR; program: Program }>>();
  const compile = (name: keyof typeof SPECS) => {
    if (!compiled.has(name)) {
      const ir = seqSpecIr(SPECS[name].text, join(dir, `${name}.dnn`));
      compiled.set(
        name,
        ourProgram(ir, SPECS[name].data).then((program) => ({ ir, program })),
      );
    }
    return compiled.get(name)!;
  };

  /** Ours (the given steps or epochs), then the Python trainer from our initial weights. */
  async function both(name: keyof typeof SPECS, opts: { maxSteps?: number; epochs?: number }) {
    const s = SPECS[name];
    const d = join(dir, `${name}-${opts.maxSteps ?? `e${opts.epochs}`}`);
    mkdirSync(d, { recursive: true });
    const { ir, program } = await compile(name);
    const ours = await trainOurs(program, s.data, opts);
    const init = join(d, "init.safetensors");
    writeFileSync(init, encodeSafetensors(ours.program.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(ours.initial[t.name]) }))));
    const trainer = writePyTrainer(ir, d, s.data);
    const args = ["--init-from", init, "--out", join(d, "py"), "--quiet", "--trace", join(d, "trace.json")];
    await py.main(trainer, [...args, "--epochs", String(opts.epochs), ...(opts.maxSteps ? ["--max-steps", String(opts.maxSteps)] : [])]);
    const trace = JSON.parse(readFileSync(join(d, "trace.json"), "utf8")) as { loss: number[]; steps: number };
    const st = decodeSafetensors(readFileSync(join(d, "py", "model.safetensors")), `${name}/model.safetensors`);
    return { ir, ours, trace, st, metrics: metricLines(join(d, "py", "metrics.jsonl")) };
  }

  for (const name of Object.keys(SPECS) as (keyof typeof SPECS)[]) {
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
      // the weights moved (the comparison is not between two untouched copies)
      expect(Object.keys(r.ours.initial).some((k) => r.ours.initial[k].some((v, i) => Math.abs(v - r.ours.final[k][i]) > 1e-3))).toBe(true);
      // what the source fitted travels with the model, as ours stores it
      for (const [k, v] of Object.entries(r.ours.data.metadata ?? {})) expect(r.st.metadata[k], k).toBe(v);
      for (const t of r.ours.data.tensors ?? []) expect(Array.from(r.st.tensors.find((x) => x.name === t.name)!.data), t.name).toEqual(Array.from(t.data));
    }, 60_000);
  }

  for (const name of ["lm", "docs"] as const)
    it(`${name}: whole epochs: the same metrics.jsonl (the source's validation and test splits${name === "lm" ? ", perplexity and bits per character" : ""})`, async () => {
      const epochs = name === "lm" ? 1 : 2;
      const r = await both(name, { epochs });
      const om = r.ours.result.epochs as unknown as Record<string, number | null>[];
      expect(r.metrics.length).toBe(epochs + 1);
      for (let e = 0; e < epochs; e++) {
        expect(Object.keys(r.metrics[e])).toEqual(Object.keys(om[e]));
        for (const k of Object.keys(om[e]))
          if (k !== "seconds") expect(close(r.metrics[e][k], om[e][k], 1e-4), `epoch ${e + 1} ${k}: ${r.metrics[e][k]} vs ${om[e][k]}`).toBe(true);
      }
      const res = r.ours.result;
      const want: Record<string, number | null | undefined> = {
        test_loss: res.test_loss,
        test_acc: res.test_acc,
        ...(res.test_bpc !== undefined ? { test_ppl: res.test_ppl, test_bpc: res.test_bpc } : {}),
      };
      expect(Object.keys(r.metrics[epochs])).toEqual(Object.keys(want));
      for (const k of Object.keys(want)) expect(close(r.metrics[epochs][k], want[k], 1e-4), `${k}: ${r.metrics[epochs][k]} vs ${want[k]}`).toBe(true);
      if (name === "lm") expect(Object.keys(om[0])).toContain("val_bpc");
      expect(om[0].val_loss).not.toBeNull();
    }, 60_000);
});

// ---- padded data: the generated Net equals our forward, every masked layer ----------------------

const PADDED: { name: string; input: number; vocab: number; body: string; out: number }[] = [
  {
    name: "pools",
    input: 14,
    vocab: 9,
    body: `embedding(9, 5, padding_idx=0)
  conv1d(6, 3, padding=same) -> relu
  maxpool1d(3, 2, padding=1)
  conv1d(6, 2, dilation=2, padding=valid) -> tanh
  avgpool1d(2)
  global_avgpool
  dense(3)`,
    out: 3,
  },
  {
    name: "maxlast",
    input: 12,
    vocab: 7,
    body: `embedding(7, 4)
  conv1d(6, 4, stride=2, padding=1, groups=2) -> relu
  layernorm
  residual {
    dense(6) -> tanh
  }
  last
  dense(2)`,
    out: 2,
  },
  {
    name: "gmax",
    input: 10,
    vocab: 6,
    body: `embedding(6, 4, padding_idx=1)
  conv1d(5, 5, padding=valid) -> relu
  global_maxpool
  dense(2)`,
    out: 2,
  },
];

const padText = (s: (typeof PADDED)[number]) => `model ${s.name} {
  input [${s.input}]
  ${s.body}
  loss softmax_cross_entropy
}
data { source csv("d.csv") }
train { batch 6 }
`;

describe.skipIf(!hasTorch)("padded data: the generated Net, given each sample's length, equals our forward", () => {
  it("embedding, conv1d (same, valid, stride, dilation, groups), maxpool1d, avgpool1d, layernorm, a residual, pools over time, last", async () => {
    const d = mkdtempSync(join(tmpdir(), "dnnc-seqpt-pad-"));
    const lengths = [1, 2, 3, 5, 9, 14];
    for (const s of PADDED) {
      const { program: p, ir } = await seqProgram(padText(s), { lengths: true });
      expect(checkTarget(ir, "pytorch")).toEqual([]);
      const path = writePyTrainer(ir, d, ".");
      const rng = new Rng(31, 7);
      const params = ir.params.map((q) => ({ name: q.name, shape: q.shape, data: Float32Array.from({ length: q.size }, () => rng.range(-0.9, 0.9)) }));
      const n = lengths.length;
      const lens = lengths.map((l) => Math.min(l, s.input));
      // padded positions hold other ids than the pad id: they must not matter
      const x = Float32Array.from({ length: n * s.input }, (_, i) => Math.floor(rng.range(0, s.vocab)));
      const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
      try {
        const model = p.create(be, 0);
        model.init();
        for (const q of params) be.H.set(q.data, p.tensors.find((t) => t.name === q.name)!.offset);
        be.H.set(x, p.layout.x);
        lens.forEach((l, i) => (be.H[p.layout.lengths! + i] = l));
        model.forward(n, false, 0);
        const want = Array.from(be.H.subarray(p.layout.out, p.layout.out + n * s.out));
        const got = await py.net(path, Object.fromEntries(params.map((q) => [q.name, { shape: q.shape, data: Array.from(q.data) }])), Array.from(x), lens);
        expect(worstRel(got, want), s.name).toBeLessThan(1e-5);
        // the padded positions' ids do not matter: other ids there give the same output
        const other = Array.from(x, (v, i) => (i % s.input >= lens[Math.floor(i / s.input)] ? (v + 1) % s.vocab : v));
        expect(await py.net(path, Object.fromEntries(params.map((q) => [q.name, { shape: q.shape, data: Array.from(q.data) }])), other, lens)).toEqual(got);
      } finally {
        be.close();
      }
    }
  }, 60_000);
});

// ---- bad inputs, end to end: the Python trainer's one line and exit 1 ------------------------------

describe.skipIf(!hasTorch)("bad inputs to the Python trainer: one line naming the file, exit 1, no traceback", () => {
  it("invalid UTF-8 in a corpus (a run of the trainer), a token id outside the embedding's vocabulary", async () => {
    const d = mkdtempSync(join(tmpdir(), "dnnc-seqpt-bad-"));
    const lm = writePyTrainer(seqSpecIr(SPECS.lm.text, join(d, "lm.dnn")), d, SPECS.lm.data);
    const bad = join(d, "bad.txt");
    writeFileSync(bad, Buffer.concat([Buffer.from("good text\nmore ünïcode "), Buffer.from([0xff]), Buffer.from(" tail\n".repeat(20))]));
    const r = spawnSync(PY, [lm, "--data", bad, "--epochs", "1"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: ${bad}:2:14: invalid UTF-8: byte 0xff cannot start a character (is it a text file? save it as UTF-8)\n`);
    const tok = writePyTrainer(seqSpecIr(SPECS.tokens.text, join(d, "tok.dnn")), d, SPECS.tokens.data);
    const csv = join(d, "t.csv");
    writeFileSync(csv, "label,tokens\n1,2,3\n0,4,5,16,2\n1,1\n0,3,3\n1,7\n");
    const e = await py.main(tok, ["--data", csv, "--epochs", "1"]).then(
      () => undefined,
      (x: PyWorkerError) => x,
    );
    expect(e?.user).toBe(true);
    expect(e?.message).toMatch(
      /^embedding_0 \(spec line 3\): token id 16 \(sample \d of the batch, position 2\) is not an integer in \[0, 16\); the vocabulary has 16 tokens$/,
    );
  }, 60_000);
});

// ---- the emitted file (no Python needed) -------------------------------------------------------------

describe("the PyTorch trainer of a sequence spec: what it holds", () => {
  const gen = (name: keyof typeof SPECS) => {
    const ir = seqSpecIr(SPECS[name].text, join(dir, `${name}.dnn`));
    return { ir, py: generatePytorchTrainer(ir, { dataPath: "data" }) };
  };
  it("the loaders of the sequence sources (only for them), the compiled vocabulary, torch and the standard library only, the same bytes twice", () => {
    const { ir, py: text } = gen("lm");
    expect(text).toBe(gen("lm").py);
    expect(text).toContain("def load_text_corpus(");
    expect(text).toContain(`VOCAB = ${pyString(ir.data.vocab!.json)}`);
    expect(text).toContain("POSITIONS = 16");
    expect(text).toContain("F.cross_entropy(out.reshape(-1, " + ir.output.shape[1] + '), y.reshape(-1), label_smoothing=0, ignore_index=-1, reduction="sum")');
    const imported = new Set([...text.matchAll(/^(?:import|from) ([\w.]+)/gm)].map((m) => m[1].split(".")[0]));
    expect(imported).toEqual(new Set(["argparse", "array", "csv", "gzip", "json", "math", "os", "re", "struct", "sys", "time", "torch"]));
    const csv = seqSpecIr(padText(PADDED[0]), join(dir, "csv.dnn"));
    expect(generatePytorchTrainer(csv, { dataPath: "data" })).not.toContain("def load_text_corpus(");
  });
  it("padded data: forward takes the lengths; each length map and mask is computed once, before the first layer that reads it", () => {
    const { py: text } = gen("docs");
    expect(text).toContain("PADDED = True");
    expect(text).toContain("    def forward(self, x, lengths=None):");
    expect(text).toContain('embedding_ids(x, 64, "embedding_0 (spec line 3)", valid_x)).masked_fill(~valid_x.unsqueeze(-1), 0)');
    // maxpool1d(3, 2, padding=1) maps L to floor((L - 1) / 2) + 1; then conv1d(stride 2, padding 1) the same
    expect(text).toContain("len_maxpool1d_0 = seq_lengths(lengths, [-1, 2], 12)");
    expect(text).toContain("len_conv1d_1 = seq_lengths(lengths, [-1, 2, -1, 2], 6)");
    expect(text).toContain("global_maxpool_0 = max_valid(conv1d_1, len_conv1d_1)");
    expect(text.match(/^ +valid_x = /gm)).toHaveLength(1); // conv1d_0 (same padding) shares the input's mask
    expect(text).toContain('conv1d_0.masked_fill(~valid_x.unsqueeze(-1), float("-inf"))');
    expect(text).not.toContain("valid_conv1d_0");
    const { py: series } = gen("series");
    expect(series).toContain("PADDED = False");
    expect(series).toContain("    def forward(self, x):");
    expect(series).not.toContain("seq_lengths(");
  });
});

// ---- what the PyTorch target refuses on padded data ------------------------------------------------

describe("E0405: the PyTorch target takes padded data only at layers whose mapping reads each sample's length", () => {
  it("every layer that masks its own padding declares a padded PyTorch mapping (else it is refused)", () => {
    const masking = Object.entries(NODES).filter(([, op]) => op.masksPadding);
    expect(masking.map(([k]) => k)).toContain("embedding");
    for (const [, op] of masking) expect(pytorchTakesPadded(op)).toBe(op.pytorchPadded === true);
    // the rule itself: such a layer without the declaration is refused; any other layer is taken
    expect(pytorchTakesPadded({ ...embeddingNode, pytorchPadded: undefined })).toBe(false);
    expect(pytorchTakesPadded(embeddingNode)).toBe(true);
    expect(pytorchTakesPadded({ masksPadding: undefined, pytorchPadded: undefined })).toBe(true);
  });
});
