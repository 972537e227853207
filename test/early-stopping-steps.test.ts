// Early stopping evaluated every N optimizer steps (`early_stopping(every_steps=N)`): it stops after
// `patience` evaluations without improvement and restores the weights of the best evaluation,
// which are exactly the weights a run stopped at that step would have.
import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { compileProgram } from "./helpers/compile";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";

const spec = (es: string) => `model m {
  input [2]
  dense(16) -> relu
  dense(2)
  loss softmax_cross_entropy
}
data { source csv("x")
 validation 0.25 }
train { seed 3
 batch 16
 epochs 20
 optimizer sgd(lr=0.05, momentum=0.9)
 ${es} }
`;

describe("early stopping every N steps", () => {
  it("stops after patience evaluations and restores the best step's weights", async () => {
    // min_delta 100: nothing after the first evaluation counts as an improvement
    const { program } = await compileProgram(spec("early_stopping(patience=2, min_delta=100, every_steps=5)"), "es.dnn");
    const data = loadData(program, resolve("specs/data/two-moons"));
    const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
    const model = program.create(be, 3);
    model.init();
    const r = train(program, be, model, data);
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(15);
    expect(r.bestStep).toBe(5);
    const kept = Float32Array.from(be.H.subarray(program.layout.P, program.layout.P + program.layout.N));
    // the same run stopped at step 5
    const be2 = await createBackend(program.meta.heapFloats, { backend: "ts" });
    const model2 = program.create(be2, 3);
    model2.init();
    train(program, be2, model2, data, { maxSteps: 5 });
    expect(
      Buffer.compare(Buffer.from(kept.buffer), Buffer.from(Float32Array.from(be2.H.subarray(program.layout.P, program.layout.P + program.layout.N)).buffer)),
    ).toBe(0);
  });
});
