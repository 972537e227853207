// The spec the playground opens with: a small MLP on the bundled Fashion-MNIST subset.
export const DEFAULT_SPEC = `# A small MLP on the bundled Fashion-MNIST subset (6,000 training and 1,000 test images).
# Edit it: diagnostics appear as you type. Press Train to compile and run it in a worker.
model playground_mlp {
  input [1, 28, 28]
  flatten
  dense(128) -> relu
  dense(10)
  loss softmax_cross_entropy
}

data {
  source idx("data/fashion-mnist-small")   # or csv("data/two-moons", label="label") with input [2]
  validation 0.1
  scale 1/255
}

train {
  seed 1
  batch 64
  epochs 4
  optimizer adam(lr=1e-3)
}
`;
