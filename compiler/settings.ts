// The calls of the language's settings, defined once: optimizers, losses, schedules, data sources,
// preprocessing, augmentations, search distributions, golden, jacobian_penalty and early_stopping.
// Each is its positional arguments, its argument schema (JSON schema: types, ranges, defaults; the
// checker validates with it, compiler/check.ts) and its documentation (the language server's hover
// and completion and the editor grammar read it, compiler/lsp/catalogue.ts). The layers are the op
// registry's (compiler/ops/).

export interface SettingCall {
  name: string;
  /** Argument names that may be given by position, in order. */
  positional: string[];
  /** JSON schema of each argument (with `default` where there is one). */
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  doc: string;
  /** Defaults that are not schema constants (cosine's t_max is the run's epochs), as written in docs. */
  docDefaults?: Record<string, string>;
}

const num = (extra: Record<string, unknown> = {}) => ({ type: "number", ...extra });
const int = (extra: Record<string, unknown> = {}) => ({ type: "integer", ...extra });
const bool = (d: boolean) => ({ type: "boolean", default: d });

function table(calls: SettingCall[]): Record<string, SettingCall> {
  // no prototype: a name like `constructor` or `toString` finds nothing
  return Object.freeze(Object.assign(Object.create(null) as Record<string, SettingCall>, Object.fromEntries(calls.map((c) => [c.name, c]))));
}
const call = (name: string, positional: string[], properties: SettingCall["properties"], doc: string, rest: Partial<SettingCall> = {}): SettingCall => ({
  name,
  positional,
  properties,
  doc,
  ...rest,
});

const betas = {
  beta1: num({ minimum: 0, maximum: 0.999999, default: 0.9 }),
  beta2: num({ minimum: 0, maximum: 0.9999999, default: 0.999 }),
  eps: num({ exclusiveMinimum: 0, default: 1e-8 }),
};

export const OPTIMIZERS = table([
  call(
    "sgd",
    ["lr"],
    {
      lr: num({ exclusiveMinimum: 0 }),
      momentum: num({ minimum: 0, maximum: 1, default: 0 }),
      dampening: num({ minimum: 0, maximum: 1, default: 0 }),
      nesterov: bool(false),
    },
    "Stochastic gradient descent, optionally with (Nesterov) momentum; PyTorch 1.13's update rule.",
    { required: ["lr"] },
  ),
  call(
    "adam",
    ["lr"],
    { lr: num({ exclusiveMinimum: 0, default: 0.001 }), ...betas, amsgrad: bool(false) },
    "Adam with bias correction; weight_decay in the train block is coupled L2.",
  ),
  call(
    "adamw",
    ["lr"],
    { lr: num({ exclusiveMinimum: 0, default: 0.001 }), ...betas, weight_decay: num({ minimum: 0, default: 0.01 }), amsgrad: bool(false) },
    "Adam with decoupled weight decay: W -= lr·wd·W (do not combine with the train block's weight_decay).",
  ),
  call(
    "adagrad",
    ["lr"],
    {
      lr: num({ exclusiveMinimum: 0, default: 0.01 }),
      eps: num({ exclusiveMinimum: 0, default: 1e-10 }),
      initial_accumulator: num({ minimum: 0, default: 0 }),
      lr_decay: num({ minimum: 0, default: 0 }),
    },
    "Adagrad: per-parameter rates scaled by the accumulated squared gradients.",
  ),
  call(
    "rmsprop",
    ["lr"],
    {
      lr: num({ exclusiveMinimum: 0, default: 0.01 }),
      alpha: num({ minimum: 0, maximum: 1, default: 0.99 }),
      eps: num({ exclusiveMinimum: 0, default: 1e-8 }),
      momentum: num({ minimum: 0, maximum: 1, default: 0 }),
      centered: bool(false),
    },
    "RMSprop: gradients scaled by a running mean of their squares (PyTorch's alpha is the decay).",
  ),
]);

export const LOSSES = table([
  call(
    "softmax_cross_entropy",
    ["label_smoothing"],
    { label_smoothing: num({ minimum: 0, maximum: 1, default: 0 }) },
    "Cross-entropy of the softmax over integer class labels (mean over the batch).",
  ),
  call("mse", [], {}, "Mean squared error over all elements (one-hot targets for class data)."),
  call("bce_with_logits", [], {}, "Binary cross-entropy on logits, targets in [0, 1] (class labels become one-hot)."),
  call("l1", [], {}, "Mean absolute error over all elements."),
  call("huber", ["delta"], { delta: num({ exclusiveMinimum: 0, default: 1 }) }, "Huber loss: quadratic within delta, linear outside."),
]);

export const SCHEDULES = table([
  call("constant", [], {}, "The learning rate stays lr."),
  call("inverse_time", ["decay"], { decay: num({ minimum: 0 }) }, "lr / (1 + decay·k).", { required: ["decay"] }),
  call("exponential", ["gamma"], { gamma: num({ exclusiveMinimum: 0, maximum: 1 }) }, "lr · gamma^k.", { required: ["gamma"] }),
  call(
    "step",
    ["every", "factor"],
    { every: int({ minimum: 1 }), factor: num({ exclusiveMinimum: 0, maximum: 1, default: 0.1 }) },
    "Staircase: lr · factor^⌊k/every⌋.",
    { required: ["every"] },
  ),
  call(
    "multistep",
    ["milestones", "gamma"],
    { milestones: { type: "array", items: int({ minimum: 1 }), minItems: 1 }, gamma: num({ exclusiveMinimum: 0, maximum: 1, default: 0.1 }) },
    "lr · gamma^(milestones passed).",
    { required: ["milestones"] },
  ),
  call("cosine", ["t_max"], { t_max: int({ minimum: 1 }), eta_min: num({ minimum: 0, default: 0 }) }, "eta_min + (lr − eta_min)(1 + cos(πk/t_max))/2.", {
    docDefaults: { t_max: "epochs" },
  }),
  call(
    "cosine_restarts",
    ["t_0"],
    { t_0: int({ minimum: 1 }), t_mult: int({ minimum: 1, default: 1 }), eta_min: num({ minimum: 0, default: 0 }) },
    "Cosine annealing with warm restarts (SGDR).",
    { required: ["t_0"] },
  ),
  call(
    "plateau",
    ["factor", "patience"],
    {
      factor: num({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.1 }),
      patience: int({ minimum: 0, default: 10 }),
      threshold: num({ minimum: 0, default: 1e-4 }),
      cooldown: int({ minimum: 0, default: 0 }),
      min_lr: num({ minimum: 0, default: 0 }),
      monitor: { type: "string", enum: ["val_loss", "val_acc"], default: "val_loss" },
    },
    "Multiply the rate by factor when the monitored validation metric stops improving.",
  ),
]);

const fraction = (d?: number) => num({ minimum: 0, maximum: 0.9, ...(d !== undefined ? { default: d } : {}) });
const names = {
  anyOf: [
    { type: "string", minLength: 1 },
    { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
  ],
};

export const SOURCES = table([
  call("idx", ["path"], { path: { type: "string", minLength: 1 } }, "A directory with the four IDX files (train/t10k images and labels, .gz or plain).", {
    required: ["path"],
  }),
  call(
    "csv",
    ["path", "label"],
    {
      path: { type: "string", minLength: 1 },
      label: { anyOf: [{ type: "string" }, int()], default: "label" },
      header: { type: "boolean", description: "whether the first line is a header (default: detected: a cell that is not a number)" },
      delimiter: { type: "string", minLength: 1, maxLength: 1, not: { const: '"' }, description: "the cell separator, one character (default `,`)" },
      features: {
        type: "array",
        items: { anyOf: [{ type: "string", minLength: 1 }, int()] },
        minItems: 1,
        description: "the feature columns in this order, by name or 0-based index (default: every column but the label)",
      },
      skip_rows: int({ minimum: 0, description: "lines skipped at the top, such as a metadata line (default 0)" }),
      categorical: {
        type: "array",
        items: { anyOf: [{ type: "string", minLength: 1 }, int()] },
        minItems: 1,
        description:
          "feature columns holding categories, one-hot encoded (vocabulary: the training rows' categories, sorted; an unknown category is all zeros)",
      },
    },
    "train.csv (and optionally test.csv) in a directory, or one CSV file; label: the target column's name or 0-based index (negative: from the end); features: which columns are read, by name or index.",
    { required: ["path"], docDefaults: { delimiter: '","', skip_rows: "0" } },
  ),
  call(
    "image_folder",
    ["path"],
    { path: { type: "string", minLength: 1 } },
    "One folder of PNG files per class (class names: the folder names, in name order, saved with the model), or train/ and test/ folders of them; images must have the input's height and width; colour or gray, converted to the input's channels.",
    { required: ["path"] },
  ),
  call(
    "text",
    ["path", "context"],
    {
      path: { type: "string", minLength: 1 },
      context: int({ minimum: 1, maximum: 65536 }),
      stride: int({ minimum: 1, description: "characters between windows (default: context, non-overlapping)" }),
      test: fraction(0),
    },
    "A character corpus (a UTF-8 file, or a directory of them) for a language model: windows of `context` characters, the next character the target at every position; the vocabulary is the training span's characters (id 0: a character outside it). Validation and test are the corpus' last spans.",
    { required: ["path", "context"] },
  ),
  call(
    "text_classes",
    ["path", "context"],
    {
      path: { type: "string", minLength: 1 },
      context: int({ minimum: 1, maximum: 65536 }),
      separator: { type: "string", default: "%" },
      test: fraction(0),
    },
    "Document classification: one file (or subdirectory) per class, documents separated by a line `separator` (Debian's fortunes: `%`); each document's first `context` characters, padded (id 1), as token ids.",
    { required: ["path", "context"] },
  ),
  call(
    "tokens",
    ["path", "label"],
    {
      path: { type: "string", minLength: 1 },
      label: { anyOf: [{ type: "string" }, int({ minimum: 0 })], default: "label" },
      pad: int({ minimum: 0, default: 0 }),
      max_length: int({ minimum: 1 }),
    },
    "A CSV of token ids, one sequence per row (rows of different lengths padded with `pad`), and a label column.",
    { required: ["path"] },
  ),
  call(
    "timeseries",
    ["path"],
    {
      path: { type: "string", minLength: 1 },
      window: int({ minimum: 1 }),
      horizon: int({ minimum: 1, default: 1 }),
      target: names,
      inputs: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
      time: { type: "string", minLength: 1 },
      stride: int({ minimum: 1, default: 1 }),
      test: fraction(0),
    },
    "A CSV time series read by column names: windows of `window` steps of the `inputs` columns (default: every numeric column but the time), the next `horizon` steps of `target` as the target; split by time (train, then validation, then test), standardized with statistics of the training span.",
    { required: ["path", "window", "target"] },
  ),
]);

export const PREPROCESS = table([
  call(
    "standardize",
    ["mode"],
    { mode: { type: "string", enum: ["feature", "channel"], default: "feature" }, eps: num({ exclusiveMinimum: 0, default: 1e-6 }) },
    "x' = (x − μ)/σ per feature (or per channel); μ and σ are fitted on the training rows only and stored with the model.",
  ),
  call("pca", ["k"], { k: int({ minimum: 1 }) }, "Center and rotate onto the principal components (the top k when given), fitted on the training rows."),
  call("whiten", ["k"], { k: int({ minimum: 1 }), eps: num({ exclusiveMinimum: 0, default: 1e-5 }) }, "PCA, then each component scaled to unit variance."),
  call("zca", ["eps"], { eps: num({ exclusiveMinimum: 0, default: 1e-5 }) }, "ZCA whitening: PCA-whiten, then rotate back to the input axes."),
]);

const p = { p: num({ minimum: 0, maximum: 1 }) };
export const AUGMENTS = table([
  call("flip_h", ["p"], { ...p }, "Mirror the image left–right with probability p."),
  call("flip_v", ["p"], { ...p }, "Mirror the image top–bottom with probability p."),
  call("translate", ["max", "p"], { max: int({ minimum: 0 }), ...p }, "Shift by up to max pixels in each direction (zeros fill in).", { required: ["max"] }),
  call("crop", ["pad", "p"], { pad: int({ minimum: 0 }), ...p }, "Pad by pad pixels, then crop back to the original size at a random offset.", {
    required: ["pad"],
  }),
  call("rotate", ["deg", "p"], { deg: num({ minimum: 0, maximum: 180 }), ...p }, "Rotate by a random angle in [−deg, deg].", { required: ["deg"] }),
  call("noise", ["std", "p"], { std: num({ minimum: 0 }), ...p }, "Add Gaussian noise with standard deviation std.", { required: ["std"] }),
  call("blur", ["sigma", "p"], { sigma: num({ exclusiveMinimum: 0 }), box: int({ minimum: 1 }), ...p }, "Gaussian (sigma) or box blur."),
  call("cutout", ["size", "count", "p"], { size: int({ minimum: 1 }), count: int({ minimum: 1, default: 1 }), ...p }, "Zero count random size×size squares.", {
    required: ["size"],
  }),
  call("brightness", ["delta", "p"], { delta: num({ minimum: 0 }), ...p }, "Add a random offset in [−delta, delta].", { required: ["delta"] }),
  call(
    "contrast",
    ["factor", "p"],
    { factor: num({ minimum: 0 }), ...p },
    "Scale the deviation from the mean by a random factor in [1 − factor, 1 + factor].",
    { required: ["factor"] },
  ),
]);

export const GOLDEN = call(
  "golden",
  ["steps", "tolerance"],
  { steps: int({ minimum: 1, maximum: 100000, default: 20 }), tolerance: num({ exclusiveMinimum: 0, maximum: 1, default: 1e-4 }) },
  "A golden loss-trace check over the first `steps` optimizer steps, compared within `tolerance`.",
);

export const JACOBIAN_PENALTY = call(
  "jacobian_penalty",
  ["lambda", "projections"],
  { lambda: num({ exclusiveMinimum: 0 }), projections: int({ minimum: 1, maximum: 64, default: 1 }) },
  "Smoothness penalty λ·‖J(x)‖²_F, estimated with random projections (one extra backward pass each).",
  { required: ["lambda"] },
);

export const EARLY_STOPPING = call(
  "early_stopping",
  ["patience"],
  {
    monitor: { type: "string", enum: ["val_loss", "val_acc"], default: "val_loss" },
    mode: { type: "string", enum: ["auto", "min", "max"], default: "auto" },
    patience: int({ minimum: 1, default: 5 }),
    min_delta: num({ minimum: 0, default: 0 }),
    every: int({ minimum: 1, default: 1 }),
    every_steps: int({ minimum: 1, description: "evaluate every N optimizer steps instead of epochs" }),
  },
  "Stop when the monitored validation metric has not improved for `patience` evaluations; the best weights are restored. Needs `validation` in the data block.",
);

/** Search distributions: parsed by compiler/search (their own syntax); listed here for the language server. */
export const DISTRIBUTIONS = table([
  call("uniform", ["low", "high"], { low: num(), high: num() }, "Uniform on [low, high].", { required: ["low", "high"] }),
  call(
    "loguniform",
    ["low", "high"],
    { low: num({ exclusiveMinimum: 0 }), high: num({ exclusiveMinimum: 0 }) },
    "Log-uniform on [low, high] (learning rates, decays).",
    { required: ["low", "high"] },
  ),
  call("int", ["low", "high"], { low: int(), high: int() }, "A uniform integer in [low, high].", { required: ["low", "high"] }),
  call("choice", [], {}, "One of the listed values: choice(64, 128, 256) or choice(relu, gelu)."),
]);
