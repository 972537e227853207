// A character vocabulary: the map between characters and the token ids a model sees.
//
// Built from the TRAINING split only (buildVocab), deterministically:
//   id 0            the unknown character: every character outside the vocabulary encodes to it
//   id 1            the pad id, only when the vocabulary is built with `pad: true` (sources that
//                   pad sequences to a common length: documents, token rows); a fixed small id,
//                   so a spec can write padding_idx=1, and no character ever encodes to it
//   then            the training split's distinct characters, sorted by code point
// So `size` = 1 (+1 with a pad id) + the number of distinct training characters.
//
// A character is a Unicode code point, except that a lone surrogate (U+D800..U+DFFF not part of a
// pair; a JS string can hold one, UTF-8 text cannot) is not a character: buildVocab skips it and
// encode maps it to the unknown id, like any other character outside the vocabulary. So text read
// from UTF-8 files, prompts typed at a terminal and strings built in JS all encode without error,
// and a vocabulary never holds a lone surrogate (fromJSON refuses one: a corrupt model file).
//
// decode(ids) is the inverse on the vocabulary's characters; the unknown id decodes to U+FFFD
// (or the caller's string), the pad id to nothing; an id outside 0..size-1 is an error.
//
// Saved with the model as one safetensors metadata string (key VOCAB_METADATA_KEY), a JSON
// object: {"format":"dnnc-chars","version":1,"unknown":0,"pad":1|null,"chars":"..."} where
// `chars` holds the characters of ids first..size-1 in id order. JSON.stringify escapes the
// control characters (NUL, newlines) and keeps everything else, emoji included, as UTF-8, so the
// string survives safetensors' JSON header unchanged; fromJSON checks every field.
import { DnncError } from "../errors";

export const VOCAB_METADATA_KEY = "vocab";

const FORMAT = "dnnc-chars";
const VERSION = 1;
/** What the unknown id decodes to by default. */
export const REPLACEMENT = "\ufffd";

function isSurrogate(cp: number): boolean {
  return cp >= 0xd800 && cp <= 0xdfff;
}

/** Code point at s[i] (a lone surrogate as itself) and its length in UTF-16 units. */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

/** Code points of a string (lone surrogates kept as themselves, so encode can map them to unknown). */
export function codePointsOf(s: string): Int32Array {
  const out = new Int32Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length;) {
    const cp = codePointAt(s, i);
    out[n++] = cp;
    i += cp > 0xffff ? 2 : 1;
  }
  return out.slice(0, n);
}

export class Vocab {
  /** The unknown id (always 0). */
  readonly unknown = 0;
  /** The pad id (1) when the vocabulary reserves one, else undefined. */
  readonly pad: number | undefined;
  /** Number of ids: the model's embedding rows and output classes. */
  readonly size: number;
  /** First id of a character (1, or 2 with a pad id). */
  readonly first: number;
  /** Code point of id first + k at codePoints[k], ascending. */
  readonly codePoints: Int32Array;
  /** id of code point c for c < table.length (0 = unknown), then `wide` for the rest. */
  private readonly table: Int32Array;
  private readonly wide = new Map<number, number>();

  /** From sorted, distinct, non-surrogate code points (use buildVocab or fromJSON). */
  constructor(codePoints: Int32Array, pad: boolean) {
    for (let k = 0; k < codePoints.length; k++) {
      const cp = codePoints[k];
      if (!(cp >= 0 && cp <= 0x10ffff) || isSurrogate(cp) || (k > 0 && cp <= codePoints[k - 1]))
        throw new RangeError(`Vocab: code points must be distinct, ascending, non-surrogate (at ${k}: ${cp})`);
    }
    this.pad = pad ? 1 : undefined;
    this.first = pad ? 2 : 1;
    this.codePoints = codePoints;
    this.size = this.first + codePoints.length;
    let narrow = 0;
    while (narrow < codePoints.length && codePoints[narrow] < 0x10000) narrow++;
    this.table = new Int32Array(narrow > 0 ? codePoints[narrow - 1] + 1 : 0);
    for (let k = 0; k < codePoints.length; k++) {
      if (k < narrow) this.table[codePoints[k]] = this.first + k;
      else this.wide.set(codePoints[k], this.first + k);
    }
  }

  /** The id of one code point (the unknown id when it is not in the vocabulary). */
  id(cp: number): number {
    if (cp < this.table.length) return cp >= 0 ? this.table[cp] : 0;
    return this.wide.get(cp) ?? 0;
  }

  /** Ids of a string's characters; characters outside the vocabulary (lone surrogates too) give the unknown id. */
  encode(text: string): Int32Array {
    const cps = codePointsOf(text);
    return this.encodeCodePoints(cps, 0, cps.length, new Int32Array(cps.length), 0);
  }

  /** out[outOff + k] = id(cps[start + k]) for k < end - start; returns out. Unknown characters give 0. */
  encodeCodePoints<T extends Uint8Array | Uint16Array | Int32Array | Float32Array>(
    cps: ArrayLike<number>,
    start: number,
    end: number,
    out: T,
    outOff: number,
  ): T {
    const table = this.table;
    const tl = table.length;
    for (let i = start, o = outOff; i < end; i++, o++) {
      const cp = cps[i];
      out[o] = cp < tl ? table[cp] : (this.wide.get(cp) ?? 0);
    }
    return out;
  }

  /** The number of code points in cps[start, end) that are outside the vocabulary. */
  countUnknown(cps: ArrayLike<number>, start: number, end: number): number {
    let u = 0;
    for (let i = start; i < end; i++) if (this.id(cps[i]) === 0) u++;
    return u;
  }

  /** Text of ids: the unknown id gives `unknown` (default U+FFFD), the pad id nothing; other ids outside 0..size-1 are an error. */
  decode(ids: ArrayLike<number>, unknown = REPLACEMENT): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new DnncError(`token id ${id} is outside the vocabulary (0..${this.size - 1})`);
      if (id === 0) s += unknown;
      else if (id !== this.pad) s += String.fromCodePoint(this.codePoints[id - this.first]);
    }
    return s;
  }

  /** The character of one id ("" for the unknown and pad ids). */
  char(id: number): string {
    return id >= this.first && id < this.size ? String.fromCodePoint(this.codePoints[id - this.first]) : "";
  }

  /** The serialized form (see the top of the file). */
  toJSON(): string {
    let chars = "";
    for (let k = 0; k < this.codePoints.length; k++) chars += String.fromCodePoint(this.codePoints[k]);
    return JSON.stringify({ format: FORMAT, version: VERSION, unknown: 0, pad: this.pad ?? null, chars });
  }

  /** Parse toJSON's string; `where` names the source in errors ("model.safetensors: metadata vocab"). */
  static fromJSON(json: string, where: string): Vocab {
    const bad = (what: string): never => {
      throw new DnncError(`${where}: not a dnnc character vocabulary: ${what}`);
    };
    let v: unknown;
    try {
      v = JSON.parse(json);
    } catch (e) {
      bad(`not JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) bad("not a JSON object");
    const o = v as Record<string, unknown>;
    if (o.format !== FORMAT) bad(`format is ${JSON.stringify(o.format)}, expected "${FORMAT}"`);
    if (o.version !== VERSION) bad(`version ${JSON.stringify(o.version)} (this dnnc reads version ${VERSION})`);
    if (o.unknown !== 0) bad(`unknown id ${JSON.stringify(o.unknown)}, expected 0`);
    if (o.pad !== null && o.pad !== 1) bad(`pad id ${JSON.stringify(o.pad)}, expected 1 or null`);
    if (typeof o.chars !== "string") bad("chars is not a string");
    const chars = o.chars as string;
    const cps = codePointsOf(chars);
    for (let k = 0; k < cps.length; k++) {
      if (isSurrogate(cps[k])) bad(`character ${k} is a lone surrogate (U+${cps[k].toString(16).toUpperCase()})`);
      if (k > 0 && cps[k] <= cps[k - 1]) bad(`characters are not distinct and sorted by code point (at character ${k})`);
    }
    return new Vocab(cps, o.pad === 1);
  }
}

/**
 * Collects the training split's characters, piece by piece (a corpus span, each training
 * document), then builds the vocabulary: distinct characters sorted by code point, lone
 * surrogates skipped, after the unknown id and, with `pad`, the pad id.
 */
export class VocabBuilder {
  /** Code points below 2^16 in a bitmap (fast for the usual case), the rest in a Set. */
  private readonly bmp = new Uint8Array(0x10000);
  private readonly wide = new Set<number>();

  add(cps: ArrayLike<number>, start = 0, end = cps.length): this {
    const bmp = this.bmp;
    for (let i = start; i < end; i++) {
      const cp = cps[i];
      if (cp < 0x10000) bmp[cp] = 1;
      else if (cp <= 0x10ffff) this.wide.add(cp);
    }
    return this;
  }

  build(opts: { pad?: boolean } = {}): Vocab {
    const list: number[] = [];
    for (let c = 0; c < 0x10000; c++) if (this.bmp[c] && !isSurrogate(c)) list.push(c);
    const wide = [...this.wide].sort((a, b) => a - b);
    return new Vocab(Int32Array.from([...list, ...wide]), opts.pad ?? false);
  }
}

/** The vocabulary of cps[start, end) (default: all of it); see VocabBuilder. */
export function buildVocab(cps: ArrayLike<number>, opts: { pad?: boolean; start?: number; end?: number } = {}): Vocab {
  return new VocabBuilder().add(cps, opts.start ?? 0, opts.end ?? cps.length).build(opts);
}

/** buildVocab over a string. */
export function buildVocabFromText(text: string, opts: { pad?: boolean } = {}): Vocab {
  return buildVocab(codePointsOf(text), opts);
}

/** The metadata entry that stores a vocabulary with the model (goes into encodeSafetensors' metadata). */
export function vocabMetadata(v: Vocab): Record<string, string> {
  return { [VOCAB_METADATA_KEY]: v.toJSON() };
}

/** The vocabulary stored with a model, or null when it has none; `file` names the model file in errors. */
export function vocabFromMetadata(meta: Record<string, string>, file: string): Vocab | null {
  const s = meta[VOCAB_METADATA_KEY];
  return s === undefined ? null : Vocab.fromJSON(s, `${file}: metadata "${VOCAB_METADATA_KEY}"`);
}
