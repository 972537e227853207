// Inverted dropout (p = DROP probability): kept fraction, scaling, p = 0 identity, eval identity,
// backward = dy * mask, spatial dropout per (sample, channel), reproducibility from
// (seed, stream, counter).
import { describe, it, expect } from "vitest";
import { dropoutForward, dropout2dForward, dropoutBackward, dropoutEval } from "../runtime/kernels/dropout";
import { Rng, streamId, uniformAt } from "../runtime/rng";
import { Heap } from "./reference/conv_norm/harness";

const STREAM = streamId("dropout:test");

function setup(len: number): { hp: Heap; x: number; y: number; mask: number; dy: number; dx: number } {
  const hp = new Heap(5 * len);
  const rng = new Rng(1, 2);
  const x = hp.alloc(len);
  for (let i = 0; i < len; i++) hp.H[x + i] = rng.normal();
  const y = hp.alloc(len, NaN);
  const mask = hp.alloc(len, NaN);
  const dy = hp.alloc(len);
  for (let i = 0; i < len; i++) hp.H[dy + i] = rng.normal();
  const dx = hp.alloc(len, NaN);
  return { hp, x, y, mask, dy, dx };
}

describe("dropout", () => {
  it("keeps about 1-p of the elements, scaled by 1/(1-p); mask is 0 or 1/(1-p)", () => {
    const len = 20000;
    for (const p of [0.1, 0.5, 0.8]) {
      const { hp, x, y, mask } = setup(len);
      expect(dropoutForward(hp.H, p, x, y, mask, len, 42, STREAM, 0)).toBe(len);
      const scale = Math.fround(1 / (1 - p));
      let kept = 0;
      let bad = 0;
      for (let i = 0; i < len; i++) {
        const m = hp.H[mask + i];
        if (m !== 0 && m !== scale) bad++;
        if (m !== 0) kept++;
        if (hp.H[y + i] !== Math.fround(hp.H[x + i] * m)) bad++;
      }
      expect(bad).toBe(0);
      // binomial: 5 standard deviations
      const sd = Math.sqrt(len * p * (1 - p));
      expect(Math.abs(kept - len * (1 - p))).toBeLessThan(5 * sd);
    }
  });

  it("element i keeps exactly when uniformAt(seed, stream, counter + i) >= p", () => {
    const len = 257;
    const { hp, x, y, mask } = setup(len);
    dropoutForward(hp.H, 0.3, x, y, mask, len, 7, STREAM, 1000);
    for (let i = 0; i < len; i++) expect(hp.H[mask + i] !== 0).toBe(uniformAt(7, STREAM, 1000 + i) >= 0.3);
  });

  it("is exactly the identity at p = 0 (and so is backward)", () => {
    const len = 1000;
    const { hp, x, y, mask, dy, dx } = setup(len);
    dropoutForward(hp.H, 0, x, y, mask, len, 3, STREAM, 0);
    expect(hp.get(y, len)).toEqual(hp.get(x, len));
    dropoutBackward(hp.H, dy, mask, dx, len);
    expect(hp.get(dx, len)).toEqual(hp.get(dy, len));
  });

  it("drops everything at p = 1", () => {
    const { hp, x, y, mask } = setup(50);
    dropoutForward(hp.H, 1, x, y, mask, 50, 3, STREAM, 0);
    expect(hp.get(y, 50).every((v) => v === 0)).toBe(true);
    expect(hp.get(mask, 50).every((v) => v === 0)).toBe(true);
  });

  it("eval is the identity", () => {
    const { hp, x, y } = setup(100);
    dropoutEval(hp.H, x, y, 100);
    expect(hp.get(y, 100)).toEqual(hp.get(x, 100));
  });

  it("backward is dy * mask, in place too", () => {
    const len = 500;
    const { hp, x, y, mask, dy, dx } = setup(len);
    dropoutForward(hp.H, 0.4, x, y, mask, len, 5, STREAM, 0);
    dropoutBackward(hp.H, dy, mask, dx, len);
    for (let i = 0; i < len; i++) expect(hp.H[dx + i]).toBe(Math.fround(hp.H[dy + i] * hp.H[mask + i]));
    const want = hp.get(dx, len);
    dropoutBackward(hp.H, dy, mask, dy, len);
    expect(hp.get(dy, len)).toEqual(want);
  });

  it("same (seed, stream, counter) gives identical bytes; another counter or stream does not", () => {
    const len = 300;
    const a = setup(len);
    const b = setup(len);
    dropoutForward(a.hp.H, 0.5, a.x, a.y, a.mask, len, 11, STREAM, 600);
    dropoutForward(b.hp.H, 0.5, b.x, b.y, b.mask, len, 11, STREAM, 600);
    expect(a.hp.get(a.mask, len)).toEqual(b.hp.get(b.mask, len));
    dropoutForward(b.hp.H, 0.5, b.x, b.y, b.mask, len, 11, STREAM, 900);
    expect(a.hp.get(a.mask, len)).not.toEqual(b.hp.get(b.mask, len));
    dropoutForward(b.hp.H, 0.5, b.x, b.y, b.mask, len, 11, streamId("dropout:other"), 600);
    expect(a.hp.get(a.mask, len)).not.toEqual(b.hp.get(b.mask, len));
  });
});

describe("spatial dropout (dropout2d)", () => {
  it("draws once per (sample, channel) and keeps or drops whole planes", () => {
    const n = 40,
      C = 25,
      S = 6;
    const len = n * C * S;
    const { hp, x, y, mask } = setup(len);
    const p = 0.3;
    expect(dropout2dForward(hp.H, p, { C, S }, x, y, mask, n, 9, STREAM, 50)).toBe(n * C);
    const scale = Math.fround(1 / (1 - p));
    let kept = 0;
    for (let q = 0; q < n * C; q++) {
      const keep = uniformAt(9, STREAM, 50 + q) >= p;
      if (keep) kept++;
      for (let j = 0; j < S; j++) {
        expect(hp.H[mask + q * S + j]).toBe(keep ? scale : 0);
        expect(hp.H[y + q * S + j] + 0).toBe(keep ? Math.fround(hp.H[x + q * S + j] * scale) : 0);
      }
    }
    const sd = Math.sqrt(n * C * p * (1 - p));
    expect(Math.abs(kept - n * C * (1 - p))).toBeLessThan(5 * sd);
  });

  it("is exactly the identity at p = 0", () => {
    const { hp, x, y, mask } = setup(60);
    dropout2dForward(hp.H, 0, { C: 5, S: 4 }, x, y, mask, 3, 1, STREAM, 0);
    expect(hp.get(y, 60)).toEqual(hp.get(x, 60));
    expect(hp.get(mask, 60).every((v) => v === 1)).toBe(true);
  });
});
