// `dnnc augment-preview SPEC -o grid.png`: the first N training images of the spec's data in the
// first column, and 7 augmented versions of each (epochs 1..7 of the spec's augmentation, seeded
// from the spec's seed) beside them, as a PNG grid.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { compileToIr } from "./pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";
import { DnncError } from "../runtime/errors";
import { Augmenter, makeGrid, type AugmentSpec } from "../runtime/augment";
import { loadIdxDir } from "../runtime/node/load-idx";
import { encodePng } from "../runtime/node/png";

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
  const F = C * Hh * W;
  const aug = new Augmenter(
    ir.data.augment.map((a) => ({ kind: a.kind, ...a.args }) as AugmentSpec),
    { C, H: Hh, W },
  );
  const cols = 8;
  const images: Float32Array[] = [];
  for (let i = 0; i < Math.min(samples, ds.n); i++) {
    const orig = new Float32Array(F);
    for (let j = 0; j < F; j++) orig[j] = ds.x[i * F + j] * ir.data.scale + ir.data.shift;
    images.push(orig);
    for (let e = 1; e < cols; e++) {
      const a = Float32Array.from(orig);
      aug.apply(a, 0, C, Hh, W, ir.train.seed, e, i);
      images.push(a);
    }
  }
  const g = makeGrid(images, C, Hh, W, cols, 2);
  writeFileSync(out, encodePng(g.width, g.height, g.channels as 1 | 3, g.pixels));
}
