import { describe, expect, it } from "vitest";
import fc from "fast-check";
import cases from "./reference/preprocess/cases.json";
import { Augmenter, cutout, flipH, flipV, gaussianKernel, makeGrid, rotate, separableBlur, translate, type AugmentSpec } from "../runtime/augment";
import { DnncError } from "../runtime/errors";
import { Rng } from "../runtime/rng";

// Naive references on nested index formulas: img(c, y, x) = a[(c*H + y)*W + x].
const at = (a: ArrayLike<number>, H: number, W: number, c: number, y: number, x: number) => (y < 0 || y >= H || x < 0 || x >= W ? 0 : a[(c * H + y) * W + x]);
function mapRef(a: Float32Array, C: number, H: number, W: number, f: (c: number, y: number, x: number) => number) {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(c * H + y) * W + x] = f(c, y, x);
  return out;
}
function randomImage(C: number, H: number, W: number, seed: number): Float32Array {
  const r = new Rng(seed, 77);
  return Float32Array.from({ length: C * H * W }, () => r.uniform());
}
// Runs fn on a copy of img placed at offset 5 of a padded heap; checks nothing outside is touched.
function inHeap(img: Float32Array, fn: (H: Float32Array, off: number) => void): Float32Array {
  const H = new Float32Array(img.length + 9).fill(-3);
  H.set(img, 5);
  fn(H, 5);
  for (const i of [0, 4, img.length + 5, img.length + 8]) expect(H[i]).toBe(-3);
  return H.slice(5, 5 + img.length);
}
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const shapeArb = fc.record({
  C: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 9 }),
  W: fc.integer({ min: 1, max: 9 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

describe("geometric kernels against naive references", () => {
  it("flips are exact", () => {
    fc.assert(
      fc.property(shapeArb, ({ C, H, W, seed }) => {
        const img = randomImage(C, H, W, seed);
        const h = inHeap(img, (X, o) => flipH(X, o, C, H, W));
        expect(h).toEqual(mapRef(img, C, H, W, (c, y, x) => at(img, H, W, c, y, W - 1 - x)));
        const v = inHeap(img, (X, o) => flipV(X, o, C, H, W));
        expect(v).toEqual(mapRef(img, C, H, W, (c, y, x) => at(img, H, W, c, H - 1 - y, x)));
      }),
    );
  });

  it("integer translations are exact with zero fill", () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: -10, max: 10 }), fc.integer({ min: -10, max: 10 }), ({ C, H, W, seed }, dx, dy) => {
        const img = randomImage(C, H, W, seed);
        const out = inHeap(img, (X, o) => translate(X, o, C, H, W, dx, dy, new Float32Array(H * W)));
        expect(out).toEqual(mapRef(img, C, H, W, (c, y, x) => at(img, H, W, c, y - dy, x - dx)));
      }),
    );
  });

  it("rotation by +-90 and 180 degrees equals the exact rotation (square images)", () => {
    for (const N of [4, 5, 8]) {
      const C = 2;
      const img = randomImage(C, N, N, N);
      const scratch = new Float32Array(C * N * N);
      const r90 = inHeap(img, (X, o) => rotate(X, o, C, N, N, Math.PI / 2, scratch));
      // counter-clockwise on screen = numpy.rot90: out[y][x] = in[x][N-1-y]
      expect(
        maxDiff(
          r90,
          mapRef(img, C, N, N, (c, y, x) => at(img, N, N, c, x, N - 1 - y)),
        ),
      ).toBeLessThan(1e-6);
      const rm90 = inHeap(img, (X, o) => rotate(X, o, C, N, N, -Math.PI / 2, scratch));
      expect(
        maxDiff(
          rm90,
          mapRef(img, C, N, N, (c, y, x) => at(img, N, N, c, N - 1 - x, y)),
        ),
      ).toBeLessThan(1e-6);
      const r180 = inHeap(img, (X, o) => rotate(X, o, C, N, N, Math.PI, scratch));
      expect(
        maxDiff(
          r180,
          mapRef(img, C, N, N, (c, y, x) => at(img, N, N, c, N - 1 - y, N - 1 - x)),
        ),
      ).toBeLessThan(1e-6);
      const r0 = inHeap(img, (X, o) => rotate(X, o, C, N, N, 0, scratch));
      expect(r0).toEqual(img);
    }
  });

  it("rotation by small angles matches PyTorch grid_sample (bilinear, zeros, align_corners)", () => {
    const c = cases.rotate;
    const img = Float32Array.from(c.x);
    c.angles.forEach((deg, i) => {
      const out = inHeap(img, (X, o) => rotate(X, o, c.C, c.H, c.W, (deg * Math.PI) / 180, new Float32Array(img.length)));
      expect(maxDiff(out, c.y[i])).toBeLessThan(2e-6);
    });
  });

  it("Gaussian blur matches PyTorch (reflect padding, radius ceil(3 sigma) clamped)", () => {
    const c = cases.blur;
    const img = Float32Array.from(c.x);
    const k = new Float64Array(32);
    c.sigmas.forEach((s, i) => {
      const r = gaussianKernel(s, Math.min(c.H, c.W) - 1, k);
      const out = inHeap(img, (X, o) => separableBlur(X, o, c.C, c.H, c.W, k, r, new Float32Array(c.H * c.W)));
      expect(maxDiff(out, c.y[i])).toBeLessThan(2e-6);
    });
  });

  it("box blur equals the naive windowed mean with reflect padding", () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 1, max: 3 }), ({ C, H, W, seed }, rr) => {
        const r = Math.min(rr, H - 1, W - 1);
        const img = randomImage(C, H, W, seed);
        const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
        const ref = mapRef(img, C, H, W, (c, y, x) => {
          let s = 0;
          for (let a = -r; a <= r; a++) for (let b = -r; b <= r; b++) s += at(img, H, W, c, refl(y + a, H), refl(x + b, W));
          return s / (2 * r + 1) ** 2;
        });
        const out = inHeap(img, (X, o) => new Augmenter([{ kind: "blur", box: rr }]).apply(X, o, C, H, W, seed, 0, 0));
        expect(maxDiff(out, ref)).toBeLessThan(1e-5);
      }),
    );
  });
});

describe("cutout", () => {
  it("the kernel zeroes exactly the clipped square in every channel", () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 1, max: 6 }), fc.nat(), fc.nat(), ({ C, H, W, seed }, size, a, b) => {
        const img = randomImage(C, H, W, seed);
        const cy = a % H;
        const cx = b % W;
        const y0 = cy - (size >> 1);
        const x0 = cx - (size >> 1);
        const out = inHeap(img, (X, o) => cutout(X, o, C, H, W, cy, cx, size));
        const ref = mapRef(img, C, H, W, (c, y, x) => (y >= y0 && y < y0 + size && x >= x0 && x < x0 + size ? 0 : at(img, H, W, c, y, x)));
        expect(out).toEqual(ref);
      }),
    );
  });

  it("through the Augmenter: zeros form one clipped size x size square, the rest is untouched", () => {
    const C = 2;
    const N = 10;
    const aug = new Augmenter([{ kind: "cutout", size: 4 }]);
    let clipped = 0;
    for (let s = 0; s < 40; s++) {
      const out = inHeap(new Float32Array(C * N * N).fill(1), (X, o) => aug.apply(X, o, C, N, N, 7, 0, s));
      let ymin = N,
        ymax = -1,
        xmin = N,
        xmax = -1,
        zeros = 0;
      for (let y = 0; y < N; y++)
        for (let x = 0; x < N; x++) {
          expect(out[y * N + x]).toBe(out[N * N + y * N + x]); // same in both channels
          if (out[y * N + x] === 0) {
            zeros++;
            ymin = Math.min(ymin, y);
            ymax = Math.max(ymax, y);
            xmin = Math.min(xmin, x);
            xmax = Math.max(xmax, x);
          } else expect(out[y * N + x]).toBe(1);
        }
      const h = ymax - ymin + 1;
      const w = xmax - xmin + 1;
      expect(zeros).toBe(h * w); // a full rectangle
      expect(h).toBeLessThanOrEqual(4);
      expect(w).toBeLessThanOrEqual(4);
      if (h < 4) expect(ymin === 0 || ymax === N - 1).toBe(true); // only clipped at a border
      if (w < 4) expect(xmin === 0 || xmax === N - 1).toBe(true);
      if (h < 4 || w < 4) clipped++;
    }
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(40);
  });
});

describe("photometric transforms", () => {
  it("noise has mean 0 and the requested std, and differs between samples", () => {
    const C = 3,
      N = 32,
      std = 0.5;
    const aug = new Augmenter([{ kind: "noise", std }]);
    const a = inHeap(new Float32Array(C * N * N), (X, o) => aug.apply(X, o, C, N, N, 11, 2, 5));
    const b = inHeap(new Float32Array(C * N * N), (X, o) => aug.apply(X, o, C, N, N, 11, 2, 6));
    const n = a.length;
    const mean = a.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan((4 * std) / Math.sqrt(n));
    expect(Math.abs(sd / std - 1)).toBeLessThan(0.05);
    let corr = 0;
    for (let i = 0; i < n; i++) corr += a[i] * b[i];
    expect(Math.abs(corr / n / (std * std))).toBeLessThan(0.1); // independent draws per sample
    const within = a.filter((v) => Math.abs(v) < std).length / n; // ~68% within one std
    expect(within).toBeGreaterThan(0.64);
    expect(within).toBeLessThan(0.72);
  });

  it("brightness adds one constant in [-delta, delta]; contrast keeps the mean and scales deviations", () => {
    const C = 1,
      N = 6;
    const img = randomImage(C, N, N, 3);
    for (let s = 0; s < 20; s++) {
      const br = inHeap(img, (X, o) => new Augmenter([{ kind: "brightness", delta: 0.2 }]).apply(X, o, C, N, N, 1, 0, s));
      const d0 = br[0] - img[0];
      expect(Math.abs(d0)).toBeLessThanOrEqual(0.2);
      for (let i = 0; i < img.length; i++) expect(br[i] - img[i]).toBeCloseTo(d0, 6);
      const ct = inHeap(img, (X, o) => new Augmenter([{ kind: "contrast", factor: 0.5 }]).apply(X, o, C, N, N, 1, 0, s));
      const m = img.reduce((a, v) => a + v, 0) / img.length;
      expect(ct.reduce((a, v) => a + v, 0) / img.length).toBeCloseTo(m, 5);
      const f = (ct[0] - m) / (img[0] - m);
      expect(f).toBeGreaterThanOrEqual(0.5 - 1e-4);
      expect(f).toBeLessThanOrEqual(1.5 + 1e-4);
      for (let i = 0; i < img.length; i++) expect(ct[i]).toBeCloseTo(m + f * (img[i] - m), 5);
    }
  });
});

describe("the Augmenter", () => {
  const all: AugmentSpec[] = [
    { kind: "flip_h", p: 0.5 },
    { kind: "flip_v", p: 0.5 },
    { kind: "translate", max: 2, p: 0.8 },
    { kind: "crop", pad: 1, p: 0.5 },
    { kind: "rotate", deg: 15, p: 0.7 },
    { kind: "noise", std: 0.05, p: 0.5 },
    { kind: "blur", sigma: [0.3, 1], p: 0.5 },
    { kind: "blur", box: 1, p: 0.3 },
    { kind: "cutout", size: 3, count: 2, p: 0.5 },
    { kind: "brightness", delta: 0.1, p: 0.5 },
    { kind: "contrast", factor: 0.2, p: 0.5 },
  ];

  it("p = 0 is the identity for every transform", () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: all.length - 1 }), fc.nat(), ({ C, H, W, seed }, t, s) => {
        const img = randomImage(C, H, W, seed);
        const out = inHeap(img, (X, o) => new Augmenter(all.map((a) => ({ ...a, p: 0 }))).apply(X, o, C, H, W, seed, 3, s));
        expect(out).toEqual(img);
        const one = inHeap(img, (X, o) => new Augmenter([{ ...all[t], p: 0 }]).apply(X, o, C, H, W, seed, 3, s));
        expect(one).toEqual(img);
      }),
    );
  });

  it("depends only on (seed, epoch, sample index): not on batch composition or call order", () => {
    const C = 1,
      N = 8,
      len = C * N * N;
    const imgs = Array.from({ length: 6 }, (_, i) => randomImage(C, N, N, 100 + i));
    const aug = new Augmenter(all, { C, H: N, W: N });
    const batch = (order: number[], epoch: number, seed = 42) => {
      const H = new Float32Array(order.length * len);
      order.forEach((s, i) => H.set(imgs[s], i * len));
      aug.applyBatch(H, 0, order.length, C, N, N, seed, epoch, order);
      const out: Float32Array[] = [];
      order.forEach((s, i) => (out[s] = H.slice(i * len, (i + 1) * len)));
      return out;
    };
    const a = batch([0, 1, 2, 3, 4, 5], 1);
    const b = batch([5, 3, 1, 0, 2, 4], 1);
    const c = [batch([2, 0], 1), batch([4, 1, 5, 3], 1)];
    for (let s = 0; s < 6; s++) {
      expect(b[s]).toEqual(a[s]);
      expect(c[0][s] ?? c[1][s]).toEqual(a[s]);
    }
    const other = batch([0, 1, 2, 3, 4, 5], 2);
    const seed2 = batch([0, 1, 2, 3, 4, 5], 1, 43);
    expect(other.filter((x, s) => maxDiff(x, a[s]) > 0).length).toBeGreaterThan(3);
    expect(seed2.filter((x, s) => maxDiff(x, a[s]) > 0).length).toBeGreaterThan(3);
    // a freshly built augmenter gives the same bytes
    const fresh = inHeap(imgs[3], (X, o) => new Augmenter(all).apply(X, o, C, N, N, 42, 1, 3));
    expect(fresh).toEqual(a[3]);
  });

  it("flip_h with p = 0.5 fires on about half of the samples; changing another transform does not change it", () => {
    const C = 1,
      H = 1,
      W = 4;
    const img = Float32Array.from([1, 2, 3, 4]);
    const fired = (extra: AugmentSpec) => {
      const aug = new Augmenter([{ kind: "flip_h" }, extra]);
      let k = 0;
      const pattern: boolean[] = [];
      for (let s = 0; s < 400; s++) {
        const out = inHeap(img, (X, o) => aug.apply(X, o, C, H, W, 9, 0, s));
        pattern.push(out[0] === 4);
        if (out[0] === 4) k++;
      }
      return { k, pattern };
    };
    const a = fired({ kind: "brightness", delta: 0 });
    const b = fired({ kind: "brightness", delta: 0, p: 0.3 });
    expect(a.k).toBeGreaterThan(160);
    expect(a.k).toBeLessThan(240);
    expect(b.pattern).toEqual(a.pattern);
  });

  it("crop(pad) and translate(max) shift by at most pad/max and never by more", () => {
    const C = 1,
      N = 9;
    const img = new Float32Array(N * N);
    img[4 * N + 4] = 1; // a single dot in the centre
    const seen = new Set<string>();
    for (const spec of [
      { kind: "crop", pad: 2 },
      { kind: "translate", max: 2 },
    ] as AugmentSpec[])
      for (let s = 0; s < 300; s++) {
        const out = inHeap(img, (X, o) => new Augmenter([spec]).apply(X, o, C, N, N, 5, 0, s));
        const at1 = out.indexOf(1);
        const dy = Math.floor(at1 / N) - 4;
        const dx = (at1 % N) - 4;
        expect(Math.max(Math.abs(dx), Math.abs(dy))).toBeLessThanOrEqual(2);
        seen.add(`${spec.kind}:${dx},${dy}`);
      }
    expect(seen.size).toBe(50); // all 25 shifts reached by both
  });

  it("rejects bad settings with DnncError naming the transform", () => {
    expect(() => new Augmenter([{ kind: "flip_h", p: 1.5 }])).toThrow(/augment\[0\] \(flip_h\): p must be/);
    expect(() => new Augmenter([{ kind: "translate", max: 1.5 }])).toThrow(DnncError);
    expect(() => new Augmenter([{ kind: "blur" }])).toThrow(/exactly one of sigma or box/);
    expect(() => new Augmenter([{ kind: "cutout", size: 0 }])).toThrow(DnncError);
    expect(() => new Augmenter([{ kind: "warp" } as unknown as AugmentSpec])).toThrow(/unknown transform "warp"/);
  });
});

describe("makeGrid", () => {
  it("tiles grayscale images with padding, clamps and rounds", () => {
    const a = Float32Array.from([0, 0.5, 1, 2]); // 2x2
    const b = Float32Array.from([-1, NaN, 0.25, 1]);
    const c = Float32Array.from([1, 1, 1, 1]);
    const g = makeGrid([a, b, c], 1, 2, 2, 2, 1, 0);
    expect([g.width, g.height, g.channels]).toEqual([7, 7, 1]);
    const row = (y: number) => Array.from(g.pixels.subarray(y * 7, (y + 1) * 7));
    expect(row(0)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(row(1)).toEqual([0, 0, 128, 0, 0, 0, 0]);
    expect(row(2)).toEqual([0, 255, 255, 0, 64, 255, 0]);
    expect(row(4)).toEqual([0, 255, 255, 0, 0, 0, 0]);
  });

  it("interleaves RGB and accepts offsets into H", () => {
    const H = new Float32Array(20);
    H.set([1, 0, 0, 0.2], 10); // (3, 1, 1) pixel: channels 1, 0, 0 at offset 10; 0.2 ignored
    H.set([0, 0, 1], 15);
    const g = makeGrid({ H, offsets: [10, 15] }, 3, 1, 1, 5, 0);
    expect([g.width, g.height]).toEqual([2, 1]);
    expect(Array.from(g.pixels)).toEqual([255, 0, 0, 0, 0, 255]);
    expect(() => makeGrid([new Float32Array(2)], 2, 1, 1, 1, 0)).toThrow(DnncError);
  });
});
