// The benchmark's model definitions and harness helpers. The models are checked against PyTorch
// (test/reference/bench/bench_models.json: parameters and per-layer multiply-adds counted by
// forward hooks on nn.Linear/nn.Conv2d) and against tfjs-layers (trainable parameters).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { MODELS, MODEL_NAMES, countParams, trainFlopsPerSample, walkShapes, type BenchModel } from "../bench/models.mjs";
import { formatTable, median, parseEvents, parsePeakArg, peakReader, steadyGc, steadyRates } from "../bench/harness.mjs";
import { parseIdx } from "../bench/idx.mjs";
import { buildTfjsModel, trainableParams } from "../bench/peers/tfjs-model.mjs";

const torchRef = JSON.parse(readFileSync(new URL("./reference/bench/bench_models.json", import.meta.url), "utf8")) as Record<
  string,
  { params: number; output_shape: number[]; macs: number[] }
>;

describe("bench models", () => {
  it("covers the same models as the PyTorch reference", () => {
    expect(MODEL_NAMES.sort()).toEqual(Object.keys(torchRef).sort());
  });

  for (const name of MODEL_NAMES) {
    it(`${name}: parameters and output shape as PyTorch builds them`, () => {
      const m = MODELS[name];
      expect(countParams(m)).toBe(torchRef[name].params);
      expect(walkShapes(m.layers, m.input, () => {})).toEqual(torchRef[name].output_shape);
    });

    it(`${name}: training FLOPs from PyTorch's multiply-adds`, () => {
      const macs = torchRef[name].macs;
      const total = macs.reduce((a, b) => a + b, 0);
      // forward + weight gradient for every layer, input gradient for all but the first
      expect(trainFlopsPerSample(MODELS[name])).toBe(2 * (3 * total - macs[0]));
    });
  }

  it("matches the brief's figures: M1/M3 about 1.211 MFLOP, M2 about 5.965 MFLOP", () => {
    expect(trainFlopsPerSample(MODELS.m1) / 1e6).toBeCloseTo(1.211, 3);
    expect(trainFlopsPerSample(MODELS.m3)).toBe(trainFlopsPerSample(MODELS.m1));
    expect(trainFlopsPerSample(MODELS.m2) / 1e6).toBeCloseTo(5.965, 3);
  });

  it("a 1x1 convolution on a 1x1 map costs what the equivalent dense layer costs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 32 }), (c, f, g) => {
        const conv: BenchModel["layers"] = [{ op: "conv", filters: f, kernel: 1, padding: "same" }, { op: "flatten" }, { op: "dense", units: g }];
        const dense: BenchModel["layers"] = [{ op: "flatten" }, { op: "dense", units: f }, { op: "dense", units: g }];
        const a = { input: [c, 1, 1], layers: conv };
        const b = { input: [c, 1, 1], layers: dense };
        return trainFlopsPerSample(a) === trainFlopsPerSample(b) && countParams(a) === countParams(b);
      }),
    );
  });

  it("a residual body that changes the shape is an error", () => {
    const bad: BenchModel["layers"] = [{ op: "residual", body: [{ op: "conv", filters: 4, kernel: 3, padding: "same" }] }];
    expect(() => walkShapes(bad, [2, 8, 8], () => {})).toThrow(/residual body changes \[2,8,8\] to \[4,8,8\]/);
  });

  it("tfjs-layers builds every model with the same trainable parameters", async () => {
    const tfl = await import("@tensorflow/tfjs-layers");
    await import("@tensorflow/tfjs-backend-cpu");
    for (const name of MODEL_NAMES) {
      const net = buildTfjsModel(tfl, MODELS[name]);
      expect(trainableParams(net), name).toBe(torchRef[name].params);
    }
  });
});

describe("bench harness", () => {
  it("median of odd and even lists, NaN for none", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("median equals the middle of the sorted list (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 41 }), (xs) => {
        const s = [...xs].sort((a, b) => a - b);
        const n = s.length;
        const expected = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        return median(xs) === expected;
      }),
    );
  });

  it("parses protocol lines and keeps the rest aside", () => {
    const text = [
      "m1: 60000 training samples",
      '{"event":"window","samples":1280,"seconds":0.5}',
      "",
      '{"not":"an event"}',
      '{"event":"done","test_acc":0.84,"test_loss":0.45,"max_rss_kb":120000}',
    ].join("\n");
    const { events, other } = parseEvents(text);
    expect(events.map((e) => e.event)).toEqual(["window", "done"]);
    expect(other).toEqual(["m1: 60000 training samples", '{"not":"an event"}']);
  });

  it("steady state drops the warm-up window and partial windows", () => {
    const w = [
      { samples: 100, seconds: 1 },
      { samples: 400, seconds: 1 },
      { samples: 600, seconds: 2 },
      { samples: 10, seconds: 0.01, partial: true },
    ];
    expect(steadyRates(w)).toEqual([400, 300]);
    expect(steadyRates([{ samples: 50, seconds: 1 }])).toEqual([50]);
    expect(steadyRates([])).toEqual([]);
  });

  it("counts the collections of the steady state from node's --trace-gc lines (after the warm-up windows, up to the last window)", () => {
    const gc = (a: number, b: number, kind = "Scavenge") =>
      `[1:0x1]   100 ms: ${kind} ${a} (9.1) -> ${b} (9.1) MB, 0.10 / 0.00 ms  (average mu = 1.000) allocation failure;`;
    const win = (samples: number, partial = false) => JSON.stringify({ event: "window", samples, seconds: 1, ...(partial ? { partial } : {}) });
    const text = [
      gc(6.8, 4.8),
      win(64),
      gc(5, 4),
      win(64),
      gc(6.4, 4.4),
      win(128),
      gc(6.0, 5.5, "Mark-Compact"),
      win(96),
      gc(9, 1),
      win(10, true),
      gc(9, 1),
    ].join("\n");
    const r = steadyGc(text, 32)!;
    expect(r.gcs).toBe(2);
    expect(r.mbFreed).toBeCloseTo(2.5, 10);
    expect(r.steps).toBe(7);
    expect(steadyGc(text, 32, 1)!.gcs).toBe(3);
    expect(steadyGc([win(64), win(64), win(64)].join("\n"), 32)).toEqual({ gcs: 0, mbFreed: 0, steps: 2 });
    expect(steadyGc(win(64), 32)).toBeNull();
  });

  it("reads the SGEMM peak in the shapes it may come in", () => {
    expect(peakReader(60)(2)).toBe(60);
    expect(peakReader({ "1": 60, "2": 110 })(2)).toBe(110);
    expect(peakReader({ threads: { "1": 58 } })(1)).toBe(58);
    expect(peakReader({ peak_gflops: 64 })(2)).toBe(64);
    expect(peakReader({ peak_gflops: { "1": 61, "2": 120 } })(1)).toBe(61);
    expect(peakReader({ something: "else" })(1)).toBeNull();
    expect(peakReader(null)(1)).toBeNull();
    expect(parsePeakArg("1:60,2:110")(1)).toBe(60);
    expect(parsePeakArg("70")(2)).toBe(70);
    expect(() => parsePeakArg("1:fast")).toThrow(/--peak/);
  });

  it("formats a table with n/a for a missing peak and a dash for a missing accuracy", () => {
    const t = formatTable([
      { system: "dnnc", threads: 1, rate: 12345.6, gflops: 14.95, peakShare: 0.25, rssMb: 130.2, acc: 0.8412, note: "" },
      { system: "tfjs-wasm", threads: 1, rate: null, ratio: null, gflops: null, peakShare: null, rssMb: 220, acc: null, note: "cannot train" },
    ]).split("\n");
    expect(t).toHaveLength(4);
    expect(t[2]).toMatch(/^dnnc\s+1\s+12,346\s+14\.95\s+25\.0%\s+130\s+0\.8412$/);
    expect(t[3]).toMatch(/^tfjs-wasm\s+1\s+—\s+—\s+n\/a\s+220\s+—\s+cannot train$/);
  });
});

describe("bench IDX reader", () => {
  const idx = (dims: number[], type = 0x08) => {
    const head = new Uint8Array(4 + 4 * dims.length);
    const v = new DataView(head.buffer);
    head[2] = type;
    head[3] = dims.length;
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
    const n = dims.reduce((a, b) => a * b, 1);
    const out = new Uint8Array(head.length + n);
    out.set(head);
    for (let i = 0; i < n; i++) out[head.length + i] = i % 251;
    return out;
  };

  it("reads dimensions big-endian and returns the data bytes", () => {
    const r = parseIdx(idx([3, 2, 5]));
    expect(r.dims).toEqual([3, 2, 5]);
    expect(Array.from(r.data.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(r.data.length).toBe(30);
  });

  it("names the file in its errors", () => {
    expect(() => parseIdx(idx([2, 2], 0x0d), "x.idx")).toThrow(/x\.idx: element type 0xd/);
    expect(() => parseIdx(idx([4]).subarray(0, 10), "y.idx")).toThrow(/y\.idx: 2 data bytes, header says 4/);
  });
});
