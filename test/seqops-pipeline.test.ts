// The sequence layers in the compiled trainer, beyond the PyTorch cases: padded data whose lengths
// are all full give the same bytes as unpadded data; the step allocates nothing (no allocation in
// the emitted forward/backward nor in the fast kernels); training is deterministic (same spec and
// seed: identical model bytes); padding_idx's row stays zero through training with weight decay.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createBackend } from "../runtime/backend-create";
import { lossForward } from "../runtime/loss";
import { decodeSafetensors } from "../runtime/safetensors";
import { Rng } from "../runtime/rng";
import * as conv1d from "../runtime/kernels/conv1d";
import * as embedding from "../runtime/kernels/embedding";
import * as pool1d from "../runtime/kernels/pool1d";
import * as globalPool from "../runtime/kernels/global-pool";
import * as sequence from "../runtime/kernels/sequence";
import { seqProgram } from "./seqops-helpers";

const CHAIN = `model chain {
  input [14]
  embedding(9, 6, padding_idx=0)
  conv1d(8, 3, padding=same) -> relu
  maxpool1d(2)
  conv1d(6, 3, stride=2, padding=1, groups=2) -> tanh
  dense(5)
  avgpool1d(2, 1)
  residual { conv1d(5, 1) -> relu }
  global_maxpool
  dense(3)
  loss softmax_cross_entropy
}
data { source csv("d.csv") }
train { batch 4 }
`;

const LAST = CHAIN.replace("global_maxpool", "last").replace("model chain", "model chain_last");

async function step(source: string, lengths: boolean, backend: "ts" | "wasm") {
  const { program: p, ts } = await seqProgram(source, { lengths });
  const be = await createBackend(p.meta.heapFloats, { backend, relaxed: false });
  try {
    const H = be.H;
    const model = p.create(be, 3);
    model.init();
    const rng = new Rng(11, 2);
    const n = 4;
    for (let i = 0; i < n * 14; i++) H[p.layout.x + i] = Math.floor(rng.range(0, 9));
    for (let i = 0; i < n; i++) H[p.layout.labels + i] = i % 3;
    if (lengths) for (let i = 0; i < n; i++) H[p.layout.lengths! + i] = 14;
    model.forward(n, true, 0);
    const out = H.slice(p.layout.out, p.layout.out + n * 3); // (its memory is reused in backward)
    H.fill(0, p.layout.G, p.layout.G + p.layout.N);
    const r = lossForward(H, p, n, true);
    model.backward(n, 0);
    return { out, grads: H.slice(p.layout.G, p.layout.G + p.layout.N), loss: r.loss, ts };
  } finally {
    be.close();
  }
}

describe("padded data with every length full equals unpadded data, byte for byte", () => {
  for (const [name, src] of [
    ["global_maxpool", CHAIN],
    ["last", LAST],
  ])
    for (const backend of ["ts", "wasm"] as const)
      it(`${name}, ${backend}`, async () => {
        const a = await step(src, false, backend);
        const b = await step(src, true, backend);
        expect(b.ts).toContain("seqLength("); // the masks after the strided layers map the lengths
        expect(b.loss).toBe(a.loss);
        expect(b.out).toEqual(a.out);
        expect(b.grads).toEqual(a.grads);
      });
});

describe("nothing allocated per step", () => {
  it("the emitted forward and backward hold no allocation (configs and length maps are module constants)", async () => {
    const { ts } = await step(CHAIN, true, "ts");
    const body = ts.slice(ts.indexOf("forward(n: number"));
    expect(body).not.toMatch(/\bnew\b|[=(,:]\s*\[|Array\.|\{\s*[A-Za-z]+:/);
    expect(body).toContain("conv1dForward(");
    expect(ts).toMatch(/const LMAP_\w+ = \[/);
  });

  it("the fast kernels hold no allocation (the naive references may)", () => {
    const fast = Object.entries({ ...conv1d, ...embedding, ...pool1d, ...globalPool, ...sequence }).filter(
      ([k, f]) => typeof f === "function" && !k.endsWith("Naive") && /Forward|Backward|Length/.test(k),
    );
    expect(fast.length).toBeGreaterThanOrEqual(16);
    for (const [k, f] of fast) expect(String(f), k).not.toMatch(/\bnew\b|Array\.|\.slice\(|\.map\(|\.concat\(|\[\]|return \{|= \[/);
  });
});

// ---- through the CLI ----------------------------------------------------------------------------------

const SPEC = (dir: string) => `model pad0 {
  input [8]
  embedding(7, 4, padding_idx=0, weight_decay=0.01)
  conv1d(6, 3, padding=same) -> relu
  global_avgpool
  dense(2)
  loss softmax_cross_entropy
}
data { source csv("${dir}", label="label") }
train {
  seed 4
  batch 16
  epochs 3
  optimizer adamw(lr=0.01, weight_decay=0.1)
}
`;

describe("dnnc train: deterministic, and padding_idx's row stays zero", () => {
  it("two runs: identical model bytes; row 0 of the embedding is zero", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "dnnc-seqops-det-")), "d");
    mkdirSync(dir);
    const rng = new Rng(3, 3);
    const lines = ["t0,t1,t2,t3,t4,t5,t6,t7,label"];
    for (let i = 0; i < 200; i++) {
      const ids = Array.from({ length: 8 }, () => Math.floor(rng.range(0, 7)));
      lines.push([...ids, ids.filter((v) => v === 0).length > 1 ? 1 : 0].join(","));
    }
    writeFileSync(join(dir, "train.csv"), lines.join("\n") + "\n");
    writeFileSync(join(dir, "m.dnn"), SPEC(dir));
    const run = (out: string) => {
      const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", join(dir, "m.dnn"), "-o", join(dir, out), "--no-report", "--quiet"], {
        encoding: "utf8",
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return readFileSync(join(dir, out, "model.safetensors"));
    };
    const a = run("a");
    const b = run("b");
    expect(Buffer.compare(a, b)).toBe(0);
    const w = decodeSafetensors(a, "model.safetensors").tensors.find((t) => t.name === "embedding_0.weight")!;
    expect(w.shape).toEqual([7, 4]);
    expect(Array.from(w.data.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(w.data.subarray(4)).some((v) => v !== 0)).toBe(true);
  });
});
