// Positional information added to a sequence (n, T, F): y[b, t] = x[b, t] + P[t], the layer
// `pos_embedding` (compiler/ops/positional.ts). P is a learned table [T, F] (nn.Embedding(T, F)'s
// weight, added as `x + pe.weight`) or the fixed sinusoidal table of "Attention is all you need":
// P[t, 2i] = sin(t · ω_i), P[t, 2i+1] = cos(t · ω_i), ω_i = 10000^(−2i/F), computed in float64 and
// rounded once (sinusoidForward computes it on the fly; the PyTorch target builds the same floats). Backward: dx = dy, and
// for a learned table dP[t] = Σ_b dy[b, t] (overwritten). Nothing is allocated.

/** The sinusoidal table's element (t, f), in float64. */
export function sinusoid(t: number, f: number, F: number): number {
  const i = f >> 1;
  const a = t * Math.pow(10000, (-2 * i) / F);
  return f % 2 === 0 ? Math.sin(a) : Math.cos(a);
}

/** y = x + the sinusoidal table, each element of the table computed once per call (no buffer); y may be x. */
export function sinusoidForward(H: Float32Array, T: number, F: number, x: number, y: number, n: number): void {
  const S = T * F;
  for (let t = 0; t < T; t++)
    for (let f = 0; f < F; f++) {
      const v = Math.fround(sinusoid(t, f, F));
      const i = t * F + f;
      for (let b = 0; b < n; b++) H[y + b * S + i] = H[x + b * S + i] + v;
    }
}

/** y = x + P (P [T, F] at p) for n samples of [T, F]; y may be x. */
export function posEmbeddingForward(H: Float32Array, T: number, F: number, x: number, p: number, y: number, n: number): void {
  const S = T * F;
  for (let b = 0; b < n; b++) {
    const xo = x + b * S;
    const yo = y + b * S;
    for (let i = 0; i < S; i++) H[yo + i] = H[xo + i] + H[p + i];
  }
}

/** dP = Σ_b dy[b] (overwritten). */
export function posEmbeddingBackward(H: Float32Array, T: number, F: number, dy: number, dp: number, n: number): void {
  const S = T * F;
  H.fill(0, dp, dp + S);
  for (let b = 0; b < n; b++) {
    const o = dy + b * S;
    for (let i = 0; i < S; i++) H[dp + i] += H[o + i];
  }
}
