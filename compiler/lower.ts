// Pass 2 — lower: Spec → IR. Walks the layer chain, infers every per-sample shape, creates the
// parameters (with their init and decay group) and running statistics, expands residual blocks
// into their body, an optional projection and an `add`. Shape errors are diagnostics with the
// layer's span. Next: fuseElementwise.
import type { Span } from "../grammar/ast";
import { diag, type Code, type Diagnostic } from "../grammar/diagnostics";
import type { IR, IRNode, IRParam, IRStat } from "./ir";
import { applyFinetune } from "./finetune";
import { OPS } from "./ops";
import type { LowerCtx } from "./ops/op";
import { prod, shapeText } from "./shape";
import type { DataFacts, Json, LayerSpec, Spec } from "./spec";

class Lowerer implements LowerCtx {
  nodes: IRNode[] = [];
  params: IRParam[] = [];
  stats: IRStat[] = [];
  counters = new Map<string, number>();
  diags: Diagnostic[] = [];
  /** The `auto` sizes taken from the data (saved with the model: dnnc export recompiles with them). */
  autoSizes: { vocab?: number; classes?: number } = {};
  readonly tbptt: boolean;
  constructor(
    private spec: Spec,
    private facts: DataFacts | undefined,
  ) {
    this.tbptt = spec.train.tbptt === true;
  }

  /** A size the data determines (`auto` arguments): from the facts read off the data source, else a diagnostic at the argument. */
  fact(name: keyof DataFacts & ("vocab" | "classes"), span: Span, what: string): number | undefined {
    // no facts at all (the language server, tools that do not read data): a stand-in size, so that
    // everything else is still checked
    if (this.facts === undefined) return 2;
    const v = name === "vocab" ? this.facts.vocab?.size : this.facts.classes;
    if (v !== undefined) {
      this.autoSizes[name] = v;
      return v;
    }
    this.diags.push(
      diag(
        "E0403",
        span,
        {
          detail: `${what}: \`auto\` is the ${name === "vocab" ? "vocabulary size" : "number of classes"} of the data source, which ${this.facts.unreadable ?? "gives none"}`,
        },
        this.facts.unreadable
          ? "check the source's path (or --data), or write the size"
          : "write the size, or use a source that has one (text, text_classes, tokens)",
      ),
    );
    return undefined;
  }

  /** The input shape the sequence sources give, against the model's input. */
  checkSource(spec: Spec, outShape: number[]): boolean {
    const s = spec.data.source;
    const a = s.args ?? {};
    const want =
      s.kind === "text" || s.kind === "text_classes" || s.kind === "tokens"
        ? a.context !== undefined
          ? [a.context as number]
          : a.max_length !== undefined
            ? [a.max_length as number]
            : undefined
        : s.kind === "timeseries"
          ? [a.window as number]
          : undefined;
    if (want && !(spec.input[0] === want[0] && (s.kind === "timeseries" ? spec.input.length === 2 : spec.input.length === 1))) {
      const shape = s.kind === "timeseries" ? `[${want[0]}, features]` : `[${want[0]}]`;
      this.diags.push(
        diag(
          "E0403",
          s.span,
          { detail: `the source gives samples of shape ${shape}, but the model's input is ${shapeText(spec.input)}` },
          `set \`input ${shape.replace("features", String(spec.input[1] ?? "F"))}\``,
        ),
      );
      return false;
    }
    // a language model predicts the next character at every position
    if (s.kind === "text" && !(spec.loss.kind === "softmax_cross_entropy" && outShape.length === 2 && outShape[0] === spec.input[0])) {
      this.diags.push(
        diag(
          "E0403",
          spec.loss.span,
          {
            detail: `a text source's target is the next character at every position: the model must end with [${spec.input[0]}, vocabulary] and softmax_cross_entropy, not ${shapeText(outShape)} and ${spec.loss.kind}`,
          },
          "end the model with dense(auto): the vocabulary at every position",
        ),
      );
      return false;
    }
    return true;
  }

  id(op: string): string {
    const k = this.counters.get(op) ?? 0;
    this.counters.set(op, k + 1);
    return `${op}_${k}`;
  }

  paramShape(name: string): number[] | undefined {
    return this.params.find((p) => p.name === name)?.shape;
  }

  param(name: string, shape: number[], init: Record<string, Json>, group: IRParam["group"], layer: LayerSpec): string {
    const t = this.spec.train;
    const layerWd = layer.args.weight_decay as number | undefined;
    const wd = layerWd ?? t.weightDecay;
    // (decay_embedding false: the token and position tables join biases and norms, undecayed)
    const table = layer.op === "embedding" || layer.op === "pos_embedding";
    const decayed = (group === "weight" && (t.decayEmbedding !== false || !table)) || (group === "bias" && t.decayBias) || (group === "norm" && t.decayNorm);
    this.params.push({
      name,
      shape,
      size: prod(shape),
      init,
      group,
      weightDecay: decayed ? wd : 0,
      l1: group === "weight" ? ((layer.args.l1 as number | undefined) ?? t.l1) : 0,
      maxNorm: group === "weight" ? ((layer.args.max_norm as number | undefined) ?? 0) : 0,
      decoupledDecay: decayed ? t.optimizer.weightDecay : 0,
    });
    return name;
  }

  stat(name: string, shape: number[], fill: number, eye?: number): string {
    this.stats.push({ name, shape, size: prod(shape), fill, ...(eye !== undefined ? { eye } : {}) });
    return name;
  }

  error(code: Code, span: Span, args: Record<string, string | number>, hint?: string): undefined {
    this.diags.push(diag(code, span, args, hint));
    return undefined;
  }

  node<N extends IRNode>(op: N["op"], input: string, inShape: number[], outShape: number[], layer: LayerSpec, attrs: N["attrs"], idOverride?: string): N {
    const id = idOverride ?? this.id(op);
    const n = {
      id,
      op,
      inputs: [input],
      output: id,
      inShape,
      outShape,
      attrs,
      params: [],
      stats: [],
      line: layer.span.line,
      col: layer.span.col,
      tail: [],
      kernel: op,
    } as unknown as N;
    this.nodes.push(n);
    return n;
  }

  weightInit(layer: LayerSpec, fanInShape: number[]): { w: Record<string, Json>; b: Record<string, Json> } {
    const kind = (layer.args.init as string | undefined) ?? "torch_default";
    const fanIn = prod(fanInShape.slice(1));
    switch (kind) {
      case "torch_default":
        return { w: { kind: "torch_default_linear" }, b: { kind: "torch_default_bias", fanIn } };
      case "kaiming_normal":
      case "kaiming_uniform":
        return {
          w: {
            kind,
            mode: (layer.args.init_mode as string | undefined) ?? "fan_in",
            nonlinearity: (layer.args.init_nonlinearity as string | undefined) ?? "relu",
          },
          b: { kind: "zeros" },
        };
      case "xavier_normal":
      case "xavier_uniform":
      case "orthogonal": {
        // gain: explicit, or PyTorch's calculate_gain of the following nonlinearity, else 1
        const nl = layer.args.init_nonlinearity as string | undefined;
        const gains: Record<string, number> = {
          relu: Math.SQRT2,
          leaky_relu: Math.sqrt(2 / (1 + 0.01 * 0.01)),
          linear: 1,
          tanh: 5 / 3,
          sigmoid: 1,
          selu: 3 / 4,
        };
        const gain = (layer.args.init_gain as number | undefined) ?? (nl ? gains[nl] : 1);
        return { w: { kind, gain }, b: { kind: "zeros" } };
      }
      case "normal":
        return { w: { kind, std: 0.01 }, b: { kind: "zeros" } };
      case "uniform":
        return { w: { kind, low: -0.05, high: 0.05 }, b: { kind: "zeros" } };
      default:
        return { w: { kind: kind === "zeros" ? "zeros" : "ones" }, b: { kind: "zeros" } };
    }
  }

  /** Lower one layer (its op module's lower), after checking the input rank it accepts. */
  layer(l: LayerSpec, input: string, shape: number[]): [string, number[]] | undefined {
    const def = OPS[l.op];
    const ranks = def.rank === "any" ? undefined : typeof def.rank === "number" ? [def.rank] : def.rank;
    if (ranks && !ranks.includes(shape.length as 1 | 2 | 3)) {
      const hint =
        ranks.includes(1) && shape.length === 3
          ? "add `flatten` before it"
          : ranks.includes(2) && shape.length === 1
            ? "this layer needs a sequence [T, F]; set `input [T, F]`, or put `embedding(vocab, dim)` before it for token ids [T]"
            : ranks.includes(1) && shape.length === 2
              ? "add `global_avgpool`, `global_maxpool` or `last` before it to reduce the sequence over time"
              : ranks.includes(3)
                ? "this layer needs image input [C, H, W]; set `input [C, H, W]`"
                : undefined;
      const words: Record<number, string> = { 1: "1 ([features])", 2: "2 ([T, F])", 3: "3 ([C, H, W])" };
      this.diags.push(diag("E0302", l.span, { name: l.op, expected: ranks.map((r) => words[r]).join(" or "), shape: shapeText(shape) }, hint));
      return undefined;
    }
    return def.lower(this, l, input, shape);
  }

  run(): IR | undefined {
    const spec = this.spec;
    let cur = "x";
    let shape = spec.input;
    for (const l of spec.layers) {
      const r = this.layer(l, cur, shape);
      if (!r) return undefined;
      [cur, shape] = r;
    }
    const loss = spec.loss;
    // class losses take [classes], or [T, classes] for a class at every position (softmax cross-entropy)
    if (loss.kind === "softmax_cross_entropy" || loss.kind === "bce_with_logits") {
      if (!(shape.length === 1 || (shape.length === 2 && loss.kind === "softmax_cross_entropy"))) {
        this.diags.push(
          diag(
            "E0304",
            loss.span,
            { shape: shapeText(shape), loss: loss.kind, detail: "it needs [classes] (or [T, classes]: a class at every position, for softmax_cross_entropy)" },
            "end the model with flatten and dense(classes)",
          ),
        );
        return undefined;
      }
      if (loss.kind === "softmax_cross_entropy" && shape[shape.length - 1] < 2) {
        this.diags.push(diag("E0304", loss.span, { shape: shapeText(shape), loss: loss.kind, detail: "it needs at least 2 classes" }));
        return undefined;
      }
    }
    const last = this.nodes[this.nodes.length - 1];
    if (OPS[last.op]?.dropsValues) {
      this.diags.push(
        diag(
          "E0403",
          spec.layers[spec.layers.length - 1].span,
          { detail: "dropout on the output layer drops logits: the loss sees zeros" },
          "remove it, or put it before the last dense",
        ),
      );
      return undefined;
    }
    if (spec.train.batch === 1 && this.nodes.some((n) => OPS[n.op]?.batchStatistics)) {
      const bn = spec.layers.find((l) => OPS[l.op].batchStatistics);
      this.diags.push(
        diag(
          "E0403",
          bn?.span ?? spec.loss.span,
          { detail: "batch norm with batch size 1 in training: the batch variance is 0" },
          "use batch >= 2, or layernorm/groupnorm",
        ),
      );
      return undefined;
    }
    for (const a of spec.data.augment)
      if (spec.input.length !== 3) {
        this.diags.push(
          diag("E0403", a.span, { detail: `augmentation \`${a.kind}\` needs image input [C, H, W], but the model's input is ${shapeText(spec.input)}` }),
        );
        return undefined;
      }
    for (const p of spec.data.preprocess) {
      const k = p.args.k as number | undefined;
      if ((p.kind === "pca" || p.kind === "whiten") && k !== undefined && !(spec.input.length === 1 && spec.input[0] === k)) {
        this.diags.push(
          diag(
            "E0403",
            p.span,
            { detail: `${p.kind}(k=${k}) gives ${k} features per sample, but the model's input is ${shapeText(spec.input)}` },
            `set \`input [${k}]\``,
          ),
        );
        return undefined;
      }
      if (p.kind === "standardize" && p.args.mode === "channel" && spec.input.length !== 3) {
        this.diags.push(diag("E0403", p.span, { detail: "per-channel standardization needs image input [C, H, W]" }, "use standardize(feature)"));
        return undefined;
      }
    }
    if (!this.checkSource(spec, shape)) return undefined;
    if (!applyFinetune(spec, this.nodes, this.params, this.facts, this.diags)) return undefined;
    const { source, preprocess, augment, ...restData } = spec.data;
    return {
      version: 1,
      name: spec.name,
      file: spec.file,
      specHash: spec.hash,
      batch: spec.train.batch,
      input: { shape: spec.input, size: prod(spec.input) },
      output: { shape, size: prod(shape) },
      nodes: this.nodes,
      params: this.params,
      stats: this.stats,
      loss: { kind: loss.kind, labelSmoothing: loss.labelSmoothing, delta: loss.delta },
      train: spec.train,
      data: {
        ...restData,
        source: {
          kind: source.kind,
          path: source.path,
          ...(source.label !== undefined ? { label: source.label } : {}),
          // the sequence sources' settings (context, window, ...) travel to the trainer's loader
          ...(SEQUENCE_SOURCES.has(source.kind) ? { args: source.args } : {}),
          // a csv source's reading settings (header, delimiter, features, ...), when any is given
          ...(source.kind === "csv" && Object.keys(source.args).some((k) => k !== "path" && k !== "label") ? { args: csvArgs(source.args) } : {}),
        },
        preprocess: preprocess.map((p) => ({ kind: p.kind, args: p.args })),
        augment: augment.map((p) => ({ kind: p.kind, args: p.args })),
        ...(PADDED_SOURCES.has(source.kind) ? { lengths: true as const } : {}),
        ...(this.facts?.vocab !== undefined && (source.kind === "text" || source.kind === "text_classes") ? { vocab: this.facts.vocab } : {}),
        ...(Object.keys(this.autoSizes).length > 0 ? { auto: this.autoSizes } : {}),
      },
      ...(spec.finetune?.initFrom ? { initFrom: spec.finetune.initFrom.path } : {}),
    };
  }
}

/** A csv source's settings other than its path and label (defaults were filled in by the checker). */
function csvArgs(args: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(args).filter(([k]) => k !== "path" && k !== "label"));
}

/** The sources whose samples are sequences (their settings reach the trainer), and those that pad them. */
const SEQUENCE_SOURCES = new Set(["text", "text_classes", "tokens", "timeseries"]);
const PADDED_SOURCES = new Set(["text_classes", "tokens"]);

/** `facts`: what the data source says (compiler/data-facts.ts); absent, `auto` sizes take a stand-in. */
export function lower(spec: Spec, facts?: DataFacts): { ir?: IR; diagnostics: Diagnostic[] } {
  const l = new Lowerer(spec, facts);
  const ir = l.run();
  return { ir, diagnostics: l.diags };
}
