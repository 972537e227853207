// Sampling text from a trained character language model (a `text(...)` source: input [T] ids,
// output [T, V] logits, the next character's at every position). Each new character runs the
// model once on the last T characters (fewer at the start: a causal model's output at position t
// reads positions 0..t only, so the rows past the window are never read) and draws from the
// softmax of the logits at the window's last position:
//
//   p_j ∝ exp(z_j / temperature)   over the top_k largest z_j (all when top_k is 0)
//
// temperature 0 takes the argmax (greedy; ties: the smallest id). Draws use the runtime's seeded
// counter-based generator (rng.ts), one stream per sample: same model, prompt, options and seed,
// the same text, on either backend up to the float32 sums of the forward pass. Up to `batch`
// samples run side by side in each forward pass. Node-free (dnnc generate and the browser).
import { DnncError } from "./errors";
import type { Model, Program } from "./program";
import { uniformAt } from "./rng";
import type { Vocab } from "./data/vocab";

export interface GenerateOptions {
  /** Characters to generate after the prompt. */
  length: number;
  /** Softmax temperature, >= 0 (0: greedy). */
  temperature: number;
  /** Sample among the k most likely characters only (0: all). */
  topK: number;
  seed: number;
  /** Independent samples (they share nothing but the prompt; run side by side, up to the model's batch at a time). */
  samples: number;
}

export interface Generated {
  /** The generated characters of each sample (the prompt not repeated). */
  samples: string[];
  /** Characters of the prompt outside the model's vocabulary (each read as id 0). */
  unknownInPrompt: number;
}

/** The model's context T and vocabulary size V, or why it is not a character language model. */
export function languageModelShape(p: Program): { T: number; V: number } {
  if (p.data.source.kind !== "text")
    throw new DnncError(`generate: needs a character language model (data source text(...)); this run's source is ${p.data.source.kind}(...)`);
  const [T, V] = p.meta.outputShape;
  if (p.meta.inputShape.length !== 1 || p.meta.outputShape.length !== 2 || p.meta.inputShape[0] !== T)
    throw new DnncError(
      `generate: needs a model from [T] character ids to [T, vocabulary] logits; this one maps [${p.meta.inputShape.join(", ")}] to [${p.meta.outputShape.join(", ")}]`,
    );
  if (p.meta.causal === false)
    throw new DnncError(
      `generate: the model is not causal along time (${p.meta.acausal ?? "a layer reads later positions"}): its output at a position depends on characters after it, which do not exist yet while generating`,
    );
  return { T, V };
}

/** Check the options (the CLI's flags name themselves in its own checks; this guards library callers). */
function checkOptions(o: GenerateOptions): void {
  const bad = (what: string) => {
    throw new DnncError(`generate: ${what}`);
  };
  if (!Number.isInteger(o.length) || o.length < 1) bad(`length must be an integer >= 1, got ${o.length}`);
  if (!Number.isFinite(o.temperature) || o.temperature < 0) bad(`temperature must be a finite number >= 0, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) bad(`top-k must be an integer >= 0, got ${o.topK}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) bad(`seed must be an integer >= 0, got ${o.seed}`);
  if (!Number.isInteger(o.samples) || o.samples < 1) bad(`samples must be an integer >= 1, got ${o.samples}`);
}

/**
 * Draw one id from logits z[off .. off+V) (temperature, top-k), with the uniform u in [0, 1).
 * `order` is scratch of V ints.
 */
export function drawId(z: Float32Array, off: number, V: number, temperature: number, topK: number, u: number, order: Int32Array): number {
  let best = 0;
  for (let j = 0; j < V; j++) {
    if (!Number.isFinite(z[off + j])) throw new DnncError(`generate: the model's logit for id ${j} is ${z[off + j]} (a diverged model?)`);
    if (z[off + j] > z[off + best]) best = j;
  }
  if (temperature === 0 || topK === 1) return best;
  // the candidates: all ids, or the k largest (a stable order: ties keep the smaller id first)
  let k = V;
  for (let j = 0; j < V; j++) order[j] = j;
  if (topK > 0 && topK < V) {
    const ids = Array.from(order.subarray(0, V)).sort((a, b) => z[off + b] - z[off + a] || a - b);
    for (let j = 0; j < topK; j++) order[j] = ids[j];
    k = topK;
  }
  const m = z[off + best];
  let total = 0;
  for (let j = 0; j < k; j++) total += Math.exp((z[off + order[j]] - m) / temperature);
  let acc = 0;
  const target = u * total;
  for (let j = 0; j < k; j++) {
    acc += Math.exp((z[off + order[j]] - m) / temperature);
    if (target < acc) return order[j];
  }
  return order[k - 1]; // u * total rounded up to the sum
}

/**
 * Generate from `model` (its weights already in H). `prompt` may be empty: the first character is
 * then drawn from the model's output after a single id 0 ("unknown"), which reads as "start".
 */
export function generateText(p: Program, model: Model, H: Float32Array, vocab: Vocab, prompt: string, o: GenerateOptions): Generated {
  const { T, V } = languageModelShape(p);
  if (V !== vocab.size) throw new DnncError(`generate: the model has ${V} outputs per position, its vocabulary ${vocab.size} characters`);
  checkOptions(o);
  const start = vocab.encode(prompt);
  const unknownInPrompt = start.reduce((a, id) => a + (id === vocab.unknown && prompt.length > 0 ? 1 : 0), 0);
  // each sample's text as ids: the prompt (or one id 0), then what is drawn; samples run side by
  // side in groups of up to the model's batch (sample s draws from its own stream: the grouping
  // changes nothing)
  const L = Math.max(1, start.length);
  const W = L + o.length;
  const ids = new Int32Array(W * o.samples);
  for (let s = 0; s < o.samples; s++) ids.set(start.length > 0 ? start : [vocab.unknown], s * W);
  const order = new Int32Array(V);
  const stream = 0x67656e; // "gen"
  const scale = p.data.scale;
  const shift = p.data.shift;
  for (let g = 0; g < o.samples; g += p.meta.batch) {
    const S = Math.min(p.meta.batch, o.samples - g);
    for (let step = 0; step < o.length; step++) {
      const len = L + step;
      const w = Math.min(T, len);
      for (let s = 0; s < S; s++) {
        const base = (g + s) * W + len - w;
        const x = p.layout.x + s * T;
        for (let t = 0; t < T; t++) H[x + t] = ids[base + Math.min(t, w - 1)] * scale + shift;
      }
      model.forward(S, false, 0);
      for (let s = 0; s < S; s++) {
        const u = uniformAt(o.seed, stream + g + s, step);
        ids[(g + s) * W + len] = drawId(H, p.layout.out + (s * T + w - 1) * V, V, o.temperature, o.topK, u, order);
      }
    }
  }
  const samples: string[] = [];
  for (let s = 0; s < o.samples; s++) samples.push(vocab.decode(ids.subarray(s * W + L, (s + 1) * W)));
  return { samples, unknownInPrompt };
}
