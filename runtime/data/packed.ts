// Images kept packed in memory: each row of bytes as zero runs and literal runs, decoded per batch
// by gatherBatch. Fashion-MNIST is 50% zero bytes: its 60,000 x 784 training images take 28-29 MB
// instead of 47. A row is a sequence of tokens [z][l][l literal bytes]: z zero bytes (0..255), then
// l bytes as they are (0..255); the row ends when F bytes are produced. Rows are appended to
// blocks of BLOCK bytes (a row never spans two), so packing needs no final copy and no estimate.
// Rows are packed as they stream in (RowPacker.push), so the dense bytes never exist at once.

export const PACK_BLOCK = 1 << 20;

export interface PackedRows {
  /** Features per row. */
  F: number;
  /** Number of rows. */
  n: number;
  blocks: Uint8Array[];
  /** Row r starts at byte rowStart[r] % stride of block floor(rowStart[r] / stride). */
  rowStart: Float64Array;
  stride: number;
}

/** Worst-case packed size of one row of F bytes: a token pair per 255 literals, plus one. */
export function maxPackedRow(F: number): number {
  return F + 2 * Math.ceil(F / 255) + 2;
}

/** Packs rows of F bytes given in pieces of any length. */
export class RowPacker {
  private blocks: Uint8Array[] = [];
  private block: Uint8Array;
  private pos = 0;
  private row: Uint8Array;
  private inRow = 0;
  private rows = 0;
  private rowStart: Float64Array;
  private blockSize: number;
  constructor(
    private F: number,
    private n: number,
  ) {
    this.blockSize = Math.max(PACK_BLOCK, maxPackedRow(F));
    this.block = new Uint8Array(this.blockSize);
    this.blocks.push(this.block);
    this.row = new Uint8Array(F);
    this.rowStart = new Float64Array(n);
  }
  /** Append bytes (continuing the current row); bytes past n rows are ignored. */
  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length && this.rows < this.n) {
      const take = Math.min(this.F - this.inRow, bytes.length - i);
      this.row.set(bytes.subarray(i, i + take), this.inRow);
      this.inRow += take;
      i += take;
      if (this.inRow === this.F) {
        this.packRow();
        this.inRow = 0;
      }
    }
  }
  private packRow(): void {
    if (this.pos + maxPackedRow(this.F) > this.blockSize) {
      // shrink the full block to what it holds (a copy of at most one block), start a new one
      this.blocks[this.blocks.length - 1] = this.block.slice(0, this.pos);
      this.block = new Uint8Array(this.blockSize);
      this.blocks.push(this.block);
      this.pos = 0;
    }
    this.rowStart[this.rows++] = (this.blocks.length - 1) * this.blockSize + this.pos;
    this.pos = packRow(this.row, 0, this.F, this.block, this.pos);
  }
  /** The packed rows (all n must have been pushed). */
  finish(): PackedRows {
    if (this.rows !== this.n) throw new Error(`RowPacker: ${this.rows} of ${this.n} rows`);
    this.blocks[this.blocks.length - 1] = this.block.slice(0, this.pos);
    return { F: this.F, n: this.n, blocks: this.blocks, rowStart: this.rowStart, stride: this.blockSize };
  }
}

/** Pack src[s .. s+F) into out at p; returns the end. */
export function packRow(src: Uint8Array, s: number, F: number, out: Uint8Array, p: number): number {
  let j = s;
  const e = s + F;
  while (j < e) {
    let z = 0;
    while (j < e && z < 255 && src[j] === 0) {
      z++;
      j++;
    }
    out[p++] = z;
    const lp = p++;
    let l = 0;
    while (j < e && l < 255 && src[j] !== 0) {
      out[p++] = src[j++];
      l++;
    }
    out[lp] = l;
  }
  return p;
}

/** Pack n rows of F bytes held densely (tests, and loaders that have the bytes anyway). */
export function packRows(x: Uint8Array, n: number, F: number): PackedRows {
  const pk = new RowPacker(F, n);
  pk.push(x.subarray(0, n * F));
  return pk.finish();
}

/**
 * Row r decoded into H[dst .. dst+F) as floats: byte * scale (+ shift when shift is not 0), the
 * same expression as the dense path of gatherBatch (so the same bytes).
 */
export function unpackRowScaled(pk: PackedRows, r: number, H: Float32Array, dst: number, scale: number, shift: number): void {
  const pos = pk.rowStart[r];
  const bi = Math.floor(pos / pk.stride);
  const b = pk.blocks[bi];
  let p = pos - bi * pk.stride;
  const e = dst + pk.F;
  let j = dst;
  if (shift === 0) {
    const zero = 0 * scale;
    while (j < e) {
      const z = j + b[p++];
      while (j < z) H[j++] = zero;
      const l = j + b[p++];
      while (j < l) H[j++] = b[p++] * scale;
    }
  } else {
    const zero = 0 * scale + shift;
    while (j < e) {
      const z = j + b[p++];
      while (j < z) H[j++] = zero;
      const l = j + b[p++];
      while (j < l) H[j++] = b[p++] * scale + shift;
    }
  }
}

/** All rows as dense bytes (for code that needs the whole array, e.g. fitting a preprocessing). */
export function unpackAll(pk: PackedRows): Uint8Array {
  const out = new Uint8Array(pk.n * pk.F);
  for (let r = 0; r < pk.n; r++) {
    const pos = pk.rowStart[r];
    const bi = Math.floor(pos / pk.stride);
    const b = pk.blocks[bi];
    let p = pos - bi * pk.stride;
    let j = r * pk.F;
    const e = j + pk.F;
    while (j < e) {
      j += b[p++]; // zeros: already 0
      const l = b[p++];
      out.set(b.subarray(p, p + l), j);
      p += l;
      j += l;
    }
  }
  return out;
}

/** Bytes held by the packed form (blocks and row index). */
export function packedBytes(pk: PackedRows): number {
  return pk.blocks.reduce((a, b) => a + b.byteLength, 0) + pk.rowStart.byteLength;
}
