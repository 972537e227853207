// Shared by test/pytorch-target-seq*.test.ts: compile a sequence spec as `dnnc compile` does (the
// data's facts read first: the character vocabulary, auto sizes), run OUR trainer in-process on its
// data, and drive one persistent /usr/bin/python3 worker (torch is imported once per test file) that
// imports generated PyTorch trainers and calls their load_splits, main or Net.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr } from "../compiler/pipeline";
import type { IR } from "../compiler/ir";
import { dataPathOf, readDataFacts } from "../compiler/data-facts";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { bundleTrainer } from "../compiler/codegen/bundle";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { createBackend } from "../runtime/backend-create";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";
import { renderDiagnostics } from "../grammar/diagnostics";

export const PY = "/usr/bin/python3";
const probe = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
export const hasTorch = probe.status === 0;
export const noTorchReason = (probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop();

/** The IR of a spec, compiled as `dnnc compile` does; `facts: false` compiles without reading the data (no fixed vocabulary). */
export function seqSpecIr(text: string, specPath: string, opts: { facts?: boolean } = {}): IR {
  const r = compileToIr(text, specPath, opts.facts === false ? {} : { facts: (spec) => readDataFacts(spec, dataPathOf(spec, specPath)) });
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, text));
  return r.ir;
}

/** The PyTorch trainer of `ir`, written into dir; returns its path. */
export function writePyTrainer(ir: IR, dir: string, dataPath: string): string {
  const path = join(dir, `${ir.name}.trainer.py`);
  writeFileSync(path, generatePytorchTrainer(ir, { dataPath }));
  return path;
}

/** Our compiled trainer's Program (the real pipeline: generateTrainer → bundleTrainer → import). */
export async function ourProgram(ir: IR, dataPath: string): Promise<Program> {
  const src = await generateTrainer(ir, { dataPath });
  const mjs = await bundleTrainer(src.text, `${ir.name}.trainer.ts`);
  const file = join(mkdtempSync(join(tmpdir(), "dnnc-seqpt-")), `${ir.name}.trainer.mjs`);
  writeFileSync(file, mjs);
  return ((await import(pathToFileURL(file).href)) as { program: Program }).program;
}

export type Tensors = Record<string, number[]>;

/** Our trainer (a compiled Program) on `dataPath` from its seeded initial weights: the initial and final tensors and the result. */
export async function trainOurs(program: Program, dataPath: string, opts: { maxSteps?: number; epochs?: number }) {
  const data = loadData(program, dataPath);
  const be = await createBackend(program.meta.heapFloats, { backend: "ts" });
  try {
    const model = program.create(be, program.train.seed);
    model.init();
    const H = be.H;
    const read = (): Tensors => Object.fromEntries(program.tensors.map((t) => [t.name, Array.from(H.subarray(t.offset, t.offset + t.size))]));
    const initial = read();
    const result = train(program, be, model, data, opts);
    return { program, data, initial, final: read(), result };
  } finally {
    be.close();
  }
}

/** A split as the Python worker dumps it (and as we compare it): every sample's values in order. */
export interface Split {
  n: number;
  x: number[];
  y: number[];
  lengths: number[] | null;
  classes: number | null;
}
export interface PyLoaded {
  train: Split;
  validation: Split | null;
  test: Split | null;
  meta: Record<string, string>;
  tensors: Record<string, number[]>;
}

const WORKER = String.raw`
import importlib.util, json, sys, traceback
import torch
mods = {}


def module(path):
    if path not in mods:
        spec = importlib.util.spec_from_file_location(f"trainer_{len(mods)}", path)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        mods[path] = m
    return mods[path]


def dump(m, ds):
    if ds is None:
        return None
    idx = list(range(ds["n"]))
    lengths = ds.get("lengths")
    return {"n": ds["n"], "x": m.sample_x(ds, idx).to(torch.float32).reshape(-1).tolist(), "y": m.sample_y(ds, idx).to(torch.float32).reshape(-1).tolist(),
            "lengths": None if lengths is None else lengths.tolist(), "classes": ds["classes"]}


for line in sys.stdin:
    job = json.loads(line)
    try:
        m = module(job["trainer"])
        if job["call"] == "load":
            d = m.load_splits(job["data"])
            out = {k: dump(m, d[k]) for k in ("train", "validation", "test")}
            out.update(meta=d["meta"], tensors={k: v.tolist() for k, v in d["tensors"]})
        elif job["call"] == "net":
            net = m.Net()
            net.load_state_dict({k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in job["params"].items()}, strict=True)
            net.eval()
            x = torch.tensor(job["x"], dtype=torch.float32).reshape([len(job["lengths"])] + m.INPUT_SHAPE)
            with torch.no_grad():
                out = {"y": net(x, torch.tensor(job["lengths"], dtype=torch.int64)).reshape(-1).tolist()}
        else:
            m.main(job["args"])
            out = {}
        print(json.dumps({"ok": True, **out}), flush=True)
    except BaseException as e:
        user = type(e).__name__ == "UserError"
        print(json.dumps({"ok": False, "user": user, "error": str(e) if user else "".join(traceback.format_exception(e))}), flush=True)
`;

export class PyWorkerError extends Error {
  constructor(
    message: string,
    /** A UserError of the trainer (its message is what the trainer prints after "error: "). */
    readonly user: boolean,
  ) {
    super(message);
  }
}

/** One Python process for a test file: jobs run one at a time, in order. */
export function startPyWorker() {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-seqpt-worker-"));
  writeFileSync(join(dir, "worker.py"), WORKER);
  const p = spawn(PY, [join(dir, "worker.py")], { env: { ...process.env, OMP_NUM_THREADS: "1" }, stdio: ["pipe", "pipe", "pipe"] });
  let buf = "";
  let err = "";
  const waiting: { res: (v: Record<string, unknown>) => void; rej: (e: Error) => void }[] = [];
  p.stderr.on("data", (d) => (err += d));
  p.stdout.on("data", (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith("{")) continue; // a trainer's own printing
      const q = waiting.shift();
      let r: Record<string, unknown> & { ok: boolean; user?: boolean; error?: string };
      try {
        r = JSON.parse(line) as typeof r;
      } catch (e) {
        q?.rej(new Error(`the worker's answer is not JSON (${(e as Error).message}): ${line.slice(0, 200)}`));
        continue;
      }
      if (r.ok) q?.res(r);
      else q?.rej(new PyWorkerError(`${r.error}${r.user ? "" : `\n${err}`}`, r.user === true));
    }
  });
  p.on("close", (code) => {
    for (const q of waiting.splice(0)) q.rej(new Error(`python worker exited ${code}:\n${err}`));
  });
  const job = (j: object) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      waiting.push({ res, rej });
      p.stdin.write(JSON.stringify(j) + "\n");
    });
  return {
    load: (trainer: string, data: string) => job({ trainer, call: "load", data }) as unknown as Promise<PyLoaded>,
    main: (trainer: string, args: string[]) => job({ trainer, call: "main", args }).then(() => undefined),
    /** The trainer's Net in eval mode with these parameters on a padded batch: its output, flat. */
    net: (trainer: string, params: Record<string, { shape: number[]; data: number[] }>, x: number[], lengths: number[]) =>
      job({ trainer, call: "net", params, x, lengths }).then((r) => r.y as number[]),
    close: () => p.stdin.end(),
  };
}

/** The first difference between two number arrays (exact), or undefined. */
export function firstDifference(got: ArrayLike<number> | null | undefined, want: ArrayLike<number> | null | undefined): string | undefined {
  if (got == null || want == null) return got == want ? undefined : `${got == null ? "none" : "values"} vs ${want == null ? "none" : "values"}`;
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `[${i}]: ${got[i]} vs ${want[i]}`;
  return undefined;
}

/** Element-wise closeness relative to max(1, |want|): the worst difference. */
export function worstRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let w = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return w;
}
