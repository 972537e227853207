// What the language server knows about the language, for hover and completion: the layers (from
// compiler/ops.ts, arguments and defaults read off their JSON schemas) and the blocks, settings,
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

/** Layers, from OPS. */
export const LAYERS: Record<string, CallInfo> = Object.fromEntries(
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
    // stride of the pools defaults to the kernel (documented in the op's doc, not in the schema)
    for (const a of args) if ((o.name === "maxpool2d" || o.name === "avgpool2d") && a.name === "stride") a.default = "kernel";
    for (const a of args) if (a.name === "init") a.default = "torch_default";
    return [o.name, { name: o.name, what: "layer", positional: o.positional, args, doc: o.doc }];
  }),
);

const arg = (name: string, type: string, dflt?: string, values?: string[]): ArgInfo => ({
  name,
  type,
  ...(dflt === undefined ? { required: true } : dflt === "" ? {} : { default: dflt }),
  ...(values ? { values } : {}),
});
const bool = (name: string, dflt: string) => arg(name, "true or false", dflt, ["true", "false"]);
const call = (what: string, name: string, positional: string[], args: ArgInfo[], doc: string): CallInfo => ({ name, what, positional, args, doc });

export const OPTIMIZERS: Record<string, CallInfo> = {
  sgd: call("optimizer", "sgd", ["lr"], [arg("lr", "number > 0"), arg("momentum", "number in [0, 1]", "0"), arg("dampening", "number in [0, 1]", "0"), bool("nesterov", "false")],
    "Stochastic gradient descent, optionally with (Nesterov) momentum; PyTorch 1.13's update rule."),
  adam: call("optimizer", "adam", ["lr"], [arg("lr", "number > 0", "1e-3"), arg("beta1", "number in [0, 1)", "0.9"), arg("beta2", "number in [0, 1)", "0.999"), arg("eps", "number > 0", "1e-8"), bool("amsgrad", "false")],
    "Adam with bias correction; weight_decay in the train block is coupled L2."),
  adamw: call("optimizer", "adamw", ["lr"], [arg("lr", "number > 0", "1e-3"), arg("beta1", "number in [0, 1)", "0.9"), arg("beta2", "number in [0, 1)", "0.999"), arg("eps", "number > 0", "1e-8"), arg("weight_decay", "number ≥ 0", "0.01"), bool("amsgrad", "false")],
    "Adam with decoupled weight decay: W -= lr·wd·W (do not combine with the train block's weight_decay)."),
  adagrad: call("optimizer", "adagrad", ["lr"], [arg("lr", "number > 0", "0.01"), arg("eps", "number > 0", "1e-10"), arg("initial_accumulator", "number ≥ 0", "0")],
    "Adagrad: per-parameter rates scaled by the accumulated squared gradients."),
  rmsprop: call("optimizer", "rmsprop", ["lr"], [arg("lr", "number > 0", "0.01"), arg("alpha", "number in [0, 1]", "0.99"), arg("eps", "number > 0", "1e-8"), arg("momentum", "number in [0, 1]", "0"), bool("centered", "false")],
    "RMSprop: gradients scaled by a running mean of their squares (PyTorch's alpha is the decay)."),
};

const monitor = arg("monitor", "val_loss or val_acc", "val_loss", ["val_loss", "val_acc"]);

export const SCHEDULES: Record<string, CallInfo> = {
  constant: call("schedule", "constant", [], [], "The learning rate stays lr."),
  inverse_time: call("schedule", "inverse_time", ["decay"], [arg("decay", "number ≥ 0")], "lr / (1 + decay·k)."),
  exponential: call("schedule", "exponential", ["gamma"], [arg("gamma", "number in (0, 1]")], "lr · gamma^k."),
  step: call("schedule", "step", ["every", "factor"], [arg("every", "integer ≥ 1"), arg("factor", "number in (0, 1]", "0.1")], "Staircase: lr · factor^⌊k/every⌋."),
  multistep: call("schedule", "multistep", ["milestones", "gamma"], [arg("milestones", "[integer ≥ 1, ...]"), arg("gamma", "number in (0, 1]", "0.1")], "lr · gamma^(milestones passed)."),
  cosine: call("schedule", "cosine", ["t_max"], [arg("t_max", "integer ≥ 1", "epochs"), arg("eta_min", "number ≥ 0", "0")], "eta_min + (lr − eta_min)(1 + cos(πk/t_max))/2."),
  cosine_restarts: call("schedule", "cosine_restarts", ["t_0"], [arg("t_0", "integer ≥ 1"), arg("t_mult", "integer ≥ 1", "1"), arg("eta_min", "number ≥ 0", "0")], "Cosine annealing with warm restarts (SGDR)."),
  plateau: call("schedule", "plateau", ["factor", "patience"], [arg("factor", "number in (0, 1)", "0.1"), arg("patience", "integer ≥ 0", "10"), arg("threshold", "number ≥ 0", "1e-4"), arg("cooldown", "integer ≥ 0", "0"), arg("min_lr", "number ≥ 0", "0"), monitor],
    "Multiply the rate by factor when the monitored validation metric stops improving."),
};

export const LOSSES: Record<string, CallInfo> = {
  softmax_cross_entropy: call("loss", "softmax_cross_entropy", ["label_smoothing"], [arg("label_smoothing", "number in [0, 1]", "0")], "Cross-entropy of the softmax over integer class labels (mean over the batch)."),
  mse: call("loss", "mse", [], [], "Mean squared error over all elements (one-hot targets for class data)."),
  bce_with_logits: call("loss", "bce_with_logits", [], [], "Binary cross-entropy on logits, targets in [0, 1] (class labels become one-hot)."),
  l1: call("loss", "l1", [], [], "Mean absolute error over all elements."),
  huber: call("loss", "huber", ["delta"], [arg("delta", "number > 0", "1")], "Huber loss: quadratic within delta, linear outside."),
};

export const SOURCES: Record<string, CallInfo> = {
  idx: call("data source", "idx", ["path"], [arg("path", "string")], "A directory with the four IDX files (train/t10k images and labels, .gz or plain)."),
  csv: call("data source", "csv", ["path", "label"], [arg("path", "string"), arg("label", "column name or 0-based index", '"label"')], "train.csv (and optionally test.csv) in a directory, or one CSV file."),
};

export const EARLY_STOPPING: CallInfo = call("setting", "early_stopping", ["patience"], [
  arg("patience", "integer ≥ 1", "5"),
  monitor,
  arg("mode", "auto, min or max", "auto", ["auto", "min", "max"]),
  arg("min_delta", "number ≥ 0", "0"),
  arg("every", "integer ≥ 1", "1"),
], "Stop when the monitored validation metric has not improved for `patience` evaluations; the best weights are restored. Needs `validation` in the data block.");

export interface SettingInfo {
  name: string;
  doc: string;
  /** Names completable after the setting (a table, or a fixed list). */
  values?: Record<string, CallInfo> | string[];
}

const setting = (name: string, doc: string, values?: SettingInfo["values"]): SettingInfo => ({ name, doc, ...(values ? { values } : {}) });

export const BLOCKS: Record<string, { doc: string; settings: Record<string, SettingInfo> }> = {
  model: {
    doc: "`model NAME { ... }`: the input shape, chains of layers `a -> b -> c`, and the loss.",
    settings: {
      input: setting("input", "Per-sample input shape without the batch dimension: `[C, H, W]` or `[F]`."),
      loss: setting("loss", "The training loss (PyTorch's reduction='mean').", LOSSES),
    },
  },
  data: {
    doc: "`data { ... }`: where the samples come from and how inputs are scaled.",
    settings: {
      source: setting("source", 'Required: `idx("DIR")` or `csv("PATH", label="label")`; relative paths are resolved against the spec.', SOURCES),
      validation: setting("validation", "Fraction of the training set held out for validation, 0 ≤ F ≤ 0.9 (default 0), chosen from the seed."),
      scale: setting("scale", "Inputs are multiplied by S (default 1; `1/255` for bytes)."),
      shift: setting("shift", "Then T is added (default 0)."),
    },
  },
  train: {
    doc: "`train { ... }`: seed, batch, epochs, optimizer, regularization and schedule.",
    settings: {
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
      early_stopping: setting("early_stopping", EARLY_STOPPING.doc),
    },
  },
  search: { doc: "`search { ... }`: hyperparameter search over paths like `train.optimizer.lr: loguniform(1e-4, 1e-1)`.", settings: {} },
};

/** Every call-like construct by name: layers, optimizers, schedules, losses, sources, early_stopping. */
export function findCall(name: string): CallInfo | undefined {
  return LAYERS[name] ?? OPTIMIZERS[name] ?? SCHEDULES[name] ?? LOSSES[name] ?? SOURCES[name] ?? (name === "early_stopping" ? EARLY_STOPPING : undefined);
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

