// Overhead of the smoothness penalties per training step on the example MLP without batch norm
// (784-256(relu, dropout 0.5)-256(relu)-10, batch 128): forward + loss gradient + backward, then
// the same plus penalty(), alternating the variants. Run: npx tsx test/reference/penalty/bench-overhead.ts [wasm|ts]
import { compileWithPenalty, fillBatch, spec } from "./helpers";
import { createBackend } from "../../../runtime/backend-create";
import { lossForward } from "../../../runtime/loss";

const body = "  flatten\n  dense(256, init=kaiming_normal) -> relu -> dropout(0.5)\n  dense(256) -> relu\n  dense(10)";
const variants: [string, string][] = [
  ["no penalty", ""],
  ["input_grad_penalty", "input_grad_penalty 0.1"],
  ["jacobian, 1 projection", "jacobian_penalty(0.01, projections=1)"],
  ["jacobian, 2 projections", "jacobian_penalty(0.01, projections=2)"],
];
const kind = (process.argv[2] ?? "wasm") as "wasm" | "ts";
const B = 128;
const runs = [];
for (const [name, pen] of variants) {
  const { program } = await compileWithPenalty(spec("[1, 28, 28]", body, "softmax_cross_entropy", pen, B));
  const be = await createBackend(program.meta.heapFloats, { backend: kind, threads: 1 });
  const model = program.create(be, 1);
  model.init();
  fillBatch(program, be.H, B);
  let step = 0;
  const once = () => {
    model.forward(B, true, step);
    lossForward(be.H, program as never, B, true);
    model.backward(B, step);
    if (pen) model.penalty(B, step);
    step++;
  };
  for (let i = 0; i < 30; i++) once();
  runs.push({ name, once, best: Infinity, close: () => (be as { close?: () => void }).close?.() });
}
for (let round = 0; round < 7; round++) {
  for (const r of runs) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) r.once();
    r.best = Math.min(r.best, (performance.now() - t0) / 20);
  }
}
const base = runs[0].best;
console.log(`backend ${kind}, batch ${B}, best of 7 x 20 steps`);
for (const r of runs) console.log(`${r.name.padEnd(26)} ${r.best.toFixed(2)} ms/step  x${(r.best / base).toFixed(2)}`);
for (const r of runs) r.close();
