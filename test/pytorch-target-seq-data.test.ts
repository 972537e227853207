// The PyTorch target's sequence loaders against ours (needs /usr/bin/python3 with torch; skipped
// with one line otherwise): the generated trainer's load_splits, called in one Python process, gives
// byte for byte the samples of runtime/node/main.ts loadData for the same spec and data: x, y and
// the lengths of every split in order (so the same splits), the vocabulary and class names stored
// with the model, a series' fitted statistics. Fixtures (test/fixtures/seq-pytorch/): a corpus with
// non-ASCII characters (one outside the BMP) and CRLF lines, document classes (a CRLF class file, one
// with a blank document and a trailing separator, a directory with a byte-order mark in one file),
// token-id rows of many lengths, an hourly series with a date column and the same series with its
// columns in another order and a quoted text column. Bad inputs: the same one-line message as ours.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { IR } from "../compiler/ir";
import { programConstants } from "../compiler/codegen/emit-trainer";
import type { Program } from "../runtime/program";
import type { Dataset } from "../runtime/data/dataset";
import { loadData } from "../runtime/node/main";
import {
  firstDifference,
  hasTorch,
  noTorchReason,
  PyWorkerError,
  seqSpecIr,
  startPyWorker,
  writePyTrainer,
  type PyLoaded,
  type Split,
} from "./pytorch-target-seq-helpers";

if (!hasTorch) console.warn(`pytorch-target-seq-data: skipped: /usr/bin/python3 -c "import torch" failed (${noTorchReason})`);

const FIX = resolve("test/fixtures/seq-pytorch");
const dir = mkdtempSync(join(tmpdir(), "dnnc-seqpt-data-"));

const spec = (name: string, input: string, body: string, source: string, extra = "") => `model ${name} {
  input [${input}]
  ${body}
}
data {
  source ${source}
  ${extra}
}
train { seed 3; batch 8 }
`;

const SPECS = {
  text: spec(
    "lm",
    "16",
    "embedding(64, 8)\n  dense(64)\n  loss softmax_cross_entropy",
    `text("${FIX}/corpus.txt", context=16, stride=5, test=0.1)`,
    "validation 0.1",
  ),
  classes: spec(
    "docs",
    "24",
    "embedding(64, 8, padding_idx=1)\n  global_avgpool\n  dense(auto)\n  loss softmax_cross_entropy",
    `text_classes("${FIX}/classes", context=24, test=0.2)`,
    "validation 0.2",
  ),
  tokens: spec("tok", "12", "embedding(16, 4, padding_idx=0)\n  last\n  dense(2)\n  loss softmax_cross_entropy", `tokens("${FIX}/tokens.csv", max_length=12)`),
  series: spec(
    "temps",
    "12, 2",
    "dense(4)\n  last\n  dense(2)\n  loss mse",
    `timeseries("${FIX}/series.csv", window=12, horizon=2, stride=2, target="temp", inputs=["temp", "humidity"], test=0.15)`,
    "validation 0.15",
  ),
};

/** Our loader's splits (runtime/node/main.ts loadData, as a compiled trainer calls it), in the worker's form. */
function ours(ir: IR, path: string) {
  const p = programConstants(ir, path) as unknown as Program;
  const d = loadData(p, path);
  const split = (ds: Dataset | undefined): Split | null =>
    ds ? { n: ds.n, x: Array.from(ds.x), y: Array.from(ds.y), lengths: ds.lengths ? Array.from(ds.lengths) : null, classes: ds.classes ?? null } : null;
  return {
    train: split(d.train)!,
    validation: split(d.validation),
    test: split(d.test),
    meta: d.metadata ?? {},
    tensors: Object.fromEntries((d.tensors ?? []).map((t) => [t.name, Array.from(t.data)])),
  };
}

/** Our error message for loading `path` with `ir`'s source (undefined when it loads). */
function ourError(ir: IR, path: string): string | undefined {
  try {
    ours(ir, path);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function expectSame(got: PyLoaded, want: ReturnType<typeof ours>) {
  for (const k of ["train", "validation", "test"] as const) {
    const g = got[k];
    const w = want[k];
    expect(g === null, `${k}: present`).toBe(w === null);
    if (!g || !w) continue;
    expect(g.n, `${k}: samples`).toBe(w.n);
    expect(g.classes, `${k}: classes`).toBe(w.classes);
    expect(firstDifference(g.x, w.x), `${k}: x`).toBeUndefined();
    expect(firstDifference(g.y, w.y), `${k}: y`).toBeUndefined();
    expect(firstDifference(g.lengths, w.lengths), `${k}: lengths`).toBeUndefined();
  }
  expect(got.meta).toEqual(want.meta);
  expect(Object.keys(got.tensors)).toEqual(Object.keys(want.tensors));
  for (const [name, v] of Object.entries(want.tensors)) expect(firstDifference(got.tensors[name], v), name).toBeUndefined();
}

describe.skipIf(!hasTorch)("the PyTorch target's sequence loaders give our samples, byte for byte", () => {
  const py = startPyWorker();
  afterAll(() => py.close());
  const trainers = new Map<string, { ir: IR; trainer: string }>();
  /** The spec compiled (with its data's facts unless `facts: false`) and its Python trainer. */
  const compiled = (key: keyof typeof SPECS, facts = true) => {
    const k = `${key}:${facts}`;
    if (!trainers.has(k)) {
      const d = join(dir, k.replace(":", "-"));
      mkdirSync(d, { recursive: true });
      const ir = seqSpecIr(SPECS[key], join(d, `${key}.dnn`), { facts });
      trainers.set(k, { ir, trainer: writePyTrainer(ir, d, ".") });
    }
    return trainers.get(k)!;
  };
  const same = async (key: keyof typeof SPECS, path: string, facts = true) => {
    const { ir, trainer } = compiled(key, facts);
    const want = ours(ir, path);
    expectSame(await py.load(trainer, path), want);
    return { ir, want };
  };

  it("text: a non-ASCII corpus with CRLF lines, encoded with the vocabulary the spec was compiled with", async () => {
    const { ir, want } = await same("text", join(FIX, "corpus.txt"));
    expect(ir.data.vocab).toBeDefined();
    expect(want.meta.vocab).toBe(ir.data.vocab!.json);
    expect(want.meta.vocab).toContain("😀");
    expect(want.train.n).toBeGreaterThan(200);
    expect(want.validation!.n).toBeGreaterThan(0);
    expect(want.test!.n).toBeGreaterThan(0);
  });

  it("text: without a compiled vocabulary, the training span's", async () => {
    const { ir, want } = await same("text", join(FIX, "corpus.txt"), false);
    expect(ir.data.vocab).toBeUndefined();
    expect(JSON.parse(want.meta.vocab).chars).toContain("\r");
  });

  it("text: another corpus (--data) is encoded with the compiled vocabulary, other characters as the unknown id 0", async () => {
    const { want } = await same("text", join(FIX, "classes", "astronomy"));
    expect(want.train.x).toContain(0);
  });

  it("text: a corpus directory (names in order, hidden files, X.dat beside X, an alias link, gzip, byte-order mark)", async () => {
    const d = join(dir, "corpus-dir");
    mkdirSync(d);
    const text = readFileSync(join(FIX, "corpus.txt"), "utf8");
    writeFileSync(join(d, "b-part"), "\ufeff" + text.slice(0, 900));
    writeFileSync(join(d, "a-part.gz"), gzipSync(Buffer.from(text.slice(900))));
    writeFileSync(join(d, "b-part.dat"), "\x00\x01 not text");
    writeFileSync(join(d, ".hidden"), "\xff");
    symlinkSync("b-part", join(d, "b-alias"));
    symlinkSync(join(FIX, "tokens.csv"), join(d, "c-link"));
    await same("text", d);
  });

  it("text_classes: documents per class file and subdirectory, the stratified seeded split, padding and lengths", async () => {
    const { ir, want } = await same("classes", join(FIX, "classes"));
    expect(JSON.parse(want.meta.classes)).toEqual(["astronomy", "cooking", "music"]);
    expect(want.meta.vocab).toBe(ir.data.vocab!.json);
    const lengths = [...want.train.lengths!, ...want.validation!.lengths!, ...want.test!.lengths!];
    expect(Math.min(...lengths)).toBeLessThan(24); // padded ...
    expect(Math.max(...lengths)).toBe(24); // ... and cut
    expect(want.validation!.n + want.test!.n).toBeGreaterThan(10);
  });

  it("text_classes: the split follows the spec's seed", async () => {
    const d = join(dir, "seed7");
    mkdirSync(d);
    const ir = seqSpecIr(SPECS.classes.replace("seed 3", "seed 7"), join(d, "docs.dnn"));
    const want = ours(ir, join(FIX, "classes"));
    expectSame(await py.load(writePyTrainer(ir, d, "."), join(FIX, "classes")), want);
    expect(firstDifference(want.train.x, ours(compiled("classes").ir, join(FIX, "classes")).train.x)).toBeDefined();
  });

  it("tokens: rows of many lengths padded and cut to max_length, their lengths", async () => {
    const { want } = await same("tokens", join(FIX, "tokens.csv"));
    expect(want.train.n).toBe(120);
    expect(new Set(want.train.lengths)).toContain(12);
    expect(Math.min(...want.train.lengths!)).toBe(2);
  });

  it("timeseries: windows by column name, standardized on the training span; the same samples from a file with the columns in another order", async () => {
    const { want } = await same("series", join(FIX, "series.csv"));
    expect(Object.keys(want.tensors)).toEqual(["series.input_mean", "series.input_std", "series.target_mean", "series.target_std"]);
    expect(want.meta["series.inputs"]).toBe('["temp","humidity"]');
    const other = await same("series", join(FIX, "series-reordered.csv"));
    expect(firstDifference(other.want.train.x, want.train.x)).toBeUndefined();
    expect(firstDifference(other.want.test!.y, want.test!.y)).toBeUndefined();
  });

  // ---- bad inputs: the same message as ours ------------------------------------------------------
  /** Files (path -> content) written into a fresh directory; `target` (default: the only file) is loaded. */
  const bad = (name: string, key: keyof typeof SPECS, files: Record<string, string | Buffer>, expected: RegExp, target = Object.keys(files)[0]) =>
    it(`a bad input gives our message: ${name}`, async () => {
      const d = join(dir, `bad-${name.replace(/\W+/g, "-")}`);
      for (const [f, content] of Object.entries(files)) {
        mkdirSync(join(d, f, ".."), { recursive: true });
        writeFileSync(join(d, f), content);
      }
      const path = join(d, target);
      const { ir, trainer } = compiled(key);
      const want = ourError(ir, path);
      expect(want).toMatch(expected);
      const got = await py.load(trainer, path).then(
        () => undefined,
        (e: PyWorkerError) => (e.user ? e.message : `not a user error: ${e.message}`),
      );
      expect(got).toBe(want);
    });

  bad(
    "invalid UTF-8 (line:col in characters)",
    "text",
    { "c.txt": Buffer.concat([Buffer.from("ab\r\nné x\r\n日本 "), Buffer.from([0xe6, 0x97]), Buffer.from("z")]) },
    /:3:4: invalid UTF-8: bad sequence 0xe6 0x97 0x7a/,
  );
  bad("a byte that cannot start a character", "text", { "c.txt": Buffer.from([0x61, 0x0a, 0x62, 0xc0, 0x80]) }, /:2:2: invalid UTF-8: byte 0xc0 cannot start/);
  bad(
    "a truncated character at the end",
    "text",
    { "c.txt": Buffer.concat([Buffer.from("abc\n"), Buffer.from([0xf0, 0x9f, 0x98])]) },
    /:2:1: invalid UTF-8: truncated sequence/,
  );
  bad("an encoded surrogate", "text", { "c.txt": Buffer.from([0x41, 0xed, 0xa0, 0x80, 0x42]) }, /:1:2: invalid UTF-8: bad sequence 0xed 0xa0 0x80/);
  bad("a corpus shorter than one window", "text", { "c.txt": "short" }, /fewer than one window needs/);
  bad("an empty file", "text", { "c.txt": "" }, /: empty file$/);
  bad("a class directory with one class", "classes", { "one/only": "a\n%\nb\n" }, /one: 1 class; classification needs at least 2/, "one");
  bad("a class without documents", "classes", { "cls/a": "x\n%\ny\n", "cls/b": "  \n%\n\n" }, /cls\/b: no documents \(class "b" is empty\)/, "cls");
  bad(
    "a document directory holding a directory",
    "classes",
    { "cls/a": "x\n", "cls/b/c/d.txt": "y\n" },
    /cls\/b\/c: a directory inside class directory/,
    "cls",
  );
  bad("a token id that is not an integer", "tokens", { "t.csv": "label,tokens\n1,2,3\n0,4,x5\n" }, /t\.csv:3:5: "x5" is not a token id/);
  bad("a label out of range", "tokens", { "t.csv": "label,tokens\n1,2,3\n2,4,5\n" }, /t\.csv:3:1: label 2 out of range \(expected 0\.\.1\)/);
  bad("a row without tokens", "tokens", { "t.csv": "label,tokens\n1,2,3\n0\n" }, /t\.csv:3: no token ids in this row/);
  bad(
    "a series without the target column",
    "series",
    { "s.csv": "date,temperature,humidity\n2010-01-01,1,2\n" },
    /s\.csv:1: no column named "temp" \(target\)/,
  );
  bad(
    "a series cell that is not a number",
    "series",
    { "s.csv": "date,temp,humidity\n2010-01-01,1,2\n2010-01-02,n/a,3\n" },
    /s\.csv:3:12: "n\/a" is not a number \(column "temp"\)/,
  );
  bad(
    "a series going back in time",
    "series",
    { "s.csv": "date,temp,humidity\n2010-01-02,1,2\n2010-01-01 23:00,2,3\n" },
    /s\.csv:3:1: time "2010-01-01 23:00" is earlier than the row before it \(line 2\)/,
  );
  bad(
    "a series span too short for a window",
    "series",
    { "s.csv": "date,temp,humidity\n" + Array.from({ length: 40 }, (_, i) => `2010-01-01T05:${String(i).padStart(2, "0")}:00+01:00,${i},${i % 3}`).join("\n") },
    /s\.csv: the validation span \(lines 30-35 \(2010-01-01T04:28:00\.000Z\)\) has 6 time steps, fewer than one window needs \(window 12 \+ horizon 2\)/,
  );
  bad("a missing file", "tokens", { "t.csv": "label,tokens\n1,2\n" }, /gone\.csv: no such file$/, "gone.csv");
  bad("a missing corpus", "text", { "c.txt": "abc" }, /gone: no such file or directory$/, "gone");
});
