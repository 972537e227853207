// What the language server knows about the language, for hover and completion: the layers (the op
// registry, compiler/ops/) and the optimizers, schedules, losses, data sources, preprocessing,
// augmentations and distributions (compiler/settings.ts, the tables the checker validates with),
// their arguments and defaults read off the same JSON schemas; and the blocks and their settings.
import { OPS } from "../ops";
import * as SETTINGS from "../settings";
import type { SettingCall } from "../settings";

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
    const lo = s.minimum ?? s.exclusiveMinimum;
    const hi = s.maximum ?? s.exclusiveMaximum;
    // both bounds: an interval, [0, 1) style; one: ≥ 0, > 0, ≤ 1, < 1
    if (lo !== undefined && hi !== undefined) return `in ${s.minimum !== undefined ? "[" : "("}${lo}, ${hi}${s.maximum !== undefined ? "]" : ")"}`;
    if (lo !== undefined) return `${s.minimum !== undefined ? "≥" : ">"} ${lo}`;
    if (hi !== undefined) return `${s.maximum !== undefined ? "≤" : "<"} ${hi}`;
    return "";
  };
  const note = typeof s.description === "string" ? ` (${s.description})` : "";
  switch (s.type) {
    case "integer":
    case "number": {
      const r = range();
      return `${s.type}${r ? " " + r : ""}${note}`;
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

/** The arguments of a call, read off its JSON schema: type, default (or documented default), required, values. */
function argsOf(properties: Record<string, unknown>, required: readonly string[] = [], docDefaults: Record<string, string> = {}): ArgInfo[] {
  return Object.entries(properties).map(([name, raw]) => {
    const s = raw as Schema;
    const a: ArgInfo = { name, type: describeType(s) };
    if (docDefaults[name] !== undefined) a.default = docDefaults[name];
    else if (s.default !== undefined) a.default = writeDefault(s.default);
    if (required.includes(name)) a.required = true;
    const values = enumValues(s);
    if (values) a.values = values;
    return a;
  });
}

/** Layers, from the op registry (defaults that are not schema constants from the op: the pools' stride is the kernel). */
export const LAYERS: Record<string, CallInfo> = table(
  Object.fromEntries(
    Object.values(OPS).map((o) => [
      o.name,
      { name: o.name, what: "layer", positional: o.positional, args: argsOf(o.schema.properties, o.schema.required, o.docDefaults), doc: o.doc },
    ]),
  ),
);

/** A setting call (compiler/settings.ts, which the checker validates with too) as hover and completion show it. */
const info =
  (what: string) =>
  (c: SettingCall): CallInfo => ({ name: c.name, what, positional: c.positional, args: argsOf(c.properties, c.required, c.docDefaults), doc: c.doc });
const infos = (what: string, t: Record<string, SettingCall>) => table(Object.fromEntries(Object.values(t).map((c) => [c.name, info(what)(c)])));

export const OPTIMIZERS = infos("optimizer", SETTINGS.OPTIMIZERS);
export const SCHEDULES = infos("schedule", SETTINGS.SCHEDULES);
export const LOSSES = infos("loss", SETTINGS.LOSSES);
export const SOURCES = infos("data source", SETTINGS.SOURCES);
export const PREPROCESS = infos("preprocessing", SETTINGS.PREPROCESS);
export const AUGMENTS = infos("augmentation", SETTINGS.AUGMENTS);
export const DISTRIBUTIONS = infos("search distribution", SETTINGS.DISTRIBUTIONS);
export const JACOBIAN_PENALTY = info("setting")(SETTINGS.JACOBIAN_PENALTY);
export const GOLDEN = info("setting")(SETTINGS.GOLDEN);
export const EARLY_STOPPING = info("setting")(SETTINGS.EARLY_STOPPING);

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
      source: setting(
        "source",
        'Required: `idx("DIR")`, `csv("PATH", label="label")`, `image_folder("DIR")` or a sequence source; relative paths are resolved against the spec.',
        SOURCES,
      ),
      validation: setting("validation", "Fraction of the training set held out for validation, 0 ≤ F ≤ 0.9 (default 0), chosen from the seed."),
      test: setting(
        "test",
        "Fraction of a single file's samples held out as the test split, 0 ≤ F ≤ 0.9 (default 0), chosen from the spec's seed; for text, text_classes and timeseries the same as their test= argument.",
      ),
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
      decay_embedding: setting("decay_embedding", "Whether the embedding and pos_embedding tables get weight decay (default true; false: as minGPT).", [
        "true",
        "false",
      ]),
      clip_norm: setting("clip_norm", "Clip the global gradient norm (all tensors together) to c, as clip_grad_norm_."),
      clip_value: setting("clip_value", "Clamp every gradient element to [−c, c]."),
      schedule: setting("schedule", "Learning-rate schedule (default constant).", SCHEDULES),
      schedule_per: setting("schedule_per", "What the schedule counts: epoch (default) or step.", ["epoch", "step"]),
      warmup: setting("warmup", "Linear warm-up over N schedule units, then the schedule starts."),
      golden: setting("golden", GOLDEN.doc),
      on_divergence: setting("on_divergence", "What to do when the loss becomes non-finite: stop (default), skip the step, or lower_lr.", [
        "stop",
        "skip",
        "lower_lr",
      ]),
      input_grad_penalty: setting("input_grad_penalty", "Penalty λ·‖∇ₓ loss‖² (double backprop)."),
      jacobian_penalty: setting("jacobian_penalty", JACOBIAN_PENALTY.doc),
      early_stopping: setting("early_stopping", EARLY_STOPPING.doc),
      tbptt: setting(
        "tbptt",
        "Truncated backpropagation through time (a text source, lstm/gru): the windows are read in order as `batch` contiguous tracks and each recurrent layer starts from its state at the end of the previous batch, detached (default false).",
        ["true", "false"],
      ),
      init_from: setting(
        "init_from",
        'Fine-tuning: start from another run\'s weights, `init_from "runs/base"` (a run directory) or a .safetensors file, relative to the spec. Tensors are matched by name; one of another shape (a replaced head) is skipped and freshly initialised; the trainer prints what was loaded, skipped, missing and extra, and records it in run.json.',
      ),
      freeze: setting(
        "freeze",
        "Fine-tuning: layers whose parameters are not trained, by node id as in the state dict (`conv2d_0`, `bn_1`, `dense_0`; `dnnc compile --emit ir` lists them): `freeze conv2d_0 to dense_0` (an inclusive range of the chain), or names. No update, no decay, no backward below the first trained layer; a frozen batch norm uses and keeps its running statistics. May be repeated.",
      ),
      lr_scale: setting(
        "lr_scale",
        "Fine-tuning: a learning-rate multiplier for layers, `lr_scale 0.1 conv2d_0 to dense_0` (PyTorch param groups with a scaled lr). May be repeated; a later one wins for a layer named twice.",
      ),
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
      lines.push(
        `| \`${a.name}\`${tag} | ${a.type.replace(/\|/g, "\\|")} | ${a.required ? "**required**" : a.default !== undefined ? `\`${a.default}\`` : "–"} |`,
      );
    }
  }
  return lines.join("\n");
}

export function argMarkdown(c: CallInfo, a: ArgInfo): string {
  const d = a.required ? "required" : a.default !== undefined ? `default \`${a.default}\`` : "optional";
  return `\`${a.name}\` — argument of \`${c.name}\` (${c.what}): ${a.type}; ${d}.${a.values ? `\n\nValues: ${a.values.map((v) => `\`${v}\``).join(", ")}` : ""}`;
}
