// `dnnc augment-preview SPEC -o grid.png`: what the spec's augmentation does to the first N
// training images, as a labelled PNG grid. One column per image; the rows, each labelled at its
// left in a built-in bitmap font: "original", then each transform on its own (with the draws it
// makes in training at epoch 1: the pipeline with every other transform off, so a transform with
// p < 1 leaves some images as they were), then the whole pipeline at epochs 1..ALL_EPOCHS (seeded
// from the spec's seed, as training does). Images are drawn at an integer scale (nearest pixel:
// about 100 pixels a side), never smoothed.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { compileToIr } from "./pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";
import { DnncError } from "../runtime/errors";
import { Augmenter, type AugmentSpec } from "../runtime/augment";
import { loadIdxDir } from "../runtime/node/load-idx";
import { encodePng } from "../runtime/node/png";
import { drawText, GLYPH_H, textWidth } from "./bitmap-font";

/** Rows of the whole pipeline (epochs 1..ALL_EPOCHS). */
export const ALL_EPOCHS = 3;
/** Scale of the label font (a font pixel is LABEL_SCALE² image pixels). */
const LABEL_SCALE = 2;
const GAP = 4;

/** The integer scale that draws an image of this size at about 100 pixels a side (1..8). */
export function previewScale(h: number, w: number): number {
  return Math.max(1, Math.min(8, Math.floor(100 / Math.max(h, w))));
}

/** A transform as the spec wrote it: `translate(max=2)`, `flip_h`. */
export function transformLabel(a: { kind: string; args: Record<string, unknown> }): string {
  const args = Object.entries(a.args).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(",")}]` : String(v)}`);
  return args.length > 0 ? `${a.kind}(${args.join(", ")})` : a.kind;
}

export interface PreviewRow {
  label: string;
  images: Float32Array[];
}

/** Lay labelled rows of (C, H, W) images (values 0..1) out as one 8-bit image, `scale`× each. */
export function labelledGrid(rows: PreviewRow[], C: number, H: number, W: number, scale: number): { width: number; height: number; pixels: Uint8Array } {
  const labelW = Math.max(...rows.map((r) => textWidth(r.label, LABEL_SCALE))) + 4 * GAP;
  const cols = Math.max(...rows.map((r) => r.images.length));
  const cell = { w: W * scale + GAP, h: H * scale + GAP };
  const width = labelW + cols * cell.w + GAP;
  const height = rows.length * cell.h + GAP;
  const pixels = new Uint8Array(width * height * C).fill(255);
  rows.forEach((row, r) => {
    const top = GAP + r * cell.h;
    drawText(pixels, width, height, C, row.label, GAP, top + Math.floor((H * scale - GLYPH_H * LABEL_SCALE) / 2), LABEL_SCALE, 0);
    row.images.forEach((img, j) => {
      const left = labelW + j * cell.w;
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H * scale; y++)
          for (let x = 0; x < W * scale; x++) {
            const v = img[(c * H + Math.floor(y / scale)) * W + Math.floor(x / scale)];
            pixels[((top + y) * width + left + x) * C + c] = !(v > 0) ? 0 : v >= 1 ? 255 : Math.round(v * 255);
          }
    });
  });
  return { width, height, pixels };
}

export async function augmentPreview(specPath: string, out: string, samples: number): Promise<void> {
  const text = readFileSync(specPath, "utf8");
  const r = compileToIr(text, specPath, { passes: "lower" });
  if (!r.ir) throw new DnncError(renderDiagnostics(r.diagnostics, text));
  const ir = r.ir;
  if (ir.data.augment.length === 0) throw new DnncError(`${specPath}: the data block has no augment { ... }`);
  if (ir.data.source.kind !== "idx") throw new DnncError(`${specPath}: augment-preview needs an image (idx) source`);
  const dir = isAbsolute(ir.data.source.path) ? ir.data.source.path : resolve(dirname(specPath), ir.data.source.path);
  const ds = loadIdxDir(dir).train;
  const [C, Hh, W] = ir.input.shape;
  if (C !== 1 && C !== 3) throw new DnncError(`${specPath}: augment-preview draws images of 1 or 3 channels, the input has ${C}`);
  const F = C * Hh * W;
  const specs = ir.data.augment.map((a) => ({ kind: a.kind, ...a.args }) as AugmentSpec);
  const n = Math.min(samples, ds.n);
  const originals = Array.from({ length: n }, (_, i) => {
    const o = new Float32Array(F);
    for (let j = 0; j < F; j++) o[j] = ds.x[i * F + j] * ir.data.scale + ir.data.shift;
    return o;
  });
  const augmented = (aug: Augmenter, epoch: number) =>
    originals.map((o, i) => {
      const a = Float32Array.from(o);
      aug.apply(a, 0, C, Hh, W, ir.train.seed, epoch, i);
      return a;
    });
  const rows: PreviewRow[] = [{ label: "original", images: originals }];
  // each transform alone: the same pipeline (the same random streams) with the others off
  ir.data.augment.forEach((a, t) => {
    const alone = new Augmenter(
      specs.map((s, k) => (k === t ? s : { ...s, p: 0 })),
      { C, H: Hh, W },
    );
    rows.push({ label: transformLabel(a), images: augmented(alone, 1) });
  });
  const all = new Augmenter(specs, { C, H: Hh, W });
  for (let e = 1; e <= ALL_EPOCHS; e++) rows.push({ label: `all, epoch ${e}`, images: augmented(all, e) });
  const g = labelledGrid(rows, C, Hh, W, previewScale(Hh, W));
  writeFileSync(out, encodePng(g.width, g.height, C as 1 | 3, g.pixels));
}
