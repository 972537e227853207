// Numbers behind the plots, for series of any length: extents by a loop (never
// `Math.max(...xs)`, which passes every element as an argument and overflows the stack at a few
// hundred thousand: a metrics.jsonl of 200,000 epochs), and the points a plot draws: at most
// about MAX_DRAWN per series, from a min/max envelope of the rest, so a long run's SVG stays the
// size of a short one's and keeps its spikes.

/** The most points of one series drawn in a plot (a 552-pixel-wide plot area shows no more). */
export const MAX_DRAWN = 2000;

/** [min, max] of `xs` (NaN is skipped); [Infinity, -Infinity] when nothing is left. */
export function extent(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export interface Pt {
  x: number;
  y: number | null;
}

/**
 * At most about `max` points of one unbroken segment: the segment is cut into max/2 runs of
 * consecutive points and each run contributes its lowest and its highest point, in x order (the
 * min/max envelope: a spike survives, unlike with every k-th point). The first and last points
 * are kept, so the line spans the same x range.
 */
export function envelope<P extends Pt>(seg: P[], max = MAX_DRAWN): P[] {
  if (seg.length <= max) return seg;
  const buckets = Math.max(1, Math.floor((max - 2) / 2));
  const out: P[] = [seg[0]];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * seg.length) / buckets);
    const hi = Math.floor(((b + 1) * seg.length) / buckets);
    let iMin = lo;
    let iMax = lo;
    for (let i = lo + 1; i < hi; i++) {
      if ((seg[i].y as number) < (seg[iMin].y as number)) iMin = i;
      if ((seg[i].y as number) > (seg[iMax].y as number)) iMax = i;
    }
    for (const i of iMin === iMax ? [iMin] : iMin < iMax ? [iMin, iMax] : [iMax, iMin]) if (out[out.length - 1] !== seg[i]) out.push(seg[i]);
  }
  if (out[out.length - 1] !== seg[seg.length - 1]) out.push(seg[seg.length - 1]);
  return out;
}

/**
 * The points of a series to draw: all of them when at most MAX_DRAWN are drawable (`ok`),
 * else each unbroken run of drawable points through `envelope` (its share of MAX_DRAWN), the runs
 * separated by one undrawable point so that the caller still breaks the line there.
 */
export function drawnPoints<P extends Pt>(points: P[], ok: (p: P) => boolean, max = MAX_DRAWN): P[] {
  let n = 0;
  for (const p of points) if (ok(p)) n++;
  if (n <= max) return points;
  const out: P[] = [];
  let seg: P[] = [];
  const flush = () => {
    if (seg.length > 0) out.push(...envelope(seg, Math.max(2, Math.floor((max * seg.length) / n))));
    seg = [];
  };
  for (const p of points) {
    if (ok(p)) seg.push(p);
    else {
      flush();
      if (out.length > 0 && ok(out[out.length - 1])) out.push(p);
    }
  }
  flush();
  return out;
}
