// The PyTorch target, run for real (needs /usr/bin/python3 with torch; skipped with one line otherwise):
// - one epoch of the generated trainer from our initial weights equals one epoch of our trainer
//   (metrics.jsonl values, and model.safetensors names/shapes/order/values);
// - under torchrun with 2 processes (gloo, loopback) it equals 1 process with the same global batch;
// - every schedule kind's Python formula equals runtime/schedule.ts, and the RNG port (hash3, shuffle,
//   validation split) equals runtime/rng.ts bit for bit.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import type { IR } from "../compiler/ir";
import { generatePytorchTrainer } from "../compiler/codegen-pytorch/emit-python";
import { decodeSafetensors } from "../runtime/safetensors";
import { splitValidation } from "../runtime/data/batch";
import { hash3, Rng, streamId } from "../runtime/rng";
import { initialScheduleState, learningRate, observeMetric } from "../runtime/schedule";
import { scheduleConfig } from "../runtime/train-loop";
import type { Program } from "../runtime/program";
import { NETWORKS_DIR, ourInitialTensors, runOurs, safetensorsOf, type Tensors } from "./reference/networks/harness";

const PY = "/usr/bin/python3";
const probe = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
const hasTorch = probe.status === 0;
if (!hasTorch)
  console.warn(`pytorch-target-python: skipped: ${PY} -c "import torch" failed (${(probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop()})`);

const BLOBS = join(NETWORKS_DIR, "data", "blobs");
const SPEC = `
model ddp_mlp {
  input [4]
  dense(16) -> relu -> dropout(0)
  dense(16, l1=1e-3) -> layernorm -> tanh
  dense(3)
  loss softmax_cross_entropy(label_smoothing=0.05)
}
data {
  source csv("${BLOBS}", label="label")
  validation 0.25
  preprocess standardize(feature)
}
train {
  seed 2
  batch 7
  epochs 2
  optimizer sgd(lr=0.05, momentum=0.9)
  weight_decay 1e-3
  clip_norm 1
  schedule exponential(0.8)
}
`;

function python(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(PY, args, { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", ...env }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

const metrics = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number | null>);

function close(a: number | null, b: number | null, tol: number): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

describe.skipIf(!hasTorch)("PyTorch target under python3 and torchrun (gloo, loopback)", () => {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-pt-"));
  const spec = join(dir, "ddp.dnn");
  writeFileSync(spec, SPEC);
  const r = compileToIr(SPEC, spec);
  const ir = r.ir!;
  const trainer = join(dir, "ddp.trainer.py");
  writeFileSync(trainer, generatePytorchTrainer(ir, { dataPath: BLOBS }));
  const init = join(dir, "init.safetensors");

  // our initial weights as init.safetensors, and one epoch of the Python trainer from them in py1/ (made once)
  let prepared: Promise<{ program: Program; tensors: Tensors }> | undefined;
  const prepare = () =>
    (prepared ??= ourInitialTensors(spec).then((r) => {
      writeFileSync(init, safetensorsOf(r.program, r.tensors));
      python([trainer, "--init-from", init, "--epochs", "1", "--out", join(dir, "py1"), "--quiet"]);
      return r;
    }));

  it("one epoch from our initial weights: the same metrics and the same model.safetensors as our trainer", async () => {
    const { program } = await prepare();
    const ours = await runOurs(spec, { epochs: 1 });
    const pm = metrics(join(dir, "py1"));
    expect(pm.length).toBe(2);
    const om = ours.result.epochs[0] as unknown as Record<string, number | null>;
    expect(Object.keys(pm[0])).toEqual(Object.keys(om));
    for (const k of ["train_loss", "train_acc", "val_loss", "val_acc", "lr"]) expect(close(pm[0][k], om[k], 1e-4), `${k}: ${pm[0][k]} vs ${om[k]}`).toBe(true);
    expect(Object.keys(pm[1])).toEqual(["test_loss", "test_acc"]);
    expect(close(pm[1].test_loss, ours.result.test_loss, 1e-4)).toBe(true);
    expect(pm[1].test_acc).toBeCloseTo(ours.result.test_acc!, 10);
    const st = decodeSafetensors(readFileSync(join(dir, "py1", "model.safetensors")), "py1/model.safetensors");
    // parameters, running statistics, then the fitted standardization (as our trainer stores it)
    expect(st.tensors.map((t) => [t.name, t.shape])).toEqual([
      ...program.tensors.map((t) => [t.name, t.shape]),
      ["preprocess.mean", [4]],
      ["preprocess.std", [4]],
    ]);
    const fitted = ours.result.preprocess!;
    expect(fitted.kind).toBe("standardize");
    expect(st.metadata).toMatchObject({
      "preprocess.kind": "standardize",
      "preprocess.mode": "feature",
      "preprocess.rows": String(fitted.rows),
      "preprocess.eps": String(fitted.eps),
    });
    for (const k of ["mean", "std"]) expect(Array.from(st.tensors.find((t) => t.name === `preprocess.${k}`)!.data)).toEqual(Array.from(fitted.tensors[k]));
    expect(st.metadata).toMatchObject({ format: "dnnc", spec_name: "ddp_mlp", spec_sha256: ir.specHash, steps: "7" });
    for (const t of st.tensors.filter((t) => !t.name.startsWith("preprocess."))) {
      const want = ours.final[t.name];
      const worst = Math.max(...Array.from(t.data, (v, i) => Math.abs(v - want[i])));
      expect(worst, t.name).toBeLessThan(1e-4);
    }
  }, 30_000);

  it("reduce-on-plateau and early stopping: the same epochs, rates, stop and restored weights as our trainer", async () => {
    const { tensors } = await prepare();
    const esText = SPEC.replace("epochs 2", "epochs 8")
      .replace("lr=0.05", "lr=0.4")
      .replace("schedule exponential(0.8)", "schedule plateau(factor=0.5, patience=0)\n  early_stopping(patience=2, monitor=val_loss)");
    const esSpec = join(dir, "es.dnn");
    writeFileSync(esSpec, esText);
    const esTrainer = join(dir, "es.trainer.py");
    writeFileSync(esTrainer, generatePytorchTrainer(compileToIr(esText, esSpec).ir!, { dataPath: BLOBS }));
    python([esTrainer, "--init-from", init, "--out", join(dir, "es"), "--quiet"]);
    const ours = await runOurs(esSpec, { init: tensors });
    expect(ours.result.stoppedEarly).toBe(true); // the case exercises the stop and the restore
    expect(ours.result.bestEpoch).toBeLessThan(ours.result.epochs.length);
    const pm = metrics(join(dir, "es"));
    expect(pm.length).toBe(ours.result.epochs.length + 1);
    ours.result.epochs.forEach((m, e) => {
      for (const k of ["train_loss", "val_loss", "val_acc", "lr"] as const)
        expect(close(pm[e][k], m[k], 1e-4), `epoch ${e + 1} ${k}: ${pm[e][k]} vs ${m[k]}`).toBe(true);
    });
    expect(close(pm[pm.length - 1].test_loss, ours.result.test_loss, 1e-4)).toBe(true);
    const st = decodeSafetensors(readFileSync(join(dir, "es", "model.safetensors")), "es");
    for (const t of st.tensors.filter((t) => !t.name.startsWith("preprocess.")))
      expect(Math.max(...Array.from(t.data, (v, i) => Math.abs(v - ours.final[t.name][i]))), t.name).toBeLessThan(1e-4);
  }, 30_000);

  it("torchrun --nproc_per_node=2 equals one process with the same global batch", async () => {
    await prepare();
    const port = await freePort();
    // one process: the run of the first test (same initial weights, 1 epoch)
    // --redirects/--tee 1: torch 1.13's launcher cannot parse the default "0" under Python 3.11 (see docs/scale-out.md)
    const launcher = [
      "-m",
      "torch.distributed.run",
      "--nnodes=1",
      "--nproc_per_node=2",
      "--master_addr=127.0.0.1",
      `--master_port=${port}`,
      "--redirects",
      "1",
      "--tee",
      "1",
    ];
    python([...launcher, trainer, "--init-from", init, "--epochs", "1", "--out", join(dir, "two"), "--quiet"], { GLOO_SOCKET_IFNAME: "lo" });
    const m1 = metrics(join(dir, "py1"));
    const m2 = metrics(join(dir, "two"));
    expect(m2.length).toBe(m1.length);
    for (let e = 0; e < m1.length; e++)
      for (const k of Object.keys(m1[e]))
        if (k !== "seconds") expect(close(m2[e][k], m1[e][k], 1e-5), `line ${e + 1} ${k}: ${m2[e][k]} vs ${m1[e][k]}`).toBe(true);
    const a = decodeSafetensors(readFileSync(join(dir, "py1", "model.safetensors")), "py1");
    const b = decodeSafetensors(readFileSync(join(dir, "two", "model.safetensors")), "two");
    expect(b.tensors.map((t) => t.name)).toEqual(a.tensors.map((t) => t.name));
    for (let i = 0; i < a.tensors.length; i++) {
      const worst = Math.max(...Array.from(a.tensors[i].data, (v, j) => Math.abs(v - b.tensors[i].data[j])));
      expect(worst, a.tensors[i].name).toBeLessThan(1e-5);
    }
  }, 60_000);

  it("user errors are one line on stderr and exit 1: a wrong --init-from file, --sync-bn on the CPU", () => {
    const run = (args: string[]) => spawnSync(PY, [trainer, ...args], { encoding: "utf8", timeout: 30_000 });
    const wrong = join(dir, "wrong.safetensors");
    writeFileSync(
      wrong,
      safetensorsOf({ tensors: [{ name: "dense_0.weight", shape: [2, 2], offset: 0, size: 4, kind: "param" }] } as unknown as Program, {
        "dense_0.weight": [1, 2, 3, 4],
      }),
    );
    let r = run(["--init-from", wrong, "--epochs", "1"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`error: ${wrong}: tensor "dense_0.weight" has shape [2, 2], the model needs [16, 4]`);
    r = run(["--sync-bn", "--epochs", "1"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe("error: --sync-bn needs --device cuda (SyncBatchNorm in PyTorch 1.13 runs on GPUs only)");
    // a CSV value that float32 rounds to infinity is refused with our loader's message (not trained on as inf)
    const big = join(dir, "big.csv");
    writeFileSync(big, "a,b,c,d,label\n1,2,3,4,0\n1,1e39,3,4,1\n");
    r = run(["--data", big, "--epochs", "1"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`error: ${big}:3:3: "1e39" is not a finite float32 (it would be Infinity; the largest float32 is 3.4028235e38) (column "b")`);
  }, 30_000);

  it("schedules and the RNG port equal the TypeScript runtime", () => {
    const kinds = [
      ["constant", "", 0],
      ["inverse_time(decay=0.5)", "", 0],
      ["exponential(0.9)", "schedule_per step", 3],
      ["step(every=3, factor=0.5)", "", 0],
      ["multistep(milestones=[2, 5], gamma=0.3)", "", 2],
      ["cosine(t_max=7, eta_min=0.001)", "", 0],
      ["cosine", "", 0],
      ["cosine_restarts(t_0=3, t_mult=2, eta_min=0.01)", "", 0],
      ["cosine_restarts(t_0=4)", "schedule_per step", 2],
      ["plateau(factor=0.5, patience=1, cooldown=1)", "", 0],
      ["plateau(factor=0.5, patience=0, monitor=val_acc, min_lr=0.02)", "", 2],
    ] as const;
    const values = [1, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.3, 0.31, 0.32, 0.33];
    const irs: IR[] = kinds.map(([s, per, warm], k) => {
      const text = `model s${k} {\n input [2]\n dense(2)\n loss mse\n}\ndata {\n source csv("x.csv")\n validation 0.2\n}\ntrain {\n epochs 9\n optimizer sgd(lr=0.1)\n schedule ${s}\n ${per}\n warmup ${warm}\n}`;
      const c = compileToIr(text, `s${k}.dnn`);
      if (!c.ir) throw new Error(`${s}: ${c.diagnostics.map((d) => d.message).join("; ")}`);
      writeFileSync(join(dir, `s${k}.py`), generatePytorchTrainer(c.ir, { dataPath: "." }));
      return c.ir;
    });
    const script = `
import importlib.util, json, sys
out = {"lr": []}
for k in range(${kinds.length}):
    spec = importlib.util.spec_from_file_location(f"s{k}", sys.argv[1] + f"/s{k}.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    p = m.Plateau() if m.Plateau is not None else None
    lrs = []
    for i, v in enumerate(${JSON.stringify(values)}):
        lrs.append(m.learning_rate(i, p))
        if p is not None: p.observe(v)
    out["lr"].append(lrs)
a = list(range(50)); m.shuffle(a, 4294967295, m.stream_id("data:shuffle") ^ 3)
out["shuffle"] = a
out["split"] = m.split_validation(37, 0.3, 9)
out["hash"] = [m.hash3(s, t, c) for s, t, c in [(0, 0, 0), (4294967295, 123456789, 65536 * 7 + 5), (42, m.stream_id("dropout:dropout_0"), 99999)]]
print(json.dumps(out))`;
    writeFileSync(join(dir, "check.py"), script);
    const got = JSON.parse(python([join(dir, "check.py"), dir])) as { lr: number[][]; shuffle: number[]; split: number[][]; hash: number[] };
    irs.forEach((i, k) => {
      const sched = scheduleConfig({ train: i.train } as unknown as Program);
      const state = initialScheduleState(sched);
      const want = values.map((v, e) => {
        const lr = learningRate(sched, e, e, state);
        observeMetric(sched, state, v);
        return lr;
      });
      got.lr[k].forEach((lr, e) => expect(Math.abs(lr - want[e]), `${kinds[k][0]} k=${e}: ${lr} vs ${want[e]}`).toBeLessThan(1e-12));
    });
    const a = Array.from({ length: 50 }, (_, i) => i);
    new Rng(4294967295, streamId("data:shuffle") ^ 3).shuffle(a);
    expect(got.shuffle).toEqual(a);
    const sp = splitValidation(37, 0.3, 9);
    expect(got.split).toEqual([Array.from(sp.train), Array.from(sp.val)]);
    expect(got.hash).toEqual([hash3(0, 0, 0), hash3(4294967295, 123456789, 65536 * 7 + 5), hash3(42, streamId("dropout:dropout_0"), 99999)]);
  }, 30_000);
});
