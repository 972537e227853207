// PyTorch target, part 1: the model. One `nn.Module` whose submodules are named after the IR
// nodes (`dense_0`, `bn_1`, ...), so that its state_dict names are exactly the IR's parameter and
// statistic names (`dense_0.weight`, `bn_1.running_var`, `dense_2.weight_g`): a model trained by
// either backend loads in the other. Fused tails (activations, dropout) become plain modules or
// functional calls after their producer. Input: the IR after lower + fuseElementwise.
import type { IR, IRNode, IRParam } from "../ir";
import type { Json } from "../spec";
import { asProducer, findNodeOp, findTailOp } from "../ops";
import { isUnsupported, type PyCode, type PyCtx } from "../ops/op";
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

/** Each node's module and forward lines from its op module (compiler/ops/), then its tail's. */
export function emitPyModel(ir: IR): PyModel {
  const init: string[] = [];
  const fwd: string[] = [];
  let hasBatchNorm = false;
  const preambles = new Set<string>();
  const c: PyCtx = {
    py,
    expectParams(n, names) {
      const want = names.map((s) => `${n.id}.${s}`).sort();
      const got = [...n.params].sort();
      if (want.join() !== got.join()) unsupported(`${n.op} ${n.id} with parameters [${got.join(", ")}] (expected [${want.join(", ")}])`, n);
    },
    unsupported: (what, n) => unsupported(what, n),
  };
  const take = (code: PyCode) => {
    init.push(...code.init);
    fwd.push(...code.forward);
    if (code.batchNorm) hasBatchNorm = true;
    if (code.preamble) preambles.add(code.preamble);
  };
  for (const n of ir.nodes) {
    const op = findNodeOp(n.op);
    if (!op) unsupported(`the layer \`${n.op}\``, n);
    const p = asProducer(n);
    const comment = `# ${n.kernel}: [${n.inShape.join(", ")}] -> [${n.outShape.join(", ")}]  (spec line ${n.line})`;
    if (isUnsupported(op.pytorch)) unsupported(`the layer \`${n.op}\` (${op.pytorch.unsupported})`, n);
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
  const text = [
    ...[...preambles].flatMap((p) => [p, ``, ``]),
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
}

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
