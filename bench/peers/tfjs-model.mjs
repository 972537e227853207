// A model of bench/models.mjs as a tfjs-layers functional model (residual blocks need `add`).
// NHWC layout (tfjs's native one); Keras's batch-norm momentum 0.9 is PyTorch's 0.1.

/**
 * @param {any} tfl the @tensorflow/tfjs-layers module
 * @param {any} m a model of bench/models.mjs
 */
export function buildTfjsModel(tfl, m) {
  const [C, H, W] = m.input;
  const inp = tfl.input({ shape: [H, W, C] });
  const apply = (layers, x) => {
    for (const l of layers) {
      switch (l.op) {
        case "flatten":
          x = tfl.layers.flatten().apply(x);
          break;
        case "dense":
          x = tfl.layers.dense({ units: l.units }).apply(x);
          break;
        case "conv":
          x = tfl.layers.conv2d({ filters: l.filters, kernelSize: l.kernel, padding: l.padding }).apply(x);
          break;
        case "bn":
          x = tfl.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }).apply(x);
          break;
        case "relu":
          x = tfl.layers.reLU().apply(x);
          break;
        case "dropout":
          x = tfl.layers.dropout({ rate: l.rate }).apply(x);
          break;
        case "maxpool":
          x = tfl.layers.maxPooling2d({ poolSize: l.size, strides: l.size }).apply(x);
          break;
        case "residual":
          x = tfl.layers.add().apply([x, apply(l.body, x)]);
          break;
        default:
          throw new Error(`unknown op ${l.op}`);
      }
    }
    return x;
  };
  return tfl.model({ inputs: inp, outputs: apply(m.layers, inp) });
}

/** Number of trainable parameters of a tfjs-layers model. */
export function trainableParams(net) {
  return net.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
}
