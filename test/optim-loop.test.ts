// Optimizer, schedule, clipping and max-norm composed as the trainer composes them, on a linear
// model with MSE loss and real gradients, against the same loop in PyTorch 1.13
// (test/reference/optim/make_cases.py, loop.json). Per step: gradients -> clipGradNorm ->
// optimizerStep(lr from the schedule) -> applyMaxNorm -> (plateau) observeMetric(loss).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { optimizerStep, stateSlots, type OptimLayout, type OptimizerConfig, type Segment } from "../runtime/optim";
import { applyMaxNorm, clipGradNorm } from "../runtime/regularize";
import { initialScheduleState, learningRate, observeMetric, type Schedule } from "../runtime/schedule";

const REF = JSON.parse(readFileSync(new URL("./reference/optim/loop.json", import.meta.url), "utf8"));
const n = 16,
  IN = 5,
  OUT = 3;

interface Loop {
  name: string;
  opt: OptimizerConfig;
  schedule: Schedule;
  clip: number;
  maxNorm: number;
  losses: number[];
  lrs: number[];
  final: number[];
}

/** Loss and gradients of mean((x W^T + b - y)^2) into H[G..]: x is (n, IN), W (OUT, IN), b (OUT). */
function lossAndGrad(H: Float32Array, L: OptimLayout): number {
  const X: number[] = REF.X,
    Y: number[] = REF.Y;
  const dW = L.G,
    db = L.G + OUT * IN;
  H.fill(0, L.G, L.G + L.N);
  let loss = 0;
  for (let r = 0; r < n; r++)
    for (let o = 0; o < OUT; o++) {
      let pred = H[L.P + OUT * IN + o];
      for (let i = 0; i < IN; i++) pred += X[r * IN + i] * H[L.P + o * IN + i];
      const d = pred - Y[r * OUT + o];
      loss += d * d;
      const dpred = (2 * d) / (n * OUT);
      for (let i = 0; i < IN; i++) H[dW + o * IN + i] += dpred * X[r * IN + i];
      H[db + o] += dpred;
    }
  return loss / (n * OUT);
}

describe("a training loop equals the same loop in PyTorch", () => {
  for (const c of REF.loops as Loop[]) {
    it(c.name, () => {
      const decoupled = c.opt.kind === "adamw";
      const seg = (name: string, offset: number, rows: number, cols: number, decay: number, maxNorm: number): Segment => ({
        name,
        offset,
        size: rows * cols,
        rows,
        cols,
        maxNorm,
        l1: 0,
        lrScale: 1,
        weightDecay: decoupled ? 0 : decay,
        decoupledDecay: decoupled ? decay : 0,
      });
      const decayW = c.opt.kind === "sgd" ? 0.01 : c.opt.kind === "adamw" ? 0.1 : 0;
      const N = OUT * IN + OUT;
      const L: OptimLayout = {
        P: 0,
        G: N,
        S: 2 * N,
        N,
        segments: [seg("W", 0, OUT, IN, decayW, c.maxNorm), seg("b", OUT * IN, OUT, 1, 0, 0)],
      };
      const H = new Float32Array(2 * N + stateSlots(c.opt) * N);
      H.set(REF.W0, 0);
      H.set(REF.b0, OUT * IN);
      const state = initialScheduleState(c.schedule);
      for (let t = 0; t < c.losses.length; t++) {
        const loss = lossAndGrad(H, L);
        expect(loss).toBeCloseTo(c.losses[t], 5);
        if (c.clip > 0) clipGradNorm(H, L, c.clip);
        const lr = learningRate(c.schedule, t, 0, state);
        expect(lr).toBeCloseTo(c.lrs[t], 7);
        optimizerStep(H, L, c.opt, lr, t + 1);
        applyMaxNorm(H, L);
        observeMetric(c.schedule, state, loss);
      }
      for (let i = 0; i < N; i++) expect(H[i]).toBeCloseTo(c.final[i], 5);
    });
  }
});
