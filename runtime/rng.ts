// Counter-based random numbers: every draw is a pure function of (seed, stream, counter).
// Same seed, same stream, same counter: same bits, on every machine and in every order of
// evaluation. Streams separate independent uses (init of each parameter, shuffling, dropout
// of each layer, augmentation, search trials) so that adding one never shifts another.
//
// The mixer is a 32-bit variant of the murmur3/splitmix finalizers applied to three words,
// two rounds. It is not cryptographic; it passes the uniformity and independence checks in
// test/rng.test.ts, which is what dropout masks, shuffles and initializers need.

/** Mix three 32-bit words into one uniformly distributed 32-bit unsigned integer. */
export function hash3(seed: number, stream: number, counter: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (stream >>> 0), 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h ^ (counter >>> 0), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h + 0x6a09e667, 0x27d4eb2d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h ^ (counter >>> 16) ^ (stream << 7), 0x165667b1) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xcc9e2d51) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
export function uniformAt(seed: number, stream: number, counter: number): number {
  return (hash3(seed, stream, counter) >>> 8) * (1 / 16777216);
}

/** A named stream id from a string (FNV-1a), so streams can be derived from layer names. */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A sequential generator over one stream; its whole state is (seed, stream, counter). */
export class Rng {
  constructor(
    public seed: number,
    public stream: number,
    public counter = 0,
  ) {}
  nextU32(): number {
    return hash3(this.seed, this.stream, this.counter++);
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return (this.nextU32() >>> 8) * (1 / 16777216);
  }
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }
  /** Standard normal by Box-Muller (uses two draws, no cached spare: state stays one counter). */
  normal(): number {
    const u1 = ((this.nextU32() >>> 8) + 1) * (1 / 16777217);
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** In-place Fisher-Yates shuffle. */
  shuffle(a: Int32Array | Uint32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
