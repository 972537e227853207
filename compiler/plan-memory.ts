// Pass 4 — planMemory: IR → IR with `layout`. Places every tensor in the one heap: the parameter
// arena (params P, grads G, optimizer state slots S), running statistics, the batch (x, labels),
// per node its raw output Z (pre-tail), its final output Y (when it has a tail), dropout masks, the
// gradient buffer dY (reused in place for dZ), and per-op scratch (conv im2col columns, pool
// argmax, norm statistics). Everything is sized for the compiled batch B; nothing is allocated
// later. flatten is a view: its output aliases its input. Next: code generation.
import type { IR, IRLayout } from "./ir";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

export function stateSlots(kind: string, o: { momentum: number; centered: boolean; amsgrad: boolean }): number {
  switch (kind) {
    case "sgd":
      return o.momentum > 0 ? 1 : 0;
    case "adam":
    case "adamw":
      return o.amsgrad ? 3 : 2;
    case "adagrad":
      return 1;
    case "rmsprop":
      return 1 + (o.momentum > 0 ? 1 : 0) + (o.centered ? 1 : 0);
    default:
      return 0;
  }
}

export function planMemory(ir: IR): IR {
  const offsets: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  let top = 0;
  const B = ir.batch;
  const put = (name: string, size: number) => {
    offsets[name] = top;
    sizes[name] = size;
    top += size;
    top = (top + 15) & ~15; // 64-byte alignment for SIMD kernels
  };
  // parameter arena: params contiguous, then grads in the same order, then state slots
  const P = top;
  let N = 0;
  for (const p of ir.params) {
    offsets[p.name] = P + N;
    sizes[p.name] = p.size;
    N += p.size;
  }
  const Npad = (N + 15) & ~15;
  const G = P + Npad;
  for (const p of ir.params) {
    offsets[`grad:${p.name}`] = G + (offsets[p.name] - P);
    sizes[`grad:${p.name}`] = p.size;
  }
  const o = ir.train.optimizer;
  const slots = stateSlots(o.kind, o);
  const S = G + Npad;
  top = S + slots * Npad;
  for (const s of ir.stats) put(s.name, s.size);
  put("x", B * ir.input.size);
  put("labels", B * (ir.loss.kind === "softmax_cross_entropy" ? 1 : ir.output.size));
  put("grad:x", B * ir.input.size);
  const viewOf = new Map<string, string>();
  for (const n of ir.nodes) {
    const size = B * prod(n.outShape);
    if (n.op === "flatten") {
      const base = viewOf.get(n.inputs[0]) ?? n.inputs[0];
      viewOf.set(n.output, base);
      offsets[n.output] = offsets[base];
      sizes[n.output] = size;
      offsets[`grad:${n.output}`] = offsets[`grad:${base}`];
      sizes[`grad:${n.output}`] = size;
      continue;
    }
    put(`z:${n.id}`, size);
    if (n.tail.length > 0) put(n.output, size);
    else {
      offsets[n.output] = offsets[`z:${n.id}`];
      sizes[n.output] = size;
    }
    put(`grad:${n.output}`, size);
    for (const t of n.tail) {
      if (t.op === "dropout") put(`mask:${t.id}`, size);
      if (t.op === "spatial_dropout") put(`mask:${t.id}`, B * n.outShape[0]);
    }
    const C = n.inShape[0];
    switch (n.op) {
      case "conv2d": {
        const a = n.attrs as Record<string, number>;
        const cols = (n.inShape[0] / a.groups) * a.kh * a.kw * n.outShape[1] * n.outShape[2];
        put(`col:${n.id}`, cols);
        if (n.attrs.weight_norm) {
          const wsize = prod([a.K, n.inShape[0] / a.groups, a.kh, a.kw]);
          put(`w:${n.id}`, wsize);
          put(`wnorm:${n.id}`, a.K);
          put(`scratch:wn:${n.id}`, wsize);
        }
        break;
      }
      case "dense":
        if (n.attrs.weight_norm) {
          put(`w:${n.id}`, (n.attrs.units as number) * n.inShape[0]);
          put(`wnorm:${n.id}`, n.attrs.units as number);
          put(`scratch:wn:${n.id}`, (n.attrs.units as number) * n.inShape[0]);
        }
        break;
      case "maxpool2d":
        put(`idx:${n.id}`, size);
        break;
      case "bn":
        put(`mean:${n.id}`, C);
        put(`invstd:${n.id}`, C);
        break;
      case "iternorm": {
        const G = n.attrs.groups as number,
          T = n.attrs.iters as number,
          g = C / G;
        // see runtime/kernels/iternorm.ts: iterNormSaveSize / iterNormTmpSize
        put(`save:${n.id}`, C + G + G * g * g * (T + 2));
        put(`tmp:${n.id}`, 8 * g * g);
        break;
      }
      case "layernorm":
        put(`mean:${n.id}`, B);
        put(`invstd:${n.id}`, B);
        break;
      case "groupnorm":
      case "instancenorm":
        put(`mean:${n.id}`, B * (n.attrs.groups as number));
        put(`invstd:${n.id}`, B * (n.attrs.groups as number));
        break;
    }
  }
  // scratch for accumulating a second gradient into a tensor read by two consumers (residuals)
  let maxAct = B * ir.input.size;
  for (const n of ir.nodes) maxAct = Math.max(maxAct, B * prod(n.outShape));
  put("scratch:grad", maxAct);
  put("scratch:loss", B * Math.max(1, ir.output.size));
  const layout: IRLayout = { heapFloats: top, P, G, S, N: Npad, slots, offsets, sizes };
  return { ...ir, layout };
}
