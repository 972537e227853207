// Packed byte images (runtime/data/packed.ts): gatherBatch over packed rows gives the same bytes as
// over the dense array; packing in arbitrary pieces equals packing at once; the trainer's packed
// IDX loader gives the same datasets and the same errors as the plain one.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatherBatch } from "../runtime/data/batch";
import { packedDataset, type Dataset } from "../runtime/data/dataset";
import { RowPacker, packRows, unpackAll, packedBytes } from "../runtime/data/packed";
import { loadIdxDir, loadIdxDirStreaming } from "../runtime/node/load-idx";

/** Byte-for-byte equality of two typed arrays (fast on large ones). */
const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Bytes with long zero runs, long non-zero runs and isolated values (the token edge cases). */
const rowsArb = fc.record({
  n: fc.integer({ min: 1, max: 6 }),
  F: fc.integer({ min: 1, max: 700 }),
  seed: fc.nat(),
  zeros: fc.constantFrom(0, 0.3, 0.5, 0.9, 1),
});
function makeBytes(n: number, F: number, seed: number, zeros: number): Uint8Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  const x = new Uint8Array(n * F);
  let run = 0;
  let zero = false;
  for (let i = 0; i < x.length; i++) {
    if (run-- <= 0) {
      zero = rnd() < zeros;
      run = Math.floor(rnd() * (rnd() < 0.2 ? 600 : 8));
    }
    x[i] = zero ? 0 : 1 + Math.floor(rnd() * 255);
  }
  return x;
}

describe("packed rows", () => {
  it("gatherBatch gives the same bytes packed and dense (scales, shifts, -0)", () => {
    fc.assert(
      fc.property(
        rowsArb,
        fc.constantFrom(1, 1 / 255, -2, 0.5),
        fc.constantFrom(0, -0.5, 3),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        ({ n, F, seed, zeros }, scale, shift, picks) => {
          const x = makeBytes(n, F, seed, zeros);
          const y = Uint8Array.from({ length: n }, (_, i) => i % 3);
          const dense: Dataset = { x, y, n, shape: [F], classes: 3 };
          const packed = packedDataset(packRows(x, n, F), y, [F], 3);
          const order = Int32Array.from(picks, (p) => p % n);
          const A = new Float32Array(order.length * F + 3 + order.length);
          const B = new Float32Array(A.length);
          gatherBatch(A, dense, order, 0, order.length, 3, 3 + order.length * F, scale, shift);
          gatherBatch(B, packed, order, 0, order.length, 3, 3 + order.length * F, scale, shift);
          expect(Buffer.from(B.buffer).equals(Buffer.from(A.buffer))).toBe(true);
          expect(same(packed.x, x)).toBe(true); // x unpacks on first use
        },
      ),
      { seed: 1, numRuns: 300 },
    );
  });

  it("packing in pieces of any length equals packing at once; unpackAll inverts it", () => {
    fc.assert(
      fc.property(rowsArb, fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 20 }), ({ n, F, seed, zeros }, cuts) => {
        const x = makeBytes(n, F, seed, zeros);
        const whole = packRows(x, n, F);
        const pk = new RowPacker(F, n);
        let i = 0;
        for (let k = 0; i < x.length; k++) {
          const len = cuts[k % cuts.length];
          pk.push(x.subarray(i, i + len));
          i += len;
        }
        pk.push(new Uint8Array([7, 7])); // bytes past n rows are ignored
        const parts = pk.finish();
        expect(same(parts.rowStart, whole.rowStart)).toBe(true);
        expect(parts.blocks.length).toBe(whole.blocks.length);
        parts.blocks.forEach((b, i) => expect(same(b, whole.blocks[i])).toBe(true));
        expect(same(unpackAll(parts), x)).toBe(true);
      }),
      { seed: 2, numRuns: 200 },
    );
  });

  it("rows spread over several blocks (a row never spans two)", () => {
    const n = 3000;
    const F = 784;
    const x = makeBytes(n, F, 5, 0.1);
    const pk = packRows(x, n, F);
    expect(pk.blocks.length).toBeGreaterThan(1);
    expect(same(unpackAll(pk), x)).toBe(true);
    expect(packedBytes(pk)).toBeLessThan(x.length + 16 * n);
  });
});

describe("the trainer's packed IDX loader", () => {
  const small = "specs/data/fashion-mnist-small";

  it("gives the datasets of the plain loader (same labels, classes, shape, rows), and packs the images smaller", async () => {
    const plain = loadIdxDir(small);
    const packed = await loadIdxDirStreaming(small, { packed: true });
    for (const k of ["train", "test"] as const) {
      expect(packed[k].packed, k).toBeDefined();
      expect(packed[k].n).toBe(plain[k].n);
      expect(packed[k].shape).toEqual(plain[k].shape);
      expect(packed[k].classes).toBe(plain[k].classes);
      expect(same(packed[k].y, plain[k].y)).toBe(true);
      expect(packedBytes(packed[k].packed!)).toBeLessThan(plain[k].x.length);
      expect(same(packed[k].x, plain[k].x)).toBe(true);
    }
  });

  it("a bad file fails with the plain loader's message (truncated images, label out of range, not gzipped)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-packed-"));
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
      copyFileSync(join(small, f), join(dir, f));
    const message = async (f: () => Promise<unknown> | unknown) => {
      try {
        await f();
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    const images = readFileSync(join(small, "t10k-images-idx3-ubyte.gz"));
    const { gunzipSync } = await import("node:zlib");
    const raw = gunzipSync(images);
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(raw.subarray(0, raw.length - 5)));
    const m1 = await message(() => loadIdxDir(dir));
    expect(m1).toMatch(/truncated data/);
    expect(await message(() => loadIdxDirStreaming(dir, { packed: true }))).toBe(m1);
    const labels = gunzipSync(readFileSync(join(small, "t10k-labels-idx1-ubyte.gz")));
    labels[labels.length - 1] = 200;
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), images);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(labels));
    const m2 = await message(() => loadIdxDir(dir));
    expect(m2).toMatch(/label out of range/);
    expect(await message(() => loadIdxDirStreaming(dir, { packed: true }))).toBe(m2);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(gunzipSync(readFileSync(join(small, "t10k-labels-idx1-ubyte.gz")))));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), raw); // plain bytes under a .gz name: loaded as they are
    const plain = loadIdxDir(dir);
    const packed = await loadIdxDirStreaming(dir, { packed: true });
    expect(packed.test.packed).toBeUndefined();
    expect(same(packed.test.x, plain.test.x)).toBe(true);
  });
});
