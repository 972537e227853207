// What the language server knows about the language, for hover and completion: the layers (from
// compiler/ops/, arguments and defaults read off their JSON schemas) and the blocks, settings,
// optimizers, schedules, losses and data sources (tables below, mirroring compiler/check.ts and
// docs/language.md; test/lsp.test.ts checks them against the compiler's own lists).
import { OPS } from "../ops";

export interface ArgInfo {
  name: string;
  /** Human-readable type, e.g. "integer ≥ 1", "one of: same, valid". */
  type: string;
  /** Default as written in a spec; undefined when required or without default. */
  default?: string;
  required?: boolean;
  /** Names completable after `name=`. */
  values?: string[];
}

export interface CallInfo {
  name: string;
  /** What it is: "layer", "optimizer", "schedule", "loss", "data source", "setting". */
  what: string;
  positional: string[];
  args: ArgInfo[];
  doc: string;
}

type Schema = Record<string, unknown>;

/** A JSON schema fragment in words. */
export function describeType(s: Schema): string {
  if (Array.isArray(s.enum)) return `one of: ${(s.enum as unknown[]).join(", ")}`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).map(describeType).join(", or ");
  const range = (): string => {
    const lo = s.minimum !== undefined ? `≥ ${s.minimum}` : s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : "";
    const hi = s.maximum !== undefined ? `≤ ${s.maximum}` : s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : "";
    return [lo, hi].filter((x) => x !== "").join(", ");
  };
  switch (s.type) {
    case "integer":
    case "number": {
      const r = range();
      return `${s.type}${r ? " " + r : ""}`;
    }
    case "boolean":
      return "true or false";
    case "string":
      return "string";
    case "array": {
      const items = s.items ? describeType(s.items as Schema) : "value";
      const n = s.minItems !== undefined && s.minItems === s.maxItems ? `${s.minItems} × ` : "";
      return `[${n}${items}]`;
    }
    default:
      return "value";
  }
}

function enumValues(s: Schema): string[] | undefined {
  const out: string[] = [];
  const walk = (x: Schema) => {
    if (Array.isArray(x.enum)) out.push(...(x.enum as unknown[]).map(String));
    if (x.type === "boolean") out.push("true", "false");
    if (Array.isArray(x.anyOf)) (x.anyOf as Schema[]).forEach(walk);
  };
  walk(s);
  return out.length > 0 ? out : undefined;
}

function writeDefault(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * A table looked up with words from the user's text: a frozen object without a prototype, so
 * that `constructor`, `__proto__` or `toString` are simply not in it (on a plain object they
 * would find Object.prototype's members).
 */
function table<T>(entries: Record<string, T>): Record<string, T> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}

/** Layers, from OPS. */
export const LAYERS: Record<string, CallInfo> = table(Object.fromEntries(
  Object.values(OPS).map((o) => {
    const required = new Set(o.schema.required ?? []);
    const args = Object.entries(o.schema.properties).map(([name, raw]) => {
      const s = raw as Schema;
      const a: ArgInfo = { name, type: describeType(s) };
      if (s.default !== undefined) a.default = writeDefault(s.default);
      if (required.has(name)) a.required = true;
      const values = enumValues(s);
      if (values) a.values = values;
      return a;
    });
    // defaults that are not schema constants (the pools' stride is the kernel; init is torch_default)
    for (const a of args) if (o.docDefaults?.[a.name] !== undefined) a.default = o.docDefaults[a.name];
    return [o.name, { name: o.name, what: "layer", positional: o.positional, args, doc: o.doc }];
  }),
));

const arg = (name: string, type: string, dflt?: string, values?: string[]): ArgInfo => ({
  name,
  type,
  ...(dflt === undefined ? { required: true } : dflt === "" ? {} : { default: dflt }),
  ...(values ? { values } : {}),
});
const bool = (name: string, dflt: string) => arg(name, "true or false", dflt, ["true", "false"]);
const call = (what: string, name: string, positional: string[], args: ArgInfo[], doc: string): CallInfo => ({ name, what, positional, args, doc });

export const OPTIMIZERS: Record<string, CallInfo> = table({
  sgd: call("optimizer", "sgd", ["lr"], [arg("lr", "number > 0"), arg("momentum", "number in [0, 1]", "0"), arg("dampening", "number in [0, 1]", "0"), bool("nesterov", "false")],
    "Stochastic gradient descent, optionally with (Nesterov) momentum; PyTorch 1.13's update rule."),
  adam: call("optimizer", "adam", ["lr"], [arg("lr", "number > 0", "1e-3"), arg("beta1", "number in [0, 1)", "0.9"), arg("beta2", "number in [0, 1)", "0.999"), arg("eps", "number > 0", "1e-8"), bool("amsgrad", "false")],
    "Adam with bias correction; weight_decay in the train block is coupled L2."),
  adamw: call("optimizer", "adamw", ["lr"], [arg("lr", "number > 0", "1e-3"), arg("beta1", "number in [0, 1)", "0.9"), arg("beta2", "number in [0, 1)", "0.999"), arg("eps", "number > 0", "1e-8"), arg("weight_decay", "number ≥ 0", "0.01"), bool("amsgrad", "false")],
    "Adam with decoupled weight decay: W -= lr·wd·W (do not combine with the train block's weight_decay)."),
  adagrad: call("optimizer", "adagrad", ["lr"], [arg("lr", "number > 0", "0.01"), arg("eps", "number > 0", "1e-10"), arg("initial_accumulator", "number ≥ 0", "0"), arg("lr_decay", "number ≥ 0", "0")],
    "Adagrad: per-parameter rates scaled by the accumulated squared gradients."),
  rmsprop: call("optimizer", "rmsprop", ["lr"], [arg("lr", "number > 0", "0.01"), arg("alpha", "number in [0, 1]", "0.99"), arg("eps", "number > 0", "1e-8"), arg("momentum", "number in [0, 1]", "0"), bool("centered", "false")],
    "RMSprop: gradients scaled by a running mean of their squares (PyTorch's alpha is the decay)."),
});

const monitor = arg("monitor", "val_loss or val_acc", "val_loss", ["val_loss", "val_acc"]);

export const SCHEDULES: Record<string, CallInfo> = table({
  constant: call("schedule", "constant", [], [], "The learning rate stays lr."),
  inverse_time: call("schedule", "inverse_time", ["decay"], [arg("decay", "number ≥ 0")], "lr / (1 + decay·k)."),
  exponential: call("schedule", "exponential", ["gamma"], [arg("gamma", "number in (0, 1]")], "lr · gamma^k."),
  step: call("schedule", "step", ["every", "factor"], [arg("every", "integer ≥ 1"), arg("factor", "number in (0, 1]", "0.1")], "Staircase: lr · factor^⌊k/every⌋."),
  multistep: call("schedule", "multistep", ["milestones", "gamma"], [arg("milestones", "[integer ≥ 1, ...]"), arg("gamma", "number in (0, 1]", "0.1")], "lr · gamma^(milestones passed)."),
  cosine: call("schedule", "cosine", ["t_max"], [arg("t_max", "integer ≥ 1", "epochs"), arg("eta_min", "number ≥ 0", "0")], "eta_min + (lr − eta_min)(1 + cos(πk/t_max))/2."),
  cosine_restarts: call("schedule", "cosine_restarts", ["t_0"], [arg("t_0", "integer ≥ 1"), arg("t_mult", "integer ≥ 1", "1"), arg("eta_min", "number ≥ 0", "0")], "Cosine annealing with warm restarts (SGDR)."),
  plateau: call("schedule", "plateau", ["factor", "patience"], [arg("factor", "number in (0, 1)", "0.1"), arg("patience", "integer ≥ 0", "10"), arg("threshold", "number ≥ 0", "1e-4"), arg("cooldown", "integer ≥ 0", "0"), arg("min_lr", "number ≥ 0", "0"), monitor],
    "Multiply the rate by factor when the monitored validation metric stops improving."),
});

export const LOSSES: Record<string, CallInfo> = table({
  softmax_cross_entropy: call("loss", "softmax_cross_entropy", ["label_smoothing"], [arg("label_smoothing", "number in [0, 1]", "0")], "Cross-entropy of the softmax over integer class labels (mean over the batch)."),
  mse: call("loss", "mse", [], [], "Mean squared error over all elements (one-hot targets for class data)."),
  bce_with_logits: call("loss", "bce_with_logits", [], [], "Binary cross-entropy on logits, targets in [0, 1] (class labels become one-hot)."),
  l1: call("loss", "l1", [], [], "Mean absolute error over all elements."),
  huber: call("loss", "huber", ["delta"], [arg("delta", "number > 0", "1")], "Huber loss: quadratic within delta, linear outside."),
});

export const SOURCES: Record<string, CallInfo> = table({
  idx: call("data source", "idx", ["path"], [arg("path", "string")], "A directory with the four IDX files (train/t10k images and labels, .gz or plain)."),
  csv: call("data source", "csv", ["path", "label"], [arg("path", "string"), arg("label", "column name or 0-based index", '"label"')], "train.csv (and optionally test.csv) in a directory, or one CSV file."),
});

export const PREPROCESS: Record<string, CallInfo> = table({
  standardize: call("preprocessing", "standardize", ["mode"], [arg("mode", "feature or channel", "feature", ["feature", "channel"]), arg("eps", "number > 0", "1e-6")],
    "x' = (x − μ)/σ per feature (or per channel); μ and σ are fitted on the training rows only and stored with the model."),
  pca: call("preprocessing", "pca", ["k"], [arg("k", "integer ≥ 1", "")], "Center and rotate onto the principal components (the top k when given), fitted on the training rows."),
  whiten: call("preprocessing", "whiten", ["k"], [arg("k", "integer ≥ 1", ""), arg("eps", "number > 0", "1e-5")], "PCA, then each component scaled to unit variance."),
  zca: call("preprocessing", "zca", ["eps"], [arg("eps", "number > 0", "1e-5")], "ZCA whitening: PCA-whiten, then rotate back to the input axes."),
});

const p = arg("p", "probability in [0, 1]", "");
export const AUGMENTS: Record<string, CallInfo> = table({
  flip_h: call("augmentation", "flip_h", ["p"], [p], "Mirror the image left–right with probability p."),
  flip_v: call("augmentation", "flip_v", ["p"], [p], "Mirror the image top–bottom with probability p."),
  translate: call("augmentation", "translate", ["max", "p"], [arg("max", "integer ≥ 0"), p], "Shift by up to max pixels in each direction (zeros fill in)."),
  crop: call("augmentation", "crop", ["pad", "p"], [arg("pad", "integer ≥ 0"), p], "Pad by pad pixels, then crop back to the original size at a random offset."),
  rotate: call("augmentation", "rotate", ["deg", "p"], [arg("deg", "number in [0, 180]"), p], "Rotate by a random angle in [−deg, deg]."),
  noise: call("augmentation", "noise", ["std", "p"], [arg("std", "number ≥ 0"), p], "Add Gaussian noise with standard deviation std."),
  blur: call("augmentation", "blur", ["sigma", "p"], [arg("sigma", "number > 0", ""), arg("box", "integer ≥ 1", ""), p], "Gaussian (sigma) or box blur."),
  cutout: call("augmentation", "cutout", ["size", "count", "p"], [arg("size", "integer ≥ 1"), arg("count", "integer ≥ 1", "1"), p], "Zero count random size×size squares."),
  brightness: call("augmentation", "brightness", ["delta", "p"], [arg("delta", "number ≥ 0"), p], "Add a random offset in [−delta, delta]."),
  contrast: call("augmentation", "contrast", ["factor", "p"], [arg("factor", "number ≥ 0"), p], "Scale the deviation from the mean by a random factor in [1 − factor, 1 + factor]."),
});

export const JACOBIAN_PENALTY: CallInfo = call("setting", "jacobian_penalty", ["lambda", "projections"], [arg("lambda", "number > 0"), arg("projections", "integer in [1, 64]", "1")],
  "Smoothness penalty λ·‖J(x)‖²_F, estimated with random projections (one extra backward pass each).");

export const GOLDEN: CallInfo = call("setting", "golden", ["steps", "tolerance"], [arg("steps", "integer in [1, 100000]", "20"), arg("tolerance", "number in (0, 1]", "1e-4")],
  "A golden loss-trace check over the first `steps` optimizer steps, compared within `tolerance`.");

export const DISTRIBUTIONS: Record<string, CallInfo> = table({
  uniform: call("search distribution", "uniform", ["low", "high"], [arg("low", "number"), arg("high", "number")], "Uniform on [low, high]."),
  loguniform: call("search distribution", "loguniform", ["low", "high"], [arg("low", "number > 0"), arg("high", "number > 0")], "Log-uniform on [low, high] (learning rates, decays)."),
  int: call("search distribution", "int", ["low", "high"], [arg("low", "integer"), arg("high", "integer")], "A uniform integer in [low, high]."),
  choice: call("search distribution", "choice", [], [], "One of the listed values: choice(64, 128, 256) or choice(relu, gelu)."),
});

export const EARLY_STOPPING: CallInfo = call("setting", "early_stopping", ["patience"], [
  arg("patience", "integer ≥ 1", "5"),
  monitor,
  arg("mode", "auto, min or max", "auto", ["auto", "min", "max"]),
  arg("min_delta", "number ≥ 0", "0"),
  arg("every", "integer ≥ 1", "1"),
  arg("every_steps", "integer ≥ 1 (evaluate every N optimizer steps instead of epochs)"),
], "Stop when the monitored validation metric has not improved for `patience` evaluations; the best weights are restored. Needs `validation` in the data block.");

export interface SettingInfo {
  name: string;
  doc: string;
  /** Names completable after the setting (a table, or a fixed list). */
  values?: Record<string, CallInfo> | string[];
}

const setting = (name: string, doc: string, values?: SettingInfo["values"]): SettingInfo => ({ name, doc, ...(values ? { values } : {}) });

export const BLOCKS: Record<string, { doc: string; settings: Record<string, SettingInfo> }> = table({
  model: {
    doc: "`model NAME { ... }`: the input shape, chains of layers `a -> b -> c`, and the loss.",
    settings: table({
      input: setting("input", "Per-sample input shape without the batch dimension: `[C, H, W]` or `[F]`."),
      loss: setting("loss", "The training loss (PyTorch's reduction='mean').", LOSSES),
    }),
  },
  data: {
    doc: "`data { ... }`: where the samples come from and how inputs are scaled.",
    settings: table({
      source: setting("source", 'Required: `idx("DIR")` or `csv("PATH", label="label")`; relative paths are resolved against the spec.', SOURCES),
      validation: setting("validation", "Fraction of the training set held out for validation, 0 ≤ F ≤ 0.9 (default 0), chosen from the seed."),
      scale: setting("scale", "Inputs are multiplied by S (default 1; `1/255` for bytes)."),
      shift: setting("shift", "Then T is added (default 0)."),
      preprocess: setting("preprocess", "Input preprocessing fitted on the training rows only: standardize, pca, whiten or zca (may be repeated).", PREPROCESS),
      augment: setting("augment", "Training-time augmentations in a body: `augment { flip_h(0.5); translate(2) }`.", AUGMENTS),
    }),
  },
  train: {
    doc: "`train { ... }`: seed, batch, epochs, optimizer, regularization and schedule.",
    settings: table({
      seed: setting("seed", "Every random choice (init, split, shuffling, dropout) derives from it (default 0)."),
      batch: setting("batch", "Mini-batch size (default 32)."),
      epochs: setting("epochs", "Number of epochs (default 10)."),
      optimizer: setting("optimizer", "The optimizer (default `sgd(lr=0.01)`).", OPTIMIZERS),
      weight_decay: setting("weight_decay", "Coupled L2: g += λ·W (PyTorch's weight_decay). Weights only unless decay_bias/decay_norm."),
      l1: setting("l1", "g += λ·sign(W)."),
      decay_bias: setting("decay_bias", "Whether biases get weight decay (default false).", ["true", "false"]),
      decay_norm: setting("decay_norm", "Whether norm gammas/betas get weight decay (default false).", ["true", "false"]),
      clip_norm: setting("clip_norm", "Clip the global gradient norm (all tensors together) to c, as clip_grad_norm_."),
      clip_value: setting("clip_value", "Clamp every gradient element to [−c, c]."),
      schedule: setting("schedule", "Learning-rate schedule (default constant).", SCHEDULES),
      schedule_per: setting("schedule_per", "What the schedule counts: epoch (default) or step.", ["epoch", "step"]),
      warmup: setting("warmup", "Linear warm-up over N schedule units, then the schedule starts."),
      golden: setting("golden", GOLDEN.doc),
      on_divergence: setting("on_divergence", "What to do when the loss becomes non-finite: stop (default), skip the step, or lower_lr.", ["stop", "skip", "lower_lr"]),
      input_grad_penalty: setting("input_grad_penalty", "Penalty λ·‖∇ₓ loss‖² (double backprop)."),
      jacobian_penalty: setting("jacobian_penalty", JACOBIAN_PENALTY.doc),
      early_stopping: setting("early_stopping", EARLY_STOPPING.doc),
    }),
  },
  search: {
    doc: "`search { ... }`: hyperparameter search over paths like `train.optimizer.lr: loguniform(1e-4, 1e-1)`.",
    settings: table({
      strategy: setting("strategy", "random (default), grid or halving (successive halving).", ["random", "grid", "halving"]),
      metric: setting("metric", "What a trial is ranked by (default val_loss).", ["val_loss", "val_acc", "test_acc", "test_loss", "train_loss"]),
      mode: setting("mode", "min or max (default: from the metric).", ["min", "max"]),
      trials: setting("trials", "Number of trials for random search (default 10)."),
      steps: setting("steps", "Grid points per numeric axis (default 3)."),
      budget: setting("budget", "Total epochs for successive halving."),
      eta: setting("eta", "Halving factor: keep 1/eta of the trials each round (default 3)."),
      parallel: setting("parallel", "Trials run at once on worker threads (default 1)."),
    }),
  },
});

/** Every call-like construct by name: layers, optimizers, schedules, losses, sources, preprocessing, augmentations, distributions. */
export function findCall(name: string): CallInfo | undefined {
  if (name === "early_stopping") return EARLY_STOPPING;
  if (name === "jacobian_penalty") return JACOBIAN_PENALTY;
  if (name === "golden") return GOLDEN;
  return LAYERS[name] ?? OPTIMIZERS[name] ?? SCHEDULES[name] ?? LOSSES[name] ?? SOURCES[name] ?? PREPROCESS[name] ?? AUGMENTS[name] ?? DISTRIBUTIONS[name];
}

/** `name(positional, ...)` with the required and positional arguments. */
export function signature(c: CallInfo): string {
  if (c.args.length === 0) return c.name;
  const pos = c.positional.map((p) => {
    const a = c.args.find((x) => x.name === p);
    return a && !a.required ? `${p}=${a.default ?? "…"}` : p;
  });
  const named = c.args.filter((a) => !c.positional.includes(a.name)).map((a) => `${a.name}=${a.default ?? "…"}`);
  return `${c.name}(${[...pos, ...named].join(", ")})`;
}

/** Markdown for hover and completion documentation. */
export function callMarkdown(c: CallInfo): string {
  const lines = [`\`\`\`dnn\n${signature(c)}\n\`\`\``, `*${c.what}* — ${c.doc}`];
  if (c.args.length > 0) {
    lines.push("", "| argument | type | default |", "|---|---|---|");
    for (const a of c.args) {
      const pos = c.positional.indexOf(a.name);
      const tag = pos >= 0 ? ` *(positional ${pos + 1})*` : "";
      lines.push(`| \`${a.name}\`${tag} | ${a.type.replace(/\|/g, "\\|")} | ${a.required ? "**required**" : a.default !== undefined ? `\`${a.default}\`` : "–"} |`);
    }
  }
  return lines.join("\n");
}

export function argMarkdown(c: CallInfo, a: ArgInfo): string {
  const d = a.required ? "required" : a.default !== undefined ? `default \`${a.default}\`` : "optional";
  return `\`${a.name}\` — argument of \`${c.name}\` (${c.what}): ${a.type}; ${d}.${a.values ? `\n\nValues: ${a.values.map((v) => `\`${v}\``).join(", ")}` : ""}`;
}

