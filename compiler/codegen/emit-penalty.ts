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
// parameter gradients and returns the penalty's value. Supported: dense, conv2d, max/avg/global
// average pooling, flatten, identity, residual add, tails of relu, leaky_relu, tanh, sigmoid,
// gelu, elu, dropout, spatial_dropout. Anything else throws an Error naming the layer.
import type { IR, IRNode, TailOp } from "../ir";
import { convCfg, lit, poolCfg } from "./emit-model";
import { tsJson } from "../escape";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const SUPPORTED = new Set(["dense", "conv2d", "maxpool2d", "avgpool2d", "global_avgpool", "flatten", "identity", "add"]);
const TAILS = new Set(["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "elu", "dropout", "spatial_dropout"]);

export interface EmittedPenalty {
  /** The body of `penalty(n: number, step: number): number` (ends with a return). */
  code: string[];
  /** Runtime names the code uses (for the import list). */
  uses: Set<string>;
  /** Module constants (configs, stream ids). */
  consts: string[];
}

function hasPenalty(ir: IR): boolean {
  return ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined;
}

/** The first layer the penalties cannot differentiate twice, with a message naming it (for a diagnostic). */
export function findPenaltyUnsupported(ir: IR): { node: IRNode; message: string } | undefined {
  if (!hasPenalty(ir)) return undefined;
  const what = ir.train.inputGradPenalty ? "input_grad_penalty" : "jacobian_penalty";
  for (const n of ir.nodes) {
    const where = `${n.id} (spec line ${n.line})`;
    if (!SUPPORTED.has(n.op)) return { node: n, message: `${what}: layer ${n.op} of ${where} is not supported (no second derivative)` };
    if (n.attrs.weight_norm) return { node: n, message: `${what}: weight_norm of ${where} is not supported` };
    for (const t of n.tail) if (!TAILS.has(t.op)) return { node: n, message: `${what}: ${t.op} after ${where} is not supported` };
  }
  return undefined;
}

/** Throws an Error naming the first layer the penalties cannot differentiate twice. */
export function checkPenaltySupport(ir: IR): void {
  const bad = findPenaltyUnsupported(ir);
  if (bad) throw new Error(bad.message);
}

/**
 * Adds the penalty's buffers after everything planMemory placed (nothing moves): per tensor t
 * (x and every node output) its gradient pen:d:t, tangent pen:t:t and gradient tangent pen:td:t;
 * per node with a fused tail pen:dz and pen:tz; scratch. flatten outputs alias their input.
 */
export function planPenaltyMemory(ir: IR): IR {
  if (!hasPenalty(ir)) return ir;
  checkPenaltySupport(ir);
  const L = ir.layout!;
  const offsets = { ...L.offsets };
  const sizes = { ...L.sizes };
  let top = (L.heapFloats + 15) & ~15;
  const B = ir.batch;
  const put = (name: string, size: number) => {
    offsets[name] = top;
    sizes[name] = size;
    top = (top + size + 15) & ~15;
  };
  const alias = (name: string, of: string, size: number) => {
    offsets[name] = offsets[of];
    sizes[name] = size;
  };
  put("pen:d:x", B * ir.input.size);
  put("pen:t:x", B * ir.input.size);
  const base = new Map<string, string>([["x", "x"]]);
  let maxAct = B * ir.input.size;
  let maxW = 0;
  for (const n of ir.nodes) {
    const size = B * prod(n.outShape);
    maxAct = Math.max(maxAct, size);
    if (n.op === "flatten") {
      const b = base.get(n.inputs[0]) ?? n.inputs[0];
      base.set(n.output, b);
      for (const k of ["d", "t", "td"]) if (offsets[`pen:${k}:${b}`] !== undefined) alias(`pen:${k}:${n.output}`, `pen:${k}:${b}`, size);
      continue;
    }
    base.set(n.output, n.output);
    put(`pen:d:${n.output}`, size);
    put(`pen:t:${n.output}`, size);
    put(`pen:td:${n.output}`, size);
    if (n.tail.length > 0) {
      put(`pen:dz:${n.id}`, size);
      put(`pen:tz:${n.id}`, size);
    }
    if (n.op === "conv2d") {
      const c = convCfg(n);
      maxW = Math.max(maxW, c.K * (c.C / c.groups) * c.kh * c.kw + c.K);
    }
  }
  put("pen:scratch", maxAct);
  if (maxW > 0) put("pen:dw", 2 * maxW);
  if (ir.train.inputGradPenalty && ir.loss.kind === "softmax_cross_entropy") put("pen:p", B * ir.output.size);
  return { ...ir, layout: { ...L, heapFloats: top, offsets, sizes } };
}

interface ActParts {
  /** statements run first (may declare consts) */
  pre: string;
  a1: string;
  /** second derivative, or null when it is 0 everywhere */
  a2: string | null;
  /** the activation's value */
  val: string;
}

/** First and second derivative of tail op `t` at `v` (element index `i`). */
function actParts(t: TailOp, n: IRNode, off: (s: string) => number, uses: Set<string>, k: number): ActParts | null {
  const a = t.attrs as Record<string, number>;
  switch (t.op) {
    case "relu":
      return { pre: "", a1: "(v > 0 ? 1 : 0)", a2: null, val: "(v > 0 ? v : 0)" };
    case "leaky_relu":
      return { pre: "", a1: `(v > 0 ? 1 : ${lit(a.slope)})`, a2: null, val: `(v > 0 ? v : ${lit(a.slope)} * v)` };
    case "tanh":
      return { pre: `const t${k} = Math.tanh(v); const g${k} = 1 - t${k} * t${k};`, a1: `g${k}`, a2: `-2 * t${k} * g${k}`, val: `t${k}` };
    case "sigmoid":
      return { pre: `const s${k} = 1 / (1 + Math.exp(-v)); const g${k} = s${k} * (1 - s${k});`, a1: `g${k}`, a2: `g${k} * (1 - 2 * s${k})`, val: `s${k}` };
    case "gelu":
      uses.add("gelu").add("geluGrad");
      // gelu'' = φ(v)·(2 − v²)
      return { pre: "", a1: "geluGrad(v)", a2: "0.3989422804014327 * Math.exp(-0.5 * v * v) * (2 - v * v)", val: "gelu(v)" };
    case "elu":
      return { pre: `const e${k} = v > 0 ? 1 : ${lit(a.alpha)} * Math.exp(v);`, a1: `e${k}`, a2: `(v > 0 ? 0 : e${k})`, val: `(v > 0 ? v : e${k} - ${lit(a.alpha)})` };
    case "dropout": {
      if (a.p === 0) return null;
      return { pre: `const m${k} = H[${off(`mask:${t.id}`)} + i];`, a1: `m${k}`, a2: null, val: `v * m${k}` };
    }
    case "spatial_dropout": {
      if (a.p === 0) return null;
      const hw = prod(n.outShape) / n.outShape[0];
      return { pre: `const m${k} = H[${off(`mask:${t.id}`)} + ((i / ${hw}) | 0)];`, a1: `m${k}`, a2: null, val: `v * m${k}` };
    }
  }
  throw new Error(`penalty: no second derivative for ${t.op}`);
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

  for (const n of ir.nodes) {
    if (n.op === "conv2d") consts.push(`const PCFG_${n.id} = ${tsJson(convCfg(n, ir.layout?.sizes[`col:${n.id}`]))};`);
    if (n.op === "maxpool2d" || n.op === "avgpool2d") consts.push(`const PCFG_${n.id} = ${tsJson(poolCfg(n))};`);
    if (n.op === "global_avgpool") {
      const [C, Hh, W] = n.inShape;
      consts.push(`const PCFG_${n.id} = { C: ${C}, H: ${Hh}, W: ${W} };`);
    }
  }

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
        return [`for (let i = 0, e = n * ${k}; i < e; i++) { const d = H[${F} + i] - H[${Y} + i]; H[${O} + i] = (d > ${dl} ? ${dl} : d < -${dl} ? -${dl} : d) / e; }`];
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
        return [`for (let i = 0, e = n * ${k}; i < e; i++) { const d = H[${F} + i] - H[${Y} + i]; H[${O} + i] = d <= ${dl} && d >= -${dl} ? H[${TF} + i] / e : 0; }`];
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
    const parts = n.tail.map((t, j) => actParts(t, n, off, uses, j)).filter((p): p is ActParts => p !== null);
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
    const written = new Set<number>([D(last.output)]);
    /** Write (dst) or accumulate a gradient into tensor t via `emit(target)`; kernels that overwrite go through scratch. */
    const into = (buf: number, size: number, emit: (dst: number, acc: boolean) => string, canAccumulate: boolean) => {
      if (!written.has(buf)) {
        written.add(buf);
        lines.push(emit(buf, false));
      } else if (canAccumulate) lines.push(emit(buf, true));
      else lines.push(emit(scratch, false), `for (let i = 0, e = n * ${size}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`);
    };
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (n.op === "flatten") continue; // shares its input's buffers
      if (!written.has(D(n.output))) continue; // nothing reads it: zero gradient
      const size = prod(n.outShape);
      const inSize = prod(n.inShape);
      const src = n.inputs[0];
      const dz = DZ(n);
      lines.push(`// ${n.id}`);
      if (n.tail.length > 0) {
        const { body } = tailChain(n, false);
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} H[${dz} + i] = H[${D(n.output)} + i] * d; }`);
      }
      const a = n.attrs as Record<string, number>;
      switch (n.op) {
        case "dense":
          into(D(src), inSize, (dst, acc) => `gemm(0, 0, n, ${inSize}, ${a.units}, ${dz}, ${off(`${n.id}.weight`)}, ${dst}, ${acc ? 1 : 0});`, true);
          break;
        case "conv2d":
          uses.add("conv2dBackward");
          into(D(src), inSize, (dst) => `conv2dBackward(H, gemm, PCFG_${n.id}, ${off(src)}, ${off(`${n.id}.weight`)}, ${dz}, ${dst}, -1, -1, ${off(`col:${n.id}`)}, n);`, false);
          break;
        case "maxpool2d":
          uses.add("maxPool2dBackward");
          into(D(src), inSize, (dst) => `maxPool2dBackward(H, PCFG_${n.id}, ${dz}, ${off(`idx:${n.id}`)}, ${dst}, n);`, false);
          break;
        case "avgpool2d":
          uses.add("avgPool2dBackward");
          into(D(src), inSize, (dst) => `avgPool2dBackward(H, PCFG_${n.id}, ${dz}, ${dst}, n);`, false);
          break;
        case "global_avgpool":
          uses.add("globalAvgPoolBackward");
          into(D(src), inSize, (dst) => `globalAvgPoolBackward(H, PCFG_${n.id}, ${dz}, ${dst}, n);`, false);
          break;
        case "identity":
        case "add":
          for (const inp of n.inputs)
            into(
              D(inp),
              size,
              (dst, acc) =>
                acc
                  ? `for (let i = 0, e = n * ${size}; i < e; i++) H[${dst} + i] += H[${dz} + i];`
                  : `H.copyWithin(${dst}, ${dz}, ${dz} + n * ${size});`,
              true,
            );
          break;
      }
    }
    return lines;
  }

  function tangentForward(): string[] {
    const lines: string[] = [];
    for (const n of ir.nodes) {
      if (n.op === "flatten") continue;
      const size = prod(n.outShape);
      const src = n.inputs[0];
      const tz = TZ(n);
      const a = n.attrs as Record<string, number>;
      lines.push(`// ${n.id}`);
      switch (n.op) {
        case "dense":
          lines.push(`gemm(0, 1, n, ${a.units}, ${n.inShape[0]}, ${T(src)}, ${off(`${n.id}.weight`)}, ${tz}, 0);`);
          break;
        case "conv2d":
          uses.add("conv2dForward");
          lines.push(`conv2dForward(H, gemm, PCFG_${n.id}, ${T(src)}, ${off(`${n.id}.weight`)}, -1, ${tz}, ${off(`col:${n.id}`)}, n);`);
          break;
        case "maxpool2d": {
          // linear along the forward's argmax
          const HW = n.inShape[1] * n.inShape[2];
          const OHW = n.outShape[1] * n.outShape[2];
          const I = off(`idx:${n.id}`);
          lines.push(
            `for (let p = 0, e = n * ${n.inShape[0]}; p < e; p++) { const a = ${T(src)} + p * ${HW}, o = p * ${OHW}; for (let j = 0; j < ${OHW}; j++) H[${tz} + o + j] = H[a + H[${I} + o + j]]; }`,
          );
          break;
        }
        case "avgpool2d":
          uses.add("avgPool2dForward");
          lines.push(`avgPool2dForward(H, PCFG_${n.id}, ${T(src)}, ${tz}, n);`);
          break;
        case "global_avgpool":
          uses.add("globalAvgPoolForward");
          lines.push(`globalAvgPoolForward(H, PCFG_${n.id}, ${T(src)}, ${tz}, n);`);
          break;
        case "identity":
          lines.push(`H.copyWithin(${tz}, ${T(src)}, ${T(src)} + n * ${size});`);
          break;
        case "add":
          lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) H[${tz} + i] = ${n.inputs.map((t) => `H[${T(t)} + i]`).join(" + ")};`);
          break;
      }
      if (n.tail.length > 0) {
        const { body } = tailChain(n, false);
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} H[${T(n.output)} + i] = H[${tz} + i] * d; }`);
      }
    }
    return lines;
  }

  function tangentBackward(): string[] {
    const lines: string[] = [];
    const written = new Set<number>([TD(last.output)]);
    const into = (t: string, size: number, emit: (dst: number, acc: boolean) => string, canAccumulate: boolean) => {
      if (isX(t)) return; // the tangent of ∇_x is not needed
      const buf = TD(t);
      if (!written.has(buf)) {
        written.add(buf);
        lines.push(emit(buf, false));
      } else if (canAccumulate) lines.push(emit(buf, true));
      else lines.push(emit(scratch, false), `for (let i = 0, e = n * ${size}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`);
    };
    const primalWritten = new Set<number>([D(last.output)]);
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (n.op !== "flatten") for (const i of n.inputs) primalWritten.add(D(i));
    }
    for (let j = ir.nodes.length - 1; j >= 0; j--) {
      const n = ir.nodes[j];
      if (n.op === "flatten") continue;
      if (!written.has(TD(n.output)) || !primalWritten.has(D(n.output))) continue;
      const size = prod(n.outShape);
      const inSize = prod(n.inShape);
      const src = n.inputs[0];
      const dz = DZ(n);
      const tdz = TD(n.output); // d(dz) overwrites d(dy) in place
      lines.push(`// ${n.id}`);
      if (n.tail.length > 0) {
        const { body, curvature } = tailChain(n, true);
        const upd = curvature ? `H[${tdz} + i] = H[${tdz} + i] * d + H[${D(n.output)} + i] * dd;` : `H[${tdz} + i] *= d;`;
        lines.push(`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} ${upd} }`);
      }
      const a = n.attrs as Record<string, number>;
      switch (n.op) {
        case "dense": {
          const out = a.units;
          const inn = n.inShape[0];
          const gW = off(`grad:${n.id}.weight`);
          lines.push(`gemm(1, 0, ${out}, ${inn}, n, ${tdz}, ${off(src)}, ${gW}, 1);`);
          lines.push(`gemm(1, 0, ${out}, ${inn}, n, ${dz}, ${T(src)}, ${gW}, 1);`);
          if (a.bias) {
            const gb = off(`grad:${n.id}.bias`);
            lines.push(`for (let r = 0; r < n; r++) { const o = ${tdz} + r * ${out}; for (let j = 0; j < ${out}; j++) H[${gb} + j] += H[o + j]; }`);
          }
          into(src, inSize, (dst, acc) => `gemm(0, 0, n, ${inn}, ${out}, ${tdz}, ${off(`${n.id}.weight`)}, ${dst}, ${acc ? 1 : 0});`, true);
          break;
        }
        case "conv2d": {
          uses.add("conv2dBackward");
          const c = convCfg(n);
          const wsize = c.K * (c.C / c.groups) * c.kh * c.kw;
          const W1 = off("pen:dw");
          const W2 = W1 + wsize + c.K;
          const gW = off(`grad:${n.id}.weight`);
          const bias = a.bias ? W1 + wsize : -1;
          const w = off(`${n.id}.weight`);
          const col = off(`col:${n.id}`);
          // d(dW) = conv weight-gradient of (x, d(dz)) + of (ẋ, dz); d(db) = Σ d(dz); d(dx) from d(dz)
          let dxT = -1;
          let post = "";
          if (!isX(src)) {
            const buf = TD(src);
            if (!written.has(buf)) {
              written.add(buf);
              dxT = buf;
            } else {
              dxT = scratch;
              post = `for (let i = 0, e = n * ${inSize}; i < e; i++) H[${buf} + i] += H[${scratch} + i];`;
            }
          }
          lines.push(`conv2dBackward(H, gemm, PCFG_${n.id}, ${off(src)}, ${w}, ${tdz}, ${dxT}, ${W1}, ${bias}, ${col}, n);`);
          if (post) lines.push(post);
          lines.push(`conv2dBackward(H, gemm, PCFG_${n.id}, ${T(src)}, ${w}, ${dz}, -1, ${W2}, -1, ${col}, n);`);
          lines.push(`for (let i = 0; i < ${wsize}; i++) H[${gW} + i] += H[${W1} + i] + H[${W2} + i];`);
          if (a.bias) lines.push(`for (let i = 0; i < ${c.K}; i++) H[${off(`grad:${n.id}.bias`)} + i] += H[${bias} + i];`);
          break;
        }
        case "maxpool2d":
          uses.add("maxPool2dBackward");
          into(src, inSize, (dst) => `maxPool2dBackward(H, PCFG_${n.id}, ${tdz}, ${off(`idx:${n.id}`)}, ${dst}, n);`, false);
          break;
        case "avgpool2d":
          uses.add("avgPool2dBackward");
          into(src, inSize, (dst) => `avgPool2dBackward(H, PCFG_${n.id}, ${tdz}, ${dst}, n);`, false);
          break;
        case "global_avgpool":
          uses.add("globalAvgPoolBackward");
          into(src, inSize, (dst) => `globalAvgPoolBackward(H, PCFG_${n.id}, ${tdz}, ${dst}, n);`, false);
          break;
        case "identity":
        case "add":
          for (const inp of n.inputs)
            into(
              inp,
              size,
              (dst, acc) =>
                acc
                  ? `for (let i = 0, e = n * ${size}; i < e; i++) H[${dst} + i] += H[${tdz} + i];`
                  : `H.copyWithin(${dst}, ${tdz}, ${tdz} + n * ${size});`,
              true,
            );
          break;
      }
    }
    return lines;
  }
}
