// The training tricks with attention models, end to end:
// - decay groups: AdamW's decoupled decay on the weight matrices (attention's in_proj / out_proj, the
//   dense layers) only; biases and norms never; the embedding and pos_embedding tables too unless
//   `decay_embedding false` (the transformer idiom);
// - a small causal transformer language model (embedding, learned positions, two pre-norm gelu blocks
//   with dropout, final layernorm) trained by `dnnc train` on the committed fortunes cut with AdamW,
//   decay_embedding false, linear warm-up then cosine per step, global-norm clipping and label
//   smoothing: its loss falls; the same spec and seed give identical bytes; `dnnc generate` samples
//   from it (the model is causal), the same text for the same seed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";

const lm = (train: string) => `model tiny_gpt {
  input [16]
  embedding(auto, 16)
  pos_embedding(16, 16)
  repeat(2) { transformer(2, ff=32, dropout=0.1, norm=pre, activation=gelu, causal=true) }
  layernorm
  dense(auto)
  loss softmax_cross_entropy(label_smoothing=0.1)
}
data {
  source text("${resolve("specs/data/fortunes-small")}", context=16, test=0.1)
  validation 0.1
}
train {
  ${train}
}
`;

describe("decay groups of an attention model", () => {
  it("AdamW decays the weight matrices; biases, norms, and with decay_embedding false the tables, are not decayed", () => {
    for (const [setting, tables] of [
      ["", 0.1],
      ["decay_embedding false", 0],
    ] as const) {
      const r = compileToIr(lm(`optimizer adamw(lr=1e-3, weight_decay=0.1)\n  ${setting}`), "t.dnn", { passes: "lower" });
      expect(r.diagnostics).toEqual([]);
      const decay = Object.fromEntries(r.ir!.params.map((p) => [p.name, p.decoupledDecay]));
      expect(decay["embedding_0.weight"], setting).toBe(tables);
      expect(decay["pos_embedding_0.weight"], setting).toBe(tables);
      for (const k of ["transformer_0_self_attn.in_proj_weight", "transformer_1_self_attn.out_proj.weight", "transformer_0_linear1.weight", "dense_0.weight"])
        expect(decay[k], k).toBe(0.1);
      for (const k of [
        "transformer_0_self_attn.in_proj_bias",
        "transformer_0_self_attn.out_proj.bias",
        "transformer_1_linear2.bias",
        "transformer_0_norm1.weight",
        "transformer_1_norm2.bias",
        "layernorm_0.weight",
        "dense_0.bias",
      ])
        expect(decay[k], k).toBe(0);
    }
  });
});

describe("a small transformer language model, trained and sampled by the CLI", () => {
  it("its loss falls with warm-up, cosine, clipping and label smoothing; same seed, same bytes; dnnc generate samples from it", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-attn-lm-"));
    const file = join(dir, "tiny.dnn");
    writeFileSync(
      file,
      lm(`seed 3
  batch 16
  epochs 1
  optimizer adamw(lr=3e-3, weight_decay=0.1)
  decay_embedding false
  schedule_per step
  warmup 10
  schedule cosine
  clip_norm 1.0`),
    );
    const train = (out: string) =>
      spawnSync(process.execPath, ["bin/dnnc.mjs", "train", file, "-o", out, "--max-steps", "60", "--no-report", "--quiet"], { encoding: "utf8" });
    const r = train(join(dir, "run"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const epochs = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { epoch?: number; train_loss: number; val_loss: number })
      .filter((m) => m.epoch !== undefined);
    // from ln(vocab) ≈ 4.4 (uniform) at the start, 60 steps bring the validation loss (label-smoothed) well below
    expect(epochs).toHaveLength(1);
    expect(epochs[0].val_loss).toBeLessThan(3.8);
    const again = train(join(dir, "run2"));
    expect(again.status).toBe(0);
    expect(readFileSync(join(dir, "run2", "model.safetensors")).equals(readFileSync(join(dir, "run", "model.safetensors")))).toBe(true);
    const gen = (seed: string) =>
      spawnSync(process.execPath, ["bin/dnnc.mjs", "generate", join(dir, "run"), "--prompt", "The ", "--length", "30", "--seed", seed], { encoding: "utf8" });
    const g = gen("4");
    expect(g.stderr).toBe("");
    expect(g.status).toBe(0);
    expect(g.stdout.length).toBeGreaterThan(30);
    expect(gen("4").stdout).toBe(g.stdout);
  }, 120_000);
});
