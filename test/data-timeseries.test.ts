import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatherBatch } from "../runtime/data/batch";
import type { Dataset } from "../runtime/data/dataset";
import {
  parseDateTime,
  parseSeriesCsv,
  parseSeriesCsvBytes,
  seriesStatsFromStored,
  seriesStatsMetadata,
  seriesStatsTensors,
  seriesWindows,
  standardizeRows,
  unstandardizeRows,
  type SeriesColumns,
  type SeriesWindowOptions,
} from "../runtime/data/timeseries";
import { loadTimeSeries } from "../runtime/node/load-timeseries";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors";
import { expectDnnc } from "./helpers/expect-dnnc";

/** All samples through gatherBatch. */
function samples(ds: Dataset): { x: number[][]; y: number[][] } {
  const F = ds.shape.reduce((a, b) => a * b, 1);
  const T = (ds.targetShape ?? []).reduce((a, b) => a * b, 1);
  const order = Int32Array.from({ length: ds.n }, (_, i) => i);
  const H = new Float32Array(ds.n * (F + T));
  gatherBatch(H, ds, order, 0, ds.n, 0, ds.n * F, 1);
  return {
    x: Array.from({ length: ds.n }, (_, i) => Array.from(H.subarray(i * F, (i + 1) * F))),
    y: Array.from({ length: ds.n }, (_, i) => Array.from(H.subarray(ds.n * F + i * T, ds.n * F + (i + 1) * T))),
  };
}

/** 20 hourly rows: a = i, b = 10 i + 0.5, c = 100 - i*i. */
const rowsOf = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ when: `2020-01-01 ${String(i).padStart(2, "0")}:00:00`, a: i, b: 10 * i + 0.5, c: 100 - i * i }));
const csv = (cols: string[], n = 20, extra: Record<string, string> = {}) =>
  [cols.join(","), ...rowsOf(n).map((r) => cols.map((c) => (c in r ? String(r[c as keyof typeof r]) : extra[c])).join(","))].join("\n") + "\n";

/** Population mean and std of values, as the loader stores them (float32). */
function stats(v: number[]): { mean: number; std: number } {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
  return { mean: Math.fround(m), std: Math.fround(sd <= 1e-6 ? 1 : sd) };
}

const cols: SeriesColumns = { inputs: ["a", "c"], targets: ["b"] };
const win: SeriesWindowOptions = { window: 2, horizon: 2, validation: 0.2, test: 0.2 };

describe("time-series CSV", () => {
  it("splits by time, windows x [window, F_in] and the next horizon steps of the target, inside each span", () => {
    const t = parseSeriesCsv(csv(["when", "a", "b", "c"]), "s.csv", cols);
    expect(t.steps).toBe(20);
    expect(t.timeName).toBe("when"); // detected, never a feature
    expect(t.inputNames).toEqual(["a", "c"]);
    const w = seriesWindows(t, { ...win, standardize: false });
    expect(w.spans).toEqual({ train: { start: 0, end: 12 }, validation: { start: 12, end: 16 }, test: { start: 16, end: 20 } });
    expect(w.train.shape).toEqual([2, 2]);
    expect(w.train.targetShape).toEqual([2]);
    expect(w.train.classes).toBeUndefined();
    expect(w.train.n).toBe(9); // starts 0..8: the last reads rows 8, 9 and predicts rows 10, 11
    const tr = samples(w.train);
    const row = (i: number) => [i, 100 - i * i];
    expect(tr.x[0]).toEqual([...row(0), ...row(1)]);
    expect(tr.y[0]).toEqual([20.5, 30.5]);
    expect(tr.x[8]).toEqual([...row(8), ...row(9)]);
    expect(tr.y[8]).toEqual([100.5, 110.5]); // rows 10 and 11: the training span's last row, not row 12
    expect(w.validation!.n).toBe(1);
    const va = samples(w.validation!);
    expect(va.x[0]).toEqual([...row(12), ...row(13)]);
    expect(va.y[0]).toEqual([140.5, 150.5]);
    expect(samples(w.test!).y[0]).toEqual([180.5, 190.5]);
    // stride
    const s3 = seriesWindows(t, { ...win, stride: 3, standardize: false });
    expect(s3.train.n).toBe(3); // starts 0, 3, 6
    expect(samples(s3.train).x[2]).toEqual([...row(6), ...row(7)]);
  });

  it("reads the same columns by name from a file with another column order and other columns", () => {
    const one = seriesWindows(parseSeriesCsv(csv(["when", "a", "b", "c"]), "one.csv", cols), win);
    const two = seriesWindows(
      parseSeriesCsv(csv(["c", "note", "b", "when", "a"], 20, { note: "text, not a number" }).replace(/text, not a number/g, '"x, y"'), "two.csv", cols),
      win,
    );
    for (const k of ["train", "validation", "test"] as const) {
      expect(Array.from(two[k]!.x)).toEqual(Array.from(one[k]!.x));
      expect(Array.from(two[k]!.y)).toEqual(Array.from(one[k]!.y));
    }
    expect(two.stats).toEqual(one.stats);
  });

  it("fits the standardization on the training span only and applies it to every span", () => {
    const t = parseSeriesCsv(csv(["when", "a", "b", "c"]), "s.csv", cols);
    const w = seriesWindows(t, win);
    const train = rowsOf(12);
    const sa = stats(train.map((r) => r.a));
    const sc = stats(train.map((r) => r.c));
    const sb = stats(train.map((r) => r.b));
    expect(Array.from(w.stats!.inputs.mean)).toEqual([sa.mean, sc.mean]);
    expect(Array.from(w.stats!.inputs.std)).toEqual([sa.std, sc.std]);
    expect(Array.from(w.stats!.targets.mean)).toEqual([sb.mean]);
    expect(w.stats!.rows).toBe(12);
    expect(w.stats!.inputs.columns).toEqual(["a", "c"]);
    const z = (v: number, s: { mean: number; std: number }) => Math.fround((v - s.mean) / s.std);
    const va = samples(w.validation!);
    expect(va.x[0]).toEqual([z(12, sa), z(100 - 144, sc), z(13, sa), z(100 - 169, sc)]);
    expect(va.y[0]).toEqual([z(140.5, sb), z(150.5, sb)]);
    // the training inputs have mean 0 over the training span
    const col = Array.from({ length: 12 }, (_, i) => z(i, sa));
    expect(Math.abs(col.reduce((s, v) => s + v, 0) / 12)).toBeLessThan(1e-6);
    // a constant column gets divisor 1
    const k = parseSeriesCsv("t,k,y\n" + Array.from({ length: 10 }, (_, i) => `2020-01-0${i === 9 ? "9" : i + 1},7,${i}`).join("\n"), "k.csv", {
      targets: ["y"],
      inputs: ["k"],
    });
    const kw = seriesWindows(k, { window: 3 });
    expect(Array.from(kw.stats!.inputs.std)).toEqual([1]);
    expect(Array.from(kw.train.x).every((v) => v === 0)).toBe(true);
  });

  it("stores the statistics with the model and applies them again to the same bytes", () => {
    const t = parseSeriesCsv(csv(["when", "a", "b", "c"]), "s.csv", { targets: ["b", "a"] });
    expect(t.inputNames).toEqual(["a", "b", "c"]); // default: every column but the time column
    const w = seriesWindows(t, win);
    expect(w.train.targetShape).toEqual([2, 2]);
    const bytes = encodeSafetensors(seriesStatsTensors(w.stats!), seriesStatsMetadata(w.stats!));
    const file = decodeSafetensors(bytes, "m.safetensors");
    const back = seriesStatsFromStored(file.metadata, file.tensors, "m.safetensors")!;
    expect(back).toEqual(w.stats);
    // standardizing the raw rows with the stored statistics gives the training data's bytes
    const raw = t.inputs.slice(0, 2 * 3); // rows 0, 1: the first window
    standardizeRows(back.inputs, raw, 0, 2);
    expect(Array.from(raw)).toEqual(Array.from(w.train.x).slice(0, 6));
    const y = Float32Array.from(w.train.y).slice(0, 4);
    unstandardizeRows(back.targets, y, 0, 2);
    expect(Array.from(y).map((v) => Math.round(v * 100) / 100)).toEqual([20.5, 2, 30.5, 3]);
    expect(seriesStatsFromStored({}, [], "m")).toBeNull();
    expectDnnc(
      () => seriesStatsFromStored({ ...file.metadata, "series.inputs": "[1]" }, file.tensors, "m.safetensors"),
      /m\.safetensors: time-series statistics: metadata "series.inputs" is not a list of column names/,
    );
    expectDnnc(() => seriesStatsFromStored(file.metadata, file.tensors.slice(1), "m"), /tensor "series.input_mean" is missing/);
  });

  it("parses ISO 8601 and 'YYYY-MM-DD HH:MM:SS' times, and refuses impossible ones", () => {
    const utc = Date.UTC;
    const cases: [string, number | null][] = [
      ["2010-01-31", utc(2010, 0, 31)],
      ["2010/01/31 13:05", utc(2010, 0, 31, 13, 5)],
      ["2010-01-31 13:05:09", utc(2010, 0, 31, 13, 5, 9)],
      ["2010-01-31T13:05:09Z", utc(2010, 0, 31, 13, 5, 9)],
      ["2010-01-31T13:05:09.25", utc(2010, 0, 31, 13, 5, 9, 250)],
      ["2010-01-31T13:05:09+02:00", utc(2010, 0, 31, 11, 5, 9)],
      ["2010-01-31T13:05-0130", utc(2010, 0, 31, 14, 35)],
      ["2012-02-29", utc(2012, 1, 29)],
      ["0050-06-01", Date.parse("0050-06-01T00:00:00Z")], // not 1950: Date.UTC maps years 0..99 to 1900..1999
      ["2011-02-29", null],
      ["2010-13-01", null],
      ["2010-01-31 24:00", null],
      ["2010-01-31 12:60", null],
      ["2010-1-31", null],
      ["2010-01/31", null],
      ["20100131", null],
      ["2010", null],
      ["yesterday", null],
    ];
    for (const [text, want] of cases) expect([text, parseDateTime(text)]).toEqual([text, want]);
  });

  it("takes the time column explicitly, ignores columns, or has none", () => {
    const text = csv(["when", "a", "b", "c"]);
    const explicit = parseSeriesCsv(text, "s.csv", { targets: ["b"], time: "when" });
    expect(explicit.times![1] - explicit.times![0]).toBe(3600 * 1000);
    const ignored = parseSeriesCsv(text, "s.csv", { targets: ["b"], time: null, ignore: ["when"] });
    expect(ignored.times).toBeUndefined();
    expect(ignored.inputNames).toEqual(["a", "b", "c"]);
    expect(parseSeriesCsv("x,y\n1,2\n3,4\n", "n.csv", { targets: ["y"] }).timeName).toBeUndefined();
    // time: null with the date column left among the inputs is the user's request: an error that says what to do
    expectDnnc(
      () => parseSeriesCsv(text, "s.csv", { targets: ["b"], time: null }),
      /s\.csv:2:1: "2020-01-01 00:00:00" is not a number \(column "when"\); name the input columns \(inputs\) or ignore this one/,
    );
  });

  it("refuses bad inputs with file:line:col or the offending value", () => {
    const good = csv(["when", "a", "b", "c"]);
    const bad = (text: string, c: SeriesColumns, msg: RegExp) => expectDnnc(() => parseSeriesCsv(text, "s.csv", c), msg);
    bad(good, { targets: ["temp"] }, /^s\.csv:1: no column named "temp" \(target\) in the header \(columns: when, a, b, c\)/);
    bad(good, { inputs: ["a", "zz"], targets: ["b"] }, /s\.csv:1: no column named "zz" \(input\)/);
    bad(good, { targets: [] }, /s\.csv: no target column named/);
    bad(good.replace("\n2020-01-01 03:00:00,3,", "\n2020-01-01 03:00:00,x3,"), cols, /^s\.csv:5:21: "x3" is not a number \(column "a"\)$/);
    bad(good.replace("\n2020-01-01 03:00:00,3,", "\n2020-01-01 03:00:00,,"), cols, /s\.csv:5:21: empty cell \(column "a"\)/);
    bad(good.replace("\n2020-01-01 03:00:00,3,", "\n2020-01-01 03:00:00,1e39,"), cols, /s\.csv:5:21: "1e39" is not a finite float32 \(column "a"\)/);
    bad(
      good.replace("2020-01-01 03:00:00", "2020-01-01 33:00:00"),
      cols,
      /s\.csv:5:1: "2020-01-01 33:00:00" is not a date\/time \(column "when"; expected e\.g\./,
    );
    bad(
      good.replace("2020-01-01 03:00:00", "2019-01-01 03:00:00"),
      cols,
      /s\.csv:5:1: time "2019-01-01 03:00:00" is earlier than the row before it \(line 4\): the rows must be in time order/,
    );
    bad(good.replace("2020-01-01 03:00:00,3,", "2020-01-01 03:00:00,3,4,"), cols, /s\.csv:5: 5 cells, but the header \(line 1\) names 4 columns/);
    bad("a,a,b\n1,2,3\n", { inputs: ["a"], targets: ["b"] }, /s\.csv:1: two columns are named "a" \(input\); rename one/);
    bad(good, { targets: ["b"], ignore: ["b"] }, /column "b" is both a target and ignored/);
    bad(good, { targets: ["b"], time: "when", inputs: ["when"] }, /column "when" is the time column/);
    bad("a,b\n", { targets: ["b"] }, /s\.csv: no data rows \(only a header\)/);
    bad("\n \n", { targets: ["b"] }, /s\.csv: empty file/);
    expectDnnc(
      () => parseSeriesCsvBytes(new Uint8Array([0x61, 0x2c, 0x62, 0x0a, 0x31, 0x2c, 0xe9, 0x0a]), "s.csv", { targets: ["b"] }),
      /s\.csv:2:3: invalid UTF-8/,
    );
    const t = parseSeriesCsv(good, "s.csv", cols);
    expectDnnc(() => seriesWindows(t, { window: 20 }), /^s\.csv: the series has 20 time steps, fewer than one window needs \(window 20 \+ horizon 1\)/);
    expectDnnc(
      () => seriesWindows(t, { window: 3, horizon: 2, validation: 0.2 }),
      /s\.csv: the validation span \(lines 18-21 \(2020-01-01T16:00:00\.000Z\)\) has 4 time steps, fewer than one window needs \(window 3 \+ horizon 2\)/,
    );
    expectDnnc(() => seriesWindows(t, { window: 0 }), /window must be a positive integer, got 0/);
    expectDnnc(() => seriesWindows(t, { window: 2, horizon: 1.5 }), /horizon must be a positive integer/);
    expectDnnc(() => seriesWindows(t, { window: 2, validation: 0.01 }), /validation fraction 0.01 of 20 time steps is an empty span/);
  });

  const dir = mkdtempSync(join(tmpdir(), "dnnc-ts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads a file from disk, with a byte-order mark and CRLF", () => {
    const p = join(dir, "s.csv");
    writeFileSync(p, "\ufeff" + csv(["when", "a", "b", "c"]).replace(/\n/g, "\r\n"));
    const r = loadTimeSeries(p, { ...cols, ...win });
    expect(r.table.steps).toBe(20);
    expect(r.train.n).toBe(9);
    expectDnnc(() => loadTimeSeries(join(dir, "none.csv"), { ...cols, ...win }), /none\.csv: no such file/);
  });
});

// python3-vega-datasets' seattle-temps.csv: hourly temperatures of 2010, the forecasting example of issue 18.
const SEATTLE = "/usr/lib/python3/dist-packages/vega_datasets/_data/seattle-temps.csv";
if (!existsSync(SEATTLE)) console.warn(`data-timeseries.test.ts: ${SEATTLE} is absent (Debian package python3-vega-datasets): its test is skipped`);

describe.skipIf(!existsSync(SEATTLE))("seattle-temps.csv (Debian package python3-vega-datasets)", () => {
  it("reads hourly temperatures with their dates and windows them by time", () => {
    const r = loadTimeSeries(SEATTLE, { targets: ["temp"], window: 24, horizon: 6, validation: 0.1, test: 0.1 });
    const t = r.table;
    expect(t.timeName).toBe("date");
    expect(t.inputNames).toEqual(["temp"]);
    expect(t.steps).toBeGreaterThan(8000);
    for (let i = 1; i < t.steps; i++) expect(t.times![i] - t.times![i - 1]).toBeGreaterThanOrEqual(0);
    expect(new Date(t.times![0]).toISOString()).toBe("2010-01-01T00:00:00.000Z");
    const nTrain = r.spans.train.end;
    expect(r.train.n).toBe(nTrain - 30 + 1);
    expect(r.train.shape).toEqual([24, 1]);
    expect(r.train.targetShape).toEqual([6]);
    const s = stats(Array.from(t.targets.subarray(0, nTrain)));
    expect(r.stats!.targets.mean[0]).toBe(s.mean);
    expect(r.stats!.targets.std[0]).toBe(s.std);
    // the validation span starts where the training span ends, and its first window starts there
    const va = samples(r.validation!);
    expect(va.x[0][0]).toBe(Math.fround((t.inputs[nTrain] - s.mean) / s.std));
  });
});
