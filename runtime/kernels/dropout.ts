// Inverted dropout. `p` is the DROP probability (PyTorch's and Keras's convention, not the
// lecture's keep probability). In training, element i draws u = uniformAt(seed, stream,
// counter + i) and is kept when u >= p; kept values are scaled by 1/(1-p), so the mask holds
// 0 or 1/(1-p) and is stored as floats for backward (dx = dy * mask). p = 0 is exactly the
// identity (mask all ones, y = x bit for bit); p >= 1 drops everything. Evaluation is the
// identity (`dropoutEval`, or no call at all when y aliases x).
//
// Each forward returns the number of counters it consumed, so the caller advances its
// per-layer counter by that amount and every step draws fresh, reproducible masks.
import { uniformAt } from "../rng";

// x, y, mask are (len). Returns len (counters used).
export function dropoutForward(
  H: Float32Array,
  p: number,
  x: number,
  y: number,
  mask: number,
  len: number,
  seed: number,
  stream: number,
  counter: number,
): number {
  if (p <= 0) {
    H.fill(1, mask, mask + len);
    if (y !== x) H.copyWithin(y, x, x + len);
    return len;
  }
  if (p >= 1) {
    H.fill(0, mask, mask + len);
    H.fill(0, y, y + len);
    return len;
  }
  // rounded to float32 once, so y = x * mask exactly as stored
  const scale = Math.fround(1 / (1 - p));
  for (let i = 0; i < len; i++) {
    const k = uniformAt(seed, stream, (counter + i) >>> 0) >= p ? scale : 0;
    H[mask + i] = k;
    H[y + i] = H[x + i] * k;
  }
  return len;
}

// x, y, mask are (n, C, S): one draw per (sample, channel), counter + i*C + c; the whole plane
// is kept (scaled by 1/(1-p)) or zeroed. mask stays (n, C, S) so backward is the same product.
// Returns n*C (counters used).
export function dropout2dForward(
  H: Float32Array,
  p: number,
  c: { C: number; S: number },
  x: number,
  y: number,
  mask: number,
  n: number,
  seed: number,
  stream: number,
  counter: number,
): number {
  const { C, S } = c;
  const planes = n * C;
  if (p <= 0) {
    H.fill(1, mask, mask + planes * S);
    if (y !== x) H.copyWithin(y, x, x + planes * S);
    return planes;
  }
  const scale = p >= 1 ? 0 : Math.fround(1 / (1 - p));
  for (let q = 0; q < planes; q++) {
    const k = p < 1 && uniformAt(seed, stream, (counter + q) >>> 0) >= p ? scale : 0;
    const r = q * S;
    H.fill(k, mask + r, mask + r + S);
    for (let j = 0; j < S; j++) H[y + r + j] = H[x + r + j] * k;
  }
  return planes;
}

// dy, mask, dx are (len) (dx may alias dy): dx = dy * mask. Serves dropout and dropout2d.
export function dropoutBackward(H: Float32Array, dy: number, mask: number, dx: number, len: number): void {
  for (let i = 0; i < len; i++) H[dx + i] = H[dy + i] * H[mask + i];
}

// Evaluation: y = x (nothing to do when y aliases x).
export function dropoutEval(H: Float32Array, x: number, y: number, len: number): void {
  if (y !== x) H.copyWithin(y, x, x + len);
}
