// Fine-tuning (the train block's init_from, freeze, lr_scale): what the language accepts and
// refuses, what the compiler makes of it (no optimizer segment and no backward for a frozen prefix,
// the learning-rate scale on the segments, batch norm in evaluation mode), what a few training
// steps do to frozen and scaled tensors, and how a file's tensors are matched by name.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compileToIr } from "../compiler/pipeline";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { renderDiagnostics } from "../grammar/diagnostics";
import { compileProgram } from "./helpers/compile";
import { expectDnnc } from "./helpers/expect-dnnc";
import { createBackend } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";
import { applyInitFrom, describeInitFrom } from "../runtime/init-from";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";

const MOONS = resolve("specs/data/two-moons");
const spec = (trainExtra: string, opt = "sgd(lr=0.1)", head = 2) => `model m {
  input [2]
  dense(16) -> bn -> relu
  dense(16) -> relu
  dense(${head})
  loss softmax_cross_entropy
}
data { source csv("${MOONS}") }
train {
  seed 3
  batch 16
  epochs 1
  optimizer ${opt}
${trainExtra}
}
`;

const diagsOf = (src: string) => {
  const r = compileToIr(src, "ft.dnn");
  return { ir: r.ir, text: renderDiagnostics(r.diagnostics, src), diagnostics: r.diagnostics };
};

describe("the language", () => {
  it("freezes names and inclusive ranges of node ids, and scales learning rates", () => {
    const { ir, text } = diagsOf(spec("  freeze dense_0 to bn_0\n  lr_scale 0.5 dense_1\n  lr_scale 0.25 dense_2"));
    expect(text).toBe("");
    const p = Object.fromEntries(ir!.params.map((x) => [x.name, x]));
    expect(["dense_0.weight", "dense_0.bias", "bn_0.weight", "bn_0.bias"].every((n) => p[n].frozen)).toBe(true);
    expect(p["dense_1.weight"].frozen).toBeUndefined();
    expect([p["dense_1.weight"].lrScale, p["dense_2.bias"].lrScale, p["dense_0.weight"].lrScale]).toEqual([0.5, 0.25, undefined]);
    // the frozen prefix carries no gradient: no backward, down to the first trained layer
    const sched = Object.fromEntries(ir!.nodes.map((n) => [n.id, n.sched!.grad]));
    expect(sched).toMatchObject({ dense_0: false, bn_0: false, dense_1: true, dense_2: true });
  });

  it("refuses an unknown layer name at its line:col, with the closest name", () => {
    const { ir, text } = diagsOf(spec("  freeze dense_0 to bn_9"));
    expect(ir).toBeUndefined();
    expect(text).toMatch(/error\[E0802\]: unknown layer `bn_9` in `freeze`\n\s+--> ft\.dnn:14:21/);
    expect(text).toMatch(/did you mean `bn_0`\?/);
    expect(diagsOf(spec("  lr_scale 0.1 conv2d_0")).text).toMatch(/E0802\]: unknown layer `conv2d_0` in `lr_scale`\n\s+--> ft\.dnn:14:16/);
  });

  it("refuses a reversed range, a missing factor, a bad init_from and freezing everything", () => {
    expect(diagsOf(spec("  freeze dense_1 to dense_0")).text).toMatch(
      /E0803\]: fine-tuning: `dense_1 to dense_0`: dense_0 comes before dense_1[\s\S]*ft\.dnn:14:21/,
    );
    expect(diagsOf(spec("  lr_scale dense_0")).text).toMatch(/E0106\]: `lr_scale` expects lr_scale 0\.1/);
    expect(diagsOf(spec("  lr_scale -1 dense_0")).text).toMatch(/E0106|E0402/);
    expect(diagsOf(spec("  freeze")).text).toMatch(/E0106\]: `freeze` expects/);
    expect(diagsOf(spec("  freeze dense_0 to")).text).toMatch(/E0106/);
    expect(diagsOf(spec("  init_from runs")).text).toMatch(/E0106\]: `init_from` expects a path in quotes[\s\S]*ft\.dnn:14:13/);
    expect(diagsOf(spec('  init_from "a"\n  init_from "b"')).text).toMatch(/E0105/);
    expect(diagsOf(spec("  freeze dense_0 to dense_2")).text).toMatch(/E0803\]: fine-tuning: every parameter is frozen/);
  });

  it("accepts a frozen batch norm after trained layers (its evaluation-mode backward), refuses a frozen iternorm there", () => {
    const { ir, text } = diagsOf(spec("  freeze bn_0"));
    expect(text).toBe("");
    expect(ir!.nodes.find((n) => n.id === "bn_0")!.sched!.grad).toBe(true);
    const iter = `model n {
  input [2, 4, 4]
  conv2d(2, 3, padding=same) -> iternorm(groups=1, iters=3) -> relu
  flatten
  dense(2)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4
freeze iternorm_0 }
`;
    expect(diagsOf(iter).text).toMatch(/E0803\]: fine-tuning: `iternorm_0` \(line 3\) is frozen[\s\S]*the trained layer `conv2d_0` comes before it/);
  });

  it("refuses the smoothness penalties with freeze", () => {
    expect(diagsOf(spec("  freeze dense_0\n  input_grad_penalty 0.1")).text).toMatch(/E0803\]: fine-tuning: the smoothness penalties/);
  });

  it("stops the input gradient below the first trained conv, and plans a smaller heap", () => {
    const cnn = (extra: string) => `model c {
  input [1, 8, 8]
  conv2d(4, 3, padding=same) -> bn -> relu
  conv2d(4, 3, padding=same) -> relu
  flatten
  dense(2)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4
${extra} }
`;
    const full = diagsOf(cnn("")).ir!;
    const frozen = diagsOf(cnn("freeze conv2d_0 to bn_0")).ir!;
    const conv1 = (ir: typeof full) => ir.nodes.find((n) => n.id === "conv2d_1")!.sched!.conv!.dx;
    expect([conv1(full), conv1(frozen)]).toEqual([true, false]);
    // the frozen prefix's activation gradients are never live: planMemory gives them no room of their own
    expect(frozen.layout!.heapFloats).toBeLessThan(full.layout!.heapFloats);
  });

  it("emits the same for the PyTorch target: requires_grad off, scaled groups, frozen batch norms in eval mode", () => {
    const { ir } = diagsOf(spec("  freeze dense_0 to bn_0\n  lr_scale 0.5 dense_1"));
    const py = generatePytorchTrainer(ir!, { dataPath: ".", initFrom: "../base/model.safetensors" });
    expect(py).toMatch(/"dense_0\.weight": \{[^\n]*"frozen": True\}/);
    expect(py).toMatch(/"dense_1\.weight": \{[^\n]*"lr_scale": 0\.5\}/);
    expect(py).toMatch(/^FROZEN_NORMS = \["bn_0"\]/m);
    expect(py).toMatch(/^INIT_FROM = "\.\.\/base\/model\.safetensors"/m);
    expect(py).toMatch(/net\.train\(\)\n\s+frozen_norms_eval\(model\)/);
    expect(py).toMatch(/g\["lr"\] = lr \* lr_factor \* g\["lr_scale"\]/);
    // and nothing of it without fine-tuning
    const plain = generatePytorchTrainer(diagsOf(spec("")).ir!, { dataPath: "." });
    expect(plain).toMatch(/^FROZEN_NORMS = \[\]/m);
    expect(plain).toMatch(/^INIT_FROM = None/m);
    expect(plain).not.toMatch(/"frozen": True|"lr_scale": \d/);
  });

  it("runs frozen batch norms in evaluation mode in the trainer's forward (bn and iternorm), the others by the train flag", async () => {
    const src = `model n {
  input [2, 4, 4]
  iternorm(groups=1, iters=3) -> bn -> relu
  bn
  flatten
  dense(2)
  loss softmax_cross_entropy
}
data { source idx("d") }
train { batch 4
freeze iternorm_0 to bn_0 }
`;
    const { ir, text } = diagsOf(src);
    expect(text).toBe("");
    const ts = (await generateTrainer(ir!, { dataPath: "." })).text;
    const fwd = ts.slice(ts.indexOf("forward(n: number"), ts.indexOf("backward(n: number"));
    expect(fwd).not.toMatch(/iterNormForwardTrain/);
    expect(fwd).toMatch(/iterNormForwardEval\(H, CFG_iternorm_0/);
    expect(fwd).toMatch(/bnForward\(CFG_bn_0,[^;]*, false, n\)/);
    expect(fwd).toMatch(/bnForward\(CFG_bn_1,[^;]*, train, n\)/);
  });

  it("leaves a spec without fine-tuning as it was (no field in the IR)", () => {
    const { ir } = diagsOf(spec(""));
    expect(ir!.params.some((p) => "frozen" in p || "lrScale" in p)).toBe(false);
    expect(ir!.nodes.some((n) => "frozen" in n)).toBe(false);
    expect("initFrom" in ir!).toBe(false);
  });
});

describe("the trainer", () => {
  it("never changes frozen tensors nor the running statistics of a frozen batch norm; trains the rest", async () => {
    const { program, ts } = await compileProgram(spec("  freeze dense_0 to bn_0", "adam(lr=0.01)"), "ft.dnn");
    // no optimizer segment and no backward for the frozen prefix
    expect(program.segments.map((s) => s.name)).toEqual(["dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"]);
    expect(ts).not.toMatch(/backward of .*\(dense_0\)|backward of .*\(bn_0\)/);
    expect(ts).toMatch(/backward of .*\(dense_1\)/);
    const data = loadData(program, MOONS);
    const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
    const model = program.create(be, 3);
    model.init();
    const snap = () => Object.fromEntries(program.tensors.map((t) => [t.name, Float32Array.from(be.H.subarray(t.offset, t.offset + t.size))]));
    const before = snap();
    train(program, be, model, data, { maxSteps: 5 });
    const after = snap();
    for (const n of ["dense_0.weight", "dense_0.bias", "bn_0.weight", "bn_0.bias", "bn_0.running_mean", "bn_0.running_var"])
      expect(Buffer.compare(Buffer.from(after[n].buffer), Buffer.from(before[n].buffer)), n).toBe(0);
    for (const n of ["dense_1.weight", "dense_2.weight", "dense_2.bias"])
      expect(Buffer.compare(Buffer.from(after[n].buffer), Buffer.from(before[n].buffer)), n).not.toBe(0);
  });

  it("scales the first SGD step of a tensor by its lr_scale", async () => {
    const step = async (extra: string) => {
      const { program } = await compileProgram(spec(extra), "ft.dnn");
      const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
      const model = program.create(be, 3);
      model.init();
      const t = program.tensors.find((x) => x.name === "dense_2.weight")!;
      const w0 = Float32Array.from(be.H.subarray(t.offset, t.offset + t.size));
      train(program, be, model, loadData(program, MOONS), { maxSteps: 1 });
      return Array.from(be.H.subarray(t.offset, t.offset + t.size), (v, i) => v - w0[i]);
    };
    const full = await step("");
    const scaled = await step("  lr_scale 0.25 dense_2");
    expect(full.some((d) => d !== 0)).toBe(true);
    for (let i = 0; i < full.length; i++) expect(scaled[i]).toBeCloseTo(0.25 * full[i], 6);
  });
});

describe("init_from: matching by name", () => {
  const tensors = (shapes: Record<string, number[]>) =>
    Object.entries(shapes).map(([name, shape]) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + 0.5) }));
  const program = {
    tensors: [
      { name: "a.weight", shape: [2, 3], offset: 0, size: 6, kind: "param" as const },
      { name: "head.weight", shape: [5, 2], offset: 6, size: 10, kind: "param" as const },
      { name: "bn.running_mean", shape: [2], offset: 16, size: 2, kind: "stat" as const },
    ],
  };
  it("loads same-named same-shaped tensors, skips another shape, reports missing and extra", () => {
    const H = new Float32Array(18).fill(-1);
    const r = applyInitFrom(program, H, tensors({ "a.weight": [2, 3], "head.weight": [10, 2], "old.bias": [4] }), "w.safetensors");
    expect(r).toEqual({
      file: "w.safetensors",
      loaded: ["a.weight"],
      missing: ["bn.running_mean"],
      extra: ["old.bias"],
      mismatched: [{ name: "head.weight", model: [5, 2], file: [10, 2] }],
    });
    expect(Array.from(H.subarray(0, 7))).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, -1]);
    expect(describeInitFrom(r, ["a.weight"]).join("\n")).toBe(
      [
        "init_from w.safetensors: loaded 1 tensor, skipped 1 for their shape, 1 missing from the file, 1 extra in the file (ignored)",
        "  shape: head.weight is [5, 2] here but [10, 2] in the file: skipped, freshly initialised",
        "  missing: bn.running_mean (freshly initialised)",
        "  extra: old.bias",
        "  frozen: a.weight",
      ].join("\n"),
    );
  });
  it("refuses a file with nothing to load, naming it", () => {
    expectDnnc(() => applyInitFrom(program, new Float32Array(18), tensors({ "x.weight": [1] }), "w.safetensors"), "w.safetensors", /no tensor matches/);
  });
});

describe("the CLI", () => {
  const dnnc = resolve("bin/dnnc.mjs");
  const dir = mkdtempSync(join(tmpdir(), "dnnc-ft-"));
  const run = (args: string[]) => spawnSync(process.execPath, [dnnc, ...args], { cwd: dir, encoding: "utf8" });

  it("names the spec's line:col for a missing path, a directory that is no run, a file that is not safetensors", () => {
    writeFileSync(join(dir, "junk.safetensors"), "not a safetensors file at all");
    mkdirSync(join(dir, "empty"), { recursive: true });
    for (const [path, msg] of [
      ["nope/model.safetensors", /no such file or directory/],
      ["empty", /a directory without model\.safetensors/],
      ["junk.safetensors", /not a valid safetensors file/],
    ] as const) {
      writeFileSync(join(dir, "t.dnn"), spec(`  init_from "${path}"`));
      const r = run(["check", "t.dnn"]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/error\[E0801\]: init_from: /);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toMatch(/--> t\.dnn:14:13/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("trains from another run's directory with a new head: loaded, skipped and frozen are printed and recorded in run.json", () => {
    // a base run's model: this network with a head of 3 classes (written here rather than trained: the test stays short)
    const shapes: Record<string, number[]> = {
      "dense_0.weight": [16, 2],
      "dense_0.bias": [16],
      "bn_0.weight": [16],
      "bn_0.bias": [16],
      "dense_1.weight": [16, 16],
      "dense_1.bias": [16],
      "dense_2.weight": [3, 16],
      "dense_2.bias": [3],
      "bn_0.running_mean": [16],
      "bn_0.running_var": [16],
    };
    const base = Object.entries(shapes).map(([name, shape], k) => ({
      name,
      shape,
      data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (name.endsWith("running_var") ? 1.5 : Math.sin(7 * i + k) * 0.3)),
    }));
    mkdirSync(join(dir, "runs/base"), { recursive: true });
    writeFileSync(join(dir, "runs/base/model.safetensors"), encodeSafetensors(base, { format: "dnnc" }));
    writeFileSync(join(dir, "tune.dnn"), spec('  init_from "runs/base"\n  freeze dense_0 to bn_0', "adam(lr=0.01)", 2));
    const r = run(["train", "tune.dnn", "--out", "runs/tune", "--max-steps", "3", "--backend", "ts"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/init_from .*runs\/base\/model\.safetensors: loaded 8 tensors, skipped 2 for their shape/);
    expect(r.stdout).toMatch(/shape: dense_2\.weight is \[2, 16\] here but \[3, 16\] in the file: skipped, freshly initialised/);
    expect(r.stdout).toMatch(/frozen: dense_0\.weight, dense_0\.bias, bn_0\.weight, bn_0\.bias/);
    const runJson = JSON.parse(readFileSync(join(dir, "runs/tune/run.json"), "utf8"));
    expect(runJson.initFrom.mismatched.map((m: { name: string }) => m.name)).toEqual(["dense_2.weight", "dense_2.bias"]);
    expect(runJson.initFrom.loaded).toContain("bn_0.running_var");
    // the frozen tensors are the file's, the loaded trained ones moved on
    const { tensors } = decodeSafetensors(readFileSync(join(dir, "runs/tune/model.safetensors")), "tune");
    const got = Object.fromEntries(tensors.map((t) => [t.name, t.data]));
    for (const t of base.filter((t) => /^(dense_0|bn_0)\./.test(t.name))) expect(Array.from(got[t.name]), t.name).toEqual(Array.from(t.data));
    expect(Array.from(got["dense_1.weight"])).not.toEqual(Array.from(base[4].data));
  });
});
