// The naive baselines of docs/accuracy.md ("Sequences") are computed by two scripts that re-read the
// data on their own: scripts/forecast-baselines.mjs and scripts/text-baselines.mjs. Their figures
// compare with the trainers' only if they score the same test windows, so these tests hold them to
// dnnc's loaders: the same number of test windows, the same vocabulary, the same standardization
// (the persistence baseline's standardized MSE, recomputed here from the loader's standardized test
// windows, equals the script's), and baselines recomputed by hand on a small series. Bad inputs
// exit 1 (data) or 2 (usage) with a message naming the file or option.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTimeSeries } from "../runtime/node/load-timeseries";
import { loadTextCorpus } from "../runtime/node/load-text";

const run = (script: string, args: string[]) => {
  const r = spawnSync(process.execPath, [`scripts/${script}`, ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
};
const num = (out: string, re: RegExp): number => {
  const m = re.exec(out);
  if (!m) throw new Error(`no match for ${re} in:\n${out}`);
  return Number(m[1]);
};

describe("scripts/forecast-baselines.mjs", () => {
  const CSV = "specs/data/seattle-temps.csv";
  it("scores the timeseries source's test windows, standardized with its training statistics", () => {
    const W = 48;
    const r = run("forecast-baselines.mjs", [CSV, "--column", "temp", "--window", String(W), "--validation", "0.1", "--test", "0.2", "--fahrenheit"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const ts = loadTimeSeries(CSV, { targets: ["temp"], inputs: ["temp"], time: "date", window: W, horizon: 1, validation: 0.1, test: 0.2 });
    const test = ts.test!;
    expect(num(r.out, /-> (\d+) test windows/)).toBe(test.n);
    // persistence in standardized units from the loader's own windows: the last input step
    const x = test.x as Float32Array;
    const y = test.y as Float32Array;
    let se = 0;
    for (let i = 0; i < test.n; i++) se += (x[i * W + W - 1] - y[i]) ** 2;
    const want = se / test.n;
    const got = num(r.out, /persistence \(last value\): .*standardized MSE ([0-9.]+)/);
    expect(Math.abs(got - want)).toBeLessThanOrEqual(5e-6 + 1e-3 * want);
  });

  it("computes each baseline as defined (a small series by hand, °F shown in °C)", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-fb-"));
    const f = join(dir, "s.csv");
    // 10 rows: train 6, validation 0, test 4 (round(10 * 0.4)); window 3, season 2
    const v = [0, 1, 2, 3, 4, 5, 10, 12, 11, 15];
    writeFileSync(f, "t,v\n" + v.map((x, i) => `${i},${x}`).join("\n") + "\n");
    const r = run("forecast-baselines.mjs", [f, "--column", "v", "--window", "3", "--test", "0.4", "--season", "2", "--fahrenheit"]);
    expect(r.status).toBe(0);
    // test rows 6..9 = 10 12 11 15; window 3 -> one window: inputs 10 12 11, target 15
    expect(num(r.out, /-> (\d+) test windows/)).toBe(1);
    const rmse = (name: RegExp) => num(r.out, name);
    expect(rmse(/persistence \(last value\): RMSE ([0-9.]+)/)).toBeCloseTo(((15 - 11) * 5) / 9, 3);
    expect(rmse(/seasonal \(value 2 steps before\): RMSE ([0-9.]+)/)).toBeCloseTo(((15 - 12) * 5) / 9, 3);
    expect(rmse(/seasonal \+ last anomaly .*: RMSE ([0-9.]+)/)).toBeCloseTo((Math.abs(15 - (12 + 11 - 10)) * 5) / 9, 3);
    // a run's test_loss (standardized MSE) back in °C: sqrt(mse) * std * 5/9, std of the 6 training rows
    const runDir = join(dir, "run");
    mkdirSync(runDir);
    writeFileSync(join(runDir, "metrics.jsonl"), '{"epoch":1,"train_loss":1}\n{"test_loss":0.25,"test_acc":null}\n');
    const r2 = run("forecast-baselines.mjs", [f, "--column", "v", "--window", "3", "--test", "0.4", "--season", "2", "--fahrenheit", "--run", runDir]);
    const std = Math.fround(Math.sqrt([0, 1, 2, 3, 4, 5].reduce((a, b) => a + (b - 2.5) ** 2, 0) / 6));
    expect(num(r2.out, /run .*: RMSE ([0-9.]+)/)).toBeCloseTo((0.5 * std * 5) / 9, 3);
  });

  it("refuses bad inputs with a message and exit 1 (data) or 2 (usage)", () => {
    const base = ["--column", "temp", "--window", "24", "--test", "0.2"];
    const cases: [string[], number, RegExp][] = [
      [["nope.csv", ...base], 1, /nope\.csv: no such file/],
      [[CSV, ...base.slice(0, 1), "humidity", ...base.slice(2)], 1, /seattle-temps\.csv:1: no column named "humidity"/],
      [[CSV, "--window", "24", "--test", "0.2"], 2, /--column is required/],
      [[CSV, ...base, "--season", "48"], 2, /--season 48 must be in 1\.\.window \(24\)/],
      [[CSV, ...base.slice(0, 4), "--test", "1.5"], 2, /--test must be in \(0, 1\)/],
      [[CSV, ...base, "--run", "/nonexistent-run"], 1, /nonexistent-run\/metrics\.jsonl: no such file/],
      [[CSV, ...base, "--bogus"], 2, /unknown option --bogus/],
    ];
    for (const [args, status, msg] of cases) {
      const r = run("forecast-baselines.mjs", args);
      expect(r.status, args.join(" ")).toBe(status);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});

describe("scripts/text-baselines.mjs", () => {
  it("scores the text source's test windows with its vocabulary, and the n-grams improve with the order", () => {
    const DIR = "specs/data/fortunes-small";
    const r = run("text-baselines.mjs", [DIR, "--context", "64", "--validation", "0.1", "--test", "0.1"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const c = loadTextCorpus(DIR, { context: 64, validation: 0.1, test: 0.1 });
    expect(num(r.out, /: (\d+) characters;/)).toBe(c.ids.length);
    expect(num(r.out, /vocabulary (\d+) ids/)).toBe(c.vocab.size);
    expect(num(r.out, /(\d+) test windows of 64/)).toBe(c.test!.n);
    expect(num(r.out, /test windows of 64: (\d+) targets/)).toBe(c.test!.n * 64);
    const uni = num(r.out, /unigram \(add-one\): ([0-9.]+) bpc/);
    const bi = num(r.out, /bigram \(Witten-Bell\): ([0-9.]+) bpc/);
    const tri = num(r.out, /trigram \(Witten-Bell\): ([0-9.]+) bpc/);
    expect(uni).toBeLessThan(Math.log2(c.vocab.size));
    expect(bi).toBeLessThan(uni);
    expect(tri).toBeLessThan(bi);
  });

  it("gives log2(V) bits for a unigram over a uniform text, and refuses bad inputs", () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-tb-"));
    const f = join(dir, "t.txt");
    writeFileSync(f, "abcd".repeat(50));
    const r = run("text-baselines.mjs", [f, "--context", "4", "--test", "0.2"]);
    expect(r.status).toBe(0);
    // training counts: 40 of each of a, b, c, d (160 characters), V = 5 with the unknown id
    expect(num(r.out, /unigram \(add-one\): ([0-9.]+) bpc/)).toBeCloseTo(-Math.log2(41 / 165), 3);
    const cases: [string[], number, RegExp][] = [
      [[join(dir, "missing"), "--context", "4", "--test", "0.2"], 1, /missing: no such file or directory/],
      [[f, "--test", "0.2"], 2, /--context must be a positive integer/],
      [[f, "--context", "4"], 2, /--test must be in \(0, 1\)/],
      [[f, "--context", "x", "--test", "0.2"], 2, /--context must be a number, got "x"/],
    ];
    for (const [args, status, msg] of cases) {
      const q = run("text-baselines.mjs", args);
      expect(q.status, args.join(" ")).toBe(status);
      expect(q.err).toMatch(msg);
      expect(q.err).not.toMatch(/\n\s+at /);
    }
  });
});
