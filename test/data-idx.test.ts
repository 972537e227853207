import { describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { parseIdx, idxDataset } from "../runtime/data/idx";
import { featureSize } from "../runtime/data/dataset";
import { loadIdxDir, loadIdxPair } from "../runtime/node/load-idx";
import { readMaybeGzip } from "../runtime/node/files";
import { gunzipIfNeeded } from "../runtime/data/gzip";
import { expectDnnc } from "./helpers/expect-dnnc";

const SUBSET = join(__dirname, "../specs/data/fashion-mnist-small");
const ref = JSON.parse(readFileSync(join(__dirname, "reference/data/reference.json"), "utf8"));

/** An IDX file built by hand: zero, zero, dtype, rank, big-endian dims, then the payload. */
function idx(code: number, dims: number[], payload: number[]): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + payload.length);
  b[2] = code;
  b[3] = dims.length;
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  b.set(payload, 4 + 4 * dims.length);
  return b;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "dnnc-idx-"));
}

describe("parseIdx", () => {
  it("reads ubyte as a view, without copying", () => {
    const bytes = idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]);
    const a = parseIdx(bytes, "t.idx");
    expect(a.dtype).toBe("u8");
    expect(a.dims).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((a.data as Uint8Array).buffer).toBe(bytes.buffer);
  });

  it("converts the other dtypes exactly as NumPy wrote them (big-endian)", () => {
    for (const t of ref.typed_idx) {
      const bytes = Uint8Array.from(Buffer.from(t.hex, "hex"));
      const a = parseIdx(bytes, "typed.idx");
      expect(a.dims).toEqual(t.dims);
      expect(a.data).toBeInstanceOf(Float32Array);
      expect(Array.from(a.data)).toEqual(t.values);
    }
  });

  it("names the file and the problem", () => {
    expectDnnc(() => parseIdx(new Uint8Array(0), "a.idx"), "a.idx", "empty file");
    expectDnnc(() => parseIdx(Uint8Array.of(0, 0), "a.idx"), "a.idx", "truncated IDX header");
    expectDnnc(() => parseIdx(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0), "a.zip"), "a.zip", "bad magic 50 4b 03 04");
    expectDnnc(() => parseIdx(idx(0x07, [1], [0]), "a.idx"), "a.idx", "unsupported IDX dtype code 0x07");
    expectDnnc(() => parseIdx(Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1), "a.idx"), "truncated IDX header", "expected 16");
    expectDnnc(() => parseIdx(idx(0x08, [2, 3], [1, 2, 3, 4]), "a.idx"), "a.idx", "truncated data", "needs 18 bytes", "has 16");
    expectDnnc(() => parseIdx(idx(0x0d, [2], [0, 0, 0, 0]), "f.idx"), "truncated data", "needs 16 bytes", "has 12");
    expectDnnc(() => parseIdx(idx(0x08, [1], [1, 2]), "a.idx"), "1 unexpected trailing bytes");
    expectDnnc(() => parseIdx(gzipSync(idx(0x08, [1], [1])), "a.idx.gz"), "a.idx.gz", "gzip-compressed");
  });

  it("rejects NaN, infinities and f64 values beyond float32, naming the sample and the value", () => {
    const floats = (code: 0x0d | 0x0e, dims: number[], values: number[]) => {
      const size = code === 0x0d ? 4 : 8;
      const payload = new Uint8Array(values.length * size);
      const v = new DataView(payload.buffer);
      values.forEach((x, i) => (code === 0x0d ? v.setFloat32(i * size, x, false) : v.setFloat64(i * size, x, false)));
      return idx(code, dims, Array.from(payload));
    };
    expect(Array.from(parseIdx(floats(0x0d, [2, 3], [0, 1.5, -2, 3.4028234663852886e38, 0, 1]), "ok.idx").data)).toEqual([
      0, 1.5, -2, 3.4028234663852886e38, 0, 1,
    ]);
    expectDnnc(
      () => parseIdx(floats(0x0d, [2, 3], [0, 0, 0, 0, 0, NaN]), "n.idx"),
      "n.idx: sample 1, value 2 (byte 32) is NaN: only finite numbers are accepted",
    );
    expectDnnc(() => parseIdx(floats(0x0e, [2, 1, 2], [0, -Infinity, 0, 0]), "i.idx"), "i.idx: sample 0, value 1 (byte 24) is -Infinity");
    expectDnnc(() => parseIdx(floats(0x0e, [3], [0, 0, 1e39]), "b.idx"), "b.idx: item 2 (byte 24) is 1e+39, beyond float32's range");
  });
});

describe("idxDataset", () => {
  const images = parseIdx(idx(0x08, [3, 2, 2], [...Array(12).keys()]), "img");
  it("pairs images with labels; rank-3 images get one channel", () => {
    const ds = idxDataset(images, parseIdx(idx(0x08, [3], [2, 0, 1]), "lab"), { images: "img", labels: "lab" });
    expect(ds.n).toBe(3);
    expect(ds.shape).toEqual([1, 2, 2]);
    expect(featureSize(ds)).toBe(4);
    expect(ds.classes).toBe(3);
    expect(Array.from(ds.y)).toEqual([2, 0, 1]);
  });
  it("reports count mismatches and labels out of range with their index", () => {
    const names = { images: "img.idx", labels: "lab.idx" };
    expectDnnc(() => idxDataset(images, parseIdx(idx(0x08, [2], [0, 1]), "lab"), names), "count mismatch", "img.idx has 3 images", "lab.idx has 2 labels");
    expectDnnc(
      () => idxDataset(images, parseIdx(idx(0x08, [3], [0, 10, 1]), "lab"), names, { classes: 10 }),
      "lab.idx",
      "label out of range at index 1: 10",
      "0..9",
    );
    expectDnnc(() => idxDataset(images, parseIdx(idx(0x08, [3, 1], [0, 1, 1]), "lab"), names), "labels need rank 1");
    expectDnnc(() => idxDataset(parseIdx(idx(0x08, [0, 2, 2], []), "i"), parseIdx(idx(0x08, [0], []), "l"), names), "img.idx", "no samples");
  });
});

describe("the shipped Fashion-MNIST subset", () => {
  const { train, test } = loadIdxDir(SUBSET);

  it("matches what PyTorch reads from the same files", () => {
    for (const [ds, r] of [
      [train, ref.train],
      [test, ref.test],
    ] as const) {
      expect([ds.n, ...ds.shape.slice(1)]).toEqual(r.dims);
      expect(ds.shape).toEqual([1, 28, 28]);
      expect(ds.classes).toBe(10);
      expect(ds.x).toBeInstanceOf(Uint8Array);
      const counts = new Array(10).fill(0);
      for (let i = 0; i < ds.n; i++) counts[ds.y[i]]++;
      expect(counts).toEqual(r.label_counts);
      expect(Array.from(ds.y.subarray(0, 20))).toEqual(r.first_labels);
      for (const [row, sum] of Object.entries(r.pixel_sums)) {
        const i = Number(row);
        let s = 0;
        for (let j = i * 784; j < (i + 1) * 784; j++) s += ds.x[j];
        expect(s).toBe(sum);
      }
      let m = 0;
      for (let j = 0; j < ds.x.length; j++) m += ds.x[j] / 255;
      m /= ds.x.length;
      let v = 0;
      for (let j = 0; j < ds.x.length; j++) v += (ds.x[j] / 255 - m) ** 2;
      expect(m).toBeCloseTo(r.mean, 9);
      expect(Math.sqrt(v / ds.x.length)).toBeCloseTo(r.std, 9);
    }
  });

  it("loads plain (uncompressed) files and the dotted file names too", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "train-images.idx3-ubyte"), gunzipSync(readFileSync(join(SUBSET, "train-images-idx3-ubyte.gz"))));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), gunzipSync(readFileSync(join(SUBSET, "train-labels-idx1-ubyte.gz"))));
    copyFileSync(join(SUBSET, "t10k-images-idx3-ubyte.gz"), join(dir, "t10k-images-idx3-ubyte.gz"));
    copyFileSync(join(SUBSET, "t10k-labels-idx1-ubyte.gz"), join(dir, "t10k-labels-idx1-ubyte.gz"));
    const again = loadIdxDir(dir);
    expect(again.train.n).toBe(6000);
    expect(Buffer.compare(Buffer.from(again.train.x), Buffer.from(train.x))).toBe(0);
    expect(Array.from(again.test.y)).toEqual(Array.from(test.y));
  });

  it("is what scripts/make-subset.mjs writes, byte for byte (deterministic gzip)", async () => {
    const script: string = join(__dirname, "../scripts/make-subset.mjs");
    const { cutIdx, gzipFixed, CUTS } = await import(script);
    // The small files only (the 4.7 MB image file takes seconds to deflate at level 9).
    for (const { name, keep } of CUTS.filter((c: { name: string }) => !c.name.startsWith("train-images"))) {
      const committed = readFileSync(join(SUBSET, `${name}.gz`));
      const again = gzipFixed(cutIdx(gunzipSync(committed), keep, name));
      expect(Buffer.compare(again, committed), name).toBe(0);
    }
  });
});

describe("gunzipIfNeeded (DecompressionStream, for browsers)", () => {
  it("gives the same bytes as node:zlib, passes plain bytes through, and names corrupt files", async () => {
    const gz = readFileSync(join(SUBSET, "t10k-labels-idx1-ubyte.gz"));
    const viaStream = await gunzipIfNeeded(new Uint8Array(gz), "labels.gz");
    expect(Buffer.compare(Buffer.from(viaStream), gunzipSync(gz))).toBe(0);
    const plain = Uint8Array.of(0, 0, 8, 1);
    expect(await gunzipIfNeeded(plain, "p")).toBe(plain);
    await expect(gunzipIfNeeded(new Uint8Array(gz.subarray(0, 100)), "cut.gz")).rejects.toThrow(/cut.gz: corrupt gzip data/);
  });
});

describe("loader errors", () => {
  it("names missing files, corrupt gzip, empty files and count mismatches", () => {
    const dir = tempDir();
    expectDnnc(() => loadIdxDir(join(dir, "nope")), "no such directory");
    expectDnnc(() => loadIdxDir(dir), dir, "missing train-images-idx3-ubyte.gz");
    const gz = readFileSync(join(SUBSET, "t10k-labels-idx1-ubyte.gz"));
    writeFileSync(join(dir, "bad.gz"), gz.subarray(0, gz.length - 20));
    expectDnnc(() => readMaybeGzip(join(dir, "bad.gz")), "bad.gz", "corrupt gzip");
    writeFileSync(join(dir, "empty"), "");
    expectDnnc(() => readMaybeGzip(join(dir, "empty")), "empty", "empty file");
    expectDnnc(
      () => loadIdxPair(join(SUBSET, "train-images-idx3-ubyte.gz"), join(SUBSET, "t10k-labels-idx1-ubyte.gz")),
      "count mismatch",
      "6000 images",
      "1000 labels",
    );
    const labels = gunzipSync(gz);
    labels[8 + 17] = 12;
    writeFileSync(join(dir, "labels"), labels);
    expectDnnc(() => loadIdxPair(join(SUBSET, "t10k-images-idx3-ubyte.gz"), join(dir, "labels"), { classes: 10 }), "label out of range at index 17: 12");
  });
});

describe("the full Fashion-MNIST, where installed", () => {
  const FULL = "/usr/share/datasets/fashion-mnist";
  it.skipIf(!existsSync(FULL))("loads 60,000 + 10,000 balanced samples as bytes (47 MB + 7.8 MB)", () => {
    const { train, test } = loadIdxDir(FULL);
    expect([train.n, test.n]).toEqual([60000, 10000]);
    expect(train.x.byteLength + test.x.byteLength).toBe(70000 * 784);
    for (const [ds, per] of [
      [train, 6000],
      [test, 1000],
    ] as const) {
      const counts = new Array(10).fill(0);
      for (let i = 0; i < ds.n; i++) counts[ds.y[i]]++;
      expect(counts).toEqual(new Array(10).fill(per)); // Fashion-MNIST is balanced by construction
    }
    // the shipped subset is the first rows
    const small = loadIdxDir(SUBSET);
    expect(Buffer.compare(Buffer.from(train.x.subarray(0, 6000 * 784)), Buffer.from(small.train.x))).toBe(0);
    expect(Buffer.compare(Buffer.from(test.y.subarray(0, 1000)), Buffer.from(small.test.y))).toBe(0);
  });
});

describe("platform-neutral data code", () => {
  it("imports no node:* module and never calls Math.random", () => {
    const root = join(__dirname, "../runtime");
    const files = [...readdirSync(join(root, "data")).map((f) => join(root, "data", f)), join(root, "safetensors.ts")];
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/from\s+["']node:/);
      expect(text, f).not.toMatch(/Math\.random/);
    }
  });
});
