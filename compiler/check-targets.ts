// Pass — what each target supports, asked of the ops: the PyTorch target (NodeOp.pytorch,
// TailOp.pytorch), the ONNX exporter (NodeOp.onnx, TailOp.onnx) and the smoothness penalties,
// which need every op's second derivative (NodeOp.penalty, TailOp.second). An op module declares
// what it cannot map with `unsupported("why")` (compiler/ops/op.ts); this check turns the first
// such op of a model into one uniform diagnostic, E0405, at its layer's span. The penalties' check
// runs in the pipeline (checkPenalty, when the spec has a penalty); `compile --target pytorch`
// and `export` run theirs before emitting anything. On padded data (ir.data.lengths) the PyTorch
// target also refuses a layer that masks its own padding (NodeOp.masksPadding: recurrent layers)
// unless its mapping reads each sample's length (NodeOp.pytorchPadded).
import { diag, type Diagnostic } from "../grammar/diagnostics";
import type { IR, IRNode } from "./ir";
import { findNodeOp, findTailOp, OPS } from "./ops";
import { isUnsupported, type NodeOp } from "./ops/op";
import { nodeSpan } from "./spans";
import type { Spec } from "./spec";

export type Target = "pytorch" | "onnx" | "penalty";

const TARGET_NAMES: Record<Target, string> = {
  pytorch: "the PyTorch target",
  onnx: "the ONNX exporter",
  penalty: "the smoothness penalties",
};

/** Why the PyTorch target refuses padded data at a layer that masks its own padding without a padded mapping. */
export const PADDED_WHY = "on padded sequences its PyTorch mapping must read each sample's length, and it does not";

/** Whether the PyTorch target takes a node of this op on padded data (see the top of the file). */
export function pytorchTakesPadded(op: Pick<NodeOp<IRNode>, "masksPadding" | "pytorchPadded">): boolean {
  return !op.masksPadding || op.pytorchPadded === true;
}

/** Why `target` cannot take node n (its op, an argument of it, or an op of its tail), or undefined. `padded`: the data are padded sequences. */
function refusal(ir: IR, n: IRNode, target: Target, padded = false): { op: string; why: string } | undefined {
  for (const op of [n.op, ...n.tail.map((t) => t.op)]) {
    const m = mapping(op, target);
    if (m === undefined) return { op, why: "no op module defines it" };
    if (isUnsupported(m)) return { op, why: m.unsupported };
  }
  const node = findNodeOp(n.op);
  const refused = target !== "penalty" ? node?.refuseTarget?.(n as never, target, ir) : undefined;
  if (refused) return { op: n.op, why: refused };
  if (target === "pytorch" && padded && node && !pytorchTakesPadded(node)) return { op: n.op, why: PADDED_WHY };
  if (target === "penalty" && node && !isUnsupported(node.penalty)) {
    const refused = node.penalty.refuse?.(n as never);
    if (refused) return { op: n.op, why: `${refused} is not differentiated twice` };
  }
  return undefined;
}

/** The first node `target` cannot take, with the reason. */
export function findUnsupported(ir: IR, target: Target): { node: IRNode; op: string; why: string } | undefined {
  // padded sequences: the exported graph would take no lengths, so it would read padding as data
  if (target === "onnx" && ir.data.lengths && ir.nodes.length > 0)
    return { node: ir.nodes[0], op: ir.nodes[0].op, why: `on padded sequences (a ${ir.data.source.kind}(...) source): the graph has no input for the lengths` };
  for (const n of ir.nodes) {
    const r = refusal(ir, n, target, ir.data.lengths === true);
    if (r) return { node: n, ...r };
  }
  return undefined;
}

/** The mapping of one op (a producer or a tail op) for a target. */
function mapping(op: string, target: Target): unknown {
  const tail = findTailOp(op);
  if (tail) return target === "pytorch" ? tail.pytorch : target === "onnx" ? tail.onnx : tail.second;
  const node = findNodeOp(op);
  if (node) return target === "pytorch" ? node.pytorch : target === "onnx" ? node.onnx : node.penalty;
  return undefined;
}

/** The layers of the language a target takes, for the hint (residual: when its add maps; repeat: always). */
function supportedHint(target: Target): string {
  const takes = (op: string) => {
    const m = mapping(op, target);
    return m !== undefined && !isUnsupported(m);
  };
  const layers = Object.keys(OPS).filter((k) => (k === "residual" ? takes("add") : k === "repeat" || takes(k)));
  return `supported by ${TARGET_NAMES[target]}: ${layers.join(", ")}`;
}

const args = (bad: NonNullable<ReturnType<typeof findUnsupported>>, target: Target) => ({
  op: bad.op,
  id: bad.node.id,
  target: TARGET_NAMES[target],
  why: bad.why,
});

/** E0405 at the first layer `target` cannot take (no diagnostics when it takes them all). */
export function checkTarget(ir: IR, target: Target, spec?: Spec): Diagnostic[] {
  const bad = findUnsupported(ir, target);
  if (!bad) return [];
  return [diag("E0405", nodeSpan(ir, bad.node, spec), args(bad, target), supportedHint(target))];
}

/** Whether the spec has a smoothness penalty (input_grad_penalty, jacobian_penalty). */
export function hasPenalty(ir: IR): boolean {
  return ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined;
}

/** The pipeline's pass: the penalties' check, when the spec has a penalty. */
export function checkPenalty(ir: IR, spec: Spec): Diagnostic[] {
  return hasPenalty(ir) ? checkTarget(ir, "penalty", spec) : [];
}

/** For the penalty's planner and emitter (the pipeline has refused such specs already): throw naming the layer. */
export function checkPenaltySupport(ir: IR): void {
  const bad = findUnsupported(ir, "penalty");
  if (bad) throw new Error(diag("E0405", nodeSpan(ir, bad.node), args(bad, "penalty")).message);
}
