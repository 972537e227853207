// PyTorch target, part 1: the model. One `nn.Module` whose submodules are named after the IR
// nodes (`dense_0`, `bn_1`, ...), so that its state_dict names are exactly the IR's parameter and
// statistic names (`dense_0.weight`, `bn_1.running_var`, `dense_2.weight_g`): a model trained by
// either backend loads in the other. Fused tails (activations, dropout) become plain modules or
// functional calls after their producer. Input: the IR after lower + fuseElementwise (+ maskPadding).
// Padded sequences (ir.data.lengths): forward takes each sample's valid length at the input
// (`lengths`, (n,) int64); an op's mapping asks PyCtx.lengths(t) / mask(t) for those of the tensor
// it reads (the input's lengths through the time maps of the layers before it, emitted once as
// `len_<t>` / `valid_<t>` right before the first layer that needs them), as the TypeScript kernels
// read the heap's `lengths` through the same maps (compiler/ops/sequence.ts).
import type { IR, IRNode, IRParam } from "../ir";
import type { Json } from "../spec";
import { asProducer, findNodeOp, findTailOp } from "../ops";
import { isUnsupported, type PyCode, type PyCtx } from "../ops/op";
import { lengthMaps } from "../ops/sequence";
import { PADDED_WHY, pytorchTakesPadded } from "../check-targets";
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

export interface PyModel {
  /** The class definition. */
  text: string;
  /** Whether the model holds batch norm (a training batch of one sample cannot be used). */
  hasBatchNorm: boolean;
}

/**
 * Padded sequences in the model (emitted before Net when the data are padded): the valid lengths
 * through the layers that change the time axis, and the valid positions as a mask.
 */
const PY_LENGTHS = String.raw`
def seq_lengths(lengths, maps, steps):
    """Valid lengths after layers that change the time axis (runtime/kernels/sequence.ts seqLength): for each
    [add, stride] in maps a length L > 0 becomes max(0, floor((L + add) / stride) + 1); then at most steps."""
    for k in range(0, len(maps), 2):
        mapped = torch.clamp(torch.div(lengths + maps[k], maps[k + 1], rounding_mode="floor") + 1, min=0)
        lengths = torch.where(lengths > 0, mapped, lengths)
    return lengths.clamp(max=steps)


def valid_positions(lengths, steps):
    """(n, steps) bool: position t of sample b is valid when t < lengths[b]."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def last_valid(x, lengths):
    """x (n, T, F) at each sample's last valid position, zeros for an empty sequence (runtime/kernels/sequence.ts lastForward)."""
    picked = x[torch.arange(x.shape[0], device=x.device), (lengths - 1).clamp(min=0)]
    return torch.where((lengths > 0).unsqueeze(1), picked, torch.zeros_like(picked))


def mean_valid(x, lengths):
    """The mean over each sample's valid positions of x (n, T, F), zeros for an empty sequence (timeAvgPoolForward)."""
    kept = x.masked_fill(~valid_positions(lengths, x.shape[1]).unsqueeze(-1), 0)
    return kept.sum(dim=1) / lengths.clamp(min=1).unsqueeze(1).to(x.dtype)


def max_valid(x, lengths):
    """The maximum over each sample's valid positions of x (n, T, F), zeros for an empty sequence (timeMaxPoolForward)."""
    top = x.masked_fill(~valid_positions(lengths, x.shape[1]).unsqueeze(-1), float("-inf")).max(dim=1).values
    return torch.where((lengths > 0).unsqueeze(1), top, torch.zeros_like(top))
`.trim();

/** Each node's module and forward lines from its op module (compiler/ops/), then its tail's. */
export function emitPyModel(ir: IR): PyModel {
  const init: string[] = [];
  const fwd: string[] = [];
  let hasBatchNorm = false;
  const preambles = new Set<string>();
  const padded = ir.data.lengths === true;
  // padded data: the Python variables holding each tensor's valid lengths and mask, emitted on first use
  const lenVars = new Map<string, string>(); // tensor -> its lengths
  const maskVars = new Map<string, string>(); // lengths/T -> the mask
  let pending: string[] = [];
  const steps = (t: string) => (t === "x" ? ir.input.shape : ir.nodes.find((m) => m.output === t)!.outShape)[0];
  const c: PyCtx = {
    py,
    expectParams(n, names) {
      const want = names.map((s) => `${n.id}.${s}`).sort();
      const got = [...n.params].sort();
      if (want.join() !== got.join()) unsupported(`${n.op} ${n.id} with parameters [${got.join(", ")}] (expected [${want.join(", ")}])`, n);
    },
    unsupported: (what, n) => unsupported(what, n),
    lengths(t) {
      if (!padded) return undefined;
      let v = lenVars.get(t);
      if (v === undefined) {
        const maps = lengthMaps(ir, t);
        v = maps.length === 0 ? "lengths" : `len_${t}`;
        if (maps.length > 0) pending.push(`${v} = seq_lengths(lengths, ${py(maps)}, ${steps(t)})  # valid lengths of ${t}`);
        lenVars.set(t, v);
      }
      return v;
    },
    mask(t) {
      const len = c.lengths(t);
      if (len === undefined) return undefined;
      // one mask per (lengths, T): a layer that keeps the time axis shares its input's
      const key = `${len}/${steps(t)}`;
      let v = maskVars.get(key);
      if (v === undefined) {
        v = `valid_${t}`;
        pending.push(`${v} = valid_positions(${len}, ${steps(t)})  # (n, ${steps(t)}): the valid positions of ${t}`);
        maskVars.set(key, v);
      }
      return v;
    },
  };
  const take = (code: PyCode) => {
    init.push(...code.init);
    fwd.push(...pending, ...code.forward);
    pending = [];
    if (code.batchNorm) hasBatchNorm = true;
    if (code.preamble) preambles.add(code.preamble);
  };
  for (const n of ir.nodes) {
    const op = findNodeOp(n.op);
    if (!op) unsupported(`the layer \`${n.op}\``, n);
    const p = asProducer(n);
    const comment = `# ${n.kernel}: [${n.inShape.join(", ")}] -> [${n.outShape.join(", ")}]  (spec line ${n.line})`;
    if (isUnsupported(op.pytorch)) unsupported(`the layer \`${n.op}\` (${op.pytorch.unsupported})`, n);
    if (padded && !pytorchTakesPadded(op)) unsupported(`the layer \`${n.op}\` (${PADDED_WHY})`, n);
    const code = op.pytorch(p, c);
    // a comment above the submodule (ops that have none, such as flatten, get it in forward only)
    if (code.init.length > 0) init.push(comment.replace(/ {2}\(spec/, " (spec"));
    fwd.push(comment);
    take(code);
    for (const t of n.tail) {
      const tp = findTailOp(t.op)?.pytorch;
      if (!tp) unsupported(`the elementwise op \`${t.op}\``, n);
      if (isUnsupported(tp)) unsupported(`the elementwise op \`${t.op}\` (${tp.unsupported})`, n);
      take(tp(t, n, n.output, c));
    }
  }
  const last = ir.nodes[ir.nodes.length - 1].output;
  const T = ir.input.shape[0];
  const text = [
    ...(padded ? [PY_LENGTHS, ``, ``] : []),
    ...[...preambles].flatMap((p) => [p, ``, ``]),
    `class Net(nn.Module):`,
    `    """${pyIdentifier(ir.name)}: input [${ir.input.shape.join(", ")}] -> output [${ir.output.shape.join(", ")}]. Submodules are named after the`,
    `    IR nodes, so state_dict() names are the dnnc tensor names."""`,
    ``,
    `    def __init__(self):`,
    `        super().__init__()`,
    ...init.map((l) => `        ${l}`),
    ``,
    ...(padded
      ? [
          `    def forward(self, x, lengths=None):`,
          `        # lengths: each sample's valid length (n,) int64; positions at and after it are padding`,
          `        if lengths is None:`,
          `            lengths = torch.full((x.shape[0],), ${T}, dtype=torch.int64, device=x.device)`,
        ]
      : [`    def forward(self, x):`]),
    ...fwd.map((l) => `        ${l}`),
    `        return ${last}`,
  ].join("\n");
  return { text, hasBatchNorm };
}

/** The per-tensor table: name, shape, init, decay settings (the IR's params, verbatim). */
export function emitParamTable(params: IRParam[]): string {
  const rows = params.map(
    (p) =>
      `    ${py(p.name)}: {"shape": ${py(p.shape)}, "init": ${py(p.init as Json)}, "weight_decay": ${py(p.weightDecay)}, ` +
      `"decoupled_decay": ${py(p.decoupledDecay)}, "l1": ${py(p.l1)}, "max_norm": ${py(p.maxNorm)}` +
      `${p.frozen ? `, "frozen": True` : ""}${p.lrScale !== undefined ? `, "lr_scale": ${py(p.lrScale)}` : ""}},`,
  );
  return [
    `# Every trainable tensor, in dnnc's order (the order of the safetensors file), with its initializer and`,
    `# its own decay settings: weight_decay is coupled L2 (added to the gradient, torch's weight_decay),`,
    `# decoupled_decay is AdamW's p *= 1 - lr * wd, l1 adds l1 * sign(p) to the gradient, max_norm`,
    `# renormalizes each output row after every step (torch.renorm); fine-tuning: frozen (requires_grad False,`,
    `# no group), lr_scale (the group's lr multiplier).`,
    `PARAMS = {`,
    ...rows,
    `}`,
  ].join("\n");
}
