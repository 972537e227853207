// Prepares the sequence benchmarks' data once, with dnnc's own loaders, so that every peer trains
// on exactly the samples a dnnc trainer reads (the same windows, vocabulary, documents, padding):
//
//   node --import tsx bench/seq-prep.mts CORPUS OUT
//
// CORPUS: a directory of fortune files (Debian's `fortunes`: /usr/share/games/fortunes) or any
// text directory the `text` and `text_classes` sources take. OUT receives:
//   s1-ids.bin    the training span's character ids (Uint8 or Uint16, see meta), the series the
//                 windows are cut from: window i is x = ids[i*T, i*T+T), y = ids[i*T+1, i*T+T+1)
//   s2-x.bin      documents (n, L) as ids (Uint8 or Uint16), padded with the pad id; s2-y.bin (n)
//                 class indices (Uint8); s2-len.bin (n) valid lengths (Int32)
//   meta.json     { s1: { vocab, context, windows, idBytes }, s2: { vocab, classes, n, context, pad, idBytes, classNames } }
// Contexts come from bench/seq-models.mjs. Prints meta.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTextClasses, loadTextCorpus } from "../runtime/node/load-text";
import { SEQ_MODELS } from "./seq-models.mjs";

const [corpus, out] = process.argv.slice(2);
if (!corpus || !out) {
  process.stderr.write("usage: node --import tsx bench/seq-prep.mts CORPUS_DIR OUT_DIR\n");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const bytesOf = (a: Uint8Array | Uint16Array | Int32Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const narrow = (vocab: number, src: ArrayLike<number>) => {
  const a = vocab <= 256 ? new Uint8Array(src.length) : new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) a[i] = src[i];
  return a;
};

const s1m = SEQ_MODELS.s1;
const c = loadTextCorpus(corpus, { context: s1m.context });
const w = c.train.windows!;
const series = narrow(c.vocab.size, w.series as ArrayLike<number>);
writeFileSync(join(out, "s1-ids.bin"), bytesOf(series));

const s2m = SEQ_MODELS.s2;
const d = loadTextClasses(corpus, { context: s2m.context, seed: 1 });
writeFileSync(join(out, "s2-x.bin"), bytesOf(narrow(d.vocab.size, d.train.x)));
writeFileSync(join(out, "s2-y.bin"), bytesOf(narrow(256, d.train.y)));
writeFileSync(join(out, "s2-len.bin"), bytesOf(d.train.lengths!));

const meta = {
  corpus,
  s1: { vocab: c.vocab.size, context: s1m.context, windows: c.train.n, characters: series.length, idBytes: series.BYTES_PER_ELEMENT },
  s2: {
    vocab: d.vocab.size,
    classes: d.classNames.length,
    n: d.train.n,
    context: s2m.context,
    pad: d.vocab.pad,
    idBytes: d.vocab.size <= 256 ? 1 : 2,
    truncated: d.truncated,
    classNames: d.classNames,
  },
};
writeFileSync(join(out, "meta.json"), JSON.stringify(meta, null, 1) + "\n");
process.stdout.write(JSON.stringify(meta) + "\n");
