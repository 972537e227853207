// A fixed-seed slice of the emitter fuzz campaign (scripts/fuzz-emitters.mjs): random hostile
// strings through every escaping function and every emitter that writes a user's string (the
// TypeScript and PyTorch trainers, the HTML/SVG report, ONNX, spec text written back), each
// checked by a parser of its target that is not ours. Fails on any finding. The campaigns' full
// runs and their figures: docs/reliability.md.
import { describe, expect, it } from "vitest";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz-emitters.mjs";

interface Finding {
  surface: string;
  check: string;
  input: string;
  detail: string;
  count: number;
}
type Campaign = (o: { n: number; seed: number; prefixOnly?: boolean; runs?: number }) => Promise<{ stats: Record<string, number>; findings: Finding[] }>;
const fuzz = fuzzJs as unknown as {
  CAMPAIGNS: Record<string, Campaign>;
  hostileString(rng: { next(): number }): string;
  hasPython(): boolean;
};
// @ts-ignore -- as above
import { makeRng } from "../scripts/fuzz.mjs";

const SEED = 20261126;
const show = (fs: Finding[]) => fs.map((f) => `${f.check} (x${f.count}): ${f.input.slice(0, 200)} ${f.detail.slice(0, 300)}`);

describe.skipIf(!fuzz.hasPython())(`fuzzing the emitters (seed ${SEED})`, () => {
  for (const [surface, n] of [
    ["escape", 600],
    ["typescript", 3],
    ["python", 150],
    ["html", 60],
    ["onnx", 100],
    ["dnn", 400],
  ] as const) {
    it(`${surface}: ${n} random hostile strings, no finding`, async () => {
      const { stats, findings } = await fuzz.CAMPAIGNS[surface]({ n, seed: SEED, prefixOnly: true });
      expect(show(findings)).toEqual([]);
      expect(stats.cases).toBe(n);
    }, 60_000);
  }

  it("the hostile strings are deterministic and reach every class: line terminators, NUL, bidi, lone surrogates, markup, long", () => {
    const a = makeRng(SEED);
    const b = makeRng(SEED);
    const xs = Array.from({ length: 2000 }, () => fuzz.hostileString(a));
    expect(Array.from({ length: 2000 }, () => fuzz.hostileString(b))).toEqual(xs);
    for (const re of [/\n/, /\r/, /\u2028/, /\0/, /[\u202a-\u202e]/, /[\ud800-\udbff](?![\udc00-\udfff])/, /<\/script>/i, /"""/, /coding[:=]/, /\*\//])
      expect(
        xs.some((s) => re.test(s)),
        String(re),
      ).toBe(true);
    expect(xs.some((s) => s.length > 5000)).toBe(true);
  });
});
