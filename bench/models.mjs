// The benchmark models M1..M4 as plain data, shared by every peer (tfjs, PyTorch via JSON on argv)
// and by the FLOP counter, so that all systems train exactly the same network.
//
// A model is { name, title, input: [C, H, W], layers, batch, optimizer, loss }.
// Layers (applied in order; shapes are per sample, channels first as in PyTorch):
//   { op: "flatten" }                                  (C, H, W) -> (C*H*W)
//   { op: "dense", units }                             (F) -> (units), with bias
//   { op: "conv", filters, kernel, padding: "same" }   (C, H, W) -> (filters, H, W), stride 1, with bias
//   { op: "bn" }                                       batch norm (per feature / per channel), eps 1e-5, momentum 0.1 (PyTorch's)
//   { op: "relu" }
//   { op: "dropout", rate }                            rate = DROP probability (PyTorch / Keras convention)
//   { op: "maxpool", size }                            window = stride = size
//   { op: "residual", body: [...] }                    y = x + body(x); body must keep the shape

const SGD = { name: "sgd", lr: 0.05, momentum: 0.9 };
const LOSS = "softmax_cross_entropy";
const INPUT = [1, 28, 28];

const mlp = [
  { op: "flatten" },
  { op: "dense", units: 256 },
  { op: "bn" },
  { op: "relu" },
  { op: "dropout", rate: 0.5 },
  { op: "dense", units: 256 },
  { op: "relu" },
  { op: "dense", units: 10 },
];

const conv = (filters) => ({ op: "conv", filters, kernel: 3, padding: "same" });

/** @type {Record<string, any>} */
export const MODELS = {
  m1: {
    name: "m1",
    title: "M1: MLP 784-256(BN, ReLU, dropout 0.5)-256-10, batch 128",
    input: INPUT,
    layers: mlp,
    batch: 128,
    optimizer: SGD,
    loss: LOSS,
  },
  m2: {
    name: "m2",
    title: "M2: conv16-pool-conv32-pool-dense10, batch 64",
    input: INPUT,
    layers: [
      conv(16),
      { op: "relu" },
      { op: "maxpool", size: 2 },
      conv(32),
      { op: "relu" },
      { op: "maxpool", size: 2 },
      { op: "flatten" },
      { op: "dense", units: 10 },
    ],
    batch: 64,
    optimizer: SGD,
    loss: LOSS,
  },
  m3: {
    name: "m3",
    title: "M3: M1 at batch 16",
    input: INPUT,
    layers: mlp,
    batch: 16,
    optimizer: SGD,
    loss: LOSS,
  },
  m4: {
    name: "m4",
    title: "M4: residual CNN with BN (conv16-pool-res16-conv32-pool-res32-dense10), batch 64",
    input: INPUT,
    layers: [
      conv(16),
      { op: "bn" },
      { op: "relu" },
      { op: "maxpool", size: 2 },
      { op: "residual", body: [conv(16), { op: "bn" }, { op: "relu" }, conv(16), { op: "bn" }] },
      { op: "relu" },
      conv(32),
      { op: "bn" },
      { op: "relu" },
      { op: "maxpool", size: 2 },
      { op: "residual", body: [conv(32), { op: "bn" }, { op: "relu" }, conv(32), { op: "bn" }] },
      { op: "relu" },
      { op: "flatten" },
      { op: "dense", units: 10 },
    ],
    batch: 64,
    optimizer: SGD,
    loss: LOSS,
  },
};

export const MODEL_NAMES = Object.keys(MODELS);

/**
 * Walks the layers with the per-sample shape, calling visit(layer, inShape, outShape) for every
 * layer (residual bodies included, before their residual node). Throws on a shape error.
 * @param {any[]} layers @param {number[]} shape @param {(l: any, i: number[], o: number[]) => void} visit
 * @returns {number[]} the output shape
 */
export function walkShapes(layers, shape, visit) {
  for (const l of layers) {
    let out;
    switch (l.op) {
      case "flatten":
        out = [shape.reduce((a, b) => a * b, 1)];
        break;
      case "dense":
        if (shape.length !== 1) throw new Error(`dense needs a flat input, got [${shape}]`);
        out = [l.units];
        break;
      case "conv": {
        if (shape.length !== 3) throw new Error(`conv needs (C, H, W), got [${shape}]`);
        if (l.padding !== "same" || l.kernel % 2 !== 1) throw new Error("only odd kernels with same padding");
        out = [l.filters, shape[1], shape[2]];
        break;
      }
      case "maxpool":
        out = [shape[0], Math.floor(shape[1] / l.size), Math.floor(shape[2] / l.size)];
        break;
      case "bn":
      case "relu":
      case "dropout":
        out = shape;
        break;
      case "residual": {
        const bodyOut = walkShapes(l.body, shape, visit);
        if (bodyOut.join() !== shape.join()) throw new Error(`residual body changes [${shape}] to [${bodyOut}]`);
        out = shape;
        break;
      }
      default:
        throw new Error(`unknown layer op ${l.op}`);
    }
    visit(l, shape, out);
    shape = out;
  }
  return shape;
}

/** Multiply-adds of one forward pass of one sample through a dense or conv layer (0 otherwise). */
function macs(l, inShape, outShape) {
  if (l.op === "dense") return inShape[0] * l.units;
  if (l.op === "conv") return outShape[0] * outShape[1] * outShape[2] * inShape[0] * l.kernel * l.kernel;
  return 0;
}

/**
 * FLOPs of one training sample: GEMM/conv multiply-adds x2, forward + input gradient + weight
 * gradient, except that the first weighted layer (which sees the raw input) computes no input
 * gradient. Elementwise ops, norms, pooling and the optimizer are not counted.
 * @param {any} model @returns {number}
 */
export function trainFlopsPerSample(model) {
  let total = 0;
  let first = -1;
  walkShapes(model.layers, model.input, (l, i, o) => {
    const m = macs(l, i, o);
    if (m > 0 && first < 0) first = m;
    total += m;
  });
  return 2 * (3 * total - Math.max(first, 0));
}

/** Trainable parameters (weights, biases, bn gamma/beta; not bn running statistics). */
export function countParams(model) {
  let n = 0;
  walkShapes(model.layers, model.input, (l, i, o) => {
    if (l.op === "dense") n += i[0] * l.units + l.units;
    else if (l.op === "conv") n += l.filters * i[0] * l.kernel * l.kernel + l.filters;
    else if (l.op === "bn") n += 2 * o[0];
  });
  return n;
}
