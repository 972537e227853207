// image_folder("DIR"): one folder of PNG files per class, class names from the folder names (saved
// with the model, used by predict), gray and RGB images converted to the input's channels, a size
// that differs from the input named with its file, train/ and test/ folders or the data block's
// test split; the PyTorch target reads the same bytes (when /usr/bin/python3 has torch).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileToIr } from "../compiler/pipeline";
import { programConstants } from "../compiler/codegen/emit-trainer";
import { renderDiagnostics } from "../grammar/diagnostics";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { encodePng } from "../runtime/node/png";
import { loadImageFolder } from "../runtime/node/load-image-folder";
import { splitTestRows } from "../runtime/data/split";
import { expectDnnc } from "./helpers/expect-dnnc";
import { firstDifference, hasTorch, seqSpecIr, startPyWorker, writePyTrainer, type PyWorkerError } from "./pytorch-target-seq-helpers";

const dir = mkdtempSync(join(tmpdir(), "dnnc-imgdir-"));

/** A W x H image of `ch` channels whose pixel (x, y, c) is f(x, y, c). */
function png(path: string, W: number, H: number, ch: 1 | 2 | 3 | 4, f: (x: number, y: number, c: number) => number): void {
  const px = new Uint8Array(W * H * ch);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < ch; c++) px[(y * W + x) * ch + c] = f(x, y, c) & 255;
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, encodePng(W, H, ch, px));
}

// two classes, mixed gray (1), gray+alpha (2), RGB (3) and RGBA (4) files, a hidden file and a text file to ignore
const ROOT = join(dir, "shapes");
for (let i = 0; i < 5; i++) {
  png(join(ROOT, "bars", `b${i}.png`), 4, 3, ([1, 3, 2, 4, 3] as const)[i], (x, y, c) => x * 40 + i * 9 + c * 50);
  png(join(ROOT, "dots", `d${i}.PNG`), 4, 3, ([3, 1, 4, 3, 2] as const)[i], (x, y, c) => y * 70 + i * 5 + c * 30);
}
writeFileSync(join(ROOT, "bars", "notes.txt"), "not an image");
writeFileSync(join(ROOT, ".DS_Store"), "x");

const spec = (input: string, source = `image_folder("shapes")`, data = "") =>
  `model m {\n  input [${input}]\n  flatten\n  dense(2)\n  loss softmax_cross_entropy\n}\ndata {\n  source ${source}\n  scale 1/255\n  ${data}\n}\ntrain { seed 6; batch 4; epochs 2 }\n`;

function program(text: string): Program {
  const r = compileToIr(text, join(dir, "m.dnn"));
  if (!r.ir) throw new Error(renderDiagnostics(r.diagnostics, text));
  return programConstants(r.ir, ROOT) as unknown as Program;
}

describe("loadImageFolder", () => {
  it("reads one folder per class in name order, PNG files only, as planar bytes of the input's channels", () => {
    const d = loadImageFolder(ROOT, { shape: [3, 3, 4], seed: 0 });
    expect(d.classNames).toEqual(["bars", "dots"]);
    expect(d.train.n).toBe(10);
    expect(Array.from(d.train.y)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(d.train.shape).toEqual([3, 3, 4]);
    // b1 is RGB: red plane x*40 + 9, green + 50, blue + 100, at pixel (x=2, y=1)
    const s1 = d.train.x.subarray(36, 72);
    expect([s1[1 * 4 + 2], s1[12 + 1 * 4 + 2], s1[24 + 1 * 4 + 2]]).toEqual([89, 139, 189]);
    // b0 is gray: repeated in the three planes
    const s0 = d.train.x.subarray(0, 36);
    expect([s0[5], s0[17], s0[29]]).toEqual([40, 40, 40]);
  });

  it("converts colour to gray by luma (PIL's convert('L')) for a 1-channel input", () => {
    const d = loadImageFolder(ROOT, { shape: [1, 3, 4], seed: 0 });
    const [r, g, b] = [2 * 40 + 9, 2 * 40 + 9 + 50, 2 * 40 + 9 + 100];
    expect(d.train.x[12 + 1 * 4 + 2]).toBe((r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16);
  });

  it("splits by the data block's test (the spec's seed), or reads train/ and test/ folders", () => {
    const d = loadImageFolder(ROOT, { shape: [1, 3, 4], seed: 6, test: 0.2 });
    const { test } = splitTestRows(10, 0.2, 6, "");
    expect(Array.from(d.test!.y)).toEqual([...test].map((i) => (i < 5 ? 0 : 1)));
    const tt = join(dir, "tt");
    for (const part of ["train", "test"]) for (const c of ["a", "b"]) png(join(tt, part, c, "x.png"), 2, 2, 1, () => (c === "a" ? 10 : 200));
    const e = loadImageFolder(tt, { shape: [1, 2, 2], seed: 0 });
    expect([e.train.n, e.test!.n]).toEqual([2, 2]);
    expectDnnc(() => loadImageFolder(tt, { shape: [1, 2, 2], seed: 0, test: 0.5 }), `${join(tt, "test")}: the data block asks for a test split`);
  });

  it("names the file whose size differs from the input, and the folders that are missing or empty", () => {
    expectDnnc(
      () => loadImageFolder(ROOT, { shape: [1, 4, 4], seed: 0 }),
      `${join(ROOT, "bars", "b0.png")}: image is 4x3 (width x height), the model expects 4x4`,
    );
    expectDnnc(() => loadImageFolder(join(dir, "nope"), { shape: [1, 2, 2], seed: 0 }), `${join(dir, "nope")}: no such directory`);
    mkdirSync(join(dir, "empty", "cats"), { recursive: true });
    expectDnnc(() => loadImageFolder(join(dir, "empty"), { shape: [1, 2, 2], seed: 0 }), `${join(dir, "empty", "cats")}: no .png files in this class folder`);
    writeFileSync(join(dir, "flat.png"), "x");
    expectDnnc(() => loadImageFolder(join(dir, "flat.png"), { shape: [1, 2, 2], seed: 0 }), "not a directory");
    png(join(dir, "bad", "a", "ok.png"), 2, 2, 1, () => 0);
    writeFileSync(join(dir, "bad", "a", "broken.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]));
    expectDnnc(() => loadImageFolder(join(dir, "bad"), { shape: [1, 2, 2], seed: 0 }), `${join(dir, "bad", "a", "broken.png")}: truncated chunk header`);
  });
});

describe("an image_folder spec", () => {
  it("is refused by the checker for an input that is not [1 or 3, H, W], at the source", () => {
    const text = spec("12");
    expect(renderDiagnostics(compileToIr(text, join(dir, "m.dnn")).diagnostics, text)).toMatch(/E0403.*image_folder gives images \[C, H, W\]/);
  });

  it("gives dense(auto) its number of class folders (no image decoded)", () => {
    const text = spec("3, 3, 4").replace("dense(2)", "dense(auto)");
    expect(seqSpecIr(text, join(dir, "m.dnn")).output.shape).toEqual([2]);
  });

  it("saves the class names with the data; a model with fewer outputs than folders is refused", () => {
    expect(loadData(program(spec("3, 3, 4")), ROOT).metadata).toEqual({ classes: '["bars","dots"]' });
    const three = join(dir, "three");
    for (const c of ["a", "b", "c"]) png(join(three, c, "x.png"), 4, 3, 1, () => 1);
    expectDnnc(() => loadData(program(spec("1, 3, 4")), three), `${three}: 3 class folders (a, b, c), but the model has 2 outputs`);
  });

  it("trains from the CLI and predict names the classes", () => {
    writeFileSync(join(dir, "img.dnn"), spec("3, 3, 4", undefined, "test 0.2"));
    const t = spawnSync(process.execPath, ["bin/dnnc.mjs", "train", join(dir, "img.dnn"), "--out", join(dir, "run")], { encoding: "utf8" });
    expect(t.stderr).toBe("");
    expect(t.stdout).toContain("classes (by folder): 0 bars, 1 dots");
    expect(t.stdout).toMatch(/test_loss \d/);
    const p = spawnSync(process.execPath, ["bin/dnnc.mjs", "predict", join(dir, "run"), "-i", join(ROOT, "dots", "d0.PNG")], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.stdout.split("\n")[0]).toBe("index,class,probability,name");
    expect(p.stdout.split("\n")[1]).toMatch(/^0,[01],[0-9.]+,(bars|dots)$/);
    expect(readFileSync(join(dir, "run", "model.safetensors")).toString("latin1")).toContain('"classes":"[\\"bars\\",\\"dots\\"]"');
  });
});

describe.skipIf(!hasTorch)("the PyTorch target's image_folder loader", () => {
  const py = startPyWorker();
  afterAll(() => py.close());
  for (const [name, input, data] of [
    ["RGB input, test split", "3, 3, 4", "test 0.2"],
    ["gray input (luma), no test", "1, 3, 4", ""],
  ] as const)
    it(`gives our bytes: ${name}`, async () => {
      const ir = seqSpecIr(spec(input, undefined, data), join(dir, "m.dnn"), { facts: false });
      const trainer = writePyTrainer(ir, mkdtempSync(join(dir, "py-")), ".");
      const want = loadData(programConstants(ir, ROOT) as unknown as Program, ROOT);
      const got = await py.load(trainer, ROOT);
      expect(got.train.n).toBe(want.train.n);
      expect(firstDifference(got.train.x, Array.from(want.train.x))).toBeUndefined();
      expect(firstDifference(got.train.y, Array.from(want.train.y))).toBeUndefined();
      expect(got.test === null).toBe(want.test === undefined);
      if (got.test && want.test) expect(firstDifference(got.test.x, Array.from(want.test.x))).toBeUndefined();
      expect(got.meta).toEqual(want.metadata);
    });

  it("gives our message for an image of another size", async () => {
    const ir = seqSpecIr(spec("1, 4, 4"), join(dir, "m.dnn"), { facts: false });
    const trainer = writePyTrainer(ir, mkdtempSync(join(dir, "py-")), ".");
    const got = await py.load(trainer, ROOT).then(
      () => "",
      (e: PyWorkerError) => e.message,
    );
    expect(got).toBe(`${join(ROOT, "bars", "b0.png")}: image is 4x3 (width x height), the model expects 4x4`);
  });
});
