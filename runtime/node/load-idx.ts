// Loading IDX datasets from disk (Node only): a directory holding the four standard
// MNIST / Fashion-MNIST files, gzipped or plain.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../errors";
import type { Dataset } from "../data/dataset";
import { idxDataset, parseIdx } from "../data/idx";
import { readMaybeGzip } from "./files";

export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** The path of `dir/base` as found on disk: base.gz, base, or the dotted variant (train-images.idx3-ubyte). */
function findFile(dir: string, base: string): string {
  const dotted = base.replace(/-(idx\d)-/, ".$1-");
  for (const name of [`${base}.gz`, base, `${dotted}.gz`, dotted]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new DnncError(
    `${dir}: missing ${base}.gz (or ${base}); an IDX dataset directory holds ${Object.values(IDX_FILES).join(", ")}`,
  );
}

/** Load one images file and one labels file (each gzipped or plain) as a Dataset. */
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: { classes?: number } = {}): Dataset {
  const images = parseIdx(readMaybeGzip(imagesPath), imagesPath);
  const labels = parseIdx(readMaybeGzip(labelsPath), labelsPath);
  return idxDataset(images, labels, { images: imagesPath, labels: labelsPath }, opts);
}

/**
 * Load a directory with the four standard IDX files. The test split is checked against the
 * training split's class count and per-sample shape.
 */
export function loadIdxDir(dir: string): { train: Dataset; test: Dataset } {
  if (!existsSync(dir)) throw new DnncError(`${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new DnncError(`${dir}: is not a directory`);
  const train = loadIdxPair(findFile(dir, IDX_FILES.trainImages), findFile(dir, IDX_FILES.trainLabels));
  const testImages = findFile(dir, IDX_FILES.testImages);
  const test = loadIdxPair(testImages, findFile(dir, IDX_FILES.testLabels), { classes: train.classes });
  if (test.shape.join("x") !== train.shape.join("x")) {
    throw new DnncError(
      `${testImages}: test samples have shape [${test.shape.join(", ")}] but training samples [${train.shape.join(", ")}]`,
    );
  }
  return { train, test };
}
