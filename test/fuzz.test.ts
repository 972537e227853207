// A fixed-seed slice of the fuzz campaign (scripts/fuzz.mjs): 10,000 random and mutated specs
// through the whole front end, a few through code generation. Fails on any finding except the
// ones already kept in specs/fuzz-regressions/ (test/fuzz-regressions.test.ts fails for those
// until they are fixed). Also checks that the generators keep their reach: a slice that never
// compiles anything would find nothing and prove nothing.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { compileToIr } from "../compiler/pipeline";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz.mjs";

interface Finding {
  kind: string;
  signature: string;
  detail: string;
  input: string;
  count: number;
}
interface Rng {
  next(): number;
}
const fuzz = fuzzJs as unknown as {
  checkInput(src: string, o?: { file?: string; codegen?: boolean }): Promise<{ outcome: string; ms: number; finding?: Omit<Finding, "input" | "count"> }>;
  runCampaign(o: { n: number; seed: number; codegenEvery: number }): Promise<{ stats: Record<string, number>; findings: Finding[] }>;
  specArbitrary(): fc.Arbitrary<string>;
  makeRng(seed: number): Rng;
  mutate(text: string, rng: Rng, corpus: { path: string; text: string }[]): string;
  loadCorpus(root?: string): { path: string; text: string }[];
};

async function knownSignatures(): Promise<Set<string>> {
  const dir = "specs/fuzz-regressions";
  const out = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".dnn"))) {
    const r = await fuzz.checkInput(readFileSync(`${dir}/${f}`, "utf8"));
    if (r.finding) out.add(r.finding.signature);
  }
  return out;
}

describe("fuzzing the front end", () => {
  it("10,000 inputs (seed 20261125): no crash, every diagnostic spanned, every layout sane, generated code parses", async () => {
    const known = await knownSignatures();
    const { stats, findings } = await fuzz.runCampaign({ n: 10_000, seed: 20261125, codegenEvery: 400 });
    const fresh = findings.filter((f) => f.kind !== "slow" && !known.has(f.signature)); // no timed assertions in tests
    const show = fresh.map(
      (f) => `[${f.kind}] ${f.signature} (x${f.count})\n  input: ${JSON.stringify(f.input.slice(0, 300))}\n  ${f.detail.split("\n").slice(0, 4).join("\n  ")}`,
    );
    expect(show, "new fuzz findings: run `npx tsx scripts/fuzz.mjs --n 10000 --seed 20261125 --write`").toEqual([]);
    expect(stats.inputs).toBe(10_000);
    expect(stats.reachedIr).toBeGreaterThan(500); // the grammar keeps producing specs that compile
    expect(stats.diagnosticsOnly).toBeGreaterThan(5000); // and the mutations keep producing errors
    expect(stats.codegens).toBeGreaterThanOrEqual(2);
  });

  it("the generators are deterministic: same seed, same inputs", () => {
    const corpus = fuzz.loadCorpus();
    const a = fuzz.makeRng(5);
    const b = fuzz.makeRng(5);
    for (let i = 0; i < 50; i++) expect(fuzz.mutate(corpus[i % corpus.length].text, a, corpus)).toBe(fuzz.mutate(corpus[i % corpus.length].text, b, corpus));
    expect(fc.sample(fuzz.specArbitrary(), { seed: 9, numRuns: 20 })).toEqual(fc.sample(fuzz.specArbitrary(), { seed: 9, numRuns: 20 }));
  });

  it("the corpus holds every spec, and a good share of the grammar's specs compile", () => {
    const corpus = fuzz.loadCorpus();
    expect(corpus.map((c) => c.path)).toContain("specs/fashion-mlp.dnn");
    expect(corpus.some((c) => c.path.startsWith("specs/errors/"))).toBe(true);
    const sample = fc.sample(fuzz.specArbitrary(), { seed: 11, numRuns: 200 });
    const ok = sample.filter((s) => compileToIr(s, "g.dnn").ir !== undefined).length;
    expect(ok).toBeGreaterThan(40);
  });

  it("the oracle catches what it must: a diagnostic past the end of the file is a finding", async () => {
    // not a pipeline input: check the oracle itself on a hand-made bad span
    const r = await fuzz.checkInput("model m {");
    expect(r.finding).toBeUndefined(); // a well-spanned syntax error
    const { diagnosticProblem } = fuzzJs as { diagnosticProblem: (d: unknown, s: string, f: string) => string | undefined };
    const span = { file: "f", line: 3, col: 1, endLine: 3, endCol: 1, offset: 0, endOffset: 1 };
    expect(diagnosticProblem({ code: "E0002", severity: "error", message: "m", span }, "one line", "f")).toMatch(/past the end/);
    expect(diagnosticProblem({ code: "E0002", severity: "error", message: "bad {detail}", span: { ...span, line: 1, endLine: 1 } }, "one line", "f")).toMatch(
      /placeholder/,
    );
  });
});
