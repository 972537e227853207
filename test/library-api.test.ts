// dnnc from code (docs/library.md), from the sources: compile a spec's text, fit on arrays made
// here, predict, evaluate, save, load; a bad spec's diagnostics; an AbortSignal; bad arrays. And
// the two faces agree byte for byte: model.save() after fit equals the model.safetensors that the
// compiled trainer's command line writes from the same rows as a CSV file, and the compiled
// trainer module, imported, exports the same fit (with its .d.mts beside it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { compile, SpecError } from "../compiler/library/index";
import type { Trainer } from "../runtime/api-types";

const work = mkdtempSync(join(tmpdir(), "dnnc-library-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Two interleaved quadrants (xor of signs), features multiples of 1/64 (exact in a CSV file). */
function quadrants(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < n; i++) {
    x[2 * i] = Math.round((rnd() * 2 - 1) * 64) / 64;
    x[2 * i + 1] = Math.round((rnd() * 2 - 1) * 64) / 64;
    y[i] = x[2 * i] * x[2 * i + 1] > 0 ? 1 : 0;
  }
  return { x, y };
}

const MODEL = `model quad {
  input [2]
  dense(16) -> relu
  dense(2)
  loss softmax_cross_entropy
}
`;
const TRAIN = `train {
  seed 5
  batch 16
  epochs 4
  optimizer adam(lr=2e-2)
}
`;
// a data block as a file-trained spec has it: fit ignores its source, keeps the rest
const DATA = `data {
  source csv("train.csv", label="label")
  validation 0.25
  scale 2
  preprocess standardize(feature)
}
`;

const same = (a: Uint8Array | Float32Array, b: Uint8Array | Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe("library API from the sources", () => {
  let bare: Trainer;
  let full: Trainer;
  const data = quadrants(160, 7);

  beforeAll(async () => {
    bare = await compile(MODEL + TRAIN, { file: "quad.dnn" }); // no data block
    // named as the command line names it (the model's metadata holds the spec's path)
    full = await compile(MODEL + DATA + TRAIN, { file: join(work, "quad.dnn") });
  }, 60_000);

  it("fits arrays, predicts any row count, evaluates, saves and loads to identical outputs", async () => {
    expect(bare.info).toMatchObject({ name: "quad", inputShape: [2], outputShape: [2], batch: 16 });
    const steps: number[] = [];
    const epochs: number[] = [];
    const model = await bare.fit(data, { epochs: 6, onStep: (s) => steps.push(s.loss), onEpoch: (m) => epochs.push(m.train_loss) });
    expect(model.history).toMatchObject({ steps: 60, aborted: false, seed: 5 });
    expect(epochs.length).toBe(6);
    expect(epochs[5]).toBeLessThan(epochs[0]);
    const ev = model.evaluate(data);
    expect(ev.acc).toBeGreaterThan(0.7);
    // 37 rows: two full batches and a partial one; row i's outputs do not depend on the rest
    const p = model.predict(data.x.subarray(0, 74));
    expect(p.length).toBe(74);
    expect(same(model.predict(data.x.subarray(36 * 2, 37 * 2)), p.subarray(72, 74))).toBe(true);
    const bytes = model.save();
    const back = await bare.load(bytes);
    expect(same(back.predict(data.x.subarray(0, 74)), p)).toBe(true);
    expect(back.evaluate(data)).toEqual(ev);
    expect(same(back.save(), bytes)).toBe(true);
    // same seed, same arrays: the same bytes; the module-level functions are the methods
    const again = await bare.fit(data, { epochs: 6 });
    expect(same(bare.save(again), bytes)).toBe(true);
    expect(same(bare.predict(again, data.x), model.predict(data.x))).toBe(true);
    for (const m of [model, back, again]) m.dispose();
    expect(() => model.predict(data.x)).toThrow(/disposed/);
  });

  it("reports step progress with samples/s and ETA, and stops after the step an AbortSignal is aborted in", async () => {
    const ac = new AbortController();
    const seen: { step: number; eta: number; samplesPerSec: number; totalSteps: number; epoch: number }[] = [];
    const starts: unknown[] = [];
    const model = await bare.fit(data, {
      signal: ac.signal,
      onStart: (s) => starts.push(s),
      onStep: (s) => {
        seen.push(s);
        if (s.step === 3) ac.abort();
      },
    });
    expect(model.history).toMatchObject({ steps: 3, aborted: true });
    // no data block: no validation split; 160 rows, batch 16, 4 epochs
    expect(starts).toEqual([{ backend: model.backend, trainRows: 160, validationRows: 0, epochs: 4, stepsPerEpoch: 10, totalSteps: 40 }]);
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(seen[0]).toMatchObject({ epoch: 1, totalSteps: 40 });
    expect(seen[2].samplesPerSec).toBeGreaterThan(0);
    expect(seen[2].eta).toBeGreaterThan(0);
    model.dispose();
  });

  it("throws a SpecError whose diagnostics carry code, message, line, col and hint", async () => {
    const bad = MODEL.replace("-> relu", "-> reluu") + TRAIN;
    const e = await compile(bad, { file: "bad.dnn" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SpecError);
    const d = (e as SpecError).diagnostics;
    // the missing data block is not an error from code: only the misspelt layer is
    expect(d).toEqual([{ code: "E0201", message: "unknown layer `reluu`", line: 3, col: 16, hint: "did you mean `relu`?" }]);
    expect((e as Error).message).toContain("bad.dnn:3:16");
    // compile reads no data: an `auto` size asks for the number
    const auto = await compile(MODEL.replace("dense(2)", "dense(auto)") + TRAIN, { file: "auto.dnn" }).catch((x: unknown) => x);
    expect((auto as SpecError).diagnostics).toMatchObject([{ code: "E0403", line: 4, message: expect.stringContaining("compile() does not read") }]);
  });

  it("refuses bad arrays and bad bytes with a message naming the value", async () => {
    await expect(bare.fit({ x: data.x, y: data.y.map((v, i) => (i === 9 ? 4 : v)) })).rejects.toThrow(
      /fit\.y: row 9 has label 4; the model takes class ids 0\.\.1/,
    );
    await expect(bare.fit({ x: data.x.subarray(1), y: data.y })).rejects.toThrow(/fit\.x: 319 values are not 160 rows/);
    await expect(bare.fit({ x: new Float32Array(30), y: new Float32Array(10) })).rejects.toThrow(/10 rows of 3 values, but the model takes 2/);
    await expect(bare.fit(data, { epochs: 0 })).rejects.toThrow(/epochs must be an integer >= 1/);
    await expect(bare.fit({ x: data.x.map((v, i) => (i === 7 ? NaN : v)), y: data.y })).rejects.toThrow(/fit\.x: row 3 holds NaN; every value must be finite/);
    await expect(bare.fit({ x: data.x, y: [1, 0] })).rejects.toThrow(/fit\.x: 2 rows of 160 values, but the model takes 2 per row \(\[2\]\)/);
    await expect(bare.load(new Uint8Array([1, 2, 3]))).rejects.toThrow(/model/);
    const other = await compile(MODEL.replace("dense(16)", "dense(8)") + TRAIN, { file: "other.dnn" });
    const m = await other.fit(data, { maxSteps: 1 });
    await expect(bare.load(m.save())).rejects.toThrow(/tensor "[^"]+" has \d+ values, the program's has \d+/);
    expect(() => m.predict([1, 2, 3])).toThrow(/predict: x has 3 values, not a whole number of rows of 2/);
    expect(() => bare.predict({} as never, [1, 2])).toThrow(/expected a model made by fit or load/);
    m.dispose();
  });

  it("save() writes the bytes of the compiled trainer's command line; the trainer module exports fit", async () => {
    writeFileSync(join(work, "quad.dnn"), MODEL + DATA + TRAIN);
    const lines = ["x1,x2,label"];
    for (let i = 0; i < 160; i++) lines.push(`${data.x[2 * i]},${data.x[2 * i + 1]},${data.y[i]}`);
    writeFileSync(join(work, "train.csv"), lines.join("\n") + "\n");
    const bin = join(__dirname, "..", "bin", "dnnc.mjs");
    execFileSync(process.execPath, [bin, "compile", join(work, "quad.dnn"), "-o", join(work, "out")], { stdio: "pipe" });
    const mjs = join(work, "out", "quad.trainer.mjs");
    expect(existsSync(join(work, "out", "quad.trainer.d.mts"))).toBe(true);
    execFileSync(process.execPath, [mjs, "--out", join(work, "run"), "--max-steps", "7", "--quiet"], { stdio: "pipe" });
    const cli = readFileSync(join(work, "run", "model.safetensors"));
    const lib = await full.fit(data, { maxSteps: 7 });
    expect(same(lib.save(), cli)).toBe(true);
    // scale and the fitted standardization apply to predict: loading the CLI's file predicts the same
    const fromCli = await full.load(new Uint8Array(cli));
    expect(same(fromCli.predict(data.x), lib.predict(data.x))).toBe(true);
    const mod = (await import(pathToFileURL(mjs).href)) as Trainer;
    const viaModule = await mod.fit(data, { maxSteps: 7 });
    expect(same(mod.save(viaModule), cli)).toBe(true);
    for (const m of [lib, fromCli, viaModule]) m.dispose();
  }, 60_000);
});
