// Cosine without t_max spans the run: its epochs when --epochs overrides the spec's, and its steps
// (epochs x ceil(training rows / batch)) with schedule_per step. Before, --epochs 25 on a 15-epoch
// spec annealed to eta_min at epoch 15 and then climbed back up.
import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { compileProgram } from "./helpers/compile";
import { train } from "../runtime/train-loop";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";

const spec = (per: string) => `
model m {
  input [2]
  dense(8) -> relu
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv("${resolve("specs/data/two-moons")}", label="label")
  validation 0.2
}
train {
  seed 3
  batch 16
  epochs 2
  optimizer sgd(lr=0.1)
  ${per}
  schedule cosine
}
`;

async function lrs(per: string, epochs: number): Promise<{ epochLr: number[]; rows: number }> {
  const { program } = await compileProgram(spec(per));
  const ds = loadData(program, program.data.source.path).train;
  const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
  try {
    const model = program.create(be, program.train.seed);
    model.init();
    const r = train(program, be, model, { train: ds }, { epochs });
    return { epochLr: r.epochs.map((e) => e.lr), rows: ds.n - Math.round(ds.n * 0.2) };
  } finally {
    be.close();
  }
}

const cosine = (k: number, T: number) => (0.1 * (1 + Math.cos((Math.PI * k) / T))) / 2;

describe("cosine's default period is the run", () => {
  it("per epoch: --epochs 5 on a 2-epoch spec anneals over 5 epochs", async () => {
    const { epochLr } = await lrs("", 5);
    expect(epochLr).toHaveLength(5);
    epochLr.forEach((lr, i) => expect(lr).toBeCloseTo(cosine(i, 5), 7));
  });
  it("per step: over epochs x steps per epoch", async () => {
    const { epochLr, rows } = await lrs("schedule_per step", 3);
    const steps = Math.ceil(rows / 16);
    // the rate reported for an epoch is the last step's (k = steps*epoch - 1)
    expect(epochLr).toHaveLength(3);
    const last = epochLr[2];
    expect(last).toBeLessThan(cosine(3 * steps - 3, 3 * steps));
    expect(last).toBeGreaterThanOrEqual(0);
    expect(epochLr[0]).toBeGreaterThan(0.05); // one third of the way, not annealed already
  });
});
