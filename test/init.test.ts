// Initializers against PyTorch 1.13: fans and gains equal torch's own functions; the sample
// statistics of our draws (std, mean, range) match those of torch.nn.init's draws on the same
// shapes (test/reference/dense/init.json); orthogonal gives W Wᵀ = gain² I; seeds reproduce.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { calculateGain, fans, initTensor, numel, type InitSpec, type Nonlinearity } from "../runtime/init";
import { Rng, streamId } from "../runtime/rng";
import { DnncError } from "../runtime/errors";

const ref = JSON.parse(readFileSync(new URL("./reference/dense/init.json", import.meta.url), "utf8"));

function stats(a: Float32Array) {
  let s = 0,
    min = Infinity,
    max = -Infinity;
  for (const v of a) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / a.length;
  let ss = 0;
  for (const v of a) ss += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(ss / (a.length - 1)), min, max };
}

function draw(shape: number[], spec: InitSpec, seed = 1, stream = streamId("init:test")) {
  const len = numel(shape);
  const H = new Float32Array(len + 4).fill(NaN);
  initTensor(H, 2, shape, spec, new Rng(seed, stream));
  expect(Number.isNaN(H[1]) && Number.isNaN(H[len + 2]), "writes outside the tensor").toBe(true);
  return H.subarray(2, 2 + len);
}

const uniformKinds = new Set(["xavier_uniform", "kaiming_uniform", "uniform", "torch_default_linear", "torch_default_bias"]);

describe("initializers match torch.nn.init statistics", () => {
  for (const cs of ref.cases) {
    it(`${cs.name} ${JSON.stringify(cs.shape)}`, () => {
      const shape: number[] = cs.shape;
      const N = numel(shape);
      if (cs.fanIn !== null) expect(fans(shape)).toEqual([cs.fanIn, cs.fanOut]);
      const ours = stats(draw(shape, cs.spec as InitSpec));
      // sample std: relative error ~ 1/sqrt(2N) for each draw; 6 sigma of the difference
      const tolStd = Math.max(0.005, 6 / Math.sqrt(N));
      expect(Math.abs(ours.std - cs.std) / cs.std, `std ${ours.std} vs torch ${cs.std}`).toBeLessThan(tolStd);
      expect(Math.abs(ours.mean - cs.mean), `mean ${ours.mean} vs torch ${cs.mean}`).toBeLessThan((8 * cs.std) / Math.sqrt(N));
      if (uniformKinds.has(cs.spec.kind)) {
        // the sample range of U(lo, hi) falls short of the bounds by about (hi - lo)/N
        const slack = ((cs.max - cs.min) * 10) / N;
        expect(ours.min).toBeGreaterThanOrEqual(cs.min - slack);
        expect(ours.max).toBeLessThanOrEqual(cs.max + slack);
        expect(Math.abs(ours.min - cs.min)).toBeLessThan(slack);
        expect(Math.abs(ours.max - cs.max)).toBeLessThan(slack);
      }
    });
  }

  it("calculateGain equals torch.nn.init.calculate_gain", () => {
    const g = ref.gains;
    for (const k of ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"] as Nonlinearity[]) {
      expect(calculateGain(k)).toBeCloseTo(g[k], 12);
    }
    expect(calculateGain("conv")).toBeCloseTo(g.conv2d, 12);
    expect(calculateGain("leaky_relu", 0.2)).toBeCloseTo(g["leaky_relu_0.2"], 12);
  });
});

describe("orthogonal", () => {
  // W (rows x cols, cols = prod(rest)): W Wᵀ = gain² I when rows <= cols, else Wᵀ W = gain² I
  it.each([
    [[64, 128], 1.5],
    [[128, 64], 1],
    [[16, 4, 3, 3], 2],
    [[7, 7], 1],
    [[1, 5], 1],
  ])("shape %j gain %d is gain times an orthonormal frame", (shape, gain) => {
    const W = draw(shape as number[], { kind: "orthogonal", gain: gain as number });
    const rows = (shape as number[])[0];
    const cols = W.length / rows;
    const wide = rows <= cols;
    const n = wide ? rows : cols;
    let worst = 0;
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) {
        let s = 0;
        if (wide) for (let c = 0; c < cols; c++) s += W[p * cols + c] * W[q * cols + c];
        else for (let r = 0; r < rows; r++) s += W[r * cols + p] * W[r * cols + q];
        worst = Math.max(worst, Math.abs(s - (p === q ? gain * gain : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-5 * gain * gain);
  });
});

describe("constants, determinism, errors", () => {
  it("zeros, ones, constant", () => {
    expect(Array.from(draw([2, 3], { kind: "zeros" }))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(draw([4], { kind: "ones" }))).toEqual([1, 1, 1, 1]);
    expect(Array.from(draw([3], { kind: "constant", value: 0.25 }))).toEqual([0.25, 0.25, 0.25]);
  });

  it("same seed and stream give identical bytes; another stream or seed does not", () => {
    for (const kind of ["kaiming_normal", "xavier_uniform", "orthogonal", "torch_default_linear"] as const) {
      const a = draw([20, 30], { kind });
      expect(draw([20, 30], { kind })).toEqual(a);
      expect(draw([20, 30], { kind }, 1, streamId("init:other"))).not.toEqual(a);
      expect(draw([20, 30], { kind }, 2)).not.toEqual(a);
    }
  });

  it("fans of dense and grouped conv weights; 1-D tensors have none", () => {
    expect(fans([256, 784])).toEqual([784, 256]);
    expect(fans([64, 8, 3, 3])).toEqual([72, 576]);
    expect(() => fans([10])).toThrow(DnncError);
    expect(() => draw([10], { kind: "xavier_normal" })).toThrow(DnncError);
    expect(() => draw([10], { kind: "torch_default_bias" })).toThrow(/fanIn/);
  });
});
