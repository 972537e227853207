// Test helpers of the sequence layers: compile a spec through the real pipeline, optionally as if its
// data source padded sequences (ir.data.lengths: no source sets it yet, so the IR as lowering left it
// gets the flag and then runs the same passes, PASSES, as compileToIr), to a loaded Program.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr, PASSES } from "../compiler/pipeline";
import { verifyIr, type IR } from "../compiler/ir";
import { renderDiagnostics } from "../grammar/diagnostics";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../compiler/codegen/bundle";
import type { Program } from "../runtime/program";
import { expect } from "vitest";
import { checkTarget } from "../compiler/check-targets";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { createBackend } from "../runtime/backend-create";
import { Rng } from "../runtime/rng";

/** The final IR of a spec; with `lengths`, as if the data were padded sequences. */
export function seqIr(source: string, opts: { lengths?: boolean } = {}): IR {
  const r = compileToIr(source, "seq.dnn", { passes: "lower" });
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, source));
  // (a copy: the passes compileToIr ran already must not have left anything in the IR we run them on again)
  const low = structuredClone(r.ir);
  let ir: IR = { ...low, data: { ...low.data, ...(opts.lengths ? { lengths: true as const } : {}) } };
  for (const p of PASSES) {
    if ("check" in p) {
      const d = p.check(ir, r.spec!);
      if (d.length > 0) throw new Error(renderDiagnostics(d, source));
    } else ir = verifyIr(p.transform(ir, r.spec!), p.name);
  }
  return ir;
}

export async function seqProgram(source: string, opts: { lengths?: boolean } = {}): Promise<{ program: Program; ir: IR; ts: string }> {
  const ir = seqIr(source, opts);
  const ts = (await generateTrainer(ir, { dataPath: "." })).text;
  const js = await bundleTrainer(ts, "t.trainer.ts");
  const dir = mkdtempSync(join(tmpdir(), "dnnc-seqops-"));
  const mjsPath = join(dir, "t.trainer.mjs");
  writeFileSync(mjsPath, js);
  const mod = (await import(pathToFileURL(mjsPath).href)) as { program: Program };
  return { program: mod.program, ir, ts };
}

/** Element-wise closeness, relative to max(1, |want|). */
export function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): string | undefined {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])))) return `[${i}]: ${got[i]} vs ${want[i]}`;
  return undefined;
}

// ---- layer cases on the targets (seqops-targets, rnn-op-targets) ----------------------------------

/** A one-model case: its input shape (a vocabulary: token ids), the layers and the loss. */
export interface LayerCase {
  name: string;
  input: number[];
  vocab?: number;
  body: string;
  loss: string;
}

export const caseText = (s: LayerCase) => `model ${s.name.replace(/-/g, "_")} {
  input [${s.input.join(", ")}]
  ${s.body}
  loss ${s.loss}
}
data { source csv("d.csv") }
train { batch 4 }
`;

/** Random weights for every parameter (weight norm's g positive), and an input batch of n rows (token ids for a vocabulary). */
export function weightsAndInput(ir: IR, s: LayerCase, seed: number, n: number) {
  const rng = new Rng(seed, 9);
  const tensors = ir.params.map((p) => ({
    name: p.name,
    shape: p.shape,
    data: Float32Array.from({ length: p.size }, () => (p.name.endsWith("weight_g") ? rng.range(0.5, 1.5) : rng.range(-0.8, 0.8))),
  }));
  const size = s.input.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => (s.vocab ? Math.floor(rng.range(0, s.vocab)) : rng.range(-2, 2)));
  return { tensors, x };
}

// each case compiled to a trainer once per test file (for the ONNX and the PyTorch comparisons)
const programs = new Map<string, ReturnType<typeof seqProgram>>();

/** Our forward (eval mode) of n rows from these weights. */
export async function ourForward(s: LayerCase, tensors: { name: string; data: Float32Array }[], x: Float32Array, n: number): Promise<Float32Array> {
  const key = caseText(s);
  if (!programs.has(key)) programs.set(key, seqProgram(key));
  const { program: p } = await programs.get(key)!;
  const be = await createBackend(p.meta.heapFloats, { backend: "ts" });
  try {
    const model = p.create(be, 0);
    model.init();
    for (const t of tensors) be.H.set(t.data, p.tensors.find((q) => q.name === t.name)!.offset);
    be.H.set(x, p.layout.x);
    model.forward(n, false, 0);
    return be.H.slice(p.layout.out, p.layout.out + n * p.meta.outputSize);
  } finally {
    be.close();
  }
}

export const PY = "/usr/bin/python3";
export const hasTorch = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;

const RUN_NET = `
import importlib.util, json, sys
import torch
job = json.load(open(sys.argv[1]))
out = {}
for case in job:
    spec = importlib.util.spec_from_file_location("trainer_" + case["name"].replace("-", "_"), case["path"])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    net = m.Net()
    state = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in case["params"].items()}
    net.load_state_dict(state, strict=True)
    net.eval()
    x = torch.tensor(case["x"], dtype=torch.float32).reshape([len(case["x"]) // case["size"]] + case["shape"])
    with torch.no_grad():
        y = net(x)
    out[case["name"]] = {"y": [float(v) for v in y.reshape(-1).tolist()], "names": list(net.state_dict().keys())}
print(json.dumps(out))
`;

/**
 * Every case's PyTorch-target Net (the generated trainer imported by /usr/bin/python3, our tensors
 * loaded by name, strict) from random weights, in one Python run, beside our forward: per case
 * the Net's output (y), its state_dict names (names), ours (want) and our tensor names (ourNames).
 */
export async function netAndOurs(cases: LayerCase[], n: number, seed: number) {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-seq-net-"));
  const job = [];
  const want: Record<string, { want: Float32Array; ourNames: string[] }> = {};
  for (const s of cases) {
    const r = compileToIr(caseText(s), `${s.name}.dnn`);
    expect(r.diagnostics).toEqual([]);
    expect(checkTarget(r.ir!, "pytorch")).toEqual([]);
    const path = join(dir, `${s.name}.trainer.py`);
    writeFileSync(path, generatePytorchTrainer(r.ir!, { dataPath: "data" }));
    const { tensors, x } = weightsAndInput(r.ir!, s, seed, n);
    want[s.name] = { want: await ourForward(s, tensors, x, n), ourNames: tensors.map((t) => t.name) };
    const params = Object.fromEntries(tensors.map((t) => [t.name, { shape: t.shape, data: Array.from(t.data) }]));
    job.push({ name: s.name, path, params, x: Array.from(x), shape: s.input, size: s.input.reduce((a, b) => a * b, 1) });
  }
  writeFileSync(join(dir, "job.json"), JSON.stringify(job));
  writeFileSync(join(dir, "run.py"), RUN_NET);
  const p = spawnSync(PY, [join(dir, "run.py"), join(dir, "job.json")], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } });
  expect(p.status, p.stderr).toBe(0);
  const got = JSON.parse(p.stdout) as Record<string, { y: number[]; names: string[] }>;
  return Object.fromEntries(cases.map((s) => [s.name, { ...got[s.name], ...want[s.name] }]));
}
