// The streaming IDX loader (what trainers use) gives the same bytes and the same errors as the
// synchronous one, including when the gzip trailer's size is wrong and for plain files.
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { loadIdxDir, loadIdxDirStreaming, loadIdxPairStreaming, readMaybeGzipStreaming } from "../runtime/node/load-idx";
import { readMaybeGzip } from "../runtime/node/files";
import { DnncError } from "../runtime/errors";

const SUBSET = join(__dirname, "../specs/data/fashion-mnist-small");
const tempDir = () => mkdtempSync(join(tmpdir(), "dnnc-idx-stream-"));

async function expectDnncAsync(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DnncError);
  for (const part of parts) expect((err as Error).message).toMatch(part);
}

describe("readMaybeGzipStreaming", () => {
  it("inflates the shipped subset to the same bytes as the synchronous reader", async () => {
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]) {
      const a = await readMaybeGzipStreaming(join(SUBSET, f));
      expect(Buffer.compare(Buffer.from(a), Buffer.from(readMaybeGzip(join(SUBSET, f))))).toBe(0);
    }
  });

  it("gives the same bytes for random payloads, plain or gzipped, and two gzip members", async () => {
    const dir = tempDir();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3_000_000 }), fc.integer({ min: 0, max: 3 }), async (data, mode) => {
        const path = join(dir, `f${mode}`);
        let bytes: Uint8Array = data;
        if (mode > 0) {
          const gz = Buffer.from(gzipSync(data));
          // 2: the trailer says 1 byte (corrupt); 3: two gzip members (the trailer holds only the
          // second's size, so the output buffer must grow)
          if (mode === 2) gz.writeUInt32LE(1, gz.length - 4);
          bytes = mode === 3 ? Buffer.concat([gz, gzipSync(data.subarray(0, 7))]) : gz;
        }
        if (mode === 0 && data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return; // would be gzip by magic
        writeFileSync(path, bytes);
        const expected = mode === 3 ? Buffer.concat([Buffer.from(data), Buffer.from(data.subarray(0, 7))]) : Buffer.from(data);
        if (mode === 2) {
          // zlib checks the trailer's size: a wrong one is corrupt data for both readers
          await expectDnncAsync(readMaybeGzipStreaming(path), "corrupt gzip");
          expect(() => readMaybeGzip(path)).toThrow(/corrupt gzip/);
          return;
        }
        const got = await readMaybeGzipStreaming(path);
        expect(Buffer.compare(Buffer.from(got), expected)).toBe(0);
        expect(Buffer.compare(Buffer.from(readMaybeGzip(path)), expected)).toBe(0);
      }),
      { numRuns: 12, seed: 7 },
    );
  });

  it("names the file for missing, empty, directory and corrupt inputs", async () => {
    const dir = tempDir();
    await expectDnncAsync(readMaybeGzipStreaming(join(dir, "nope.gz")), "nope.gz", "no such file");
    await expectDnncAsync(readMaybeGzipStreaming(dir), "is a directory");
    writeFileSync(join(dir, "empty"), "");
    await expectDnncAsync(readMaybeGzipStreaming(join(dir, "empty")), "empty", "empty file");
    const gz = readFileSync(join(SUBSET, "t10k-labels-idx1-ubyte.gz"));
    writeFileSync(join(dir, "cut.gz"), gz.subarray(0, gz.length - 20));
    await expectDnncAsync(readMaybeGzipStreaming(join(dir, "cut.gz")), "cut.gz", "corrupt gzip");
    const bad = Buffer.from(gz);
    bad[40] ^= 0xff;
    writeFileSync(join(dir, "bad.gz"), bad);
    await expectDnncAsync(readMaybeGzipStreaming(join(dir, "bad.gz")), "bad.gz", "corrupt gzip");
  });
});

describe("loadIdxDirStreaming", () => {
  it("loads the subset exactly as loadIdxDir does", async () => {
    const a = loadIdxDir(SUBSET);
    const b = await loadIdxDirStreaming(SUBSET);
    for (const k of ["train", "test"] as const) {
      expect(b[k].n).toBe(a[k].n);
      expect(b[k].shape).toEqual(a[k].shape);
      expect(b[k].classes).toBe(a[k].classes);
      expect(b[k].x).toBeInstanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(b[k].x), Buffer.from(a[k].x))).toBe(0);
      expect(Buffer.compare(Buffer.from(b[k].y), Buffer.from(a[k].y))).toBe(0);
    }
  });

  it("reports the same dataset errors", async () => {
    await expectDnncAsync(loadIdxDirStreaming(join(tempDir(), "nope")), "no such directory");
    const dir = tempDir();
    await expectDnncAsync(loadIdxDirStreaming(dir), dir, "missing train-images-idx3-ubyte.gz");
    await expectDnncAsync(loadIdxPairStreaming(join(SUBSET, "train-images-idx3-ubyte.gz"), join(SUBSET, "t10k-labels-idx1-ubyte.gz")), "count mismatch");
    const labels = gunzipSync(readFileSync(join(SUBSET, "t10k-labels-idx1-ubyte.gz")));
    labels[8 + 17] = 12;
    writeFileSync(join(dir, "labels"), labels);
    await expectDnncAsync(
      loadIdxPairStreaming(join(SUBSET, "t10k-images-idx3-ubyte.gz"), join(dir, "labels"), { classes: 10 }),
      "label out of range at index 17: 12",
    );
  });

  const FULL = "/usr/share/datasets/fashion-mnist";
  it.skipIf(!existsSync(FULL))("loads the full Fashion-MNIST like loadIdxDir", async () => {
    const a = loadIdxDir(FULL);
    const b = await loadIdxDirStreaming(FULL);
    expect(b.train.x.byteLength).toBe(60000 * 784);
    expect(Buffer.compare(Buffer.from(b.train.x), Buffer.from(a.train.x))).toBe(0);
    expect(Buffer.compare(Buffer.from(b.test.x), Buffer.from(a.test.x))).toBe(0);
    // a view of zlib's one output buffer: the trailer's size (header included) plus 64 bytes of slack
    expect(b.train.x.buffer.byteLength).toBe(60000 * 784 + 16 + 64);
  });
});
