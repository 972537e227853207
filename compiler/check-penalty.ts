// Pass — checkPenalty: the smoothness penalties (input_grad_penalty, jacobian_penalty) need the
// second derivative of every op and tail in the model (codegen/emit-penalty.ts). Each op says
// whether it has one (NodeOp.penalty, TailOp.second, compiler/ops/); the first that does not is
// reported with its layer's span. Runs after fuseElementwise (tails are what the penalties see).
import { diag, type Diagnostic } from "../grammar/diagnostics";
import type { IR, IRNode } from "./ir";
import { asProducer, nodeOp, TAILS } from "./ops";
import { isUnsupported } from "./ops/op";
import { nodeSpan } from "./spans";
import type { Spec } from "./spec";

export function hasPenalty(ir: IR): boolean {
  return ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined;
}

/** The first layer the penalties cannot differentiate twice, with a message naming it. */
export function findPenaltyUnsupported(ir: IR): { node: IRNode; message: string } | undefined {
  if (!hasPenalty(ir)) return undefined;
  const what = ir.train.inputGradPenalty ? "input_grad_penalty" : "jacobian_penalty";
  for (const n of ir.nodes) {
    const where = `${n.id} (spec line ${n.line})`;
    const p = nodeOp(asProducer(n)).penalty;
    if (isUnsupported(p)) return { node: n, message: `${what}: layer ${n.op} of ${where} is not supported (${p.unsupported})` };
    const refused = p.refuse?.(asProducer(n) as never);
    if (refused) return { node: n, message: `${what}: ${refused} of ${where} is not supported` };
    for (const t of n.tail) if (isUnsupported(TAILS[t.op].second)) return { node: n, message: `${what}: ${t.op} after ${where} is not supported` };
  }
  return undefined;
}

/** Throws an Error naming the first layer the penalties cannot differentiate twice. */
export function checkPenaltySupport(ir: IR): void {
  const bad = findPenaltyUnsupported(ir);
  if (bad) throw new Error(bad.message);
}

/** The pass: E0403 at the layer the penalties cannot differentiate twice. */
export function checkPenalty(ir: IR, spec: Spec): Diagnostic[] {
  const bad = findPenaltyUnsupported(ir);
  if (!bad) return [];
  return [diag("E0403", nodeSpan(ir, bad.node, spec), { detail: bad.message }, "the smoothness penalties support dense, conv2d, pooling and activations")];
}
