// dnnc generate and the data's facts end to end: a character model (embedding(auto) -> dense(auto),
// a position-wise model: the smallest causal language model) trained on the bundled fortunes;
// sampling is deterministic per seed, greedy is the argmax of the model's own forward pass, the
// draws follow softmax(z / temperature) over the top k; every bad input is one line, exit != 0.
// `auto` sizes come from the source (or --data), are saved with the model and reused by export.
import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { drawId } from "../runtime/generate";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { generateFromRun } from "../compiler/generate-command";
import { bindWeights, openRun } from "../compiler/load-run";
import { createBackend } from "../runtime/backend-create";
import { vocabFromMetadata } from "../runtime/data/vocab";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-generate-"));
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);
const corpus = resolve("specs/data/fortunes-small");

const lmSpec = (model: string, source = `text("${corpus}", context=16, test=0.1)`, batch = 8) => `model lm {
  input [16]
${model}
  loss softmax_cross_entropy
}
data {
  source ${source}
  validation 0.1
}
train {
  seed 3
  batch ${batch}
  epochs 1
  optimizer adam(lr=0.02)
}
`;
const BIGRAM = "  embedding(auto, 12)\n  dense(auto)";

function trainRun(name: string, spec: string, ...flags: string[]): string {
  const f = join(tmp, `${name}.dnn`);
  writeFileSync(f, spec);
  const run = join(tmp, name);
  const r = dnnc("train", f, "-o", run, "--max-steps", "60", "--no-report", "--quiet", ...flags);
  if (r.status !== 0) throw new Error(r.stderr);
  return run;
}

let run: string;
beforeAll(() => {
  run = trainRun("bigram", lmSpec(BIGRAM, undefined, 4));
});

describe("sampling", () => {
  it("temperature 0 and top-k 1 take the argmax (ties: the smaller id)", () => {
    const z = new Float32Array([0.5, 2, -1, 2, 0]);
    const order = new Int32Array(5);
    expect(drawId(z, 0, 5, 0, 0, 0.99, order)).toBe(1);
    expect(drawId(z, 0, 5, 1, 1, 0.99, order)).toBe(1);
    expect(() => drawId(new Float32Array([0, NaN]), 0, 2, 1, 0, 0.5, order)).toThrow(/logit for id 1 is NaN/);
  });
  it("draws follow softmax(z / T) over the k largest logits", () => {
    const z = new Float32Array([1.0, -0.5, 2.0, 0.25, 1.5, -2]);
    const V = z.length;
    const order = new Int32Array(V);
    for (const [T, k] of [
      [1, 0],
      [0.5, 0],
      [2, 3],
    ] as const) {
      const top = Array.from(z.keys())
        .sort((a, b) => z[b] - z[a])
        .slice(0, k || V);
      const w = top.map((j) => Math.exp(z[j] / T));
      const total = w.reduce((a, b) => a + b, 0);
      const N = 20000;
      const counts = new Array<number>(V).fill(0);
      // u on an even grid: the count of each id is its probability times N, to within 1
      for (let i = 0; i < N; i++) counts[drawId(z, 0, V, T, k, (i + 0.5) / N, order)]++;
      for (let j = 0; j < V; j++) {
        const idx = top.indexOf(j);
        const p = idx < 0 ? 0 : w[idx] / total;
        expect(Math.abs(counts[j] - p * N)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe("dnnc generate", () => {
  it("is deterministic per seed; samples are independent of how many are drawn (more than the batch too)", () => {
    const g = (...a: string[]) => dnnc("generate", run, "--prompt", "The ", "--length", "40", "--json", ...a);
    const a = g("--seed", "5", "--samples", "6");
    expect(a.status, a.stderr).toBe(0);
    const A = JSON.parse(a.stdout) as { samples: string[]; prompt: string };
    expect(A.samples).toHaveLength(6);
    for (const s of A.samples) expect([...s]).toHaveLength(40);
    expect(JSON.parse(g("--seed", "5", "--samples", "6").stdout)).toEqual(A);
    // the batch is 4: samples 5 and 6 ran in a second pass, each from its own stream
    expect(JSON.parse(g("--seed", "5", "--samples", "2").stdout).samples).toEqual(A.samples.slice(0, 2));
    expect(new Set(A.samples).size).toBeGreaterThan(1);
    expect(JSON.parse(g("--seed", "6", "--samples", "6").stdout).samples).not.toEqual(A.samples);
    const plain = dnnc("generate", run, "--prompt", "The ", "--length", "40", "--seed", "5");
    expect(plain.stdout).toBe("The " + A.samples[0] + "\n");
  });

  it("greedy continues with the argmax of the model's own forward pass", async () => {
    const prompt = "Science is";
    const r = await generateFromRun(run, { prompt, length: 3, temperature: 0, topK: 0, seed: 0, samples: 1 });
    // the same, by hand: one forward pass per character on the window, the argmax at its end
    const opened = await openRun(run);
    const p = opened.program;
    const vocab = vocabFromMetadata(opened.metadata, opened.weightsFile)!;
    const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
    bindWeights(opened, be.H);
    const model = p.create(be, 0);
    const [T, V] = p.meta.outputShape;
    let text = prompt;
    for (let i = 0; i < 3; i++) {
      const ids = vocab.encode(text).slice(-T);
      be.H.fill(0, p.layout.x, p.layout.x + T);
      be.H.set(ids, p.layout.x);
      model.forward(1, false, 0);
      const o = p.layout.out + (ids.length - 1) * V;
      let best = 0;
      for (let j = 1; j < V; j++) if (be.H[o + j] > be.H[o + best]) best = j;
      text += vocab.char(best);
    }
    be.close();
    expect(prompt + r.samples[0]).toBe(text);
  });

  it("reads characters outside the vocabulary as unknown, with a warning", () => {
    const r = dnnc("generate", run, "--prompt", "日本", "--length", "5");
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("2 character(s) of the prompt are not in the model's vocabulary");
    expect(r.stdout.startsWith("日本")).toBe(true);
  });

  it("refuses bad flags and runs it cannot sample from, in one line", () => {
    for (const [flags, msg] of [
      [["--temperature", "-1"], "expected a number in [0, 100]"],
      [["--temperature", "hot"], "expected a number in [0, 100]"],
      [["--top-k", "1.5"], "expected an integer >= 0"],
      [["--length", "0"], "expected an integer in [1, 1000000]"],
      [["--samples", "0"], "expected an integer >= 1"],
    ] as const) {
      const r = dnnc("generate", run, ...flags);
      expect(r.status, flags.join(" ")).toBe(2);
      expect(r.stderr).toContain(msg);
    }
    const missing = dnnc("generate", join(tmp, "nope"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no such run directory");
    noStack(missing.stderr);
  });

  it("refuses a model that reads later positions, naming the layer", () => {
    const r0 = trainRun("acausal", lmSpec("  embedding(auto, 8)\n  conv1d(8, 3, padding=same) -> relu\n  dense(auto)"));
    const r = dnnc("generate", r0, "--length", "5");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not causal along time \(conv1d at spec line 4\)/);
    noStack(r.stderr);
    // a pointwise conv is causal
    const r1 = trainRun("pointwise", lmSpec("  embedding(auto, 8)\n  conv1d(8, 1) -> relu\n  dense(auto)"));
    expect(dnnc("generate", r1, "--length", "5").status).toBe(0);
  });

  it("refuses a run that is not a character language model, and a model file without its vocabulary", () => {
    const csvRun = trainRun(
      "moons",
      `model m {\n  input [2]\n  dense(8) -> relu\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata {\n  source csv("${resolve("specs/data/two-moons")}", label="label")\n}\ntrain {\n  batch 16\n  epochs 1\n  optimizer adam(lr=0.01)\n}\n`,
    );
    const r = dnnc("generate", csvRun);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("needs a character language model (data source text(...)); this run's source is csv(...)");
    // the vocabulary is metadata of model.safetensors: without it, a clear refusal
    const copy = join(tmp, "novocab");
    cpSync(run, copy, { recursive: true });
    const f = join(copy, "model.safetensors");
    const { tensors, metadata } = decodeSafetensors(readFileSync(f), f);
    delete metadata.vocab;
    writeFileSync(f, encodeSafetensors(tensors, metadata));
    const n = dnnc("generate", copy);
    expect(n.status).toBe(1);
    expect(n.stderr).toContain("no vocabulary in its metadata");
    noStack(n.stderr);
  });
});

describe("auto sizes from the data", () => {
  it("compile --data and train --data size embedding(auto) and dense(auto) from that corpus; the sizes are saved and export reuses them", () => {
    const other = join(tmp, "abc");
    mkdirSync(other);
    writeFileSync(join(other, "a.txt"), "abcabcabd\n".repeat(400));
    const spec = join(tmp, "auto.dnn");
    writeFileSync(spec, lmSpec(BIGRAM));
    const vocabOf = (ir: string) => Number(/embedding\S* .*vocab[":= ]+(\d+)/.exec(ir)?.[1]);
    const def = dnnc("compile", spec, "--emit", "ir");
    const alt = dnnc("compile", spec, "--emit", "ir", "--data", other);
    expect(def.status, def.stderr).toBe(0);
    expect(alt.status, alt.stderr).toBe(0);
    expect(vocabOf(alt.stdout)).toBe(5 + 1); // a b c d \n, and id 0 for any other character
    expect(vocabOf(def.stdout)).toBeGreaterThan(60);
    const r = trainRun("auto-other", lmSpec(BIGRAM), "--data", other);
    const { metadata, tensors } = decodeSafetensors(readFileSync(join(r, "model.safetensors")), "m");
    expect(JSON.parse(metadata.auto)).toEqual({ vocab: 6, classes: 6 });
    expect(tensors.find((t) => t.name.endsWith("embedding_0.weight") || t.name === "embedding_0.weight")?.data.length).toBe(6 * 12);
    // export recompiles the run's spec (whose own source is the default corpus) to the trained shapes
    const e = dnnc("export", r, "-o", join(tmp, "auto.onnx"));
    expect(e.status, e.stderr).toBe(0);
    const g = dnnc("generate", r, "--prompt", "ab", "--length", "12", "--temperature", "0");
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^ab[abcd\n]{12}\n$/);
  });

  it("an auto size whose data cannot be read is a diagnostic at the argument; sizes that need no data need none", () => {
    const spec = join(tmp, "lost.dnn");
    writeFileSync(spec, lmSpec(BIGRAM, `text("${join(tmp, "missing-corpus")}", context=16)`));
    const r = dnnc("check", spec);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[E0403\]: embedding\(auto\): .* cannot be read \(.*missing-corpus: no such file or directory\)\n --> .*lost\.dnn:3:3/);
    noStack(r.stderr);
    writeFileSync(spec, lmSpec("  embedding(90, 12)\n  dense(90)", `text("${join(tmp, "missing-corpus")}", context=16)`));
    expect(dnnc("check", spec).status).toBe(0);
  });
});
