// What the compiler reads off a data source before lowering: a character source's vocabulary (the
// trainer is compiled with it: its embedding and output sizes, and the encoding of any corpus it
// later reads), the number of classes. `auto` arguments (embedding(auto, 64), dense(auto)) take
// their sizes from here, so a spec trains unchanged on another corpus given with --data. Only the
// sequence sources and an image folder's class folders are read (an idx or csv spec compiles
// without touching its data); a source that cannot be read is not an error here, only for an
// `auto` that needs it (lower.ts says why).
import { resolve, dirname, isAbsolute } from "node:path";
import { loadTokenCsv } from "../runtime/node/load-csv";
import { imageFolderClasses } from "../runtime/node/load-image-folder";
import { loadTextClasses, loadTextCorpus } from "../runtime/node/load-text";
import { vocabFromMetadata } from "../runtime/data/vocab";
import { DnncError } from "../runtime/errors";
import type { DataFacts, Spec } from "./spec";

/** Where a spec's data is: `override` (--data), else the source's path against the spec's directory. */
export function dataPathOf(spec: Spec, specPath: string, override?: string): string {
  if (override !== undefined) return override;
  const p = spec.data.source.path;
  return isAbsolute(p) ? p : resolve(dirname(specPath), p);
}

export function readDataFacts(spec: Spec, dataPath: string): DataFacts {
  const s = spec.data.source;
  const a = s.args ?? {};
  const num = (k: string) => (a[k] === undefined ? undefined : (a[k] as number));
  try {
    switch (s.kind) {
      case "text": {
        const c = loadTextCorpus(dataPath, { context: num("context")!, stride: num("stride"), validation: spec.data.validation, test: num("test") });
        return { vocab: { size: c.vocab.size, json: c.vocab.toJSON() }, classes: c.vocab.size };
      }
      case "text_classes": {
        const c = loadTextClasses(dataPath, {
          context: num("context")!,
          seed: spec.train.seed,
          validation: spec.data.validation,
          test: num("test"),
          separator: a.separator as string | undefined,
        });
        return { vocab: { size: c.vocab.size, json: c.vocab.toJSON() }, classes: c.classNames.length };
      }
      case "tokens": {
        const d = loadTokenCsv(dataPath, { label: s.label ?? "label", pad: num("pad"), maxLength: num("max_length") });
        return { vocab: { size: d.vocabSize, json: "" }, ...(d.classes !== undefined ? { classes: d.classes } : {}) };
      }
      case "image_folder":
        // the class folders only (no image is decoded): dense(auto) takes their number
        return { classes: imageFolderClasses(dataPath).length };
      default:
        return {};
    }
  } catch (e) {
    return { unreadable: `cannot be read (${(e as Error).message})` };
  }
}

/**
 * The sizes a trained model's `auto` arguments took (its model.safetensors metadata "auto", written
 * by the trainer): dnnc export recompiles the run's spec without its data. The character
 * vocabulary comes back too when it is stored.
 */
export function factsFromMetadata(meta: Record<string, string>, file: string): DataFacts {
  const facts: DataFacts = {};
  const v = vocabFromMetadata(meta, file);
  if (v) facts.vocab = { size: v.size, json: v.toJSON() };
  if (meta.auto !== undefined) {
    let a: unknown;
    try {
      a = JSON.parse(meta.auto);
    } catch {
      a = undefined;
    }
    const size = (x: unknown) => x === undefined || (Number.isInteger(x) && (x as number) > 0);
    const o = a as { vocab?: unknown; classes?: unknown } | undefined;
    if (typeof a !== "object" || a === null || !size(o!.vocab) || !size(o!.classes))
      throw new DnncError(`${file}: metadata "auto" is not {"vocab"?: size, "classes"?: size} (a damaged model file)`);
    if (o!.vocab !== undefined) facts.vocab = { size: o!.vocab as number, json: facts.vocab?.json ?? "" };
    if (o!.classes !== undefined) facts.classes = o!.classes as number;
  }
  return facts;
}
