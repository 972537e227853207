// One-hot encoding of a CSV's categorical columns (csv(..., categorical=[...])). The parser
// (runtime/data/csv.ts) leaves each categorical cell in x as its index in the column's list of
// texts in order of first appearance; here:
//  - fitCategories: each column's vocabulary is the distinct texts of the TRAINING rows, sorted by
//    UTF-16 code units (JavaScript's default string order; the PyTorch target sorts the same way),
//    so it does not depend on the order of the rows;
//  - oneHot: each categorical slot becomes one column per category of the vocabulary, in that order
//    (1 for the row's category, 0 elsewhere); a category the vocabulary lacks (seen only in the test
//    or validation rows, or in another file at predict time) is a row of zeros in that column's block.
// The vocabulary is saved with the model (metadata "csv.categories") and applied again by predict.
import { DnncError } from "../errors";
import type { CsvCategories, CsvDataset } from "./csv";

/** A categorical column's vocabulary: its name and its categories in encoding order. */
export interface CategoryVocab {
  column: string;
  values: string[];
}

/** The metadata key the vocabulary is saved under in model.safetensors. */
export const CATEGORIES_METADATA = "csv.categories";

/** Each categorical column's categories among `rows` (all rows when absent), sorted. */
export function fitCategories(ds: CsvDataset, rows?: Int32Array): CategoryVocab[] {
  const F = ds.shape[0];
  return (ds.categories ?? []).map((c) => {
    const seen = new Uint8Array(c.values.length);
    if (rows) for (const r of rows) seen[ds.x[r * F + c.slot]] = 1;
    else seen.fill(1);
    return { column: c.column, values: c.values.filter((_, i) => seen[i] === 1).sort() };
  });
}

/**
 * `ds` with its categorical slots one-hot encoded by `vocab` (fitCategories' columns, in slot order).
 * Returns the new dataset and the number of cells whose category the vocabulary lacks, per column.
 */
export function oneHot(ds: CsvDataset, vocab: CategoryVocab[], file: string): { ds: CsvDataset; unknown: number[] } {
  const cats: CsvCategories[] = ds.categories ?? [];
  if (cats.length !== vocab.length || cats.some((c, i) => c.column !== vocab[i].column))
    throw new DnncError(
      `${file}: categorical columns ${cats.map((c) => `"${c.column}"`).join(", ")} do not match the model's (${vocab.map((v) => `"${v.column}"`).join(", ")})`,
    );
  const F = ds.shape[0];
  // per old slot: where its block starts in the new row, and for a categorical slot the map from its texts' indices to categories
  const start = new Int32Array(F);
  const map: (Int32Array | undefined)[] = new Array(F).fill(undefined);
  const width = new Int32Array(F).fill(1);
  cats.forEach((c, i) => {
    const index = new Map(vocab[i].values.map((v, j) => [v, j]));
    map[c.slot] = Int32Array.from(c.values, (v) => index.get(v) ?? -1);
    width[c.slot] = vocab[i].values.length;
  });
  let G = 0;
  for (let s = 0; s < F; s++) {
    start[s] = G;
    G += width[s];
  }
  const x = new Float32Array(ds.n * G);
  const unknown = new Array<number>(cats.length).fill(0);
  const which = new Int32Array(F).fill(-1);
  cats.forEach((c, i) => (which[c.slot] = i));
  for (let r = 0; r < ds.n; r++) {
    for (let s = 0; s < F; s++) {
      const v = ds.x[r * F + s];
      const m = map[s];
      if (!m) x[r * G + start[s]] = v;
      else {
        const j = m[v];
        if (j >= 0) x[r * G + start[s] + j] = 1;
        else unknown[which[s]]++;
      }
    }
  }
  const names = new Array<string>(G);
  for (let s = 0; s < F; s++) {
    const i = which[s];
    if (i < 0) names[start[s]] = ds.featureNames[s];
    else vocab[i].values.forEach((v, j) => (names[start[s] + j] = `${vocab[i].column}=${v}`));
  }
  const { categories: _dropped, ...rest } = ds;
  return { ds: { ...rest, x, shape: [G], featureNames: names }, unknown };
}

/** "2 numeric + color (3 categories) + city (12 categories) = 17 features": the sum behind an encoded row's width. */
export function describeWidth(ds: CsvDataset, vocab: CategoryVocab[]): string {
  const numeric = ds.shape[0] - vocab.length;
  const parts = [
    ...(numeric > 0 ? [`${numeric} numeric`] : []),
    ...vocab.map((v) => `${v.column} (${v.values.length} categor${v.values.length === 1 ? "y" : "ies"})`),
  ];
  return `${parts.join(" + ")} = ${numeric + vocab.reduce((a, v) => a + v.values.length, 0)} features`;
}

/** The vocabulary saved with a model (metadata "csv.categories"); `file` names the model in errors. */
export function categoriesFromMetadata(meta: Record<string, string>, file: string): CategoryVocab[] {
  const text = meta[CATEGORIES_METADATA];
  if (text === undefined)
    throw new DnncError(
      `${file}: the model has no "${CATEGORIES_METADATA}" metadata (the vocabulary of its categorical columns); was it trained by this dnnc?`,
    );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const ok =
    Array.isArray(v) && v.every((c) => typeof c?.column === "string" && Array.isArray(c.values) && c.values.every((s: unknown) => typeof s === "string"));
  if (!ok) throw new DnncError(`${file}: metadata "${CATEGORIES_METADATA}" is not [{"column": name, "values": [...]}] (a damaged model file)`);
  return v as CategoryVocab[];
}
