// The memory plan gives a conv whose input gradient is computed the col scratch that the runtime's
// fast input gradient needs (runtime/kernels/conv.ts convScratchSizeFast: one GEMM per sample, which
// the wasm backend splits between threads), and the emitted configuration passes it as colFloats.
// Without it the stride-1 input gradient ran as GEMMs over chunks of channels on the calling thread.
// A conv that runs by Winograd (cfg.wino) gets at least the room of its blocks.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { compileToIr } from "../compiler/pipeline";
import { convCfg, type Conv2dNode } from "../compiler/ops/conv";
import { convScratchSize, convScratchSizeFast } from "../runtime/kernels/conv";
import { winogradScratchSize } from "../runtime/kernels/winograd";
import { createBackend } from "../runtime/backend-create";
import { conv2dBackward } from "../runtime/kernels/conv";

const specs = [
  ...readdirSync("specs")
    .filter((f) => f.endsWith(".dnn"))
    .map((f) => `specs/${f}`),
  ...readdirSync("bench/specs")
    .filter((f) => f.endsWith(".dnn"))
    .map((f) => `bench/specs/${f}`),
];

describe("conv col scratch", () => {
  it("is the fast size exactly when the input gradient is computed, and reaches the kernel as colFloats", () => {
    let convs = 0;
    let withDx = 0;
    let winos = 0;
    for (const f of specs) {
      const r = compileToIr(readFileSync(f, "utf8"), f);
      const ir = r.ir!;
      const needs = new Set<string>();
      for (const n of ir.nodes) if (n.params.length > 0 || n.inputs.some((i) => needs.has(i))) needs.add(n.output);
      for (const n of ir.nodes) {
        if (n.op !== "conv2d") continue;
        convs++;
        const size = ir.layout!.sizes[`col:${n.id}`];
        const cfg = convCfg(n as Conv2dNode);
        const dx = needs.has(n.inputs[0]);
        if (dx) withDx++;
        const wino = cfg.wino ? winogradScratchSize(cfg, cfg.wino) : 0;
        if (wino > 0) winos++;
        const im2col = dx ? Math.max(convScratchSizeFast(cfg), convScratchSize(cfg)) : convScratchSize(cfg);
        expect(size, `${f} ${n.id}`).toBe(Math.max(im2col, wino) || size);
        if (dx && cfg.sh === 1 && cfg.sw === 1) expect((cfg as { colFloats?: number }).colFloats, `${f} ${n.id}`).toBe(size);
      }
    }
    expect(convs).toBeGreaterThan(10);
    expect(withDx).toBeGreaterThan(5);
    expect(winos).toBeGreaterThan(3);
  });

  it("with that room the input gradient of M2's second conv is split between two threads (same bytes as one)", async () => {
    const r = compileToIr(readFileSync("bench/specs/m2.dnn", "utf8"), "m2.dnn");
    const n = r.ir!.nodes.find((x) => x.op === "conv2d" && x.inShape[0] === 16)!;
    // the im2col path (its Winograd path is split by blocks: test/winograd.test.ts)
    const cfg = { ...convCfg(n as Conv2dNode), wino: undefined };
    const B = 8;
    const x = 0,
      w = 40000,
      dy = 50000,
      dx = 110000,
      col = 150000; // dy is (8, 32, 14, 14): 50,176 floats
    const outputs: Float32Array[] = [];
    for (const threads of [1, 2]) {
      const be = await createBackend(400000, { backend: "wasm", threads });
      for (let i = 0; i < 150000; i++) be.H[i] = Math.sin(i * 0.37);
      const stats = (be as unknown as { stats?: { chunks: number } }).stats;
      const before = stats?.chunks ?? 0;
      conv2dBackward(be.H, be.gemm, cfg, x, w, dy, dx, -1, -1, col, B);
      if (threads === 2) expect(stats!.chunks - before).toBeGreaterThanOrEqual(2);
      outputs.push(be.H.slice(dx, dx + B * 16 * 14 * 14));
      be.close();
    }
    expect(Buffer.compare(Buffer.from(outputs[0].buffer), Buffer.from(outputs[1].buffer))).toBe(0);
  });
});
