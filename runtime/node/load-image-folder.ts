// The image_folder("DIR") source: one folder per class of PNG files, the layout most image data sets
// ship in (and what torchvision's ImageFolder reads). Classes are the subfolders, in name order
// (UTF-16 code units), named by them; each class's files ending in .png (any case) are its samples,
// in name order; hidden entries (a leading dot) and other files are ignored. DIR may instead hold
// train/ and test/ (each one folder per class, the same class names): test/ is then the test set.
// Every image is decoded with runtime/node/png.ts (its size checked against the model's input
// before its data is inflated) and converted to the model's channels with runtime/data/image.ts
// (colour to gray by luma, gray to colour repeated, alpha dropped); samples are bytes [C, H, W],
// as an idx source's, so `scale 1/255` maps them to [0, 1]. The class names are saved with the model.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../errors";
import type { Dataset } from "../data/dataset";
import { takeRows } from "../data/dataset";
import { imageToSample } from "../data/image";
import { splitTestRows } from "../data/split";
import { describeFsError } from "./fs-errors";
import { decodePng } from "./png";

export interface ImageFolderOptions {
  /** The model's per-sample input shape [C, H, W], C = 1 or 3. */
  shape: number[];
  /** The data block's test fraction (a DIR with its own test/ folder refuses it). Default 0. */
  test?: number;
  /** The spec's seed (the test rows). */
  seed: number;
}

export interface ImageFolderData {
  train: Dataset;
  test?: Dataset;
  classNames: string[];
}

/** A directory's entries, sorted, without hidden ones; errors name the directory. */
function entries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DnncError(`${dir}: no such directory`);
    if (code === "ENOTDIR") throw new DnncError(`${dir}: not a directory (image_folder needs a directory with one folder per class)`);
    throw new DnncError(describeFsError(e, dir) ?? `${dir}: cannot read (${(e as Error).message})`);
  }
  return names.filter((n) => !n.startsWith(".")).sort();
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The class folders of `dir` and their PNG files. */
function listClasses(dir: string): { name: string; files: string[] }[] {
  const classes = entries(dir)
    .filter((n) => isDirectory(join(dir, n)))
    .map((name) => ({ name, files: entries(join(dir, name)).filter((f) => f.toLowerCase().endsWith(".png")) }));
  if (classes.length === 0) throw new DnncError(`${dir}: no class folders (image_folder needs one folder of PNG files per class)`);
  const empty = classes.find((c) => c.files.length === 0);
  if (empty) throw new DnncError(`${join(dir, empty.name)}: no .png files in this class folder`);
  return classes;
}

/** The images of `dir`'s class folders as one dataset; `names`: the class names the labels must follow. */
function readFolder(dir: string, shape: number[], names?: string[]): { ds: Dataset; classNames: string[] } {
  const classes = listClasses(dir);
  if (names && (classes.length !== names.length || classes.some((c, i) => c.name !== names[i])))
    throw new DnncError(`${dir}: class folders ${classes.map((c) => c.name).join(", ")} differ from the training folders' ${names.join(", ")}`);
  const [C, H, W] = shape;
  const F = C * H * W;
  const n = classes.reduce((a, c) => a + c.files.length, 0);
  const x = new Uint8Array(n * F);
  const y = new Float32Array(n);
  let i = 0;
  classes.forEach((c, k) => {
    for (const f of c.files) {
      const path = join(dir, c.name, f);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        throw new DnncError(describeFsError(e, path) ?? `${path}: cannot read (${(e as Error).message})`);
      }
      const img = decodePng(bytes, path, { width: W, height: H });
      imageToSample(img, shape, path, x.subarray(i * F, (i + 1) * F));
      y[i++] = k;
    }
  });
  return { ds: { x, y, n, shape: [...shape], classes: classes.length }, classNames: classes.map((c) => c.name) };
}

/** The class names of an image_folder source (its folders, or its train/ folder's), without reading an image: `dense(auto)`'s size. */
export function imageFolderClasses(dir: string): string[] {
  const top = entries(dir);
  const trainTest = top.includes("train") && isDirectory(join(dir, "train")) && top.includes("test") && isDirectory(join(dir, "test"));
  return listClasses(trainTest ? join(dir, "train") : dir).map((c) => c.name);
}

/** An image_folder source at `dir` for a model of input `shape`. */
export function loadImageFolder(dir: string, opts: ImageFolderOptions): ImageFolderData {
  const { shape } = opts;
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3))
    throw new DnncError(`${dir}: image_folder gives images [C, H, W] with C = 1 (gray) or 3 (RGB), but the model's input is [${shape.join(", ")}]`);
  const fraction = opts.test ?? 0;
  const top = entries(dir);
  if (top.includes("train") && isDirectory(join(dir, "train")) && top.includes("test") && isDirectory(join(dir, "test"))) {
    if (fraction > 0)
      throw new DnncError(
        `${join(dir, "test")}: the data block asks for a test split (test ${fraction}) but the directory has its own test/ folder; drop one of them`,
      );
    const train = readFolder(join(dir, "train"), shape);
    const test = readFolder(join(dir, "test"), shape, train.classNames);
    return { train: train.ds, test: test.ds, classNames: train.classNames };
  }
  const all = readFolder(dir, shape);
  if (fraction === 0) return { train: all.ds, classNames: all.classNames };
  const rows = splitTestRows(all.ds.n, fraction, opts.seed, dir);
  return { train: takeRows(all.ds, rows.train), test: takeRows(all.ds, rows.test), classNames: all.classNames };
}
