// Pass 2 — lower: Spec → IR. Walks the layer chain, infers every per-sample shape, creates the
// parameters (with their init and decay group) and running statistics, expands residual blocks
// into their body, an optional projection and an `add`. Shape errors are diagnostics with the
// layer's span. Next: fuseElementwise.
import { diag, type Diagnostic } from "./diagnostics";
import type { IR, IRNode, IRParam, IRStat } from "./ir";
import { OPS } from "./ops";
import type { Json, LayerSpec, Spec } from "./spec";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const pair = (v: Json | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number];
const shapeText = (s: number[]) => `[${s.join(", ")}]`;

class Lowerer {
  nodes: IRNode[] = [];
  params: IRParam[] = [];
  stats: IRStat[] = [];
  counters = new Map<string, number>();
  diags: Diagnostic[] = [];
  constructor(private spec: Spec) {}

  id(op: string): string {
    const k = this.counters.get(op) ?? 0;
    this.counters.set(op, k + 1);
    return `${op}_${k}`;
  }

  param(name: string, shape: number[], init: Record<string, Json>, group: IRParam["group"], layer: LayerSpec): string {
    const t = this.spec.train;
    const layerWd = layer.args.weight_decay as number | undefined;
    const wd = layerWd ?? t.weightDecay;
    const decayed = group === "weight" || (group === "bias" && t.decayBias) || (group === "norm" && t.decayNorm);
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

  node(op: string, input: string, inShape: number[], outShape: number[], layer: LayerSpec, attrs: Record<string, Json> = {}, idOverride?: string): IRNode {
    const id = idOverride ?? this.id(op);
    const n: IRNode = {
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
    };
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
          w: { kind, mode: (layer.args.init_mode as string | undefined) ?? "fan_in", nonlinearity: (layer.args.init_nonlinearity as string | undefined) ?? "relu" },
          b: { kind: "zeros" },
        };
      case "xavier_normal":
      case "xavier_uniform":
      case "orthogonal": {
        // gain: explicit, or PyTorch's calculate_gain of the following nonlinearity, else 1
        const nl = layer.args.init_nonlinearity as string | undefined;
        const gains: Record<string, number> = { relu: Math.SQRT2, leaky_relu: Math.sqrt(2 / (1 + 0.01 * 0.01)), linear: 1, tanh: 5 / 3, sigmoid: 1, selu: 3 / 4 };
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

  /** Lower one layer; returns the output tensor name and shape, or undefined after a diagnostic. */
  layer(l: LayerSpec, input: string, shape: number[]): [string, number[]] | undefined {
    const def = OPS[l.op];
    const rankOk = def.rank === "any" || shape.length === def.rank;
    if (!rankOk) {
      const hint =
        def.rank === 1 && shape.length === 3
          ? "add `flatten` before it"
          : def.rank === 3
            ? "this layer needs image input [C, H, W]; set `input [C, H, W]`"
            : undefined;
      this.diags.push(diag("E0302", l.span, { name: l.op, expected: def.rank === 1 ? "1 ([features])" : "3 ([C, H, W])", shape: shapeText(shape) }, hint));
      return undefined;
    }
    const a = l.args;
    switch (l.op) {
      case "flatten": {
        const out = [prod(shape)];
        const n = this.node("flatten", input, shape, out, l);
        return [n.output, out];
      }
      case "dense": {
        const units = a.units as number;
        const inF = shape[0];
        const n = this.node("dense", input, shape, [units], l, { units, bias: a.bias as boolean, weight_norm: a.weight_norm === true });
        const init = this.weightInit(l, [units, inF]);
        if (a.weight_norm === true) {
          n.params.push(this.param(`${n.id}.weight_g`, [units, 1], { kind: "weight_norm_g" }, "norm", l));
          n.params.push(this.param(`${n.id}.weight_v`, [units, inF], init.w, "weight", l));
        } else n.params.push(this.param(`${n.id}.weight`, [units, inF], init.w, "weight", l));
        if (a.bias) n.params.push(this.param(`${n.id}.bias`, [units], init.b, "bias", l));
        return [n.output, [units]];
      }
      case "conv2d": {
        const [C, Hh, W] = shape;
        const K = a.filters as number;
        const [kh, kw] = pair(a.kernel, 1);
        const [sh, sw] = pair(a.stride, 1);
        const [dh, dw] = pair(a.dilation, 1);
        const groups = a.groups as number;
        let ph: number;
        let pw: number;
        if (a.padding === "same") {
          if (sh !== 1 || sw !== 1) {
            this.diags.push(diag("E0205", l.span, { arg: "padding", name: "conv2d", detail: "`same` padding needs stride 1 (as in PyTorch)" }));
            return undefined;
          }
          ph = Math.floor((dh * (kh - 1)) / 2);
          pw = Math.floor((dw * (kw - 1)) / 2);
          if ((dh * (kh - 1)) % 2 !== 0 || (dw * (kw - 1)) % 2 !== 0) {
            this.diags.push(diag("E0205", l.span, { arg: "padding", name: "conv2d", detail: "`same` with an even kernel needs asymmetric padding, which dnnc does not support yet" }, "use an odd kernel size"));
            return undefined;
          }
        } else if (a.padding === "valid") [ph, pw] = [0, 0];
        else [ph, pw] = pair(a.padding, 0);
        if (C % groups !== 0 || K % groups !== 0) {
          this.diags.push(diag("E0301", l.span, { detail: `groups=${groups} must divide both the input channels (${C}) and filters (${K})` }));
          return undefined;
        }
        const OH = Math.floor((Hh + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
        const OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
        if (OH < 1 || OW < 1) {
          this.diags.push(diag("E0301", l.span, { detail: `a ${kh}x${kw} kernel does not fit input ${shapeText(shape)}` }));
          return undefined;
        }
        const out = [K, OH, OW];
        const n = this.node("conv2d", input, shape, out, l, { K, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias: a.bias as boolean, weight_norm: a.weight_norm === true });
        const init = this.weightInit(l, [K, C / groups, kh, kw]);
        if (a.weight_norm === true) {
          n.params.push(this.param(`${n.id}.weight_g`, [K, 1, 1, 1], { kind: "weight_norm_g" }, "norm", l));
          n.params.push(this.param(`${n.id}.weight_v`, [K, C / groups, kh, kw], init.w, "weight", l));
        } else n.params.push(this.param(`${n.id}.weight`, [K, C / groups, kh, kw], init.w, "weight", l));
        if (a.bias) n.params.push(this.param(`${n.id}.bias`, [K], init.b, "bias", l));
        return [n.output, out];
      }
      case "maxpool2d":
      case "avgpool2d": {
        const [C, Hh, W] = shape;
        const [kh, kw] = pair(a.kernel, 1);
        const [sh, sw] = a.stride === undefined ? [kh, kw] : pair(a.stride, 1);
        const [ph, pw] = pair(a.padding, 0);
        if (ph > kh / 2 || pw > kw / 2) {
          this.diags.push(diag("E0205", l.span, { arg: "padding", name: l.op, detail: "padding must be at most half the kernel size" }));
          return undefined;
        }
        const OH = Math.floor((Hh + 2 * ph - kh) / sh) + 1;
        const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
        if (OH < 1 || OW < 1) {
          this.diags.push(diag("E0301", l.span, { detail: `a ${kh}x${kw} pool does not fit input ${shapeText(shape)}` }));
          return undefined;
        }
        const out = [C, OH, OW];
        const n = this.node(l.op, input, shape, out, l, { kh, kw, sh, sw, ph, pw });
        return [n.output, out];
      }
      case "global_avgpool": {
        const out = [shape[0]];
        const n = this.node("global_avgpool", input, shape, out, l);
        return [n.output, out];
      }
      case "bn": {
        const C = shape[0];
        const n = this.node("bn", input, shape, shape, l, { momentum: a.momentum as number, eps: a.eps as number, affine: a.affine as boolean });
        if (a.affine) {
          n.params.push(this.param(`${n.id}.weight`, [C], { kind: "ones" }, "norm", l));
          n.params.push(this.param(`${n.id}.bias`, [C], { kind: "zeros" }, "norm", l));
        }
        this.stats.push({ name: `${n.id}.running_mean`, shape: [C], size: C, fill: 0 });
        this.stats.push({ name: `${n.id}.running_var`, shape: [C], size: C, fill: 1 });
        n.stats.push(`${n.id}.running_mean`, `${n.id}.running_var`);
        return [n.output, shape];
      }
      case "iternorm": {
        const C = shape[0];
        const G = a.groups as number;
        if (C % G !== 0) {
          this.diags.push(diag("E0301", l.span, { detail: `iternorm(${G}) needs the group count to divide the ${C} channels` }, `divisors of ${C}: ${divisors(C).join(", ")}`));
          return undefined;
        }
        const g = C / G;
        const n = this.node("iternorm", input, shape, shape, l, { groups: G, iters: a.iters as number, momentum: a.momentum as number, eps: a.eps as number, affine: a.affine as boolean });
        if (a.affine) {
          n.params.push(this.param(`${n.id}.weight`, [C], { kind: "ones" }, "norm", l));
          n.params.push(this.param(`${n.id}.bias`, [C], { kind: "zeros" }, "norm", l));
        }
        this.stats.push({ name: `${n.id}.running_mean`, shape: [C], size: C, fill: 0 });
        this.stats.push({ name: `${n.id}.running_wm`, shape: [G, g, g], size: G * g * g, fill: 0, eye: g });
        n.stats.push(`${n.id}.running_mean`, `${n.id}.running_wm`);
        return [n.output, shape];
      }
      case "layernorm": {
        const n = this.node("layernorm", input, shape, shape, l, { eps: a.eps as number, affine: a.affine as boolean });
        if (a.affine) {
          n.params.push(this.param(`${n.id}.weight`, shape, { kind: "ones" }, "norm", l));
          n.params.push(this.param(`${n.id}.bias`, shape, { kind: "zeros" }, "norm", l));
        }
        return [n.output, shape];
      }
      case "groupnorm":
      case "instancenorm": {
        const C = shape[0];
        const G = l.op === "instancenorm" ? C : (a.groups as number);
        if (C % G !== 0) {
          this.diags.push(diag("E0301", l.span, { detail: `groupnorm(${G}) needs the group count to divide the ${C} channels` }, `divisors of ${C}: ${divisors(C).join(", ")}`));
          return undefined;
        }
        const n = this.node(l.op, input, shape, shape, l, { groups: G, eps: a.eps as number, affine: a.affine as boolean });
        if (a.affine) {
          n.params.push(this.param(`${n.id}.weight`, [C], { kind: "ones" }, "norm", l));
          n.params.push(this.param(`${n.id}.bias`, [C], { kind: "zeros" }, "norm", l));
        }
        return [n.output, shape];
      }
      case "repeat": {
        let cur = input;
        let s = shape;
        for (let r = 0; r < (a.n as number); r++) {
          for (const b of l.body ?? []) {
            const res = this.layer(b, cur, s);
            if (!res) return undefined;
            [cur, s] = res;
          }
        }
        return [cur, s];
      }
      case "residual": {
        const rid = this.id("residual");
        let cur = input;
        let s = shape;
        for (const b of l.body ?? []) {
          const r = this.layer(b, cur, s);
          if (!r) return undefined;
          [cur, s] = r;
        }
        let skip = input;
        const same = s.length === shape.length && s.every((d, i) => d === shape[i]);
        if (!same) {
          if (a.proj === "none") {
            this.diags.push(diag("E0301", l.span, { detail: `the residual body maps ${shapeText(shape)} to ${shapeText(s)}, so the skip needs a projection` }, "use residual(proj=auto)"));
            return undefined;
          }
          if (s.length === 3 && shape.length === 3) {
            const stride = shape[1] / s[1];
            if (!Number.isInteger(stride) || shape[2] / s[2] !== stride) {
              this.diags.push(diag("E0301", l.span, { detail: `cannot project ${shapeText(shape)} onto ${shapeText(s)} with a strided 1x1 convolution` }));
              return undefined;
            }
            const proj: LayerSpec = { op: "conv2d", args: { filters: s[0], kernel: 1, stride, padding: 0, dilation: 1, groups: 1, bias: false }, span: l.span };
            const r = this.layer(proj, input, shape)!;
            skip = r[0];
          } else if (s.length === 1 && shape.length === 1) {
            const proj: LayerSpec = { op: "dense", args: { units: s[0], bias: false }, span: l.span };
            const r = this.layer(proj, input, shape)!;
            skip = r[0];
          } else {
            this.diags.push(diag("E0301", l.span, { detail: `the residual body changes rank: ${shapeText(shape)} to ${shapeText(s)}` }));
            return undefined;
          }
        }
        const n = this.node("add", cur, s, s, l, {}, rid);
        n.inputs = [cur, skip];
        return [n.output, s];
      }
      default: {
        // elementwise ops
        const n = this.node(l.op, input, shape, shape, l, { ...a });
        return [n.output, shape];
      }
    }
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
    if (loss.kind === "softmax_cross_entropy" || loss.kind === "bce_with_logits") {
      if (shape.length !== 1) {
        this.diags.push(diag("E0304", loss.span, { shape: shapeText(shape), loss: loss.kind, detail: "it needs [classes]" }, "end the model with flatten and dense(classes)"));
        return undefined;
      }
      if (loss.kind === "softmax_cross_entropy" && shape[0] < 2) {
        this.diags.push(diag("E0304", loss.span, { shape: shapeText(shape), loss: loss.kind, detail: "it needs at least 2 classes" }));
        return undefined;
      }
    }
    const last = this.nodes[this.nodes.length - 1];
    if (last.op === "dropout" || last.op === "spatial_dropout") {
      this.diags.push(diag("E0403", spec.layers[spec.layers.length - 1].span, { detail: "dropout on the output layer drops logits: the loss sees zeros" }, "remove it, or put it before the last dense"));
      return undefined;
    }
    if (spec.train.batch === 1 && this.nodes.some((n) => n.op === "bn" || n.op === "iternorm")) {
      const bn = spec.layers.find((l) => l.op === "bn" || l.op === "iternorm");
      this.diags.push(diag("E0403", bn?.span ?? spec.loss.span, { detail: "batch norm with batch size 1 in training: the batch variance is 0" }, "use batch >= 2, or layernorm/groupnorm"));
      return undefined;
    }
    for (const a of spec.data.augment)
      if (spec.input.length !== 3) {
        this.diags.push(diag("E0403", a.span, { detail: `augmentation \`${a.kind}\` needs image input [C, H, W], but the model's input is ${shapeText(spec.input)}` }));
        return undefined;
      }
    for (const p of spec.data.preprocess) {
      const k = p.args.k as number | undefined;
      if ((p.kind === "pca" || p.kind === "whiten") && k !== undefined && !(spec.input.length === 1 && spec.input[0] === k)) {
        this.diags.push(diag("E0403", p.span, { detail: `${p.kind}(k=${k}) gives ${k} features per sample, but the model's input is ${shapeText(spec.input)}` }, `set \`input [${k}]\``));
        return undefined;
      }
      if (p.kind === "standardize" && p.args.mode === "channel" && spec.input.length !== 3) {
        this.diags.push(diag("E0403", p.span, { detail: "per-channel standardization needs image input [C, H, W]" }, "use standardize(feature)"));
        return undefined;
      }
    }
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
        source: { kind: source.kind, path: source.path, ...(source.label !== undefined ? { label: source.label } : {}) },
        preprocess: preprocess.map((p) => ({ kind: p.kind, args: p.args })),
        augment: augment.map((p) => ({ kind: p.kind, args: p.args })),
      },
    };
  }
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i * i <= n && i <= 1e6; i++) if (n % i === 0) out.push(i, n / i); // not 1..n: C can be 2^53
  return [...new Set(out)].sort((a, b) => a - b);
}

export function lower(spec: Spec): { ir?: IR; diagnostics: Diagnostic[] } {
  const l = new Lowerer(spec);
  const ir = l.run();
  return { ir, diagnostics: l.diags };
}
