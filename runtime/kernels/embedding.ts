// Embedding (PyTorch's nn.Embedding): token ids (n, T), stored as floats holding integers, look up
// rows of the table w (vocab, dim): y (n, T, dim). An id outside [0, vocab), or not an integer, is
// a DnncError naming it (the data side maps unknown tokens to an id first). With padded sequences
// (len >= 0; runtime/kernels/sequence.ts) the positions t >= L_b are padding: their ids are not
// read, their rows of y are zeros and they add nothing to the gradient (the layer masks its own
// padding). padding_idx (pad >= 0): that row is read as any other (it is kept at zero: initialized
// so and never given a gradient, as nn.Embedding(padding_idx=...)).
//
// The forward copies rows (copyWithin: 8x a float loop at dim 128, measured). The gradient scatters
// rows: dw[v] = Σ over the positions whose id is v (not pad, not padding) of dy[b, t]; the table is
// zeroed first (one fill) and every position adds its row, in order. No one-hot GEMM: the work is
// vocab·dim for the fill plus n·T·dim for the rows.
import { DnncError } from "../errors";
import { validLength } from "./sequence";

const NO_MAPS: readonly number[] = []; // the ids are the model's input: no time maps

export interface EmbeddingConfig {
  T: number;
  vocab: number;
  dim: number;
  /** padding_idx, or -1 */
  pad: number;
  /** the layer, for error messages: `embedding_0 (spec line 3)` */
  what: string;
}

function badId(c: EmbeddingConfig, id: number, b: number, t: number): DnncError {
  return new DnncError(
    `${c.what}: token id ${id} (sample ${b} of the batch, position ${t}) is not an integer in [0, ${c.vocab}); the vocabulary has ${c.vocab} tokens`,
  );
}

/** The row of a token id, checked. */
function rowOf(H: Float32Array, c: EmbeddingConfig, ids: number, b: number, t: number): number {
  const id = H[ids + b * c.T + t];
  if (!(id >= 0 && id < c.vocab && Math.floor(id) === id)) throw badId(c, id, b, t);
  return id;
}

// ids is (n, T), w is (vocab, dim), y is (n, T, dim).
export function embeddingForward(H: Float32Array, c: EmbeddingConfig, ids: number, w: number, y: number, n: number, len = -1): void {
  const { T, dim } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, NO_MAPS, T);
    for (let t = 0; t < L; t++) {
      const r = w + rowOf(H, c, ids, b, t) * dim;
      H.copyWithin(y + (b * T + t) * dim, r, r + dim);
    }
    H.fill(0, y + (b * T + L) * dim, y + (b + 1) * T * dim);
  }
}

// ids is (n, T), dy is (n, T, dim), dw is (vocab, dim) (overwritten).
export function embeddingBackward(H: Float32Array, c: EmbeddingConfig, ids: number, dy: number, dw: number, n: number, len = -1, accumulate = false): void {
  const { T, dim, pad } = c;
  // (accumulate: dw already holds a gradient, a tied output layer's, and the rows add to it)
  if (!accumulate) H.fill(0, dw, dw + c.vocab * dim);
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, NO_MAPS, T);
    for (let t = 0; t < L; t++) {
      const id = rowOf(H, c, ids, b, t);
      if (id === pad) continue;
      const r = dw + id * dim;
      const g = dy + (b * T + t) * dim;
      // unrolled by 4 (V8 keeps the loop's bounds checks to a quarter: 1.9x at dim 128, measured)
      let j = 0;
      for (; j + 4 <= dim; j += 4) {
        H[r + j] += H[g + j];
        H[r + j + 1] += H[g + j + 1];
        H[r + j + 2] += H[g + j + 2];
        H[r + j + 3] += H[g + j + 3];
      }
      for (; j < dim; j++) H[r + j] += H[g + j];
    }
  }
}

// ---- the references: the one-hot formulation, y = onehot(ids) · w and dw = onehot(ids)ᵀ · dy ----

export function embeddingForwardNaive(H: Float32Array, c: EmbeddingConfig, ids: number, w: number, y: number, n: number, len = -1): void {
  const { T, dim, vocab } = c;
  for (let b = 0; b < n; b++) {
    const L = validLength(H, len, b, NO_MAPS, T);
    for (let t = 0; t < T; t++) {
      const id = t < L ? rowOf(H, c, ids, b, t) : -1;
      for (let j = 0; j < dim; j++) {
        let s = 0;
        for (let v = 0; v < vocab; v++) if (v === id) s += H[w + v * dim + j];
        H[y + (b * T + t) * dim + j] = s;
      }
    }
  }
}

export function embeddingBackwardNaive(H: Float32Array, c: EmbeddingConfig, ids: number, dy: number, dw: number, n: number, len = -1): void {
  const { T, dim, vocab, pad } = c;
  for (let v = 0; v < vocab; v++)
    for (let j = 0; j < dim; j++) {
      let s = 0;
      for (let b = 0; b < n; b++) {
        const L = validLength(H, len, b, NO_MAPS, T);
        for (let t = 0; t < L; t++) if (H[ids + b * T + t] === v && v !== pad) s += H[dy + (b * T + t) * dim + j];
      }
      H[dw + v * dim + j] = s;
    }
}
