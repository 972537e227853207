// dnnc predict's inputs (issue 16, items 6, 9, 12, 13), end to end through bin/dnnc.mjs:
// a CSV of features only (with or without a header) predicts the same as the test CSV with its
// label column; ambiguous or mismatched CSVs are refused with their counts; values that are not
// finite (CSV cells, IDX floats) are refused with their position; a PNG bomb is refused before
// it is inflated; a directory where a file is expected is named. dnnc train's data loading too.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, crc32 } from "node:zlib";
import { PNG_SIGNATURE } from "../runtime/node/png";

const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "dnnc-predict-in-"));
const moons = join(tmp, "moons"); // input [2], label "label"
const fashion = join(tmp, "fashion"); // input [1, 28, 28]

/** Exit 1, the message on stderr (no stack trace), nothing on stdout. */
function refused(r: ReturnType<typeof dnnc>, message: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toContain(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe("");
}

beforeAll(() => {
  for (const [spec, out] of [
    ["specs/trick-regularize.dnn", moons],
    ["specs/fashion-mlp.dnn", fashion],
  ]) {
    const r = dnnc("train", spec, "--max-steps", "3", "--out", out, "--quiet", "--no-report");
    expect(r.status, r.stderr).toBe(0);
  }
}, 120_000);

const testCsv = readFileSync("specs/data/two-moons/test.csv", "utf8").trim().split("\n");
const rows = testCsv.slice(1).map((l) => l.split(","));
const csv = (name: string, lines: string[]) => {
  const p = join(tmp, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
};

describe("dnnc predict with CSV input", () => {
  it("takes the features alone, with or without a header, or with the label column anywhere", () => {
    const want = dnnc("predict", moons, "--input", "specs/data/two-moons/test.csv");
    expect(want.status, want.stderr).toBe(0);
    expect(want.stdout.trim().split("\n")).toHaveLength(rows.length + 1);
    const inputs = [
      csv("features.csv", ["x1,x2", ...rows.map((r) => `${r[0]},${r[1]}`)]),
      csv(
        "features-no-header.csv",
        rows.map((r) => `${r[0]},${r[1]}`),
      ),
      csv("label-first.csv", ["label,x1,x2", ...rows.map((r) => `${r[2]},${r[0]},${r[1]}`)]),
      csv("renamed.csv", ["a,b", ...rows.map((r) => `${r[0]},${r[1]}`)]),
    ];
    for (const f of inputs) {
      const r = dnnc("predict", moons, "--input", f);
      expect(r.stderr, f).toBe("");
      expect(r.stdout, f).toBe(want.stdout);
    }
  });

  it("refuses CSVs whose columns do not fit the model, with the counts", () => {
    refused(
      dnnc(
        "predict",
        moons,
        "--input",
        csv(
          "no-header-3.csv",
          rows.map((r) => r.join(",")),
        ),
      ),
      'no-header-3.csv: rows have 3 columns and the model takes 2 features, but the file has no header to say which column is the label: give the 2 feature columns only, or a header row with a "label" column',
    );
    refused(
      dnnc("predict", moons, "--input", csv("other-3.csv", ["a,b,c", "1,2,3"])),
      'other-3.csv: rows have 3 columns and the model takes 2 features, but no column is named "label"',
    );
    refused(dnnc("predict", moons, "--input", csv("one.csv", ["x1", "1", "2"])), "one.csv: rows have 1 features, the model takes 2");
    refused(
      dnnc("predict", moons, "--input", csv("wide.csv", ["x1,x2,x3,label", "1,2,3,0"])),
      'wide.csv: rows have 3 features, the model takes 2 (the label column "label" left out)',
    );
  });

  it("refuses values that are not finite, naming file:line:col", () => {
    refused(
      dnnc("predict", moons, "--input", csv("inf.csv", ["x1,x2", "1,2", "0.5,1e39"])),
      'inf.csv:3:5: "1e39" is not a finite float32 (it would be Infinity; the largest float32 is 3.4028235e38) (column "x2")',
    );
    refused(dnnc("predict", moons, "--input", csv("inf2.csv", ["-1e400,1"])), 'inf2.csv:1:1: "-1e400" is not a finite float32 (it would be -Infinity');
    refused(dnnc("predict", moons, "--input", csv("nan.csv", ["x1,x2", "NaN,1"])), 'nan.csv:2:1: "NaN" is not a number (column "x1")');
  });
});

describe("dnnc predict with IDX and PNG input", () => {
  it("refuses an IDX file of floats holding NaN, naming the sample", () => {
    const n = 3;
    const b = Buffer.alloc(16 + n * 784 * 4);
    b.set([0, 0, 0x0d, 3]);
    b.writeUInt32BE(n, 4);
    b.writeUInt32BE(28, 8);
    b.writeUInt32BE(28, 12);
    b.writeFloatBE(NaN, 16 + (2 * 784 + 100) * 4);
    writeFileSync(join(tmp, "nan-idx3"), b);
    refused(dnnc("predict", fashion, "--input", join(tmp, "nan-idx3")), "nan-idx3: sample 2, value 100 (byte 6688) is NaN: only finite numbers are accepted");
  });

  it("refuses a PNG bomb before inflating it", () => {
    const chunk = (type: string, data: Uint8Array) => {
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      out.write(type, 4, "latin1");
      out.set(data, 8);
      out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
      return out;
    };
    const png = (w: number, h: number, idat: Uint8Array) => {
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(w, 0);
      ihdr.writeUInt32BE(h, 4);
      ihdr[8] = 8;
      return Buffer.concat([PNG_SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]);
    };
    const zeros = deflateSync(new Uint8Array(4097 * 4096)); // 16 MB of rows in 16 KB
    writeFileSync(join(tmp, "bomb.png"), png(4096, 4096, zeros));
    writeFileSync(join(tmp, "liar.png"), png(28, 28, zeros));
    refused(dnnc("predict", fashion, "--input", join(tmp, "bomb.png")), "bomb.png: image is 4096x4096 (width x height), the model expects 28x28");
    refused(
      dnnc("predict", fashion, "--input", join(tmp, "liar.png")),
      "liar.png: image data inflates to more than the 812 bytes a 28x28 image at 8 bits per pixel has",
    );
    // a PNG for a model that does not take images is refused before it is read
    refused(
      dnnc("predict", moons, "--input", join(tmp, "bomb.png")),
      "predict: PNG input needs a model that takes images of 1 or 3 channels [C, H, W]; this one takes [2]",
    );
  });
});

describe("a directory where a file is expected", () => {
  it("is named, for every input kind, the model and the run directory", () => {
    for (const name of ["dir.csv", "dir.png", "dir-idx3-ubyte"]) mkdirSync(join(tmp, name));
    refused(dnnc("predict", moons, "--input", join(tmp, "dir.csv")), `${join(tmp, "dir.csv")}: is a directory, expected a CSV file`);
    refused(dnnc("predict", fashion, "--input", join(tmp, "dir.png")), `${join(tmp, "dir.png")}: is a directory, expected a PNG file`);
    refused(dnnc("predict", fashion, "--input", join(tmp, "dir-idx3-ubyte")), `${join(tmp, "dir-idx3-ubyte")}: is a directory, expected an IDX file`);
    const run = join(tmp, "moons-copy");
    cpSync(moons, run, { recursive: true });
    rmSync(join(run, "model.safetensors"));
    mkdirSync(join(run, "model.safetensors"));
    refused(dnnc("predict", run, "--input", "specs/data/two-moons/test.csv"), `${join(run, "model.safetensors")}: is a directory, expected a file`);
    refused(
      dnnc("predict", join(moons, "model.safetensors"), "--input", "specs/data/two-moons/test.csv"),
      `${join(moons, "model.safetensors")}: is not a directory (expected a run directory written by dnnc train)`,
    );
  });
});

describe("dnnc train's CSV data", () => {
  it("refuses a train.csv that is a directory or holds a value beyond float32, with exit 1", () => {
    const dirData = join(tmp, "data-dir");
    mkdirSync(join(dirData, "train.csv"), { recursive: true });
    refused(
      dnnc("train", "specs/trick-regularize.dnn", "--data", dirData, "--max-steps", "1", "--out", join(tmp, "t1"), "--quiet"),
      `${join(dirData, "train.csv")}: is a directory, expected a CSV file`,
    );
    const infData = join(tmp, "data-inf");
    mkdirSync(infData);
    copyFileSync("specs/data/two-moons/test.csv", join(infData, "test.csv"));
    writeFileSync(join(infData, "train.csv"), "x1,x2,label\n0.5,0.25,1\n1e39,0,0\n");
    refused(
      dnnc("train", "specs/trick-regularize.dnn", "--data", infData, "--max-steps", "1", "--out", join(tmp, "t2"), "--quiet"),
      `${join(infData, "train.csv")}:3:1: "1e39" is not a finite float32`,
    );
  });
});
