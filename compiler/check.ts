// Pass 1 — check: AST → Spec. Validates every block, setting, layer and argument (layer arguments
// with the ajv schemas of the op registry, compiler/ops/, settings with the small schemas below), fills defaults and
// reports every error at once as a diagnostic with a span. Shapes are checked later, in lowering.
import { createHash } from "node:crypto";
import type { Arg, Element, SpecFile, Span, Statement, Value } from "../grammar/ast";
import { diag, didYouMean, type Diagnostic } from "../grammar/diagnostics";
import { OPS, OP_VALIDATORS } from "./ops";
import { lazyValidator } from "./schema";
import * as SETTINGS from "./settings";
import type { SettingCall } from "./settings";
import { applyPath } from "./search-apply";
import { grid, gridOverBudget, MAX_TRIALS, type Space } from "./search/space";
import type {
  DataSpec,
  EarlyStoppingSpec,
  FinetuneSpec,
  Json,
  LayerSelection,
  LayerSpec,
  LossSpec,
  OptimizerSpec,
  ScheduleSpec,
  SourceKind,
  Spec,
  TrainSpec,
} from "./spec";
import type { ErrorObject, ValidateFunction } from "ajv";

export function valueToJson(v: Value): Json {
  switch (v.kind) {
    case "number":
      return v.value;
    case "string":
      return v.value;
    case "ident":
      return v.name === "true" ? true : v.name === "false" ? false : v.name;
    case "list":
      return v.items.map(valueToJson);
    case "call":
      return { call: v.name, args: Object.fromEntries(v.args.map((a, i) => [a.key ?? `$${i}`, valueToJson(a.value)])) };
  }
}

function describeSchema(s: Record<string, unknown>): string | undefined {
  if (s.enum) return `expected one of: ${(s.enum as unknown[]).join(", ")}`;
  if (s.anyOf) return (s.anyOf as Record<string, unknown>[]).map((x) => describeSchema(x) ?? String(x.type)).join(", or ");
  const parts: string[] = [];
  const t =
    s.type === "integer"
      ? "an integer"
      : s.type === "number"
        ? "a number"
        : s.type === "boolean"
          ? "true or false"
          : s.type === "array"
            ? "a list"
            : s.type === "string"
              ? "a name"
              : undefined;
  if (t) parts.push(t);
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`in [${s.minimum}, ${s.maximum}]`);
  else if (s.minimum !== undefined) parts.push(`>= ${s.minimum}`);
  else if (s.maximum !== undefined) parts.push(`<= ${s.maximum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.type === "array" && s.minItems !== undefined) parts.push(`of ${s.minItems} items`);
  return parts.length > 0 ? `expected ${parts.join(" ")}` : undefined;
}

/**
 * Bind positional and named arguments to an object, validate it with `validate`, and report
 * problems at the span of the offending argument. Returns the object with defaults filled.
 */
export function bindArgs(
  what: string,
  args: Arg[],
  positional: string[],
  schema: { properties: Record<string, unknown>; required?: string[] },
  validate: ValidateFunction,
  whereSpan: Span,
  diags: Diagnostic[],
): Record<string, Json> | undefined {
  const obj: Record<string, Json> = {};
  const spans: Record<string, Span> = {};
  let ok = true;
  let pos = 0;
  for (const a of args) {
    let key = a.key;
    if (key === undefined) {
      if (pos >= positional.length) {
        diags.push(
          diag(
            "E0203",
            a.span,
            { name: what, max: positional.length, got: args.filter((x) => !x.key).length },
            positional.length > 0 ? `positional arguments: ${positional.join(", ")}` : "name the argument: key=value",
          ),
        );
        ok = false;
        continue;
      }
      key = positional[pos++];
    } else if (!Object.hasOwn(schema.properties, key)) {
      diags.push(diag("E0202", a.keySpan ?? a.span, { arg: key, name: what }, didYouMean(key, Object.keys(schema.properties))));
      ok = false;
      continue;
    }
    if (Object.hasOwn(obj, key)) {
      diags.push(diag("E0206", a.span, { arg: key }));
      ok = false;
      continue;
    }
    obj[key] = valueToJson(a.value);
    spans[key] = a.value.span;
  }
  for (const r of schema.required ?? []) {
    if (ok && !(r in obj)) {
      diags.push(diag("E0204", whereSpan, { name: what, arg: r }, positional.includes(r) ? `write \`${what}(${r}=...)\`` : undefined));
      ok = false;
    }
  }
  if (!ok) return undefined;
  if (!validate(obj)) {
    const seen = new Set<string>();
    for (const e of (validate.errors ?? []) as ErrorObject[]) {
      const key = e.instancePath.split("/")[1] ?? "";
      if (seen.has(key)) continue;
      seen.add(key);
      const propSchema = (schema.properties[key] ?? {}) as Record<string, unknown>;
      const detail = key ? `${JSON.stringify(obj[key])} ${e.message ?? "is invalid"}` : (e.message ?? "invalid");
      diags.push(diag("E0205", spans[key] ?? whereSpan, { arg: key, name: what, detail }, describeSchema(propSchema)));
    }
    return undefined;
  }
  return obj;
}

// ---- settings -------------------------------------------------------------------------------

interface CallDef {
  positional: string[];
  schema: { type: "object"; properties: Record<string, unknown>; required?: string[]; additionalProperties: false };
  validate: ValidateFunction;
}
function callDef(positional: string[], properties: Record<string, unknown>, required?: string[]): CallDef {
  const schema = { type: "object" as const, properties, additionalProperties: false as const, ...(required ? { required } : {}) };
  return { positional, schema, validate: lazyValidator(schema) };
}

/** The validators of a table of setting calls (compiler/settings.ts), each compiled once (lazily). */
function callDefs(t: Record<string, SettingCall>): Record<string, CallDef> {
  return Object.assign(Object.create(null) as Record<string, CallDef>, Object.fromEntries(Object.values(t).map((c) => [c.name, fromSetting(c)])));
}
function fromSetting(c: SettingCall): CallDef {
  return callDef(c.positional, c.properties, c.required);
}

const OPTIMIZERS = callDefs(SETTINGS.OPTIMIZERS);
const LOSSES = callDefs(SETTINGS.LOSSES);
const SCHEDULES = callDefs(SETTINGS.SCHEDULES);
const PREPROCESS = callDefs(SETTINGS.PREPROCESS);
const AUGMENTS = callDefs(SETTINGS.AUGMENTS);
const SOURCES = callDefs(SETTINGS.SOURCES);
const GOLDEN = fromSetting(SETTINGS.GOLDEN);
const JAC = fromSetting(SETTINGS.JACOBIAN_PENALTY);
const EARLY = fromSetting(SETTINGS.EARLY_STOPPING);

// ---- the checker ----------------------------------------------------------------------------

class Checker {
  diags: Diagnostic[] = [];
  constructor(private f: SpecFile) {}

  /** The single value of `key value` settings, with arity errors. */
  single(el: Element, expected: string): Value | undefined {
    if (el.args !== undefined || el.body || el.values.length !== 1 || el.values[0].key !== undefined) {
      this.diags.push(diag("E0106", el.span, { name: el.name, expected }, `write \`${el.name} <value>\``));
      return undefined;
    }
    return el.values[0].value;
  }

  number(el: Element, opts: { min?: number; max?: number; int?: boolean; exclusiveMin?: boolean }): number | undefined {
    const range = `${opts.int ? "an integer" : "a number"}${opts.min !== undefined ? ` ${opts.exclusiveMin ? ">" : ">="} ${opts.min}` : ""}${opts.max !== undefined ? ` and <= ${opts.max}` : ""}`;
    const v = this.single(el, range);
    if (!v) return undefined;
    if (v.kind !== "number") {
      this.diags.push(diag("E0106", v.span, { name: el.name, expected: range }));
      return undefined;
    }
    const x = v.value;
    const bad =
      !Number.isFinite(x) ||
      (opts.int && !Number.isInteger(x)) ||
      (opts.min !== undefined && (opts.exclusiveMin ? x <= opts.min : x < opts.min)) ||
      (opts.max !== undefined && x > opts.max);
    if (bad) {
      this.diags.push(diag("E0402", v.span, { name: el.name, detail: `${v.text} is out of range` }, `expected ${range}`));
      return undefined;
    }
    return x;
  }

  bool(el: Element): boolean | undefined {
    const v = this.single(el, "true or false");
    if (!v) return undefined;
    if (v.kind !== "ident" || (v.name !== "true" && v.name !== "false")) {
      this.diags.push(diag("E0106", v.span, { name: el.name, expected: "true or false" }));
      return undefined;
    }
    return v.name === "true";
  }

  /** A setting whose value is `name` or `name(args)` from a table of call definitions. */
  call(el: Element, what: string, table: Record<string, CallDef>): { name: string; args: Record<string, Json>; span: Span } | undefined {
    const v = this.single(el, `a ${what}, e.g. \`${el.name} ${Object.keys(table)[0]}(...)\``);
    if (!v) return undefined;
    let name: string;
    let args: Arg[] = [];
    let nameSpan: Span;
    if (v.kind === "ident") {
      name = v.name;
      nameSpan = v.span;
    } else if (v.kind === "call") {
      name = v.name;
      args = v.args;
      nameSpan = v.nameSpan;
    } else {
      this.diags.push(diag("E0106", v.span, { name: el.name, expected: `a ${what}` }, `expected one of: ${Object.keys(table).join(", ")}`));
      return undefined;
    }
    const def = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!def) {
      this.diags.push(diag("E0401", nameSpan, { what, name }, didYouMean(name, Object.keys(table))));
      return undefined;
    }
    const bound = bindArgs(name, args, def.positional, def.schema, def.validate, v.span, this.diags);
    return bound ? { name, args: bound, span: v.span } : undefined;
  }

  /** Map `key value` statements of a block to handlers, reporting unknown and repeated keys. */
  settings(block: string, body: Statement[], handlers: Record<string, (el: Element) => void>, other?: (st: Statement) => boolean): void {
    const seen = new Map<string, Span>();
    for (const st of body) {
      if (other && other(st)) continue;
      const el = st.elements[0];
      if (st.elements.length > 1) {
        const name = st.elements[1].name;
        this.diags.push(diag("E0209", st.elements[1].nameSpan, { name }, `chains (\`->\`) belong in the model block`));
        continue;
      }
      const h = Object.hasOwn(handlers, el.name) ? handlers[el.name] : undefined;
      if (!h) {
        this.diags.push(diag("E0104", el.nameSpan, { name: el.name, block }, didYouMean(el.name, Object.keys(handlers))));
        continue;
      }
      if (seen.has(el.name)) {
        this.diags.push(diag("E0105", el.nameSpan, { name: el.name }));
        continue;
      }
      seen.set(el.name, el.nameSpan);
      h(el);
    }
  }

  // -- model --
  layer(el: Element): LayerSpec | undefined {
    const def = Object.hasOwn(OPS, el.name) ? OPS[el.name] : undefined;
    if (!def) {
      const known = Object.keys(OPS);
      this.diags.push(diag("E0201", el.nameSpan, { name: el.name }, didYouMean(el.name, known)));
      return undefined;
    }
    if (el.values.length > 0) {
      this.diags.push(diag("E0208", el.values[0].span, { name: el.name }));
      return undefined;
    }
    if (el.body && !def.body) {
      this.diags.push(diag("E0207", el.span, { name: el.name }));
      return undefined;
    }
    const args = bindArgs(el.name, el.args ?? [], def.positional, def.schema, OP_VALIDATORS[el.name], el.nameSpan, this.diags);
    if (!args) return undefined;
    const layer: LayerSpec = { op: el.name, args, span: el.span };
    if (def.body) {
      if (!el.body || el.body.length === 0) {
        this.diags.push(diag("E0403", el.span, { detail: `\`${el.name}\` needs a body: ${el.name} { dense(64) -> relu }` }));
        return undefined;
      }
      layer.body = this.chainBody(el.body);
    }
    return layer;
  }

  chainBody(body: Statement[]): LayerSpec[] {
    const out: LayerSpec[] = [];
    for (const st of body)
      for (const el of st.elements) {
        const l = this.layer(el);
        if (l) out.push(l);
      }
    return out;
  }

  run(): Spec | undefined {
    const blocks = new Map<string, (typeof this.f.blocks)[number]>();
    const known = ["model", "data", "train", "search"];
    for (const b of this.f.blocks) {
      if (!known.includes(b.kind)) {
        this.diags.push(diag("E0101", b.kindSpan, { name: b.kind }, didYouMean(b.kind, known)));
        continue;
      }
      if (blocks.has(b.kind)) {
        this.diags.push(diag("E0102", b.kindSpan, { name: b.kind }));
        continue;
      }
      if (b.kind !== "model" && b.name !== undefined) this.diags.push(diag("E0110", b.nameSpan!, { block: b.kind }));
      blocks.set(b.kind, b);
    }
    const at = this.f.source.charCodeAt(0) === 0xfeff ? 1 : 0; // after a byte order mark (parseSpec skips it)
    const fileStart: Span = { file: this.f.file, line: 1, col: 1, endLine: 1, endCol: 1, offset: at, endOffset: Math.min(at + 1, this.f.source.length) };
    for (const req of ["model", "data", "train"]) if (!blocks.has(req)) this.diags.push(diag("E0103", fileStart, { name: req }, `add \`${req} { ... }\``));

    // model
    const mb = blocks.get("model");
    let input: number[] | undefined;
    let inputSpan: Span | undefined;
    let loss: LossSpec | undefined;
    const layers: LayerSpec[] = [];
    if (mb) {
      for (const st of mb.body) {
        const head = st.elements[0];
        if (st.elements.length === 1 && (head.name === "input" || head.name === "loss")) {
          if (head.name === "input") {
            const v = this.single(head, "a shape like [1, 28, 28]");
            if (v) {
              const j = valueToJson(v);
              if (!Array.isArray(j) || j.length === 0 || !j.every((x) => typeof x === "number" && Number.isInteger(x) && x > 0))
                this.diags.push(diag("E0305", v.span));
              else {
                input = j as number[];
                inputSpan = v.span;
              }
            }
          } else {
            const c = this.call(head, "loss", LOSSES);
            if (c)
              loss = {
                kind: c.name as LossSpec["kind"],
                labelSmoothing: (c.args.label_smoothing as number) ?? 0,
                delta: (c.args.delta as number) ?? 1,
                span: c.span,
              };
          }
          continue;
        }
        for (const el of st.elements) {
          if (el.name === "input" || el.name === "loss") {
            this.diags.push(diag("E0209", el.nameSpan, { name: el.name }, "put it on its own line"));
            continue;
          }
          const l = this.layer(el);
          if (l) layers.push(l);
        }
      }
      if (!input) this.diags.push(diag("E0306", mb.kindSpan, {}, "add `input [1, 28, 28]` (channels, height, width) or `input [features]`"));
      if (!loss) this.diags.push(diag("E0307", mb.kindSpan, {}, "add `loss softmax_cross_entropy`"));
    }

    // data
    const data: Partial<DataSpec> & { preprocess: DataSpec["preprocess"]; augment: DataSpec["augment"] } = {
      validation: 0,
      scale: 1,
      shift: 0,
      preprocess: [],
      augment: [],
    };
    const db = blocks.get("data");
    let testSpan: Span | undefined;
    if (db) {
      this.settings("data", db.body, {
        source: (el) => {
          const c = this.call(el, "data source", SOURCES);
          if (c)
            data.source = {
              kind: c.name as SourceKind,
              path: c.args.path as string,
              span: c.span,
              label: c.args.label as string | number | undefined,
              args: c.args,
            };
        },
        validation: (el) => {
          const x = this.number(el, { min: 0, max: 0.9 });
          if (x !== undefined) data.validation = x;
        },
        test: (el) => {
          const x = this.number(el, { min: 0, max: 0.9 });
          if (x !== undefined) {
            data.test = x;
            testSpan = el.span;
          }
        },
        scale: (el) => {
          const x = this.number(el, { min: 0, exclusiveMin: true });
          if (x !== undefined) data.scale = x;
        },
        shift: (el) => {
          const x = this.number(el, {});
          if (x !== undefined) data.shift = x;
        },
        preprocess: (el) => {
          const c = this.call(el, "preprocessing", PREPROCESS);
          if (c) data.preprocess.push({ kind: c.name as DataSpec["preprocess"][number]["kind"], args: c.args, span: c.span });
        },
        augment: (el) => {
          if (!el.body || el.args !== undefined || el.values.length > 0) {
            this.diags.push(diag("E0106", el.span, { name: "augment", expected: "a body: augment { flip_h(0.5); translate(2) }" }));
            return;
          }
          for (const st of el.body) {
            for (const a of st.elements) {
              const def = Object.hasOwn(AUGMENTS, a.name) ? AUGMENTS[a.name] : undefined;
              if (!def) {
                this.diags.push(diag("E0401", a.nameSpan, { what: "augmentation", name: a.name }, didYouMean(a.name, Object.keys(AUGMENTS))));
                continue;
              }
              if (a.values.length > 0 || a.body) {
                this.diags.push(diag("E0208", a.span, { name: a.name }));
                continue;
              }
              const b = bindArgs(a.name, a.args ?? [], def.positional, def.schema, def.validate, a.nameSpan, this.diags);
              if (b) data.augment.push({ kind: a.name, args: b, span: a.span });
            }
          }
        },
      });
      if (!data.source) this.diags.push(diag("E0107", db.kindSpan, { name: "source", block: "data" }, 'add `source idx("path/to/dir")`'));
      if (data.source && testSpan) this.checkTestSplit(data, testSpan);
      if (data.source?.kind === "image_folder" && input && (input.length !== 3 || (input[0] !== 1 && input[0] !== 3)))
        this.diags.push(
          diag(
            "E0403",
            data.source.span,
            { detail: `image_folder gives images [C, H, W] with C = 1 (gray) or 3 (RGB), but the model's input is [${input.join(", ")}]` },
            "write `input [1, H, W]` or `input [3, H, W]`",
          ),
        );
    }

    // train
    const tb = blocks.get("train");
    const train: Partial<TrainSpec> = {
      seed: 0,
      epochs: 10,
      batch: 32,
      weightDecay: 0,
      l1: 0,
      decayBias: false,
      decayNorm: false,
      clipNorm: 0,
      clipValue: 0,
      schedule: { kind: "constant", args: {}, warmup: 0, per: "epoch" },
    };
    let schedulePer: "epoch" | "step" = "epoch";
    let esSpan: Span | undefined;
    let wdSpan: Span | undefined;
    let tbpttSpan: Span | undefined;
    let warmup = 0;
    const finetune: FinetuneSpec = { freeze: [], lrScale: [] };
    if (tb) {
      this.settings(
        "train",
        tb.body,
        {
          seed: (el) => {
            const x = this.number(el, { min: 0, max: 4294967295, int: true });
            if (x !== undefined) train.seed = x;
          },
          batch: (el) => {
            const x = this.number(el, { min: 1, max: 65536, int: true });
            if (x !== undefined) train.batch = x;
          },
          epochs: (el) => {
            const x = this.number(el, { min: 1, max: 100000, int: true });
            if (x !== undefined) train.epochs = x;
          },
          optimizer: (el) => {
            const c = this.call(el, "optimizer", OPTIMIZERS);
            if (!c) return;
            train.optimizer = optimizerFrom(c.name, c.args);
            const o = train.optimizer;
            if (o.kind === "sgd" && o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
              this.diags.push(
                diag(
                  "E0403",
                  c.span,
                  { detail: "Nesterov momentum needs momentum > 0 and dampening 0 (as in PyTorch)" },
                  "add momentum=0.9, or drop nesterov=true",
                ),
              );
          },
          weight_decay: (el) => {
            wdSpan = el.span;
            const x = this.number(el, { min: 0 });
            if (x !== undefined) train.weightDecay = x;
          },
          l1: (el) => {
            const x = this.number(el, { min: 0 });
            if (x !== undefined) train.l1 = x;
          },
          decay_bias: (el) => {
            const x = this.bool(el);
            if (x !== undefined) train.decayBias = x;
          },
          decay_norm: (el) => {
            const x = this.bool(el);
            if (x !== undefined) train.decayNorm = x;
          },
          decay_embedding: (el) => {
            const x = this.bool(el);
            if (x !== undefined) train.decayEmbedding = x;
          },
          clip_norm: (el) => {
            const x = this.number(el, { min: 0, exclusiveMin: true });
            if (x !== undefined) train.clipNorm = x;
          },
          clip_value: (el) => {
            const x = this.number(el, { min: 0, exclusiveMin: true });
            if (x !== undefined) train.clipValue = x;
          },
          schedule: (el) => {
            const c = this.call(el, "schedule", SCHEDULES);
            if (c) train.schedule = { kind: c.name as ScheduleSpec["kind"], args: c.args, warmup: 0, per: "epoch" };
          },
          schedule_per: (el) => {
            const v = this.single(el, "epoch or step");
            if (v && v.kind === "ident" && (v.name === "epoch" || v.name === "step")) schedulePer = v.name;
            else if (v) this.diags.push(diag("E0106", v.span, { name: "schedule_per", expected: "epoch or step" }));
          },
          warmup: (el) => {
            const x = this.number(el, { min: 0, int: true });
            if (x !== undefined) warmup = x;
          },
          golden: (el) => {
            const v: Value | undefined =
              el.args !== undefined && el.values.length === 0
                ? { kind: "call", name: el.name, nameSpan: el.nameSpan, args: el.args, span: el.span }
                : this.single(el, "golden(steps=20, tolerance=1e-4)");
            if (!v) return;
            const args = v.kind === "call" ? v.args : [];
            const b = bindArgs("golden", args, GOLDEN.positional, GOLDEN.schema, GOLDEN.validate, v.span, this.diags);
            if (b) train.golden = { steps: b.steps as number, tolerance: b.tolerance as number };
          },
          on_divergence: (el) => {
            const v = this.single(el, "stop, skip or lower_lr");
            if (v?.kind === "ident" && ["stop", "skip", "lower_lr"].includes(v.name)) train.onDivergence = v.name as TrainSpec["onDivergence"];
            else if (v) this.diags.push(diag("E0106", v.span, { name: "on_divergence", expected: "stop, skip or lower_lr" }));
          },
          input_grad_penalty: (el) => {
            const x = this.number(el, { min: 0, exclusiveMin: true });
            if (x !== undefined) train.inputGradPenalty = { lambda: x };
          },
          jacobian_penalty: (el) => {
            const v: Value | undefined =
              el.args !== undefined && el.values.length === 0
                ? { kind: "call", name: el.name, nameSpan: el.nameSpan, args: el.args, span: el.span }
                : this.single(el, "jacobian_penalty(lambda, projections=1)");
            if (!v) return;
            if (v.kind !== "call") {
              this.diags.push(diag("E0106", v.span, { name: "jacobian_penalty", expected: "jacobian_penalty(lambda, projections=1)" }));
              return;
            }
            const b = bindArgs("jacobian_penalty", v.args, JAC.positional, JAC.schema, JAC.validate, v.span, this.diags);
            if (b) train.jacobianPenalty = { lambda: b.lambda as number, projections: b.projections as number };
          },
          early_stopping: (el) => {
            esSpan = el.span;
            const v: Value | undefined =
              el.args !== undefined && el.values.length === 0 && !el.body
                ? { kind: "call", name: el.name, nameSpan: el.nameSpan, args: el.args, span: el.span }
                : this.single(el, "early_stopping(patience=5, monitor=val_loss, min_delta=0, every=1)");
            if (!v) return;
            const args = v.kind === "call" ? v.args : [];
            if (v.kind !== "call" && !(v.kind === "ident" && v.name === "on")) {
              this.diags.push(diag("E0106", v.span, { name: "early_stopping", expected: "on, or (patience=..., monitor=..., min_delta=..., every=...)" }));
              return;
            }
            const b = bindArgs("early_stopping", args, EARLY.positional, EARLY.schema, EARLY.validate, v.span, this.diags);
            if (!b) return;
            const monitor = b.monitor as EarlyStoppingSpec["monitor"];
            const mode = b.mode === "auto" ? (monitor === "val_acc" ? "max" : "min") : (b.mode as "min" | "max");
            train.earlyStopping = {
              monitor,
              mode,
              patience: b.patience as number,
              minDelta: b.min_delta as number,
              every: b.every as number,
              ...(b.every_steps !== undefined ? { everySteps: b.every_steps as number } : {}),
            };
          },
          tbptt: (el) => {
            tbpttSpan = el.span;
            const x = this.bool(el);
            if (x) train.tbptt = true;
          },
          init_from: (el) => {
            const v = this.single(el, 'a path in quotes: a .safetensors file or a run directory, e.g. init_from "runs/base"');
            if (!v) return;
            if (v.kind !== "string" || v.value === "") {
              this.diags.push(diag("E0106", v.span, { name: "init_from", expected: 'a path in quotes, e.g. init_from "runs/base/model.safetensors"' }));
              return;
            }
            finetune.initFrom = { path: v.value, span: v.span };
          },
          // repeatable: finetuneStatement (below) takes every such statement before this table is
          // consulted; the entries name them in the did-you-mean list of an unknown setting
          freeze: () => {},
          lr_scale: () => {},
        },
        (st) => this.finetuneStatement(st, finetune),
      );
    }
    const ts = train.schedule!;
    ts.per = schedulePer;
    ts.warmup = warmup;
    if (!train.optimizer) train.optimizer = optimizerFrom("sgd", { lr: 0.01, momentum: 0, dampening: 0, nesterov: false });

    if (tb && train.earlyStopping && data.validation === 0)
      this.diags.push(diag("E0403", esSpan ?? tb.kindSpan, { detail: "early stopping needs a validation split" }, "add `validation 0.1` to the data block"));
    if (tb && train.optimizer.kind === "adamw" && (train.weightDecay ?? 0) > 0)
      this.diags.push(
        diag(
          "E0403",
          wdSpan ?? tb.kindSpan,
          { detail: "both coupled L2 (`weight_decay`) and AdamW's decoupled decay apply to the same tensors" },
          "use adamw(weight_decay=...) alone, or adam with weight_decay",
        ),
      );

    if (train.tbptt && tbpttSpan) this.checkTbptt(tbpttSpan, data as DataSpec, layers, train.earlyStopping);

    const search = blocks.get("search") ? this.searchBlock(blocks.get("search")!) : undefined;

    if (this.diags.some((d) => d.severity === "error")) return undefined;
    if (layers.length === 0) {
      this.diags.push(diag("E0303", mb!.kindSpan));
      return undefined;
    }
    return {
      file: this.f.file,
      name: mb!.name ?? "model",
      input: input!,
      ...(inputSpan ? { inputSpan } : {}),
      layers,
      loss: loss!,
      data: data as DataSpec,
      train: train as TrainSpec,
      hash: createHash("sha256").update(this.f.source).digest("hex"),
      ...(search ? { search } : {}),
      ...(finetune.initFrom || finetune.freeze.length > 0 || finetune.lrScale.length > 0 ? { finetune } : {}),
    };
  }

  /**
   * The train block's repeatable fine-tuning statements: `freeze SEL` and `lr_scale X SEL`, where SEL
   * is one or more layer names (node ids, as in the state dict) and inclusive ranges `a to b`. The
   * names are resolved against the lowered chain (lower.ts); here only the form is checked.
   */
  finetuneStatement(st: Statement, ft: FinetuneSpec): boolean {
    const el = st.elements[0];
    if (st.elements.length !== 1 || (el.name !== "freeze" && el.name !== "lr_scale")) return false;
    const form =
      el.name === "freeze" ? "freeze conv2d_0 to dense_0 (layer names, or ranges `a to b`)" : "lr_scale 0.1 conv2d_0 to dense_0 (a factor, then layers)";
    const bad = (span: Span) => void this.diags.push(diag("E0106", span, { name: el.name, expected: form }));
    if (el.args !== undefined || el.body || el.values.length === 0) return (bad(el.span), true);
    let vals = el.values;
    let scale = 1;
    if (el.name === "lr_scale") {
      const f = vals[0];
      if (f.key !== undefined || f.value.kind !== "number") return (bad(f.span), true);
      if (!(Number.isFinite(f.value.value) && f.value.value >= 0)) {
        this.diags.push(
          diag(
            "E0402",
            f.span,
            { name: "lr_scale", detail: `${f.value.text} is out of range` },
            "expected a number >= 0 (to stop a layer training, `freeze` it: that also skips its backward)",
          ),
        );
        return true;
      }
      scale = f.value.value;
      vals = vals.slice(1);
      if (vals.length === 0) return (bad(el.span), true);
    }
    const sel: LayerSelection = { items: [], span: el.span };
    for (let i = 0; i < vals.length; i++) {
      const a = vals[i];
      if (a.key !== undefined || a.value.kind !== "ident" || a.value.name === "to") return (bad(a.span), true);
      const one = { name: a.value.name, span: a.value.span };
      const next = vals[i + 1];
      if (next && next.key === undefined && next.value.kind === "ident" && next.value.name === "to") {
        const end = vals[i + 2];
        if (!end || end.key !== undefined || end.value.kind !== "ident") return (bad(end?.span ?? next.span), true);
        sel.items.push({ from: one, to: { name: end.value.name, span: end.value.span } });
        i += 2;
      } else sel.items.push({ one });
    }
    if (el.name === "freeze") ft.freeze.push(sel);
    else ft.lrScale.push({ scale, sel });
    return true;
  }

  /**
   * The data block's `test F`: a held-out test split of a source of separate samples (csv, tokens);
   * for the sources that split by position or class it is their own `test=` argument (given once);
   * an idx source has its test files.
   */
  checkTestSplit(data: Partial<DataSpec>, span: Span): void {
    const src = data.source!;
    if (src.kind === "idx") {
      this.diags.push(
        diag("E0403", span, { detail: "an idx source has its own test set (the t10k-* files); `test` splits a source that has none" }, "drop `test`"),
      );
      return;
    }
    if (src.kind === "text" || src.kind === "text_classes" || src.kind === "timeseries") {
      if (src.args.test !== undefined && src.args.test !== 0 && src.args.test !== data.test) {
        this.diags.push(
          diag(
            "E0403",
            span,
            { detail: `the test fraction is given twice: \`test ${data.test}\` here and \`test=${String(src.args.test)}\` in ${src.kind}(...)` },
            "keep one",
          ),
        );
        return;
      }
      src.args = { ...src.args, test: data.test! };
    }
  }

  /**
   * `tbptt true` carries the recurrent layers' state from one window to the next: the windows must
   * follow each other in one corpus (a text source, stride = context), the model must have a layer
   * that carries a state (LayerDef.recurrent), and the state may only be interrupted at an epoch's
   * end (no early stopping every N steps in the middle of one).
   */
  checkTbptt(span: Span, data: DataSpec, layers: LayerSpec[], es: EarlyStoppingSpec | undefined): void {
    const src = data.source;
    const bad = (detail: string, hint?: string): void => void this.diags.push(diag("E0403", span, { detail }, hint));
    if (!src) return;
    if (src.kind !== "text")
      return bad(
        `tbptt carries the recurrent state across consecutive windows of one corpus; a ${src.kind}(...) source gives separate samples`,
        'use a text("...", context=N) source, or drop tbptt',
      );
    const stride = src.args.stride as number | undefined;
    if (stride !== undefined && stride !== src.args.context)
      return bad(`tbptt needs each window to start where the previous one ends: stride ${stride} differs from context ${src.args.context}`, "drop stride");
    const recurrent = (ls: LayerSpec[]): boolean => ls.some((l) => OPS[l.op]?.recurrent === true || (l.body !== undefined && recurrent(l.body)));
    if (layers.length > 0 && !recurrent(layers))
      return bad("tbptt carries the state of recurrent layers, and the model has none", "add lstm(...) or gru(...), or drop tbptt");
    if (es?.everySteps !== undefined)
      return bad(
        "tbptt evaluates the validation windows in order from a zero state at each epoch's end; early stopping every N steps would cut the carried state",
        "use early_stopping per epoch",
      );
  }

  searchBlock(b: (typeof this.f.blocks)[number]): Spec["search"] {
    const entries: NonNullable<Spec["search"]>["entries"] = [];
    const settings: Record<string, Json> = { strategy: "random", trials: 10, steps: 3, eta: 3, parallel: 1, metric: "val_loss", mode: "auto" };
    const ints: Record<string, [number, number]> = { trials: [1, MAX_TRIALS], steps: [1, 1000], budget: [1, 100000], eta: [2, 100], parallel: [1, 64] };
    const given = new Map<string, Span>();
    this.settings(
      "search",
      b.body,
      {
        strategy: (el) => {
          const v = this.single(el, "random, grid or halving");
          if (v?.kind === "ident" && ["random", "grid", "halving"].includes(v.name)) settings.strategy = v.name;
          else if (v) this.diags.push(diag("E0106", v.span, { name: "strategy", expected: "random, grid or halving" }));
        },
        metric: (el) => {
          const v = this.single(el, "val_loss or val_acc");
          if (v?.kind === "ident" && ["val_loss", "val_acc", "test_acc", "test_loss", "train_loss"].includes(v.name)) settings.metric = v.name;
          else if (v) this.diags.push(diag("E0106", v.span, { name: "metric", expected: "val_loss or val_acc" }));
        },
        mode: (el) => {
          const v = this.single(el, "min or max");
          if (v?.kind === "ident" && ["min", "max"].includes(v.name)) settings.mode = v.name;
          else if (v) this.diags.push(diag("E0106", v.span, { name: "mode", expected: "min or max" }));
        },
        ...Object.fromEntries(
          Object.entries(ints).map(([k, [lo, hi]]) => [
            k,
            (el: Element) => {
              given.set(k, el.span);
              const x = this.number(el, { min: lo, max: hi, int: true });
              if (x !== undefined) settings[k] = x;
            },
          ]),
        ),
      },
      (st) => {
        const el = st.elements[0];
        if (st.elements.length !== 1 || !el.name.includes(".")) return false;
        const v = el.values[0]?.value;
        const dists: Record<string, number> = { uniform: 2, loguniform: 2, int: 2, choice: -1 };
        if (el.values.length !== 1 || v.kind !== "call" || !(v.name in dists)) {
          this.diags.push(
            diag("E0106", el.span, { name: el.name, expected: "a distribution: uniform(a, b), loguniform(a, b), int(a, b) or choice(x, y, ...)" }),
          );
          return true;
        }
        const vals = v.args.map((a) => valueToJson(a.value));
        let dist: Json;
        if (v.name === "choice") {
          if (vals.length < 1 || !vals.every((x) => typeof x === "number" || typeof x === "string")) {
            this.diags.push(diag("E0205", v.span, { arg: "values", name: "choice", detail: "needs names or numbers" }));
            return true;
          }
          dist = { kind: "choice", values: vals };
        } else {
          const [lo, hi] = vals as number[];
          const ok =
            vals.length === 2 &&
            typeof lo === "number" &&
            typeof hi === "number" &&
            lo < hi &&
            (v.name !== "loguniform" || lo > 0) &&
            (v.name !== "int" || (Number.isInteger(lo) && Number.isInteger(hi)));
          if (!ok) {
            this.diags.push(
              diag("E0205", v.span, {
                arg: "range",
                name: v.name,
                detail: "needs two numbers low < high" + (v.name === "loguniform" ? ", both > 0" : v.name === "int" ? ", integers" : ""),
              }),
            );
            return true;
          }
          dist = { kind: v.name, low: lo, high: hi };
        }
        const probe = typeof (dist as { low?: number }).low === "number" ? (dist as { low: number }).low : (vals[0] as number | string);
        const err = applyPath(structuredClone(this.f), el.name, probe as number | string);
        if (err) {
          this.diags.push(diag("E0403", el.nameSpan, { detail: `search path: ${err}` }));
          return true;
        }
        entries.push({ path: el.name, dist, span: el.span });
        return true;
      },
    );
    if (entries.length === 0)
      this.diags.push(
        diag("E0403", b.kindSpan, { detail: "the search block names no hyperparameter" }, "add a line like `train.optimizer.lr: loguniform(1e-4, 1e-1)`"),
      );
    settings.trialsGiven = given.has("trials");
    // a grid runs every point: count them (axes only, never their product) against the trial
    // budget, `trials` when the block sets it, else the most any search runs (MAX_TRIALS); the
    // CLI places grid points centred, so the count is that grid's (int axes may dedup)
    if (settings.strategy === "grid" && entries.length > 0 && typeof settings.steps === "number") {
      const space = Object.fromEntries(entries.map((e) => [e.path, e.dist])) as Space;
      const budget = given.has("trials") ? (settings.trials as number) : MAX_TRIALS;
      const g = grid(space, settings.steps, "centred");
      const over = gridOverBudget(g, budget, given.has("trials") ? "trials" : "limit");
      if (over)
        this.diags.push(
          diag(
            "E0404",
            given.get("steps") ?? b.kindSpan,
            { detail: over },
            g.size <= BigInt(MAX_TRIALS)
              ? `lower \`steps\`, drop an axis, or raise \`trials\` to ${g.size}`
              : "lower `steps` or drop an axis, or use `strategy random` with `trials N` (it samples the same ranges)",
          ),
        );
    }
    return { entries, settings };
  }
}

function optimizerFrom(kind: string, a: Record<string, Json>): OptimizerSpec {
  const n = (k: string, d: number) => (typeof a[k] === "number" ? (a[k] as number) : d);
  return {
    kind: kind as OptimizerSpec["kind"],
    lr: n("lr", 0.01),
    momentum: n("momentum", 0),
    dampening: n("dampening", 0),
    nesterov: a.nesterov === true,
    beta1: n("beta1", 0.9),
    beta2: n("beta2", 0.999),
    eps: n("eps", kind === "adagrad" ? 1e-10 : 1e-8),
    alpha: n("alpha", 0.99),
    centered: a.centered === true,
    amsgrad: a.amsgrad === true,
    weightDecay: kind === "adamw" ? n("weight_decay", 0.01) : 0,
    initialAccumulator: n("initial_accumulator", 0),
    ...(kind === "adagrad" ? { lrDecay: n("lr_decay", 0) } : {}),
  };
}

export function check(f: SpecFile): { spec?: Spec; diagnostics: Diagnostic[] } {
  const c = new Checker(f);
  const spec = c.run();
  return { spec, diagnostics: c.diags };
}
