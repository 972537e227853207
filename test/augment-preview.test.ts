// dnnc augment-preview: a labelled grid at an integer scale. The PNG is decoded and read back: its
// size follows from the rows (original, each transform alone, the whole pipeline at epochs 1..3)
// and the scale; the "original" row holds the training images pixel for pixel (upscaled); the
// flip_h row holds each image or its mirror, the translate row each image shifted by at most `max`
// pixels; every row's label is drawn at its left in the bitmap font; bad specs are refused.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ALL_EPOCHS, augmentPreview, previewScale, transformLabel } from "../compiler/augment-preview";
import { drawText, GLYPH_H, glyph, textWidth } from "../compiler/bitmap-font";
import { decodePng } from "../runtime/node/png";
import { loadIdxDir } from "../runtime/node/load-idx";

const DATA = resolve("specs/data/fashion-mnist-small");
const spec = (augment: string) => `model m {
  input [1, 28, 28]
  flatten
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("${DATA}")
  scale 1/255
  augment {
${augment}
  }
}
train {
  seed 3
  batch 32
  epochs 1
  optimizer sgd(lr=0.1)
}
`;

describe("augment-preview", () => {
  const work = mkdtempSync(join(tmpdir(), "dnnc-augprev-"));
  const N = 5;
  const S = previewScale(28, 28);
  const GAP = 4;
  const labels = ["original", "flip_h(p=0.5)", "translate(max=3)", ...Array.from({ length: ALL_EPOCHS }, (_, e) => `all, epoch ${e + 1}`)];

  it("draws labelled rows at an integer scale: originals exact, flips mirrored, translations shifted", async () => {
    expect(S).toBe(3);
    const file = join(work, "spec.dnn");
    writeFileSync(file, spec("    flip_h(p=0.5)\n    translate(max=3)"));
    const out = join(work, "grid.png");
    await augmentPreview(file, out, N);
    const img = decodePng(new Uint8Array(readFileSync(out)), out);
    const labelW = Math.max(...labels.map((l) => textWidth(l, 2))) + 4 * GAP;
    expect(img.channels).toBe(1);
    expect(img.width).toBe(labelW + N * (28 * S + GAP) + GAP);
    expect(img.height).toBe(labels.length * (28 * S + GAP) + GAP);
    const at = (x: number, y: number) => img.pixels[y * img.width + x];
    let blocky = true;
    // the 28×28 image in row r, column j, read back from the centres of its S×S blocks
    const cell = (r: number, j: number) => {
      const top = GAP + r * (28 * S + GAP);
      const left = labelW + j * (28 * S + GAP);
      const out = new Uint8Array(28 * 28);
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) {
          const v = at(left + x * S + 1, top + y * S + 1);
          // every pixel of the block is the same (nearest-pixel upscaling)
          for (let dy = 0; dy < S; dy++) for (let dx = 0; dx < S; dx++) if (at(left + x * S + dx, top + y * S + dy) !== v) blocky = false;
          out[y * 28 + x] = v;
        }
      return out;
    };
    const train = loadIdxDir(DATA).train;
    const originals = Array.from({ length: N }, (_, j) => cell(0, j));
    originals.forEach((o, j) => expect([...o]).toEqual([...train.x.subarray(j * 784, (j + 1) * 784)]));
    expect(blocky).toBe(true);
    const mirror = (a: Uint8Array) => Uint8Array.from(a, (_, k) => a[Math.floor(k / 28) * 28 + 27 - (k % 28)]);
    let flipped = 0;
    for (let j = 0; j < N; j++) {
      const f = cell(1, j);
      const same = f.every((v, k) => v === originals[j][k]);
      const mirrored = f.every((v, k) => v === mirror(originals[j])[k]);
      expect(same || mirrored).toBe(true);
      if (mirrored && !same) flipped++;
    }
    expect(flipped).toBeGreaterThan(0);
    for (let j = 0; j < N; j++) {
      const t = cell(2, j);
      const o = originals[j];
      const shifts: string[] = [];
      for (let dy = -3; dy <= 3; dy++)
        for (let dx = -3; dx <= 3; dx++) {
          let ok = true;
          for (let y = 0; y < 28 && ok; y++)
            for (let x = 0; x < 28 && ok; x++) {
              const sy = y - dy;
              const sx = x - dx;
              ok = t[y * 28 + x] === (sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? o[sy * 28 + sx] : 0);
            }
          if (ok) shifts.push(`${dx},${dy}`);
        }
      expect(shifts.length).toBeGreaterThan(0);
    }
    // each label, drawn alone in the same place, gives the same pixels as the grid's label column
    labels.forEach((label, r) => {
      const top = GAP + r * (28 * S + GAP);
      const y0 = top + Math.floor((28 * S - GLYPH_H * 2) / 2);
      const w = textWidth(label, 2);
      const want = new Uint8Array(w * GLYPH_H * 2).fill(255);
      drawText(want, w, GLYPH_H * 2, 1, label, 0, 0, 2, 0);
      const got = new Uint8Array(w * GLYPH_H * 2);
      for (let y = 0; y < GLYPH_H * 2; y++) for (let x = 0; x < w; x++) got[y * w + x] = at(GAP + x, y0 + y);
      expect([...got]).toEqual([...want]);
      expect(want.filter((v) => v === 0).length).toBeGreaterThan(label.length * 10); // ink, not blank
    });
  });

  it("labels transforms as the spec writes them, and has a glyph for every character they use", () => {
    expect(transformLabel({ kind: "flip_h", args: {} })).toBe("flip_h");
    expect(transformLabel({ kind: "blur", args: { sigma: [0.1, 2], p: 0.5 } })).toBe("blur(sigma=[0.1,2], p=0.5)");
    const unknown = glyph("\u00e9");
    for (const ch of "abcdefghijklmnopqrstuvwxyz0123456789()[]=.,:-+_/% ") {
      const g = glyph(ch);
      expect(g.length).toBe(7);
      g.forEach((row) => expect(row.length).toBe(5));
      if (ch !== "?") expect(g).not.toEqual(unknown);
    }
    expect(previewScale(32, 32)).toBe(3);
    expect(previewScale(224, 224)).toBe(1);
  });

  it("refuses a spec without augmentation, naming it", async () => {
    const file = join(work, "plain.dnn");
    writeFileSync(file, spec("").replace(/  augment \{\n\n  \}\n/, ""));
    await expect(augmentPreview(file, join(work, "x.png"), 2)).rejects.toThrow(`${file}: the data block has no augment { ... }`);
  });
});
