// PyTorch target, part 1: the model. One `nn.Module` whose submodules are named after the IR
// nodes (`dense_0`, `bn_1`, ...), so that its state_dict names are exactly the IR's parameter and
// statistic names (`dense_0.weight`, `bn_1.running_var`, `dense_2.weight_g`): a model trained by
// either backend loads in the other. Fused tails (activations, dropout) become plain modules or
// functional calls after their producer. Input: the IR after lower + fuseElementwise.
import type { IR, IRNode, IRParam, TailOp } from "../ir";
import type { Json } from "../spec";
import { pyIdentifier, pyString } from "../escape";

/** A Python literal for a JSON value (strings and keys through pyString: they hold the text exactly). */
export function py(v: Json | undefined): string {
  if (v === undefined || v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`pytorch target: cannot write the number ${v}`);
    return String(v);
  }
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v)) return `[${v.map(py).join(", ")}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${pyString(k)}: ${py(x)}`)
    .join(", ")}}`;
}

/** Thrown for IR constructs the PyTorch target cannot express identically. */
export class UnsupportedConstruct extends Error {}

function unsupported(what: string, n?: IRNode): never {
  const where = n ? ` (spec line ${n.line}:${n.col})` : "";
  throw new UnsupportedConstruct(`pytorch target: cannot map ${what}${where}`);
}

const ACTS: Record<string, (a: Record<string, number>, v: string) => string> = {
  relu: (_a, v) => `F.relu(${v})`,
  leaky_relu: (a, v) => `F.leaky_relu(${v}, negative_slope=${py(a.slope)})`,
  tanh: (_a, v) => `torch.tanh(${v})`,
  sigmoid: (_a, v) => `torch.sigmoid(${v})`,
  gelu: (_a, v) => `F.gelu(${v})  # exact (erf) form`,
  elu: (a, v) => `F.elu(${v}, alpha=${py(a.alpha)})`,
};

export interface PyModel {
  /** The class definition. */
  text: string;
  /** Whether the model holds batch norm (a training batch of one sample cannot be used). */
  hasBatchNorm: boolean;
}

export function emitPyModel(ir: IR): PyModel {
  const init: string[] = [];
  const fwd: string[] = [];
  let hasBatchNorm = false;
  let usesIterNorm = false;
  const expectParams = (n: IRNode, names: string[]) => {
    const want = names.map((s) => `${n.id}.${s}`).sort();
    const got = [...n.params].sort();
    if (want.join() !== got.join()) unsupported(`${n.op} ${n.id} with parameters [${got.join(", ")}] (expected [${want.join(", ")}])`, n);
  };
  for (const n of ir.nodes) {
    const a = n.attrs as Record<string, Json>;
    const x = n.inputs[0];
    const comment = `# ${n.kernel}: [${n.inShape.join(", ")}] -> [${n.outShape.join(", ")}]  (spec line ${n.line})`;
    init.push(comment.replace(/ {2}\(spec/, " (spec"));
    fwd.push(comment);
    const wn = a.weight_norm === true;
    const wrapWn = (m: string) => (wn ? `nn.utils.weight_norm(${m}, name="weight", dim=0)` : m);
    switch (n.op) {
      case "flatten":
        init.pop();
        fwd.push(`${n.output} = ${x}.flatten(1)`);
        break;
      case "identity":
        init.pop();
        fwd.push(`${n.output} = ${x}`);
        break;
      case "dense": {
        expectParams(n, [...(wn ? ["weight_g", "weight_v"] : ["weight"]), ...(a.bias ? ["bias"] : [])]);
        init.push(`self.${n.id} = ${wrapWn(`nn.Linear(${n.inShape[0]}, ${a.units}, bias=${py(a.bias)})`)}`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      }
      case "conv2d": {
        expectParams(n, [...(wn ? ["weight_g", "weight_v"] : ["weight"]), ...(a.bias ? ["bias"] : [])]);
        const m =
          `nn.Conv2d(${n.inShape[0]}, ${a.K}, kernel_size=(${a.kh}, ${a.kw}), stride=(${a.sh}, ${a.sw}), ` +
          `padding=(${a.ph}, ${a.pw}), dilation=(${a.dh}, ${a.dw}), groups=${a.groups}, bias=${py(a.bias)})`;
        init.push(`self.${n.id} = ${wrapWn(m)}`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      }
      case "maxpool2d":
      case "avgpool2d": {
        const k = `kernel_size=(${a.kh}, ${a.kw}), stride=(${a.sh}, ${a.sw}), padding=(${a.ph}, ${a.pw})`;
        init.push(`self.${n.id} = ${n.op === "maxpool2d" ? `nn.MaxPool2d(${k})` : `nn.AvgPool2d(${k}, count_include_pad=True)`}`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      }
      case "global_avgpool":
        init.pop();
        fwd.push(`${n.output} = ${x}.mean(dim=(2, 3))`);
        break;
      case "bn": {
        hasBatchNorm = true;
        if (n.inShape.length !== 1 && n.inShape.length !== 3) unsupported(`bn on a rank-${n.inShape.length} input`, n);
        expectParams(n, a.affine ? ["weight", "bias"] : []);
        const cls = n.inShape.length === 1 ? "BatchNorm1d" : "BatchNorm2d";
        init.push(`self.${n.id} = nn.${cls}(${n.inShape[0]}, eps=${py(a.eps)}, momentum=${py(a.momentum)}, affine=${py(a.affine)})`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      }
      case "iternorm": {
        hasBatchNorm = true; // running statistics: a one-sample batch cannot train (as batch norm)
        usesIterNorm = true;
        expectParams(n, a.affine ? ["weight", "bias"] : []);
        init.push(`self.${n.id} = IterNorm(${n.inShape[0]}, groups=${a.groups}, iters=${a.iters}, eps=${py(a.eps)}, momentum=${py(a.momentum)}, affine=${py(a.affine)})`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      }
      case "layernorm":
        expectParams(n, a.affine ? ["weight", "bias"] : []);
        init.push(`self.${n.id} = nn.LayerNorm(${py(n.inShape)}, eps=${py(a.eps)}, elementwise_affine=${py(a.affine)})`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      case "groupnorm":
      case "instancenorm":
        // instance norm is group norm with one group per channel (no running statistics)
        expectParams(n, a.affine ? ["weight", "bias"] : []);
        init.push(`self.${n.id} = nn.GroupNorm(${a.groups}, ${n.inShape[0]}, eps=${py(a.eps)}, affine=${py(a.affine)})`);
        fwd.push(`${n.output} = self.${n.id}(${x})`);
        break;
      case "add":
        init.pop();
        if (n.inputs.length !== 2) unsupported(`add with ${n.inputs.length} inputs`, n);
        fwd.push(`${n.output} = ${n.inputs[0]} + ${n.inputs[1]}  # residual`);
        break;
      default:
        unsupported(`the layer \`${n.op}\``, n);
    }
    for (const t of n.tail) emitTail(n, t);
  }
  const last = ir.nodes[ir.nodes.length - 1].output;
  const text = [
    ...(usesIterNorm ? [ITER_NORM.trim(), ``, ``] : []),
    `class Net(nn.Module):`,
    `    """${pyIdentifier(ir.name)}: input [${ir.input.shape.join(", ")}] -> output [${ir.output.shape.join(", ")}]. Submodules are named after the`,
    `    IR nodes, so state_dict() names are the dnnc tensor names."""`,
    ``,
    `    def __init__(self):`,
    `        super().__init__()`,
    ...init.map((l) => `        ${l}`),
    ``,
    `    def forward(self, x):`,
    ...fwd.map((l) => `        ${l}`),
    `        return ${last}`,
  ].join("\n");
  return { text, hasBatchNorm };

  function emitTail(n: IRNode, t: TailOp) {
    const a = t.attrs as Record<string, number>;
    const v = n.output;
    if (t.op === "dropout" || t.op === "spatial_dropout") {
      // p is the DROP probability on both sides; Dropout2d drops whole channels of (n, C, H, W)
      if (t.op === "spatial_dropout" && n.outShape.length !== 3) unsupported(`spatial_dropout on a rank-${n.outShape.length} input`, n);
      init.push(`self.${t.id} = nn.${t.op === "dropout" ? "Dropout" : "Dropout2d"}(p=${py(a.p)})`);
      fwd.push(`${v} = self.${t.id}(${v})`);
      return;
    }
    const f = ACTS[t.op];
    if (!f) unsupported(`the elementwise op \`${t.op}\``, n);
    fwd.push(`${v} = ${f(a, v)}`);
  }
}

/** Decorrelated batch norm (runtime/kernels/iternorm.ts); torch has no module for it. Python source. */
const ITER_NORM = String.raw`
class IterNorm(nn.Module):
    """Iterative normalization (Huang et al. 2019), as runtime/kernels/iternorm.ts: per group of g = C/G
    channels, over the m = n*H*W samples of the batch: xc = x - mu, Sigma = xc xc^T / m + eps I,
    SigmaN = Sigma / tr(Sigma), P_0 = I, P_k = 1.5 P_(k-1) - 0.5 P_(k-1)^3 SigmaN, W = P_T / sqrt(tr(Sigma)),
    y = weight * (W xc) + bias. Running mean and running_wm (G, g, g) move by momentum (no unbiased
    correction); evaluation uses them. The backward is autograd's, the exact gradient of this forward.
    Computed in float64 and rounded once, as the TypeScript kernel accumulates in double (the Newton
    iteration amplifies rounding)."""

    def __init__(self, channels, groups, iters, eps, momentum, affine):
        super().__init__()
        self.groups, self.iters, self.eps, self.momentum = groups, iters, eps, momentum
        g = channels // groups
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_wm", torch.eye(g).repeat(groups, 1, 1))

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        G = self.groups
        g = c // G
        xg = x.reshape(n, c, -1).transpose(0, 1).reshape(G, g, -1).to(torch.float64)  # (G, g, m)
        if self.training:
            m = xg.shape[2]
            mu = xg.mean(2, keepdim=True)
            xc = xg - mu
            eye = torch.eye(g, dtype=torch.float64, device=x.device).expand(G, g, g)
            sigma = xc @ xc.transpose(1, 2) / m + self.eps * eye
            tr = sigma.diagonal(dim1=1, dim2=2).sum(1).reshape(G, 1, 1)
            sn = sigma / tr
            p = eye
            for _ in range(self.iters):
                p = 1.5 * p - 0.5 * (p @ p @ p) @ sn
            w = p / tr.sqrt()
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(mu.reshape(c), alpha=self.momentum)
                self.running_wm.mul_(1 - self.momentum).add_(w, alpha=self.momentum)
        else:
            xc = xg - self.running_mean.reshape(G, g, 1).to(torch.float64)
            w = self.running_wm.to(torch.float64)
        y = (w @ xc).to(x.dtype).reshape(c, n, -1).transpose(0, 1).reshape(x.shape)
        if self.weight is not None:
            shape = [1, c] + [1] * (x.dim() - 2)
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y
`;

/** The per-tensor table: name, shape, init, decay settings (the IR's params, verbatim). */
export function emitParamTable(params: IRParam[]): string {
  const rows = params.map(
    (p) =>
      `    ${py(p.name)}: {"shape": ${py(p.shape)}, "init": ${py(p.init as Json)}, "weight_decay": ${py(p.weightDecay)}, ` +
      `"decoupled_decay": ${py(p.decoupledDecay)}, "l1": ${py(p.l1)}, "max_norm": ${py(p.maxNorm)}},`,
  );
  return [
    `# Every trainable tensor, in dnnc's order (the order of the safetensors file), with its initializer and`,
    `# its own decay settings: weight_decay is coupled L2 (added to the gradient, torch's weight_decay),`,
    `# decoupled_decay is AdamW's p *= 1 - lr * wd, l1 adds l1 * sign(p) to the gradient, max_norm`,
    `# renormalizes each output row after every step (torch.renorm).`,
    `PARAMS = {`,
    ...rows,
    `}`,
  ].join("\n");
}
