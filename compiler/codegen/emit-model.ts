// Code generation, part 1: the model's forward and backward passes as straight-line TypeScript
// with every offset and shape a literal. One small function per construct: a producer (dense,
// conv2d, a norm, a pool, add, identity) emits its kernel call, then its fused tail (bias,
// activations, dropout) as ONE sweep; backward emits the tail's derivative as one sweep (in place
// in the gradient buffer), then the producer's backward.
import type { IR, IRNode, TailOp } from "../ir";
import type { Json } from "../spec";
import { convNodeConfig, gradTensors, poolReluForward, poolReluFusions } from "../plan-memory";
import type { ConvConfig } from "../../runtime/kernels/conv";
import { winogradPlanBlock } from "../../runtime/kernels/winograd";
import { tsJson } from "../escape";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

export interface Emitted {
  forward: string[];
  backward: string[];
  init: string[];
  /** runtime names the generated code uses (for the import list). */
  uses: Set<string>;
  /** per-node configs hoisted to module constants. */
  consts: string[];
}

/** A JS number literal that round-trips exactly. */
export function lit(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return String(x);
}

/** The expression for activation `op` applied to `v`. */
function actExpr(t: TailOp, v: string, uses: Set<string>): string {
  const a = t.attrs as Record<string, number>;
  switch (t.op) {
    case "relu":
      return `Math.max(${v}, 0)`; // NaN stays NaN (as in PyTorch), so divergence is seen, not masked
    case "leaky_relu":
      return `${v} > 0 ? ${v} : ${lit(a.slope)} * ${v}`;
    case "tanh":
      return `Math.tanh(${v})`;
    case "sigmoid":
      return `1 / (1 + Math.exp(-${v}))`;
    case "gelu":
      uses.add("gelu");
      return `gelu(${v})`;
    case "elu":
      return `${v} > 0 ? ${v} : ${lit(a.alpha)} * (Math.exp(${v}) - 1)`;
  }
  throw new Error(`no activation ${t.op}`);
}

/** The derivative of activation `op` at its input `v`. */
function actGrad(t: TailOp, v: string, uses: Set<string>): string {
  const a = t.attrs as Record<string, number>;
  switch (t.op) {
    case "relu":
      return `(${v} > 0 ? 1 : 0)`;
    case "leaky_relu":
      return `(${v} > 0 ? 1 : ${lit(a.slope)})`;
    case "tanh":
      return `(1 - Math.tanh(${v}) ** 2)`;
    case "sigmoid":
      return `((s) => s * (1 - s))(1 / (1 + Math.exp(-${v})))`;
    case "gelu":
      uses.add("geluGrad");
      return `geluGrad(${v})`;
    case "elu":
      return `(${v} > 0 ? 1 : ${lit(a.alpha)} * Math.exp(${v}))`;
  }
  throw new Error(`no activation ${t.op}`);
}

export function emitModel(ir: IR): Emitted {
  const L = ir.layout!;
  const off = (name: string): number => {
    const o = L.offsets[name];
    if (o === undefined) throw new Error(`codegen: no buffer ${name}`);
    return o;
  };
  const uses = new Set<string>();
  const forward: string[] = [];
  const backward: string[] = [];
  const init: string[] = [];
  const consts: string[] = [];

  // ---- init ----
  for (const p of ir.params) {
    const spec = p.init as Record<string, Json>;
    if (spec.kind === "weight_norm_g") continue; // set from v after v is initialized
    uses.add("initTensor").add("Rng").add("streamId");
    init.push(`initTensor(H, ${off(p.name)}, ${tsJson(p.shape)}, ${tsJson(spec)}, new Rng(seed, streamId(${tsJson("init:" + p.name)})));`);
  }
  for (const p of ir.params) {
    if ((p.init as Record<string, Json>).kind !== "weight_norm_g") continue;
    // g = ||v|| per output row, so that w = v at initialization (PyTorch's weight_norm does the same)
    const v = p.name.replace(/_g$/, "_v");
    const rows = p.shape[0];
    const cols = ir.params.find((q) => q.name === v)!.size / rows;
    init.push(
      `for (let r = 0; r < ${rows}; r++) { let s = 0; for (let j = 0; j < ${cols}; j++) { const t = H[${off(v)} + r * ${cols} + j]; s += t * t; } H[${off(p.name)} + r] = Math.sqrt(s); }`,
    );
  }
  for (const s of ir.stats) {
    init.push(`H.fill(${lit(s.fill)}, ${off(s.name)}, ${off(s.name) + s.size});`);
    // identity blocks (IterNorm's running whitening matrix): ones on each block's diagonal
    if (s.eye) init.push(`for (let i = 0; i < ${s.size}; i += ${s.eye * s.eye}) for (let d = 0; d < ${s.eye}; d++) H[${off(s.name)} + i + d * ${s.eye + 1}] = 1;`);
  }

  // ---- which tensors need gradients: everything downstream of a parameter ----
  const needsGrad = gradTensors(ir);
  const gradInit = new Set<string>();
  // 2x2 max pools that apply their input's lone ReLU in their backward (pool id -> producer id)
  const poolRelu = poolReluFusions(ir);
  const reluByPool = new Set(poolRelu.values());
  // ... of which those that apply it in their forward too (reading the producer's z)
  const poolReluFwd = poolReluForward(ir);
  const reluInPool = new Set(poolReluFwd.values());


  for (const n of ir.nodes) {
    forward.push(`// ${n.kernel}: ${n.inputs.join(", ")} -> ${n.output}  [${n.inShape.join(",")}] -> [${n.outShape.join(",")}]  (spec line ${n.line})`);
    forward.push(...emitForward(n));
  }
  for (let k = ir.nodes.length - 1; k >= 0; k--) {
    const n = ir.nodes[k];
    if (!needsGrad.has(n.output)) continue;
    backward.push(`// backward of ${n.kernel} (${n.output})`);
    backward.push(...emitBackward(n));
  }
  return { forward, backward, init, uses, consts };

  // ------------------------------------------------------------------------------------------
  /** Per-step setup of a tail: dropout seeds for this step, spatial-dropout channel masks. */
  function tailPrelude(n: IRNode): string[] {
    const lines: string[] = [];
    for (const t of n.tail) {
      if (t.op === "dropout" || t.op === "spatial_dropout") {
        uses.add("hash3").add("uniformAt").add("streamId");
        const st = `S_${t.id}`;
        consts.push(`const ${st} = streamId(${tsJson("dropout:" + t.id)});`);
        lines.push(`const ds_${t.id} = hash3(seed, ${st}, step);`);
      }
    }
    // spatial dropout draws once per (sample, channel): precompute the channel masks
    for (const t of n.tail) {
      if (t.op !== "spatial_dropout") continue;
      const p = (t.attrs as Record<string, number>).p;
      const C = n.outShape[0];
      const M = off(`mask:${t.id}`);
      lines.push(
        `if (train) for (let c = 0; c < n * ${C}; c++) H[${M} + c] = uniformAt(ds_${t.id}, S_${t.id}, c) >= ${lit(p)} ? ${lit(1 / (1 - p))} : 0;`,
      );
    }
    return lines;
  }

  /** The tail applied to `v` for element `i` (flat index into the (n, size) output), storing Y[i]. */
  function tailBody(n: IRNode, size: number, i: string): string[] {
    const Y = off(n.output);
    const body: string[] = [];
    for (const t of n.tail) {
      if (t.op === "dropout") {
        const p = (t.attrs as Record<string, number>).p;
        if (p === 0) continue; // p = 0 is exactly the identity
        const M = off(`mask:${t.id}`);
        body.push(`if (train) { const m = uniformAt(ds_${t.id}, S_${t.id}, ${i}) >= ${lit(p)} ? ${lit(1 / (1 - p))} : 0; H[${M} + ${i}] = m; v *= m; }`);
      } else if (t.op === "spatial_dropout") {
        const p = (t.attrs as Record<string, number>).p;
        if (p === 0) continue;
        const hw = size / n.outShape[0];
        const M = off(`mask:${t.id}`);
        body.push(`if (train) v *= H[${M} + ((${i} / ${hw}) | 0)];`);
      } else body.push(`v = ${actExpr(t, "v", uses)};`);
    }
    body.push(`H[${Y} + ${i}] = v;`);
    return body;
  }

  function tailForward(n: IRNode, size: number): string[] {
    // One sweep over Z (the producer's output, n*size elements) writing Y, with the tail applied.
    const Z = off(`z:${n.id}`);
    if (n.tail.length === 1 && n.tail[0].op === "relu") {
      // a lone ReLU (after a conv, a norm, add, ...): one SIMD sweep on the wasm backend, the
      // same bytes as Math.max(v, 0) (NaN stays NaN)
      uses.add("makeDenseEpilogues");
      return [`E.relu(${Z}, ${off(n.output)}, n * ${size});`];
    }
    return [...tailPrelude(n), `for (let i = 0, e = n * ${size}; i < e; i++) { let v = H[${Z} + i]; ${tailBody(n, size, "i").join(" ")} }`];
  }

  /** Multiply the gradient buffer in place by the tail's derivative (dY → dZ). */
  function tailBackward(n: IRNode, size: number): string[] {
    if (n.tail.length === 0) return [];
    // a lone ReLU whose gradient came from a max pool that applied it (poolReluFusions)
    if (reluByPool.has(n.id)) return [];
    const Z = off(`z:${n.id}`);
    const D = off(`grad:${n.output}`);
    if (n.tail.length === 1 && n.tail[0].op === "relu") {
      uses.add("makeDenseEpilogues");
      return [`E.reluBackward(${Z}, ${D}, n * ${size});`];
    }
    const body: string[] = [`let v = H[${Z} + i]; let d = 1;`];
    for (const t of n.tail) {
      if (t.op === "dropout") {
        const p = (t.attrs as Record<string, number>).p;
        if (p === 0) continue;
        const M = off(`mask:${t.id}`);
        body.push(`const m_${t.id} = H[${M} + i]; d *= m_${t.id}; v *= m_${t.id};`);
      } else if (t.op === "spatial_dropout") {
        const p = (t.attrs as Record<string, number>).p;
        if (p === 0) continue;
        const hw = size / n.outShape[0];
        const M = off(`mask:${t.id}`);
        body.push(`const m_${t.id} = H[${M} + ((i / ${hw}) | 0)]; d *= m_${t.id}; v *= m_${t.id};`);
      } else {
        body.push(`d *= ${actGrad(t, "v", uses)}; v = ${actExpr(t, "v", uses)};`);
      }
    }
    body.push(`H[${D} + i] *= d;`);
    return [`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} }`];
  }

  function weightOf(n: IRNode): number {
    return n.attrs.weight_norm ? off(`w:${n.id}`) : off(`${n.id}.weight`);
  }

  function emitForward(n: IRNode): string[] {
    const size = prod(n.outShape);
    const X = off(n.inputs[0]);
    if (n.op === "flatten") return ["// flatten is a view: no code"];
    const Z = off(`z:${n.id}`);
    const lines: string[] = [];
    const a = n.attrs as Record<string, Json>;
    const wnForward = (out: number, inn: number) => {
      uses.add("weightNormForward");
      lines.push(`weightNormForward(H, { out: ${out}, inn: ${inn} }, ${off(`${n.id}.weight_g`)}, ${off(`${n.id}.weight_v`)}, ${off(`w:${n.id}`)}, ${off(`wnorm:${n.id}`)});`);
    };
    switch (n.op) {
      case "flatten":
        return ["// flatten is a view: no code"];
      case "identity":
        lines.push(`// the tail reads the input directly`);
        lines.push(`H.copyWithin(${Z}, ${X}, ${X} + n * ${size});`);
        break;
      case "dense": {
        const out = a.units as number;
        const inn = n.inShape[0];
        if (a.weight_norm) wnForward(out, inn);
        lines.push(`gemm(0, 1, n, ${out}, ${inn}, ${X}, ${weightOf(n)}, ${Z}, 0);`);
        const onlyRelu = n.tail.length === 1 && n.tail[0].op === "relu";
        if (a.bias && onlyRelu) {
          // bias + ReLU in one SIMD sweep (the pre-activation stays in Z for backward)
          uses.add("makeDenseEpilogues");
          lines.push(`E.biasAddRelu(${Z}, ${off(`${n.id}.bias`)}, ${off(n.output)}, n, ${out});`);
          return lines;
        }
        if (a.bias && n.tail.length > 0) {
          // the GEMM's epilogue in one sweep: bias, then the tail (the pre-activation stays in Z for backward)
          const b = off(`${n.id}.bias`);
          lines.push(...tailPrelude(n));
          lines.push(
            `for (let r = 0; r < n; r++) { for (let j = 0; j < ${out}; j++) { const i = r * ${out} + j; let v = H[${Z} + i] + H[${b} + j]; H[${Z} + i] = v; ${tailBody(n, size, "i").join(" ")} } }`,
          );
          return lines;
        }
        if (a.bias) {
          uses.add("makeDenseEpilogues");
          lines.push(`E.biasAdd(${Z}, ${off(`${n.id}.bias`)}, n, ${out});`);
        }
        break;
      }
      case "conv2d": {
        const cfg = convCfg(n, ir.layout?.sizes[`col:${n.id}`]);
        uses.add("conv2dForward");
        consts.push(`const CFG_${n.id} = ${tsJson(cfg)};`);
        if (a.weight_norm) wnForward(cfg.K, (cfg.C / cfg.groups) * cfg.kh * cfg.kw);
        // a lone ReLU tail is applied by the conv to each sample's output while it is in cache
        // (the same Math.max(v, 0) as E.relu)
        // (none when the max pool after it applies the ReLU: poolReluForward; that pool also adds
        // the bias when the conv leaves it, conv2dForward's deferBias, returning where it is)
        const reluTail = n.tail.length === 1 && n.tail[0].op === "relu";
        const ry = reluTail && !reluInPool.has(n.id);
        const call = `conv2dForward(H, gemm, CFG_${n.id}, ${X}, ${weightOf(n)}, ${a.bias ? off(`${n.id}.bias`) : -1}, ${Z}, ${off(`col:${n.id}`)}, n`;
        if (reluInPool.has(n.id) && a.bias) lines.push(`const bias_${n.id} = ${call}, -1, true);`);
        else lines.push(`${call}${ry ? `, ${off(n.output)}` : ""});`);
        if (reluTail) return lines;
        break;
      }
      case "maxpool2d":
      case "avgpool2d": {
        consts.push(`const CFG_${n.id} = ${tsJson(poolCfg(n))};`);
        if (n.op === "maxpool2d") {
          uses.add("maxPool2dForward");
          const fusedFrom = poolReluFwd.get(n.id);
          if (fusedFrom) {
            lines.push(`// the ReLU of ${n.inputs[0]} applied here, to its pre-activation`);
            const p = ir.nodes.find((m) => m.id === fusedFrom)!;
            const bias = p.op === "conv2d" && p.attrs.bias ? `, bias_${p.id}` : "";
            lines.push(`maxPool2dForward(H, CFG_${n.id}, ${off(`z:${fusedFrom}`)}, ${Z}, ${off(`idx:${n.id}`)}, n, true${bias});`);
          } else lines.push(`maxPool2dForward(H, CFG_${n.id}, ${X}, ${Z}, ${off(`idx:${n.id}`)}, n);`);
        } else {
          uses.add("avgPool2dForward");
          lines.push(`avgPool2dForward(H, CFG_${n.id}, ${X}, ${Z}, n);`);
        }
        break;
      }
      case "global_avgpool": {
        uses.add("globalAvgPoolForward");
        const [C, Hh, W] = n.inShape;
        lines.push(`globalAvgPoolForward(H, { C: ${C}, H: ${Hh}, W: ${W} }, ${X}, ${Z}, n);`);
        break;
      }
      case "bn": {
        // per channel: batch statistics (two passes, float64), running statistics, then ONE sweep
        // that normalizes, applies gamma/beta and the fused tail (activation, dropout)
        const C = n.inShape[0];
        const S = prod(n.inShape) / C;
        consts.push(`const CFG_${n.id} = { C: ${C}, S: ${S}, eps: ${lit(a.eps as number)}, momentum: ${lit(a.momentum as number)} };`);
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const b = a.affine ? off(`${n.id}.bias`) : -1;
        const mean = off(`mean:${n.id}`);
        const invstd = off(`invstd:${n.id}`);
        const rm = off(`${n.id}.running_mean`);
        const rv = off(`${n.id}.running_var`);
        const eta = a.momentum as number;
        const CS = C * S;
        const onlyRelu = n.tail.length === 1 && n.tail[0].op === "relu";
        if (n.tail.length === 0 || onlyRelu) {
          // the same loop as below in runtime/kernels/norm.ts batchNormNodeForward (wasm SIMD on
          // the wasm backend, the same bytes)
          uses.add("makeDenseEpilogues");
          lines.push(`E.bnForward(CFG_${n.id}, ${X}, ${Z}, ${off(n.output)}, ${g}, ${b}, ${mean}, ${invstd}, ${rm}, ${rv}, ${onlyRelu}, train, n);`);
          return lines;
        }
        lines.push(...tailPrelude(n));
        const sweepBody = n.tail.length > 0 ? tailBody(n, size, "i").join(" ") : `H[${off(n.output)} + i] = v;`;
        lines.push(
          `for (let c = 0; c < ${C}; c++) {`,
          `  let scale: number, shift: number;`,
          `  if (train) {`,
          `    const m = n * ${S};`,
          `    let s = 0;`,
          `    for (let r = 0; r < n; r++) { const o = ${X} + r * ${CS} + c * ${S}; for (let k = 0; k < ${S}; k++) s += H[o + k]; }`,
          `    const mu = s / m;`,
          `    let q = 0;`,
          `    for (let r = 0; r < n; r++) { const o = ${X} + r * ${CS} + c * ${S}; for (let k = 0; k < ${S}; k++) { const d = H[o + k] - mu; q += d * d; } }`,
          `    const is = 1 / Math.sqrt(q / m + ${lit(a.eps as number)});`,
          `    H[${mean} + c] = mu;`,
          `    H[${invstd} + c] = is;`,
          `    H[${rm} + c] = ${lit(1 - eta)} * H[${rm} + c] + ${lit(eta)} * mu;`,
          `    H[${rv} + c] = ${lit(1 - eta)} * H[${rv} + c] + ${lit(eta)} * (m > 1 ? q / (m - 1) : q / m); // unbiased, as PyTorch`,
          `    scale = ${g >= 0 ? `is * H[${g} + c]` : "is"};`,
          `    shift = ${b >= 0 ? `H[${b} + c]` : "0"} - mu * scale;`,
          `  } else {`,
          `    const is = 1 / Math.sqrt(H[${rv} + c] + ${lit(a.eps as number)});`,
          `    scale = ${g >= 0 ? `is * H[${g} + c]` : "is"};`,
          `    shift = ${b >= 0 ? `H[${b} + c]` : "0"} - H[${rm} + c] * scale;`,
          `  }`,
          `  for (let r = 0; r < n; r++) {`,
          `    for (let k = 0; k < ${S}; k++) { const i = r * ${CS} + c * ${S} + k; let v = H[${X} + i] * scale + shift; H[${Z} + i] = v; ${sweepBody} }`,
          `  }`,
          `}`,
        );
        return lines;
      }
      case "iternorm": {
        // decorrelated batch norm (runtime/kernels/iternorm.ts): batch whitening in training,
        // the running mean and whitening matrix in evaluation
        uses.add("iterNormForwardTrain");
        uses.add("iterNormForwardEval");
        const C = n.inShape[0];
        consts.push(
          `const CFG_${n.id} = { C: ${C}, S: ${size / C}, G: ${a.groups}, T: ${a.iters}, eps: ${lit(a.eps as number)}, momentum: ${lit(a.momentum as number)} };`,
        );
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const b = a.affine ? off(`${n.id}.bias`) : -1;
        const rm = off(`${n.id}.running_mean`);
        const rw = off(`${n.id}.running_wm`);
        lines.push(
          `if (train) iterNormForwardTrain(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${off(`save:${n.id}`)}, ${off(`tmp:${n.id}`)}, ${rm}, ${rw}, n);`,
          `else iterNormForwardEval(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${rm}, ${rw}, n);`,
        );
        break;
      }
      case "layernorm": {
        uses.add("layerNormForward");
        consts.push(`const CFG_${n.id} = { D: ${size}, eps: ${lit(a.eps as number)} };`);
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const b = a.affine ? off(`${n.id}.bias`) : -1;
        lines.push(`layerNormForward(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${off(`mean:${n.id}`)}, ${off(`invstd:${n.id}`)}, n);`);
        break;
      }
      case "groupnorm":
      case "instancenorm": {
        uses.add("groupNormForward");
        const C = n.inShape[0];
        consts.push(`const CFG_${n.id} = { C: ${C}, S: ${size / C}, G: ${a.groups}, eps: ${lit(a.eps as number)} };`);
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const b = a.affine ? off(`${n.id}.bias`) : -1;
        lines.push(`groupNormForward(H, CFG_${n.id}, ${X}, ${g}, ${b}, ${Z}, ${off(`mean:${n.id}`)}, ${off(`invstd:${n.id}`)}, n);`);
        break;
      }
      case "add": {
        // one SIMD sweep on the wasm backend (with a lone ReLU tail: both in the same sweep)
        const X2 = off(n.inputs[1]);
        const reluTail = n.tail.length === 1 && n.tail[0].op === "relu";
        uses.add("makeDenseEpilogues");
        lines.push(`E.add(${X}, ${X2}, ${Z}, ${reluTail && !reluInPool.has(n.id) ? off(n.output) : -1}, n * ${size});`);
        if (reluTail) return lines;
        break;
      }
      default:
        throw new Error(`codegen: no forward for ${n.op}`);
    }
    if (n.tail.length > 0) lines.push(...tailForward(n, size));
    return lines;
  }

  /** Write (or accumulate) a gradient for tensor `t` produced by `write(dst, beta)`. */
  function gradInto(t: string, size: number, write: (dst: number, accumulate: boolean) => string[]): string[] {
    if (!needsGrad.has(t) && t !== "x") return [];
    if (t === "x" || isViewOfX(t)) return [];
    const dst = off(`grad:${t}`);
    if (!gradInit.has(t)) {
      gradInit.add(t);
      return write(dst, false);
    }
    const tmp = off("scratch:grad");
    uses.add("makeDenseEpilogues");
    return [...write(tmp, false), `E.accumulate(${dst}, ${tmp}, n * ${size});`];
  }

  function isViewOfX(t: string): boolean {
    return L.offsets[t] === L.offsets["x"];
  }

  function emitBackward(n: IRNode): string[] {
    const size = prod(n.outShape);
    const inSize = prod(n.inShape);
    const X = off(n.inputs[0]);
    const D = off(`grad:${n.output}`);
    if (n.op === "flatten") {
      // a view: gradients already share the buffer; mark the input's gradient as written
      if (needsGrad.has(n.inputs[0])) gradInit.add(n.inputs[0]);
      return [];
    }
    const lines: string[] = [...tailBackward(n, size)];
    const a = n.attrs as Record<string, Json>;
    const src = n.inputs[0];
    switch (n.op) {
      case "flatten": {
        // a view: gradients already share the buffer; mark the input's gradient as written
        const base = n.inputs[0];
        if (needsGrad.has(base)) gradInit.add(base);
        return lines;
      }
      case "identity":
        lines.push(...gradInto(src, inSize, (dst) => [`H.copyWithin(${dst}, ${D}, ${D} + n * ${size});`]));
        break;
      case "dense": {
        const out = a.units as number;
        const inn = n.inShape[0];
        const dW = a.weight_norm ? off(`scratch:wn:${n.id}`) : off(`grad:${n.id}.weight`);
        if (a.bias) {
          const db = off(`grad:${n.id}.bias`);
          uses.add("makeDenseEpilogues");
          lines.push(`H.fill(0, ${db}, ${db + out});`);
          lines.push(`E.biasGrad(${D}, ${db}, n, ${out});`);
        }
        if (a.weight_norm) {
          // dW lands in scratch first, then flows into g and v (the input gradient is computed first,
          // so the scratch is free again)
          lines.push(...gradInto(src, inSize, (dst, acc) => [`gemm(0, 0, n, ${inn}, ${out}, ${D}, ${weightOf(n)}, ${dst}, ${acc ? 1 : 0});`]));
          const wtmp = dW;
          lines.push(`gemm(1, 0, ${out}, ${inn}, n, ${D}, ${X}, ${wtmp}, 0);`);
          uses.add("weightNormBackward");
          lines.push(
            `weightNormBackward(H, { out: ${out}, inn: ${inn} }, ${off(`${n.id}.weight_g`)}, ${off(`${n.id}.weight_v`)}, ${off(`wnorm:${n.id}`)}, ${wtmp}, ${off(`grad:${n.id}.weight_g`)}, ${off(`grad:${n.id}.weight_v`)});`,
          );
        } else {
          lines.push(`gemm(1, 0, ${out}, ${inn}, n, ${D}, ${X}, ${dW}, 0);`);
          lines.push(...gradInto(src, inSize, (dst, acc) => [`gemm(0, 0, n, ${inn}, ${out}, ${D}, ${weightOf(n)}, ${dst}, ${acc ? 1 : 0});`]));
        }
        break;
      }
      case "conv2d": {
        uses.add("conv2dBackward");
        const db = a.bias ? off(`grad:${n.id}.bias`) : -1;
        const cfg = convCfg(n, ir.layout?.sizes[`col:${n.id}`]);
        const wsize = cfg.K * (cfg.C / cfg.groups) * cfg.kh * cfg.kw;
        const needDx = needsGrad.has(src) && !isViewOfX(src) && src !== "x";
        let dxTarget = -1;
        let post: string[] = [];
        if (needDx) {
          if (!gradInit.has(src)) {
            gradInit.add(src);
            dxTarget = off(`grad:${src}`);
          } else {
            dxTarget = off("scratch:grad");
            uses.add("makeDenseEpilogues");
            post = [`E.accumulate(${off(`grad:${src}`)}, ${dxTarget}, n * ${inSize});`];
          }
        }
        if (a.weight_norm) {
          // dW of the effective weight goes to the loss scratch region sized for it
          const wgrad = off(`scratch:wn:${n.id}`);
          lines.push(`conv2dBackward(H, gemm, CFG_${n.id}, ${X}, ${weightOf(n)}, ${D}, ${dxTarget}, ${wgrad}, ${db}, ${off(`col:${n.id}`)}, n);`);
          uses.add("weightNormBackward");
          lines.push(
            `weightNormBackward(H, { out: ${cfg.K}, inn: ${wsize / cfg.K} }, ${off(`${n.id}.weight_g`)}, ${off(`${n.id}.weight_v`)}, ${off(`wnorm:${n.id}`)}, ${wgrad}, ${off(`grad:${n.id}.weight_g`)}, ${off(`grad:${n.id}.weight_v`)});`,
          );
        } else {
          lines.push(`conv2dBackward(H, gemm, CFG_${n.id}, ${X}, ${weightOf(n)}, ${D}, ${dxTarget}, ${off(`grad:${n.id}.weight`)}, ${db}, ${off(`col:${n.id}`)}, n);`);
        }
        lines.push(...post);
        break;
      }
      case "maxpool2d":
        uses.add("maxPool2dBackward");
        lines.push(
          ...gradInto(src, inSize, (dst) => [
            `maxPool2dBackward(H, CFG_${n.id}, ${D}, ${off(`idx:${n.id}`)}, ${dst}, n${poolRelu.has(n.id) ? `, ${off(n.output)}` : ""});`,
          ]),
        );
        break;
      case "avgpool2d":
        uses.add("avgPool2dBackward");
        lines.push(...gradInto(src, inSize, (dst) => [`avgPool2dBackward(H, CFG_${n.id}, ${D}, ${dst}, n);`]));
        break;
      case "global_avgpool": {
        uses.add("globalAvgPoolBackward");
        const [C, Hh, W] = n.inShape;
        lines.push(...gradInto(src, inSize, (dst) => [`globalAvgPoolBackward(H, { C: ${C}, H: ${Hh}, W: ${W} }, ${D}, ${dst}, n);`]));
        break;
      }
      case "bn":
      case "layernorm":
      case "groupnorm":
      case "instancenorm": {
        const fn = n.op === "bn" ? "batchNormBackward" : n.op === "layernorm" ? "layerNormBackward" : "groupNormBackward";
        uses.add(fn);
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const dg = a.affine ? off(`grad:${n.id}.weight`) : -1;
        const dbeta = a.affine ? off(`grad:${n.id}.bias`) : -1;
        const needDx = needsGrad.has(src) && !isViewOfX(src) && src !== "x";
        let dxT = -1;
        let post: string[] = [];
        if (needDx) {
          if (!gradInit.has(src)) {
            gradInit.add(src);
            dxT = off(`grad:${src}`);
          } else {
            dxT = off("scratch:grad");
            uses.add("makeDenseEpilogues");
            post = [`E.accumulate(${off(`grad:${src}`)}, ${dxT}, n * ${inSize});`];
          }
        }
        if (dxT < 0 && !a.affine) break;
        if (dxT < 0) dxT = off("scratch:grad"); // kernels always write dx; discard it
        lines.push(`${fn}(H, CFG_${n.id}, ${X}, ${g}, ${off(`mean:${n.id}`)}, ${off(`invstd:${n.id}`)}, ${D}, ${dxT}, ${dg}, ${dbeta}, n);`);
        lines.push(...post);
        break;
      }
      case "iternorm": {
        uses.add("iterNormBackward");
        const g = a.affine ? off(`${n.id}.weight`) : -1;
        const dg = a.affine ? off(`grad:${n.id}.weight`) : -1;
        const dbeta = a.affine ? off(`grad:${n.id}.bias`) : -1;
        const needDx = needsGrad.has(src) && !isViewOfX(src) && src !== "x";
        if (!needDx && !a.affine) break;
        const call = (dx: number) => [`iterNormBackward(H, CFG_${n.id}, ${X}, ${g}, ${D}, ${off(`save:${n.id}`)}, ${off(`tmp:${n.id}`)}, ${dx}, ${dg}, ${dbeta}, n);`];
        if (needDx) lines.push(...gradInto(src, inSize, call));
        else lines.push(...call(-1));
        break;
      }
      case "add": {
        for (const inp of n.inputs) lines.push(...gradInto(inp, size, (dst) => [`H.copyWithin(${dst}, ${D}, ${D} + n * ${size});`]));
        break;
      }
      default:
        throw new Error(`codegen: no backward for ${n.op}`);
    }
    return lines;
  }
}

/**
 * The runtime's ConvConfig of a conv node; with `colFloats` (its planned col scratch) when that
 * exceeds one sample's columns, and `wino` (samples per Winograd block) when the conv runs by
 * Winograd F(2,3) (runtime/kernels/winograd.ts; compiler/plan-memory.ts planned its room).
 */
export function convCfg(n: IRNode, colFloats?: number) {
  const a = n.attrs as Record<string, number>;
  const cfg: ConvConfig = convNodeConfig(n);
  const base = (cfg.C / a.groups) * a.kh * a.kw * n.outShape[1] * n.outShape[2];
  const out: ConvConfig = colFloats !== undefined && colFloats > base ? { ...cfg, colFloats } : cfg;
  const nb = winogradPlanBlock(cfg);
  return nb > 0 ? { ...out, wino: nb } : out;
}

export function poolCfg(n: IRNode) {
  const a = n.attrs as Record<string, number>;
  const [C, Hh, W] = n.inShape;
  return { C, H: Hh, W, kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, ph: a.ph, pw: a.pw, OH: n.outShape[1], OW: n.outShape[2], countIncludePad: true };
}
