// Code generation, part 1: the model's forward and backward passes as straight-line TypeScript
// with every offset and shape a literal. Each producer's op module (compiler/ops/) emits its kernel
// call and its fused tail (bias, activations, dropout) as ONE sweep; backward emits the tail's
// derivative as one sweep (in place in the gradient buffer), then the producer's backward. This
// file holds what is common to every op (EmitCtx: offsets, imports, the tail sweeps, where a
// gradient goes) and the order of the calls.
import type { IR, IRNode } from "../ir";
import type { Json } from "../spec";
import { asProducer, nodeOp, TAILS } from "../ops";
import { lit, type EmitCtx } from "../ops/op";
import { prod } from "../shape";
import { tsJson } from "../escape";

export { lit };

export interface Emitted {
  forward: string[];
  backward: string[];
  init: string[];
  /** Statements that zero the state carried from step to step (tbptt), empty when nothing carries one. */
  reset: string[];
  /** runtime names the generated code uses (for the import list). */
  uses: Set<string>;
  /** per-node configs hoisted to module constants. */
  consts: string[];
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
    if (s.eye)
      init.push(`for (let i = 0; i < ${s.size}; i += ${s.eye * s.eye}) for (let d = 0; d < ${s.eye}; d++) H[${off(s.name)} + i + d * ${s.eye + 1}] = 1;`);
  }

  // ---- which tensors need gradients: everything downstream of a parameter (scheduleKernels) ----
  const needsGrad = new Set(ir.nodes.filter((n) => n.sched!.grad).map((n) => n.output));
  const gradInit = new Set<string>();
  const isViewOfX = (t: string) => L.offsets[t] === L.offsets["x"];

  const c: EmitCtx = {
    ir,
    off,
    uses,
    consts,
    grad: (t) => needsGrad.has(t),
    isViewOfX,
    tailForward,
    tailPrelude,
    tailBody,
    gradInto,
    dxTarget(src, inSize) {
      if (!(needsGrad.has(src) && !isViewOfX(src) && src !== "x")) return { dx: -1, post: [] };
      if (!gradInit.has(src)) {
        gradInit.add(src);
        return { dx: off(`grad:${src}`), post: [] };
      }
      const dx = off("scratch:grad");
      uses.add("makeDenseEpilogues");
      return { dx, post: [`E.accumulate(${off(`grad:${src}`)}, ${dx}, n * ${inSize});`] };
    },
    markGradWritten: (t) => void gradInit.add(t),
  };

  for (const n of ir.nodes) {
    forward.push(`// ${n.kernel}: ${n.inputs.join(", ")} -> ${n.output}  [${n.inShape.join(",")}] -> [${n.outShape.join(",")}]  (spec line ${n.line})`);
    forward.push(...nodeOp(asProducer(n)).forward(asProducer(n), c));
  }
  const reset = ir.nodes.flatMap((n) => nodeOp(asProducer(n)).resetState?.(asProducer(n), c) ?? []);
  for (let k = ir.nodes.length - 1; k >= 0; k--) {
    const n = ir.nodes[k];
    if (!needsGrad.has(n.output)) continue;
    backward.push(`// backward of ${n.kernel} (${n.output})`);
    const op = nodeOp(asProducer(n));
    backward.push(...(op.view ? [] : tailBackward(n, prod(n.outShape))), ...op.backward(asProducer(n), c));
  }
  return { forward, backward, init, reset, uses, consts };

  // ------------------------------------------------------------------------------------------
  /** Per-step setup of a tail: dropout seeds for this step (all of them first), spatial-dropout channel masks. */
  function tailPrelude(n: IRNode): string[] {
    return [...n.tail.flatMap((t) => TAILS[t.op].seed?.(t, n, c) ?? []), ...n.tail.flatMap((t) => TAILS[t.op].prelude?.(t, n, c) ?? [])];
  }

  /** The tail applied to `v` for element `i` (flat index into the (n, size) output), storing Y[i]. */
  function tailBody(n: IRNode, size: number, i: string): string[] {
    return [...n.tail.flatMap((t) => TAILS[t.op].forward(t, n, c, i, size)), `H[${off(n.output)} + ${i}] = v;`];
  }

  /** One sweep over Z (the producer's output, n*size elements) writing Y, with the tail applied. */
  function tailForward(n: IRNode, size: number): string[] {
    if (n.tail.length === 0) return [];
    const Z = off(`z:${n.id}`);
    const last = n.tail[n.tail.length - 1];
    const sweep = TAILS[last.op].sweep;
    if (sweep) {
      // the ops before it, then the last op over the whole output (TailOp.sweep)
      const rest = { ...n, tail: n.tail.slice(0, -1) };
      const head = rest.tail.length === 0 ? [`H.copyWithin(${off(n.output)}, ${Z}, ${Z} + n * ${size});`] : tailForward(rest, size);
      return [...head, ...sweep.forward(last, n, c, off(n.output))];
    }
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
    // a lone ReLU whose gradient came from a max pool that applied it (scheduleKernels)
    if (n.sched!.reluByPool) return [];
    const Z = off(`z:${n.id}`);
    const D = off(`grad:${n.output}`);
    const last = n.tail[n.tail.length - 1];
    const sweep = TAILS[last.op].sweep;
    if (sweep) return [...sweep.backward(last, n, c, D), ...tailBackward({ ...n, tail: n.tail.slice(0, -1) }, size)];
    if (n.tail.length === 1 && n.tail[0].op === "relu") {
      uses.add("makeDenseEpilogues");
      return [`E.reluBackward(${Z}, ${D}, n * ${size});`];
    }
    const body: string[] = [`let v = H[${Z} + i]; let d = 1;`, ...n.tail.flatMap((t) => TAILS[t.op].backward(t, n, c, size)), `H[${D} + i] *= d;`];
    return [`for (let i = 0, e = n * ${size}; i < e; i++) { ${body.join(" ")} }`];
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
}
