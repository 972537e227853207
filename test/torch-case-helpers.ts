// One PyTorch reference case of a sequence layer (test/reference/{rnnop,attention}/make_cases.py) on
// one backend, as test/rnn-op-torch.test.ts and test/ops-attention-torch.test.ts both check it: from
// PyTorch's weights, the output, the loss, every parameter's gradient and the gradient at one input
// (`dxAt`); then the compiled trainer's own loop for the reference's steps on the same batch: each
// step's loss and the final parameters (`finalView` may leave out what PyTorch cannot pin down).
import { expect } from "vitest";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { train } from "../runtime/train-loop";
import type { Dataset } from "../runtime/data/dataset";
import type { IR } from "../compiler/ir";
import type { Program } from "../runtime/program";
import { closeTo } from "./seqops-helpers";

export interface TorchCase {
  name: string;
  spec: string;
  loss: "mse" | "ce";
  shape: number[];
  n: number;
  x: number[];
  lengths: number[] | null;
  y: number[];
  out: number[];
  outShape: number[];
  value: number;
  params: Record<string, number[]>;
  grads: Record<string, number[]>;
  dx: number[];
  losses: number[];
  final: Record<string, number[]>;
}

export interface TorchRef {
  steps: number;
}

export async function checkTorchCase(
  c: TorchCase,
  ref: TorchRef,
  compiled: { program: Program; ir: IR },
  backend: "ts" | "wasm",
  o: { dxAt: (ir: IR) => string; finalView?: (name: string, values: number[]) => number[] },
): Promise<void> {
  const padded = c.lengths !== null;
  const { program: p, ir } = compiled;
  expect(p.meta.outputShape).toEqual(c.outShape);
  const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
  try {
    const H = be.H;
    const model = p.create(be, 0);
    model.init();
    const setParams = () => {
      for (const t of p.tensors) if (t.kind === "param") H.set(c.params[t.name], t.offset);
    };
    setParams();
    H.set(c.x, p.layout.x);
    H.set(c.y, p.layout.labels);
    if (padded) H.set(c.lengths!, p.layout.lengths!);
    else expect(p.layout.lengths).toBeUndefined();
    model.forward(c.n, true, 0);
    const outSize = c.outShape.reduce((a, b) => a * b, 1);
    expect(closeTo(H.subarray(p.layout.out, p.layout.out + c.n * outSize), c.out, 2e-5), "output").toBeUndefined();
    H.fill(0, p.layout.G, p.layout.G + p.layout.N);
    const r = lossForward(H, p, c.n, true);
    expect(Math.abs(r.loss - c.value)).toBeLessThanOrEqual(2e-5 * Math.max(1, c.value));
    model.backward(c.n, 0);
    for (const t of p.tensors.filter((t) => t.kind === "param")) {
      const g = H.subarray(p.layout.G + (t.offset - p.layout.P), p.layout.G + (t.offset - p.layout.P) + t.size);
      expect(closeTo(g, c.grads[t.name], 1e-4), `grad ${t.name}`).toBeUndefined();
    }
    const at = ir.layout!.offsets[`grad:${o.dxAt(ir)}`];
    expect(closeTo(H.subarray(at, at + c.dx.length), c.dx, 1e-4), "dx").toBeUndefined();

    // the optimizer steps of the trainer's loop on this batch
    setParams();
    H.fill(0, p.layout.S, p.layout.S + p.layout.slots * p.layout.N);
    const T = c.shape[0];
    const data: Dataset = {
      x: Float32Array.from(c.x),
      y: Float32Array.from(c.y),
      n: c.n,
      shape: c.shape,
      targetShape: c.loss === "ce" ? [T] : c.outShape,
      ...(c.loss === "ce" ? { classes: c.outShape[1] } : {}),
      ...(padded ? { lengths: Int32Array.from(c.lengths!) } : {}),
    };
    const res = train(p, be, model, { train: data }, { maxSteps: ref.steps });
    expect(res.steps).toBe(ref.steps);
    expect(closeTo(res.lossTrace, c.losses, 1e-4), "losses").toBeUndefined();
    const view = o.finalView ?? ((_name: string, v: number[]) => v);
    for (const t of p.tensors.filter((t) => t.kind === "param"))
      expect(
        closeTo(view(t.name, Array.from(H.subarray(t.offset, t.offset + t.size))), view(t.name, c.final[t.name]), 1e-4),
        `after ${ref.steps} steps: ${t.name}`,
      ).toBeUndefined();
  } finally {
    be.close();
  }
}
