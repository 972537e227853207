// Data augmentation: random, per-sample, training-only transforms of one image in float form
// inside the batch buffer in H, plus makeGrid (pixels for `dnnc augment-preview`).
//
// Randomness: every draw comes from runtime/rng.ts. The key of a sample is
// hash3(hash3(seed, S_EPOCH, epoch), S_SAMPLE, sampleIndex), so a sample's transform depends only
// on (seed, epoch, its index in the dataset), never on the batch it lands in or on the order of
// calls. Each transform in the list draws from its own stream ("augment:<position>:<kind>"), so
// changing one transform's settings never changes another's draws (inserting a transform
// renumbers the ones after it). Per transform the first draw decides whether it fires (u < p);
// its parameters come from the following draws.
//
// Images are (C, H, W) row-major at H[off] (one NCHW sample). Conventions:
// - flip_h mirrors columns, flip_v rows (default p 0.5; every other transform defaults to p 1).
// - translate(max): integer shifts dx, dy uniform in [-max, max]; out[y][x] = in[y-dy][x-dx],
//   zero fill. crop(pad): pad with `pad` zeros on each side and crop a random window of the
//   original size: the same distribution as translate(max = pad), implemented by it.
// - rotate(deg): angle uniform in [-deg, deg]; positive = counter-clockwise on screen (y down),
//   about the image centre ((W-1)/2, (H-1)/2); bilinear interpolation with zero fill outside,
//   i.e. PyTorch grid_sample(align_corners=True, padding_mode="zeros") on the inverse map.
// - noise(std): x += std * N(0, 1), one Box-Muller normal per value.
// - blur(sigma | [lo, hi]): separable Gaussian exp(-t^2 / (2 sigma^2)) normalized, radius
//   ceil(3 sigma) (at most min(H, W) - 1), reflect padding (as torchvision). blur(box: r): the
//   (2r+1)^2 mean, same padding.
// - cutout(size, count): `count` squares of side `size`, centre uniform over the pixels, clipped
//   at the borders, set to 0 in every channel (DeVries & Taylor 2017).
// - brightness(delta): x += b, b uniform in [-delta, delta].
// - contrast(factor): x = mean + c (x - mean), c uniform in [max(0, 1 - factor), 1 + factor],
//   mean over the whole image (all channels).
// No clamping: values may leave [0, 1] (the network does not care; makeGrid clamps for display).
// The scratch is allocated when the Augmenter is built (or grows once for a larger image), never
// per sample. Evaluation simply does not call apply.

import { DnncError } from "./errors";
import { hash3, Rng, streamId } from "./rng";

export type AugmentSpec =
  | { kind: "flip_h"; p?: number }
  | { kind: "flip_v"; p?: number }
  | { kind: "translate"; max: number; p?: number }
  | { kind: "crop"; pad: number; p?: number }
  | { kind: "rotate"; deg: number; p?: number }
  | { kind: "noise"; std: number; p?: number }
  | { kind: "blur"; sigma?: number | [number, number]; box?: number; p?: number }
  | { kind: "cutout"; size: number; count?: number; p?: number }
  | { kind: "brightness"; delta: number; p?: number }
  | { kind: "contrast"; factor: number; p?: number };

const S_EPOCH = streamId("augment:epoch");
const S_SAMPLE = streamId("augment:sample");

/** The per-sample key: depends on (seed, epoch, sampleIndex) only. */
export function augmentKey(seed: number, epoch: number, sampleIndex: number): number {
  return hash3(hash3(seed, S_EPOCH, epoch), S_SAMPLE, sampleIndex);
}

// ---------------------------------------------------------------------------------------------
// Kernels. x is (C, Hh, W) at H[off] throughout; all work in place.

// x is (C, Hh, W): mirror every row.
export function flipH(H: Float32Array, off: number, C: number, Hh: number, W: number): void {
  for (let r = 0; r < C * Hh; r++) {
    const o = off + r * W;
    for (let a = 0, b = W - 1; a < b; a++, b--) {
      const t = H[o + a];
      H[o + a] = H[o + b];
      H[o + b] = t;
    }
  }
}

// x is (C, Hh, W): reverse the order of the rows of every channel.
export function flipV(H: Float32Array, off: number, C: number, Hh: number, W: number): void {
  for (let c = 0; c < C; c++) {
    const o = off + c * Hh * W;
    for (let a = 0, b = Hh - 1; a < b; a++, b--)
      for (let x = 0; x < W; x++) {
        const t = H[o + a * W + x];
        H[o + a * W + x] = H[o + b * W + x];
        H[o + b * W + x] = t;
      }
  }
}

// x is (C, Hh, W): out[c][y][x] = in[c][y - dy][x - dx], 0 outside. scratch >= Hh*W floats.
export function translate(H: Float32Array, off: number, C: number, Hh: number, W: number, dx: number, dy: number, scratch: Float32Array): void {
  const plane = Hh * W;
  for (let c = 0; c < C; c++) {
    const o = off + c * plane;
    for (let i = 0; i < plane; i++) scratch[i] = H[o + i];
    for (let y = 0; y < Hh; y++) {
      const sy = y - dy;
      const row = o + y * W;
      if (sy < 0 || sy >= Hh) {
        for (let x = 0; x < W; x++) H[row + x] = 0;
        continue;
      }
      for (let x = 0; x < W; x++) {
        const sx = x - dx;
        H[row + x] = sx >= 0 && sx < W ? scratch[sy * W + sx] : 0;
      }
    }
  }
}

// x is (C, Hh, W): rotate by `angle` radians (counter-clockwise on screen) about the centre,
// bilinear, zero fill. scratch >= C*Hh*W floats.
export function rotate(H: Float32Array, off: number, C: number, Hh: number, W: number, angle: number, scratch: Float32Array): void {
  const plane = Hh * W;
  const n = C * plane;
  for (let i = 0; i < n; i++) scratch[i] = H[off + i];
  const cs = Math.cos(angle);
  const sn = Math.sin(angle);
  const cx = (W - 1) / 2;
  const cy = (Hh - 1) / 2;
  for (let y = 0; y < Hh; y++) {
    const dy = y - cy;
    for (let x = 0; x < W; x++) {
      const dx = x - cx;
      // inverse map: source = centre + R(-angle) (p - centre), in y-down coordinates
      const sx = cx + dx * cs - dy * sn;
      const sy = cy + dx * sn + dy * cs;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const in00 = y0 >= 0 && y0 < Hh && x0 >= 0 && x0 < W;
      const in01 = y0 >= 0 && y0 < Hh && x0 + 1 >= 0 && x0 + 1 < W;
      const in10 = y0 + 1 >= 0 && y0 + 1 < Hh && x0 >= 0 && x0 < W;
      const in11 = y0 + 1 >= 0 && y0 + 1 < Hh && x0 + 1 >= 0 && x0 + 1 < W;
      const w00 = in00 ? (1 - fx) * (1 - fy) : 0;
      const w01 = in01 ? fx * (1 - fy) : 0;
      const w10 = in10 ? (1 - fx) * fy : 0;
      const w11 = in11 ? fx * fy : 0;
      const s = y0 * W + x0; // may be out of range only where its weight is 0
      for (let c = 0; c < C; c++) {
        const b = c * plane + s;
        let v = 0;
        if (w00 !== 0) v += w00 * scratch[b];
        if (w01 !== 0) v += w01 * scratch[b + 1];
        if (w10 !== 0) v += w10 * scratch[b + W];
        if (w11 !== 0) v += w11 * scratch[b + W + 1];
        H[off + c * plane + y * W + x] = v;
      }
    }
  }
}

// x is (C, Hh, W): separable convolution with the symmetric kernel k[0..2r] (centre r),
// reflect padding (index -1 reads 1). Requires r <= min(Hh, W) - 1. scratch >= Hh*W floats.
export function separableBlur(H: Float32Array, off: number, C: number, Hh: number, W: number, k: Float64Array, r: number, scratch: Float32Array): void {
  const plane = Hh * W;
  for (let c = 0; c < C; c++) {
    const o = off + c * plane;
    // horizontal pass: H -> scratch
    for (let y = 0; y < Hh; y++) {
      const row = o + y * W;
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let t = -r; t <= r; t++) {
          let j = x + t;
          if (j < 0) j = -j;
          else if (j >= W) j = 2 * (W - 1) - j;
          s += k[t + r] * H[row + j];
        }
        scratch[y * W + x] = s;
      }
    }
    // vertical pass: scratch -> H
    for (let y = 0; y < Hh; y++)
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let t = -r; t <= r; t++) {
          let i = y + t;
          if (i < 0) i = -i;
          else if (i >= Hh) i = 2 * (Hh - 1) - i;
          s += k[t + r] * scratch[i * W + x];
        }
        H[o + y * W + x] = s;
      }
  }
}

/** Fill k[0..2r] with the normalized Gaussian of `sigma`; returns r = min(ceil(3 sigma), rmax). */
export function gaussianKernel(sigma: number, rmax: number, k: Float64Array): number {
  const r = Math.max(0, Math.min(Math.ceil(3 * sigma), rmax));
  let s = 0;
  for (let t = -r; t <= r; t++) s += k[t + r] = Math.exp((-t * t) / (2 * sigma * sigma));
  for (let t = 0; t <= 2 * r; t++) k[t] /= s;
  return r;
}

// x is (C, Hh, W): zero the size x size square centred at (cy, cx) (top-left at centre -
// floor(size/2)), clipped at the borders, in every channel.
export function cutout(H: Float32Array, off: number, C: number, Hh: number, W: number, cy: number, cx: number, size: number): void {
  const y0 = Math.max(0, cy - (size >> 1));
  const y1 = Math.min(Hh, cy - (size >> 1) + size);
  const x0 = Math.max(0, cx - (size >> 1));
  const x1 = Math.min(W, cx - (size >> 1) + size);
  for (let c = 0; c < C; c++)
    for (let y = y0; y < y1; y++) {
      const row = off + (c * Hh + y) * W;
      for (let x = x0; x < x1; x++) H[row + x] = 0;
    }
}

// x is (len): x = mean + f (x - mean).
export function contrast(H: Float32Array, off: number, len: number, f: number): void {
  let m = 0;
  for (let i = 0; i < len; i++) m += H[off + i];
  m /= len;
  for (let i = 0; i < len; i++) H[off + i] = m + f * (H[off + i] - m);
}

// ---------------------------------------------------------------------------------------------
// The compiled augmenter.

interface Step {
  spec: AugmentSpec;
  p: number;
  stream: number;
}

const DEFAULT_P: Partial<Record<AugmentSpec["kind"], number>> = { flip_h: 0.5, flip_v: 0.5 };

export class Augmenter {
  readonly steps: readonly Step[];
  private scratch: Float32Array;
  private kernel: Float64Array;
  private readonly rng = new Rng(0, 0, 0);

  constructor(specs: readonly AugmentSpec[], shape?: { C: number; H: number; W: number }) {
    this.steps = specs.map((s, i) => {
      validate(s, i);
      return { spec: s, p: s.p ?? DEFAULT_P[s.kind] ?? 1, stream: streamId(`augment:${i}:${s.kind}`) };
    });
    this.scratch = new Float32Array(shape ? shape.C * shape.H * shape.W : 0);
    this.kernel = new Float64Array(shape ? 2 * Math.max(shape.H, shape.W) + 1 : 0);
  }

  /** Augment the image (C, Hh, W) at H[off] in place, as sample `sampleIndex` of epoch `epoch`. */
  apply(H: Float32Array, off: number, C: number, Hh: number, W: number, seed: number, epoch: number, sampleIndex: number): void {
    const len = C * Hh * W;
    if (this.scratch.length < len) this.scratch = new Float32Array(len); // once per larger shape
    if (this.kernel.length < 2 * Math.max(Hh, W) + 1) this.kernel = new Float64Array(2 * Math.max(Hh, W) + 1);
    const key = augmentKey(seed, epoch, sampleIndex);
    const rng = this.rng;
    const scratch = this.scratch;
    for (let t = 0; t < this.steps.length; t++) {
      const st = this.steps[t];
      rng.seed = key;
      rng.stream = st.stream;
      rng.counter = 0;
      if (!(rng.uniform() < st.p)) continue;
      const s = st.spec;
      switch (s.kind) {
        case "flip_h":
          flipH(H, off, C, Hh, W);
          break;
        case "flip_v":
          flipV(H, off, C, Hh, W);
          break;
        case "translate":
        case "crop": {
          const m = s.kind === "crop" ? s.pad : s.max;
          const dx = rng.int(2 * m + 1) - m;
          const dy = rng.int(2 * m + 1) - m;
          if (dx !== 0 || dy !== 0) translate(H, off, C, Hh, W, dx, dy, scratch);
          break;
        }
        case "rotate": {
          const a = rng.range(-s.deg, s.deg);
          rotate(H, off, C, Hh, W, (a * Math.PI) / 180, scratch);
          break;
        }
        case "noise":
          for (let i = 0; i < len; i++) H[off + i] += s.std * rng.normal();
          break;
        case "blur": {
          const rmax = Math.min(Hh, W) - 1;
          let r: number;
          if (s.box !== undefined) {
            r = Math.min(s.box, rmax);
            for (let t = 0; t <= 2 * r; t++) this.kernel[t] = 1 / (2 * r + 1);
          } else {
            const sg = s.sigma!;
            const sigma = typeof sg === "number" ? sg : rng.range(sg[0], sg[1]);
            r = gaussianKernel(sigma, rmax, this.kernel);
          }
          if (r > 0) separableBlur(H, off, C, Hh, W, this.kernel, r, scratch);
          break;
        }
        case "cutout": {
          const count = s.count ?? 1;
          for (let q = 0; q < count; q++) {
            const cy = rng.int(Hh);
            const cx = rng.int(W);
            cutout(H, off, C, Hh, W, cy, cx, s.size);
          }
          break;
        }
        case "brightness": {
          const b = rng.range(-s.delta, s.delta);
          for (let i = 0; i < len; i++) H[off + i] += b;
          break;
        }
        case "contrast":
          contrast(H, off, len, rng.range(Math.max(0, 1 - s.factor), 1 + s.factor));
          break;
      }
    }
  }

  /** Augment n consecutive images (NCHW batch at H[off]); row i is dataset sample indices[start + i]. */
  applyBatch(
    H: Float32Array,
    off: number,
    n: number,
    C: number,
    Hh: number,
    W: number,
    seed: number,
    epoch: number,
    indices: ArrayLike<number>,
    start = 0,
  ): void {
    const len = C * Hh * W;
    for (let i = 0; i < n; i++) this.apply(H, off + i * len, C, Hh, W, seed, epoch, indices[start + i]);
  }
}

function validate(s: AugmentSpec, i: number): void {
  const where = `augment[${i}] (${s.kind})`;
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new DnncError(`${where}: ${what}`);
  };
  need(s.p === undefined || (s.p >= 0 && s.p <= 1), `p must be in [0, 1], got ${s.p}`);
  const nonNegInt = (v: number) => Number.isInteger(v) && v >= 0;
  switch (s.kind) {
    case "flip_h":
    case "flip_v":
      break;
    case "translate":
      need(nonNegInt(s.max), `max must be a non-negative integer, got ${s.max}`);
      break;
    case "crop":
      need(nonNegInt(s.pad), `pad must be a non-negative integer, got ${s.pad}`);
      break;
    case "rotate":
      need(s.deg >= 0 && s.deg <= 180, `deg must be in [0, 180], got ${s.deg}`);
      break;
    case "noise":
      need(s.std >= 0, `std must be >= 0, got ${s.std}`);
      break;
    case "blur":
      need((s.sigma === undefined) !== (s.box === undefined), "give exactly one of sigma or box");
      if (s.box !== undefined) need(nonNegInt(s.box), `box must be a non-negative integer radius, got ${s.box}`);
      if (typeof s.sigma === "number") need(s.sigma > 0, `sigma must be > 0, got ${s.sigma}`);
      if (Array.isArray(s.sigma)) need(s.sigma[0] > 0 && s.sigma[1] >= s.sigma[0], `sigma range must be 0 < lo <= hi`);
      break;
    case "cutout":
      need(Number.isInteger(s.size) && s.size >= 1, `size must be a positive integer, got ${s.size}`);
      need(s.count === undefined || nonNegInt(s.count), `count must be a non-negative integer, got ${s.count}`);
      break;
    case "brightness":
      need(s.delta >= 0, `delta must be >= 0, got ${s.delta}`);
      break;
    case "contrast":
      need(s.factor >= 0, `factor must be >= 0, got ${s.factor}`);
      break;
    default:
      throw new DnncError(`augment[${i}]: unknown transform "${(s as { kind: string }).kind}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Preview grid.

export interface Grid {
  width: number;
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** (height, width, channels) interleaved bytes, ready for a PNG encoder. */
  pixels: Uint8Array;
}

/**
 * Tile images (each (C, Hh, W) floats, C = 1 or 3) into a grid of `cols` columns with `pad`
 * pixels between and around them. Values are clamped to [0, 1] (NaN -> 0) then rounded to bytes;
 * padding has value `background` (default 0.5, mid grey). Images come as separate arrays or as
 * offsets into H. `cols` is capped at the number of images; rows = ceil(count / cols).
 */
export function makeGrid(
  images: Float32Array[] | { H: Float32Array; offsets: ArrayLike<number> },
  C: number,
  Hh: number,
  W: number,
  cols: number,
  pad: number,
  background = 0.5,
): Grid {
  if (C !== 1 && C !== 3) throw new DnncError(`augment preview: images need 1 or 3 channels, got ${C}`);
  const count = Array.isArray(images) ? images.length : images.offsets.length;
  if (count === 0) throw new DnncError("augment preview: no images");
  cols = Math.max(1, Math.min(cols, count));
  const rows = Math.ceil(count / cols);
  const width = cols * W + (cols + 1) * pad;
  const height = rows * Hh + (rows + 1) * pad;
  const pixels = new Uint8Array(width * height * C).fill(toByte(background));
  for (let n = 0; n < count; n++) {
    const [src, base] = Array.isArray(images) ? [images[n], 0] : [images.H, images.offsets[n]];
    const gx = pad + (n % cols) * (W + pad);
    const gy = pad + Math.floor(n / cols) * (Hh + pad);
    for (let c = 0; c < C; c++)
      for (let y = 0; y < Hh; y++) for (let x = 0; x < W; x++) pixels[((gy + y) * width + gx + x) * C + c] = toByte(src[base + (c * Hh + y) * W + x]);
  }
  return { width, height, channels: C, pixels };
}

function toByte(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}
