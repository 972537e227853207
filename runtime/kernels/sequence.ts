// What the sequence kernels share: each sample's valid length, and `last` (the output at each
// sample's last valid position). A sequence is [T, F], stored batch-first and row-major (n, T, F).
//
// Valid lengths: without padding every sample has all T positions (the kernels get len = -1).
// With padding (a data source that pads; compiler/ops/sequence.ts) the heap holds each sample's
// valid length at `len` (n floats), counted at the model's input. A layer that changes the time
// axis (conv1d, maxpool1d, avgpool1d with a stride, or without `same` padding) maps a length L > 0
// to L' = max(0, floor((L + add) / stride) + 1): the output length PyTorch gives for the sequence
// cut at L (add = 2·padding − dilation·(kernel − 1) − 1); an empty sequence stays empty. A kernel
// that reads lengths after such layers gets their maps, flat: [add₁, stride₁, add₂, stride₂, ...].

/** The valid length after the time maps `maps` of a sequence whose valid length at the input is L. */
export function seqLength(L: number, maps: readonly number[]): number {
  for (let i = 0; i < maps.length && L > 0; i += 2) L = Math.max(0, Math.floor((L + maps[i]) / maps[i + 1]) + 1);
  return L;
}

/** Sample b's valid length among T positions: T without padding (len < 0), else its length through maps, at most T. */
export function validLength(H: Float32Array, len: number, b: number, maps: readonly number[], T: number): number {
  return len < 0 ? T : Math.min(T, seqLength(H[len + b], maps));
}

/**
 * Zero the padded positions of n samples of [T, F] at `at` (an output, or its gradient): position t
 * of sample b is padded when t >= its valid length (lengths at `len`, through `maps`). One fill per
 * sample: the padded positions of a sample are the tail of its rows.
 */
export function zeroPadded(H: Float32Array, at: number, n: number, T: number, F: number, len: number, maps: readonly number[] = NO_MAPS): void {
  for (let b = 0; b < n; b++) H.fill(0, at + (b * T + validLength(H, len, b, maps, T)) * F, at + (b + 1) * T * F);
}
const NO_MAPS: readonly number[] = [];

/** The reference of zeroPadded: the per-element test the fused sweep made before (seqmask). */
export function zeroPaddedNaive(H: Float32Array, at: number, n: number, T: number, F: number, len: number, maps: readonly number[] = NO_MAPS): void {
  for (let i = 0; i < n * T * F; i++) if (((i / F) | 0) % T >= seqLength(H[len + ((i / (T * F)) | 0)], maps)) H[at + i] = 0;
}

export interface SeqConfig {
  /** positions and features of the input sequence */
  T: number;
  F: number;
  /** the time maps from the model's input to this input (see above) */
  maps: readonly number[];
}

// x is (n, T, F), y is (n, F): y[b] = x[b, L_b − 1], zeros when L_b = 0.
export function lastForward(H: Float32Array, c: SeqConfig, x: number, y: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    if (L > 0) H.copyWithin(y + b * F, x + (b * T + L - 1) * F, x + (b * T + L) * F);
    else H.fill(0, y + b * F, y + (b + 1) * F);
  }
}

// dy is (n, F), dx is (n, T, F) (overwritten): dy at each sample's last valid position, zeros elsewhere.
export function lastBackward(H: Float32Array, c: SeqConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, F } = c;
  H.fill(0, dx, dx + n * T * F);
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, c.maps, T);
    if (L > 0) H.copyWithin(dx + (b * T + L - 1) * F, dy + b * F, dy + (b + 1) * F);
  }
}

// The references: every element by its definition (a one-hot selection of the position).
export function lastForwardNaive(H: Float32Array, c: SeqConfig, x: number, y: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = len < 0 ? T : Math.min(T, seqLength(H[len + b], c.maps));
    for (let f = 0; f < F; f++) {
      let s = 0;
      for (let t = 0; t < T; t++) if (t === L - 1) s += H[x + (b * T + t) * F + f];
      H[y + b * F + f] = s;
    }
  }
}

export function lastBackwardNaive(H: Float32Array, c: SeqConfig, dy: number, dx: number, n: number, len = -1): void {
  const { T, F } = c;
  for (let b = 0; b < n; b++) {
    const L = len < 0 ? T : Math.min(T, seqLength(H[len + b], c.maps));
    for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) H[dx + (b * T + t) * F + f] = t === L - 1 ? H[dy + b * F + f] : 0;
  }
}
