// Pass — what each target supports, asked of the ops: the PyTorch target (NodeOp.pytorch,
// TailOp.pytorch), the ONNX exporter (NodeOp.onnx, TailOp.onnx) and the smoothness penalties,
// which need every op's second derivative (NodeOp.penalty, TailOp.second). An op module declares
// what it cannot map with `unsupported("why")` (compiler/ops/op.ts); this check turns the first
// such op of a model into one uniform diagnostic, E0405, at its layer's span. The penalties' check
// runs in the pipeline (checkPenalty, when the spec has a penalty); `compile --target pytorch`
// and `export` run theirs before emitting anything.
import { diag, type Diagnostic } from "../grammar/diagnostics";
import type { IR, IRNode } from "./ir";
import { findNodeOp, findTailOp } from "./ops";
import { isUnsupported } from "./ops/op";
import { nodeSpan } from "./spans";
import type { Spec } from "./spec";

export type Target = "pytorch" | "onnx" | "penalty";

const TARGET_NAMES: Record<Target, string> = {
  pytorch: "the PyTorch target",
  onnx: "the ONNX exporter",
  penalty: "the smoothness penalties (they need its second derivative)",
};

/** Why `target` cannot take node n (its op, an argument of it, or an op of its tail), or undefined. */
function refusal(n: IRNode, target: Target): { op: string; why: string } | undefined {
  const tail = findTailOp(n.op);
  if (tail) {
    const m = target === "pytorch" ? tail.pytorch : target === "onnx" ? tail.onnx : tail.second;
    return isUnsupported(m) ? { op: n.op, why: m.unsupported } : undefined;
  }
  const op = findNodeOp(n.op);
  if (!op) return { op: n.op, why: "no op module defines it" };
  const m = target === "pytorch" ? op.pytorch : target === "onnx" ? op.onnx : op.penalty;
  if (isUnsupported(m)) return { op: n.op, why: m.unsupported };
  if (target === "penalty" && !isUnsupported(op.penalty)) {
    const refused = op.penalty.refuse?.(n as never);
    if (refused) return { op: n.op, why: `${refused} is not differentiated twice` };
  }
  for (const t of n.tail) {
    const to = findTailOp(t.op);
    const tm = !to ? undefined : target === "pytorch" ? to.pytorch : target === "onnx" ? to.onnx : to.second;
    if (!to || isUnsupported(tm)) return { op: t.op, why: tm && isUnsupported(tm) ? tm.unsupported : "no op module defines it" };
  }
  return undefined;
}

/** The first node `target` cannot take, with the reason. */
export function findUnsupported(ir: IR, target: Target): { node: IRNode; op: string; why: string } | undefined {
  for (const n of ir.nodes) {
    const r = refusal(n, target);
    if (r) return { node: n, ...r };
  }
  return undefined;
}

const args = (bad: NonNullable<ReturnType<typeof findUnsupported>>, target: Target) => ({ op: bad.op, id: bad.node.id, target: TARGET_NAMES[target], why: bad.why });

/** E0405 at the first layer `target` cannot take (no diagnostics when it takes them all). */
export function checkTarget(ir: IR, target: Target, spec?: Spec): Diagnostic[] {
  const bad = findUnsupported(ir, target);
  if (!bad) return [];
  return [diag("E0405", nodeSpan(ir, bad.node, spec), args(bad, target))];
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
