// The sequence benchmark models (issue 18, "Speed") as plain data, shared by every peer and by the
// FLOP counter, like bench/models.mjs for the image models. Sizes that depend on the data (the
// vocabulary, the classes) come from the prepared data (bench/seq-prep.mts writes them in its
// meta.json) and are passed as `facts`.
//
//   S1, character language model: token ids [T] -> embedding(V, E) -> LSTM(U) over the whole window
//       (return_sequences) -> dense(V) at every position -> softmax cross-entropy at every position
//       (the next character), mean over the n*T positions. Initial state zero every window.
//   S2, 1-D CNN text classifier: token ids [L] -> embedding(V, E) -> conv1d(C, k) (valid, stride 1,
//       bias) -> relu -> global max pool over time -> dense(classes) -> softmax cross-entropy.
// Both train with Adam (PyTorch's defaults: betas 0.9/0.999, eps 1e-8, no weight decay).

/** @type {Record<string, any>} */
export const SEQ_MODELS = {
  s1: {
    name: "s1",
    kind: "charlm",
    title: "S1: character LSTM (embedding 64, LSTM 256, context 64, per-position softmax CE), batch 32",
    context: 64,
    embed: 64,
    hidden: 256,
    batch: 32,
    optimizer: { name: "adam", lr: 0.002 },
  },
  s2: {
    name: "s2",
    kind: "textcnn",
    title: "S2: 1-D CNN text classifier (embedding 64, conv1d 128x5, relu, global max pool, dense), context 256, batch 32",
    context: 256,
    embed: 64,
    filters: 128,
    kernel: 5,
    batch: 32,
    optimizer: { name: "adam", lr: 0.001 },
  },
};

export const SEQ_MODEL_NAMES = Object.keys(SEQ_MODELS);

/**
 * Multiply-adds of one forward pass of one sample, per weighted layer (the embedding is a lookup:
 * none). facts: { vocab, classes }.
 * @param {any} m @param {{vocab: number, classes?: number}} facts @returns {number[]}
 */
export function seqMacs(m, facts) {
  if (m.kind === "charlm") {
    const T = m.context;
    const U = m.hidden;
    // per step: the input projection (E -> 4U) and the recurrence (U -> 4U); then U -> V at each position
    return [T * 4 * U * (m.embed + U), T * U * facts.vocab];
  }
  const Lout = m.context - m.kernel + 1;
  return [Lout * m.kernel * m.embed * m.filters, m.filters * facts.classes];
}

/**
 * FLOPs of one training sample: multiply-adds x2, forward + input gradient + weight gradient for
 * every weighted layer. The first weighted layer (the LSTM, the conv) does compute its input
 * gradient here: the embedding below it trains. Elementwise work (gates, softmax), the embedding
 * and the optimizer are not counted.
 * @param {any} m @param {{vocab: number, classes?: number}} facts
 */
export function seqTrainFlopsPerSample(m, facts) {
  return 2 * 3 * seqMacs(m, facts).reduce((a, b) => a + b, 0);
}

/** Trainable parameters (PyTorch's count: nn.LSTM has both bias vectors). */
export function seqCountParams(m, facts) {
  const V = facts.vocab;
  const E = m.embed;
  if (m.kind === "charlm") {
    const U = m.hidden;
    return V * E + 4 * U * (E + U) + 8 * U + U * V + V;
  }
  return V * E + m.filters * E * m.kernel + m.filters + m.filters * facts.classes + facts.classes;
}

/**
 * The dnnc spec of a sequence model, with the sizes the data gave (facts) and the source reading
 * `dataDir` (the corpus directory bench/seq-prep.mts read: the trainer reads it with the same loaders).
 * bench/run.mjs compiles it with `dnnc compile` and runs the trainer.
 * @param {any} m @param {{vocab: number, classes?: number}} facts @param {string} dataDir
 */
export function seqSpec(m, facts, dataDir) {
  const train = `train {\n  seed 1\n  batch ${m.batch}\n  epochs 1\n  optimizer adam(lr=${m.optimizer.lr})\n}\n`;
  if (m.kind === "charlm")
    return (
      `model ${m.name} {\n  input [${m.context}]\n  embedding(${facts.vocab}, ${m.embed})\n  lstm(${m.hidden}, return_sequences=true)\n` +
      `  dense(${facts.vocab})\n  loss softmax_cross_entropy\n}\ndata {\n  source text(${JSON.stringify(dataDir)}, context=${m.context})\n}\n${train}`
    );
  return (
    `model ${m.name} {\n  input [${m.context}]\n  embedding(${facts.vocab}, ${m.embed})\n  conv1d(${m.filters}, ${m.kernel}) -> relu\n  global_maxpool\n` +
    `  dense(${facts.classes})\n  loss softmax_cross_entropy\n}\ndata {\n  source text_classes(${JSON.stringify(dataDir)}, context=${m.context})\n}\n${train}`
  );
}
