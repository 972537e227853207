// The PyTorch target's ports of augmentation and preprocessing against the TypeScript runtime, run
// for real (needs /usr/bin/python3 with torch; skipped with one line otherwise). One Python process
// imports the generated trainers (trick-augment, trick-pca, trick-zca) as modules and
// answers everything; the TypeScript side runs runtime/augment.ts and runtime/preprocess.ts.
// - each augmentation kernel with FIXED parameters on small random images: flips, translations and
//   cutout bit-identical, contrast bit-identical, rotation and blur within 1e-6 (cos/sin/exp of V8
//   and of the C library may differ in the last bit);
// - the vectorized hash3 equals runtime/rng.ts's; whole augmented batches (every transform of
//   specs/trick-augment.dnn, the RNG ported bit for bit) equal runOurs' Augmenter's within 1e-6;
// - pca and zca fitted on the training split of specs/data/fashion-mnist-small: the stored
//   tensors and the transformed inputs equal ours (relative 1e-5 of the largest entry);
// - the penalties under torchrun (2 processes, gradients averaged by hand since DDP does not support
//   torch.autograd.grad) equal one process (trick-smoothness, 10 steps).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Augmenter, contrast, cutout, flipH, flipV, gaussianKernel, rotate, separableBlur, translate, type AugmentSpec } from "../runtime/augment";
import { applyPreprocess, fitPreprocessOn, preprocessScratchSize, type PreprocessSpec } from "../runtime/preprocess";
import { hash3 } from "../runtime/rng";
import { splitValidation } from "../runtime/data/batch";
import { loadIdxDir } from "../runtime/node/load-idx";
import { irOf, pythonTrainer } from "./reference/networks/harness";

const PY = "/usr/bin/python3";
const probe = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
const hasTorch = probe.status === 0;
if (!hasTorch)
  console.warn(`pytorch-target-tricks: skipped: ${PY} -c "import torch" failed (${(probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop()})`);

const DATA = resolve("specs/data/fashion-mnist-small");
// whiten is pca with scaled rows (its fitted tensors are checked in pytorch-target-specs); each fit costs an eigen-decomposition of 784 x 784 here
const PRE_SPECS = ["trick-pca", "trick-zca"];

/** A small deterministic pseudo-random image stack (not dnnc's RNG: any values do). */
function images(count: number, C: number, Hh: number, W: number, seed: number): Float32Array {
  const a = new Float32Array(count * C * Hh * W);
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s >>> 8) / 16777216;
  }
  return a;
}

const KERNEL_CASES = [
  { op: "flip_h" },
  { op: "flip_v" },
  { op: "translate", dx: 2, dy: -1 },
  { op: "translate", dx: -3, dy: 4 },
  { op: "translate", dx: 9, dy: 0 },
  { op: "rotate", angle: 0.3 },
  { op: "rotate", angle: -1.1 },
  { op: "rotate", angle: Math.PI / 2 },
  { op: "blur", sigma: 0.6 },
  { op: "blur", sigma: 1.7 },
  { op: "blur_box", r: 1 },
  { op: "cutout", cy: 1, cx: 5, size: 4 },
  { op: "cutout", cy: 6, cx: 0, size: 3 },
  { op: "contrast", f: 0.7 },
] as const;

const SCRIPT = String.raw`
import importlib.util, json, sys
import torch
req = json.load(open(sys.argv[1]))
def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m
aug = load(req["augment_trainer"], "aug")
C, H, W = req["shape"]
imgs = torch.tensor(req["images"], dtype=torch.float32).reshape(-1, C, H, W)
kernels = []
for case in req["kernels"]:
    x = imgs[0].clone()
    op = case["op"]
    if op == "flip_h": y = x.flip(2)
    elif op == "flip_v": y = x.flip(1)
    elif op == "translate": y = aug.aug_translate(x, case["dx"], case["dy"])
    elif op == "rotate": y = aug.aug_rotate(x, case["angle"])
    elif op == "blur":
        k, r = aug.gaussian_kernel(case["sigma"], min(H, W) - 1); y = aug.aug_blur(x, k, r)
    elif op == "blur_box":
        r = case["r"]; y = aug.aug_blur(x, [1 / (2 * r + 1)] * (2 * r + 1), r)
    elif op == "cutout": y = aug.aug_cutout(x, case["cy"], case["cx"], case["size"])
    elif op == "contrast": y = aug.aug_contrast(x, case["f"])
    kernels.append(y.reshape(-1).tolist())
ctr = torch.tensor(req["counters"], dtype=torch.int64)
hv = aug.hash3_vec(req["hash_seed"], req["hash_stream"], ctr).tolist()
hs = [aug.hash3(req["hash_seed"], req["hash_stream"], c) for c in req["counters"]]
big = torch.tensor(req["batch"], dtype=torch.float32).reshape([-1] + aug.INPUT_SHAPE)
batches = [aug.augment_batch(big.clone(), req["seed"], e, req["indices"]).reshape(-1).tolist() for e in (1, 2)]
pre = {}
for name, path in req["pre_trainers"].items():
    m = load(path, name.replace("-", "_"))
    train, _ = m.load_data(req["data"])
    order, _ = m.split_validation(train["n"], m.DATA["validation"], m.SEED)
    fitted = m.fit_preprocess(train, order)
    rows = order[: req["rows"]]
    x = (train["x"][rows].to(torch.float64) * m.DATA["scale"] + m.DATA["shift"]).to(torch.float32)
    pre[name] = {"tensors": {k: t.reshape(-1).tolist() for k, t in fitted["apply"].items()}, "meta": fitted["meta"],
                 "out": m.apply_preprocess(x, fitted).reshape(-1).tolist()}
print(json.dumps({"kernels": kernels, "hash_vec": hv, "hash": hs, "batches": batches, "pre": pre}))
`;

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

function maxRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / Math.max(m, 1e-12);
}

describe.skipIf(!hasTorch)("PyTorch target: augmentation and preprocessing ports equal the TypeScript runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "dnnc-pt-tricks-"));
  const shape = [2, 9, 7] as const; // C, H, W: small, not square, two channels
  const [C, Hh, W] = shape;
  const augIr = irOf("specs/trick-augment.dnn");
  const augSpecs = augIr.data.augment.map((a) => ({ kind: a.kind, ...a.args }) as AugmentSpec);
  const n = 12;
  const batch = images(n, 1, 28, 28, 99);
  const indices = [0, 7, 123, 5999, 42, 42, 3, 1000, 2500, 17, 64, 4096];
  const seed = 12;
  const counters = [0, 1, 2, 65535, 65536, 65537, 1 << 20, 2 ** 31 + 5, 2 ** 32 - 1, 123456789];
  const rows = 16;
  let answer: {
    kernels: number[][];
    hash_vec: number[];
    hash: number[];
    batches: number[][];
    pre: Record<string, { tensors: Record<string, number[]>; meta: Record<string, string>; out: number[] }>;
  };
  const ask = () => {
    if (answer) return answer;
    const augTrainer = join(dir, "aug.py");
    writeFileSync(augTrainer, pythonTrainer(resolve("specs/trick-augment.dnn"), augIr));
    const preTrainers: Record<string, string> = {};
    for (const s of PRE_SPECS) {
      preTrainers[s] = join(dir, `${s}.py`);
      writeFileSync(preTrainers[s], pythonTrainer(resolve(`specs/${s}.dnn`)));
    }
    const req = {
      augment_trainer: augTrainer,
      shape,
      images: Array.from(images(1, C, Hh, W, 7)),
      kernels: KERNEL_CASES,
      counters,
      hash_seed: 0xdeadbeef,
      hash_stream: 0x12345678,
      batch: Array.from(batch),
      seed,
      indices,
      pre_trainers: preTrainers,
      data: DATA,
      rows,
    };
    writeFileSync(join(dir, "req.json"), JSON.stringify(req));
    writeFileSync(join(dir, "check.py"), SCRIPT);
    const r = spawnSync(PY, [join(dir, "check.py"), join(dir, "req.json")], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
      maxBuffer: 1 << 28,
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`check.py exited ${r.status}:\n${r.stderr}`);
    answer = JSON.parse(r.stdout);
    return answer;
  };

  it("every kernel with fixed parameters: flips, translate, cutout and contrast exact; rotate and blur within 1e-6", () => {
    const a = ask();
    const scratch = new Float32Array(C * Hh * W);
    const k = new Float64Array(2 * Math.max(Hh, W) + 1);
    KERNEL_CASES.forEach((c, i) => {
      const x = images(1, C, Hh, W, 7);
      switch (c.op) {
        case "flip_h":
          flipH(x, 0, C, Hh, W);
          break;
        case "flip_v":
          flipV(x, 0, C, Hh, W);
          break;
        case "translate":
          translate(x, 0, C, Hh, W, c.dx, c.dy, scratch);
          break;
        case "rotate":
          rotate(x, 0, C, Hh, W, c.angle, scratch);
          break;
        case "blur": {
          const r = gaussianKernel(c.sigma, Math.min(Hh, W) - 1, k);
          separableBlur(x, 0, C, Hh, W, k, r, scratch);
          break;
        }
        case "blur_box":
          for (let t = 0; t <= 2 * c.r; t++) k[t] = 1 / (2 * c.r + 1);
          separableBlur(x, 0, C, Hh, W, k, c.r, scratch);
          break;
        case "cutout":
          cutout(x, 0, C, Hh, W, c.cy, c.cx, c.size);
          break;
        case "contrast":
          contrast(x, 0, C * Hh * W, c.f);
          break;
      }
      const got = Float32Array.from(a.kernels[i]);
      if (c.op === "rotate" || c.op === "blur" || c.op === "blur_box") expect(maxRel(got, x), JSON.stringify(c)).toBeLessThanOrEqual(1e-6);
      else expect(Array.from(got), JSON.stringify(c)).toEqual(Array.from(x));
    });
  }, 120_000);

  it("the vectorized hash3 equals runtime/rng.ts's hash3", () => {
    const a = ask();
    const want = counters.map((c) => hash3(0xdeadbeef, 0x12345678, c));
    expect(a.hash).toEqual(want);
    expect(a.hash_vec).toEqual(want);
  }, 120_000);

  it("whole augmented batches (every transform of trick-augment, epochs 1 and 2) equal the Augmenter's", () => {
    const a = ask();
    const aug = new Augmenter(augSpecs, { C: 1, H: 28, W: 28 });
    [1, 2].forEach((epoch, e) => {
      const x = Float32Array.from(batch);
      aug.applyBatch(x, 0, n, 1, 28, 28, seed, epoch, indices);
      const got = a.batches[e];
      let exact = 0;
      for (let i = 0; i < x.length; i++) if (Math.fround(got[i]) === x[i]) exact++;
      expect(maxRel(got, x), `epoch ${epoch}`).toBeLessThanOrEqual(1e-6);
      expect(exact / x.length).toBeGreaterThan(0.99); // differences, if any, are last-bit ones
      expect(maxRel(got, batch)).toBeGreaterThan(0.1); // the transforms did something
    });
  }, 120_000);

  it("pca and zca: fitted tensors, metadata and transformed inputs equal runtime/preprocess.ts", () => {
    const a = ask();
    const { train } = loadIdxDir(DATA);
    for (const s of PRE_SPECS) {
      const ir = irOf(`specs/${s}.dnn`);
      const split = splitValidation(train.y.length, ir.data.validation, ir.train.seed);
      const p = ir.data.preprocess[0];
      const fitted = fitPreprocessOn(
        { kind: p.kind, ...p.args } as PreprocessSpec,
        { kind: "u8", data: train.x as Uint8Array, rowLength: 784, scale: ir.data.scale, shift: ir.data.shift },
        split.train,
      );
      const got = a.pre[s];
      expect(got.meta).toEqual({
        "preprocess.kind": fitted.kind,
        "preprocess.mode": fitted.mode,
        "preprocess.in_dim": String(fitted.inDim),
        "preprocess.out_dim": String(fitted.outDim),
        "preprocess.channels": String(fitted.channels),
        "preprocess.eps": String(fitted.eps),
        "preprocess.rows": String(fitted.rows),
      });
      for (const [k, want] of Object.entries(fitted.tensors)) expect(maxRel(got.tensors[k], want), `${s} ${k}`).toBeLessThanOrEqual(1e-5);
      const x = new Float32Array(rows * 784);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < 784; j++) x[i * 784 + j] = Math.fround(train.x[split.train[i] * 784 + j] * ir.data.scale + ir.data.shift);
      applyPreprocess(fitted, x, 0, rows, new Float32Array(preprocessScratchSize(fitted)));
      const want = x.subarray(0, rows * fitted.outDim);
      expect(got.out.length).toBe(want.length);
      expect(maxRel(got.out, want), `${s} transformed rows`).toBeLessThanOrEqual(1e-5);
    }
  }, 120_000);

  it("smoothness penalties under torchrun --nproc_per_node=2 equal one process", async () => {
    const trainer = join(dir, "smooth.py");
    writeFileSync(trainer, pythonTrainer(resolve("specs/trick-smoothness.dnn")));
    const env = { ...process.env, OMP_NUM_THREADS: "1", GLOO_SOCKET_IFNAME: "lo" };
    const args = ["--max-steps", "10", "--trace"];
    let r = spawnSync(PY, [trainer, ...args, join(dir, "one.json"), "--quiet"], { encoding: "utf8", env, timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const port = await freePort();
    // --redirects/--tee 1: torch 1.13's launcher cannot parse the default "0" under Python 3.11 (docs/scale-out.md)
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
    r = spawnSync(PY, [...launcher, trainer, ...args, join(dir, "two.json"), "--quiet"], { encoding: "utf8", env, timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const one = JSON.parse(readFileSync(join(dir, "one.json"), "utf8")) as { loss: number[] };
    const two = JSON.parse(readFileSync(join(dir, "two.json"), "utf8")) as { loss: number[] };
    expect(two.loss.length).toBe(10);
    two.loss.forEach((l, i) => expect(Math.abs(l - one.loss[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-5 * Math.abs(one.loss[i])));
  }, 300_000);
});
