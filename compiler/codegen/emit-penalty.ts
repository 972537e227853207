// Code generation, part 1b: the smoothness penalties, by double backprop in forward mode.
//
// Semantics (L is the batch's mean loss, x the whole batch's input tensor (n rows), f the logits):
// - input_grad_penalty λ:  R = λ·||∇_x L||²  (sum of squares over the whole batch).
//   Its parameter gradient is exact: PyTorch's
//   `g = autograd.grad(L, x, create_graph=True)[0]; (L + λ*(g**2).sum()).backward()`.
// - jacobian_penalty(λ, projections=P): for each projection p and sample s, v_ps is a random unit
//   vector in R^C (C = outputs; a standard normal draw normalized, so uniform on the sphere), and
//     R = λ · C · (1/P) Σ_p (1/n) Σ_s ||v_psᵀ J_s||²,   J_s = ∂f_s/∂x_s,
//   an unbiased estimate of λ·(1/n)Σ_s ||J_s||_F² (E||vᵀJ||² = ||J||_F²/C for unit v). With
//   ℓ_p = Σ_s v_ps·f_s, ∇_x ℓ_p stacks the rows v_psᵀJ_s (samples are independent: no batch
//   norm), so R = λ·C/(P·n) · Σ_p ||∇_x ℓ_p||². The gradient is exact for the drawn v's.
//   The v's: z = N(0,1) by Box-Muller from runtime/rng.ts, stream streamId("penalty:jacobian"),
//   key ds = hash3(seed, stream, step); sample s, output c, projection p use the counters
//   k = 2·((p·B + s)·C + c) (u1 = ((hash3(ds, stream, k) >>> 8) + 1)/16777217) and k + 1
//   (u2 = uniformAt(ds, stream, k + 1)), z = sqrt(-2 ln u1)·cos(2π u2); v_ps = z_ps/||z_ps||.
//
// How (one pass for each ℓ: ℓ = L for the input-gradient penalty, ℓ = ℓ_p per projection):
//  1. primal backward of ℓ from dℓ/df, keeping every tensor's gradient dy and every fused tail's
//     dz in buffers of our own (pen:d:*, pen:dz:*), down to g = ∇_x ℓ (pen:d:x);
//  2. the penalty c·||g||² (c = λ, or λ·C/(P·n)) and its gradient 2c·(∂g/∂θ)ᵀg, which equals the
//     directional derivative of ∇_θ ℓ along ẋ = g (the Hessian is symmetric). So seed ẋ = 2c·g
//     and differentiate forward+backward in forward mode (θ̇ = 0):
//     - tangent forward: ż of every producer (a conv forward of ẋ without bias, ẋWᵀ for dense,
//       pools along the forward's argmax, ...), ẏ = h'(z)·ż through the fused tail h;
//     - the output: d(dℓ/df) = ∇²_f ℓ · ḟ (softmax CE: per row (diag(p) − ppᵀ)ḟ/n, any label
//       smoothing; mse 2ḟ/(n·k); bce σ'(f)ḟ/(n·k); huber ḟ/(n·k) inside δ; l1 and ℓ_p: 0);
//     - tangent backward: d(dz) = d(dy)·h'(z) + dy·(h')˙ (needs h''), and for each weight
//       d(dW) = d(dz)ᵀx + dzᵀẋ, d(db) = Σ d(dz), d(dx) = d(dz)·W — ADDED to the parameter
//       gradients already holding ∇_θ L (the ordinary backward ran before).
// The emitted method `penalty(n, step)` runs after forward(n, true, step) (it reads the forward's
// z, y, dropout masks and pool argmax; it does not read what backward() wrote), adds the penalty's
// parameter gradients and returns the penalty's value. Each op contributes its pieces
// (NodeOp.penalty: primal backward, tangent forward, tangent backward; TailOp.second: the tail's
// first and second derivative; compiler/ops/); an op that has none is reported by the checkPenalty
// pass with its span, and this function throws an Error naming the layer.
import type { IR, IRNode } from "../ir";
import { asProducer, isView, nodeOp, TAILS } from "../ops";
import { isUnsupported, lit, type PenaltyCtx, type PenaltyOp, type SecondParts } from "../ops/op";
import { checkPenaltySupport, hasPenalty } from "../check-targets";
import type { ProducerNode } from "../ops";
import { prod } from "../shape";

export interface EmittedPenalty {
  /** The body of `penalty(n: number, step: number): number` (ends with a return). */
  code: string[];
  /** Runtime names the code uses (for the import list). */
  uses: Set<string>;
  /** Module constants (configs, stream ids). */
  consts: string[];
}

/** A node's penalty pieces (checkPenaltySupport has run: every node has them). */
function pieces(n: IRNode): PenaltyOp<ProducerNode> {
  const p = nodeOp(asProducer(n)).penalty;
  if (isUnsupported(p)) throw new Error(`penalty: no pieces for ${n.op}`);
  return p as PenaltyOp<ProducerNode>;
}

export function emitPenalty(ir: IR): EmittedPenalty {
  const uses = new Set<string>();
  const consts: string[] = [];
  if (!hasPenalty(ir)) return { code: ["void n;", "void step;", "return 0;"], uses, consts };
  checkPenaltySupport(ir);
  const L = ir.layout!;
  const off = (name: string): number => {
    const o = L.offsets[name];
    if (o === undefined) throw new Error(`penalty codegen: no buffer ${name} (run planPenaltyMemory first)`);
    return o;
  };
  const B = ir.batch;
  const last = ir.nodes[ir.nodes.length - 1];
  const k = ir.output.size;
  const xOff = off("x");
  const isX = (t: string) => off(t) === xOff; // x or a flatten view of x
  const D = (t: string) => off(`pen:d:${t}`);
  const T = (t: string) => off(`pen:t:${t}`);
  const TD = (t: string) => off(`pen:td:${t}`);
  const DZ = (n: IRNode) => (n.tail.length > 0 ? off(`pen:dz:${n.id}`) : D(n.output));
  const TZ = (n: IRNode) => (n.tail.length > 0 ? off(`pen:tz:${n.id}`) : T(n.output));
  const scratch = off("pen:scratch");
  // what the primal and the tangent backward have written so far (reset by each pass)
  let primalWritten = new Set<number>();
  let tangentWritten = new Set<number>();
  const pc: PenaltyCtx = {
    ir,
    off,
    uses,
    D,
    T,
    TD,
    DZ,
    TZ,
    scratch,
    isX,
    primalInto(buf, size, emit, canAccumulate) {
      if (!primalWritten.has(buf)) {
        primalWritten.add(buf);
        return [emit(buf, false)];
      }
      if (canAccumulate) return [emit(buf, true)];
      return [emit(scratch, false), `for (let i = 0, e = n * ${size}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`];
    },
    tangentInto(t, size, emit, canAccumulate) {
      if (isX(t)) return []; // the tangent of ∇_x is not needed
      const buf = TD(t);
      if (!tangentWritten.has(buf)) {
        tangentWritten.add(buf);
        return [emit(buf, false)];
      }
      if (canAccumulate) return [emit(buf, true)];
      return [emit(scratch, false), `for (let i = 0, e = n * ${size}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`];
    },
    tangentDx(src, inSize) {
      if (isX(src)) return { dx: -1, post: [] };
      const buf = TD(src);
      if (!tangentWritten.has(buf)) {
        tangentWritten.add(buf);
        return { dx: buf, post: [] };
      }
      return { dx: scratch, post: [`for (let i = 0, e = n * ${inSize}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`] };
    },
  };

  for (const n of ir.nodes) consts.push(...(pieces(n).consts?.(asProducer(n), pc) ?? []));

  const code: string[] = ["let value = 0;"];
  const ig = ir.train.inputGradPenalty;
  if (ig) {
    code.push(`// ---- input-gradient penalty ${ig.lambda}·||∇_x L||²: dL/df again (backward() may have changed it in place)`);
    code.push(...lossGrad());
    code.push("{", ...pass(lit(ig.lambda), false), "}");
  }
  const jp = ir.train.jacobianPenalty;
  if (jp) {
    uses.add("hash3").add("uniformAt").add("streamId");
    consts.push(`const S_PEN_JAC = streamId("penalty:jacobian");`);
    const O = D(last.output);
    code.push(`// ---- Jacobian penalty ${jp.lambda}·C·mean_p (1/n)Σ_s ||v_psᵀJ_s||², ${jp.projections} projection(s)`);
    code.push(`const jd = hash3(seed, S_PEN_JAC, step);`);
    code.push(`for (let pj = 0; pj < ${jp.projections}; pj++) {`);
    code.push(
      `for (let r = 0; r < n; r++) { const o = ${O} + r * ${k}; let ss = 0; for (let c = 0; c < ${k}; c++) { const ctr = 2 * ((pj * ${B} + r) * ${k} + c); ` +
        `const u1 = ((hash3(jd, S_PEN_JAC, ctr) >>> 8) + 1) * (1 / 16777217); const u2 = uniformAt(jd, S_PEN_JAC, ctr + 1); ` +
        `const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2); H[o + c] = z; ss += z * z; } ` +
        `const sc = ss > 0 ? 1 / Math.sqrt(ss) : 0; for (let c = 0; c < ${k}; c++) H[o + c] *= sc; }`,
    );
    code.push(...pass(`${lit((jp.lambda * k) / jp.projections)} / n`, true));
    code.push("}");
  }
  code.push("return value;");
  return { code, uses, consts };

  // ------------------------------------------------------------------------------------------
  /** dL/df of the batch's mean loss into pen:d:out (and the softmax into pen:p). */
  function lossGrad(): string[] {
    const F = off(last.output);
    const O = D(last.output);
    const Y = off("labels");
    switch (ir.loss.kind) {
      case "softmax_cross_entropy": {
        const eps = ir.loss.labelSmoothing;
        const PP = off("pen:p");
        return [
          `for (let r = 0; r < n; r++) { const f = ${F} + r * ${k}; let m = H[f]; for (let c = 1; c < ${k}; c++) if (H[f + c] > m) m = H[f + c]; ` +
            `let s = 0; for (let c = 0; c < ${k}; c++) s += Math.exp(H[f + c] - m); const lse = m + Math.log(s); ` +
            `for (let c = 0; c < ${k}; c++) { const p = Math.exp(H[f + c] - lse); H[${PP} + r * ${k} + c] = p; H[${O} + r * ${k} + c] = (p - ${lit(eps / k)}) / n; } ` +
            `H[${O} + r * ${k} + H[${Y} + r]] -= ${lit(1 - eps)} / n; }`,
        ];
      }
      case "mse":
        return [`for (let i = 0, e = n * ${k}; i < e; i++) H[${O} + i] = (2 * (H[${F} + i] - H[${Y} + i])) / e;`];
      case "bce_with_logits":
        return [`for (let i = 0, e = n * ${k}; i < e; i++) H[${O} + i] = (1 / (1 + Math.exp(-H[${F} + i])) - H[${Y} + i]) / e;`];
      case "l1":
        return [`for (let i = 0, e = n * ${k}; i < e; i++) { const d = H[${F} + i] - H[${Y} + i]; H[${O} + i] = (d > 0 ? 1 : d < 0 ? -1 : 0) / e; }`];
      case "huber": {
        const dl = lit(ir.loss.delta);
        return [
          `for (let i = 0, e = n * ${k}; i < e; i++) { const d = H[${F} + i] - H[${Y} + i]; H[${O} + i] = (d > ${dl} ? ${dl} : d < -${dl} ? -${dl} : d) / e; }`,
        ];
      }
    }
    throw new Error(`input_grad_penalty: no second derivative for the loss ${ir.loss.kind}`);
  }

  /** ∇²_f ℓ · ḟ into pen:td:out. */
  function lossHvp(linear: boolean): string[] {
    const F = off(last.output);
    const TF = T(last.output);
    const O = TD(last.output);
    const Y = off("labels");
    if (linear || ir.loss.kind === "l1") return [`H.fill(0, ${O}, ${O} + n * ${k});`];
    switch (ir.loss.kind) {
      case "softmax_cross_entropy": {
        const PP = off("pen:p");
        return [
          `for (let r = 0; r < n; r++) { const p = ${PP} + r * ${k}, t = ${TF} + r * ${k}, o = ${O} + r * ${k}; let s = 0; ` +
            `for (let c = 0; c < ${k}; c++) s += H[p + c] * H[t + c]; for (let c = 0; c < ${k}; c++) H[o + c] = (H[p + c] * (H[t + c] - s)) / n; }`,
        ];
      }
      case "mse":
        return [`for (let i = 0, e = n * ${k}; i < e; i++) H[${O} + i] = (2 * H[${TF} + i]) / e;`];
      case "bce_with_logits":
        return [`for (let i = 0, e = n * ${k}; i < e; i++) { const s = 1 / (1 + Math.exp(-H[${F} + i])); H[${O} + i] = (s * (1 - s) * H[${TF} + i]) / e; }`];
      case "huber": {
        const dl = lit(ir.loss.delta);
        return [
          `for (let i = 0, e = n * ${k}; i < e; i++) { const d = H[${F} + i] - H[${Y} + i]; H[${O} + i] = d <= ${dl} && d >= -${dl} ? H[${TF} + i] / e : 0; }`,
        ];
      }
    }
    throw new Error(`input_grad_penalty: no second derivative for the loss ${ir.loss.kind}`);
  }

  /**
   * One double-backprop pass for ℓ whose dℓ/df is already in pen:d:out: primal backward to
   * g = ∇_x ℓ, value += c·||g||², then the tangent forward and backward seeded with ẋ = 2c·g.
   */
  function pass(c: string, linear: boolean): string[] {
    const lines: string[] = [];
    lines.push(`// primal backward: every tensor's gradient, down to g = ∇_x ℓ`);
    lines.push(...primalBackward());
    const DX = D("x");
    const TX = T("x");
    lines.push(`// the penalty c·||g||² and the tangent seed ẋ = 2c·g`);
    lines.push(
      `{ const cf = ${c}; let s = 0; for (let i = 0, e = n * ${ir.input.size}; i < e; i++) { const g = H[${DX} + i]; s += g * g; H[${TX} + i] = 2 * cf * g; } value += cf * s; }`,
    );
    lines.push(`// tangent forward`);
    lines.push(...tangentForward());
    lines.push(`// tangent of dℓ/df`);
    lines.push(...lossHvp(linear));
    lines.push(`// tangent backward, added to the parameter gradients`);
    lines.push(...tangentBackward());
    return lines;
  }

  /** The per-element chain through a node's tail: sets v (value), d (h'), and with `second` vd, dd. */
  function tailChain(n: IRNode, second: boolean): { body: string[]; curvature: boolean } {
    const body: string[] = [`let v = H[${off(`z:${n.id}`)} + i]; let d = 1;`];
    const parts = n.tail
      .map((t, j) => {
        const s = TAILS[t.op].second;
        if (isUnsupported(s)) throw new Error(`penalty: no second derivative for ${t.op}`);
        return s(t, n, pc, j);
      })
      .filter((p): p is SecondParts => p !== null);
    const curvature = parts.some((p) => p.a2 !== null);
    if (second && curvature) body.push(`let vd = H[${TZ(n)} + i]; let dd = 0;`);
    parts.forEach((p, j) => {
      const s: string[] = [];
      if (p.pre) s.push(p.pre);
      if (second && curvature) {
        s.push(p.a2 ? `dd = dd * ${p.a1} + d * ${p.a2} * vd;` : `dd *= ${p.a1};`);
        s.push(`vd *= ${p.a1};`);
      }
      s.push(`d *= ${p.a1};`);
      if (j < parts.length - 1) s.push(`v = ${p.val};`);
      body.push(`{ ${s.join(" ")} }`);
    });
    return { body, curvature };
  }

  function primalBackward(): string[] {
    const lines: string[] = [];
    primalWritten = new Set<number>([D(last.output)]);
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (isView(n)) continue; // shares its input's buffers
      if (!primalWritten.has(D(n.output))) continue; // nothing reads it: zero gradient
      const size = prod(n.outShape);
      const dz = DZ(n);
      lines.push(`// ${n.id}`);
      if (n.tail.length > 0) {
        const { body } = tailChain(n, false);
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} H[${dz} + i] = H[${D(n.output)} + i] * d; }`);
      }
      lines.push(...pieces(n).primalBackward(asProducer(n), pc, dz));
    }
    return lines;
  }

  function tangentForward(): string[] {
    const lines: string[] = [];
    for (const n of ir.nodes) {
      if (isView(n)) continue;
      const size = prod(n.outShape);
      const tz = TZ(n);
      lines.push(`// ${n.id}`);
      lines.push(...pieces(n).tangentForward(asProducer(n), pc, tz));
      if (n.tail.length > 0) {
        const { body } = tailChain(n, false);
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} H[${T(n.output)} + i] = H[${tz} + i] * d; }`);
      }
    }
    return lines;
  }

  function tangentBackward(): string[] {
    const lines: string[] = [];
    tangentWritten = new Set<number>([TD(last.output)]);
    const primalReached = new Set<number>([D(last.output)]);
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (!isView(n)) for (const i of n.inputs) primalReached.add(D(i));
    }
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (isView(n)) continue;
      if (!tangentWritten.has(TD(n.output)) || !primalReached.has(D(n.output))) continue;
      const size = prod(n.outShape);
      const dz = DZ(n);
      const tdz = TD(n.output); // d(dz) overwrites d(dy) in place
      lines.push(`// ${n.id}`);
      if (n.tail.length > 0) {
        const { body, curvature } = tailChain(n, true);
        const upd = curvature ? `H[${tdz} + i] = H[${tdz} + i] * d + H[${D(n.output)} + i] * dd;` : `H[${tdz} + i] *= d;`;
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} ${upd} }`);
      }
      lines.push(...pieces(n).tangentBackward(asProducer(n), pc, dz, tdz));
    }
    return lines;
  }
}
