// `dnnc check` looks at the data when it can reach it (compiler/check-data.ts): a wrong input shape,
// a missing CSV column, an image of another size are errors at the spec's line:col (exit 1) instead
// of passing check and failing at train; data that is not there is a warning (exit 0).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { encodePng } from "../runtime/node/png";

const dir = mkdtempSync(join(tmpdir(), "dnnc-check-data-"));
const FASHION = resolve("specs/data/fashion-mnist-small");
const check = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", "check", ...args], { encoding: "utf8" });
const spec = (name: string, input: string, source: string) => {
  const path = join(dir, `${name}.dnn`);
  writeFileSync(
    path,
    `model ${name} {\n  input [${input}]\n  flatten\n  dense(10)\n  loss softmax_cross_entropy\n}\ndata {\n  source ${source}\n}\ntrain { seed 1 }\n`,
  );
  return path;
};

writeFileSync(join(dir, "t.csv"), "x1,x2,label\n1,2,0\n3,4,1\n");
for (const c of ["a", "b"]) {
  mkdirSync(join(dir, "imgs", c), { recursive: true });
  writeFileSync(join(dir, "imgs", c, "0.png"), encodePng(4, 4, 1, new Uint8Array(16)));
}
writeFileSync(join(dir, "imgs", "b", "1.png"), encodePng(5, 4, 1, new Uint8Array(20)));

describe("dnnc check with the data", () => {
  it("passes a spec whose data fits", () => {
    const r = check(spec("fits", "1, 28, 28", `idx("${FASHION}")`), spec("csvfits", "2", `csv("t.csv")`));
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("fits.dnn: ok");
    expect(r.stdout).toContain("csvfits.dnn: ok");
    expect(r.status).toBe(0);
  });

  it("reports an input shape the samples do not have at `input` (idx, csv)", () => {
    const a = check(spec("shape", "1, 28, 27", `idx("${FASHION}")`));
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(
      /error\[E0703\]: the data does not fit the model: training data: samples have shape \[1, 28, 28\] but the model's input is \[1, 28, 27\]\n --> .*shape\.dnn:2:9/,
    );
    const b = check(spec("csvshape", "3", `csv("t.csv")`));
    expect(b.stderr).toMatch(/error\[E0703\]: .*samples have shape \[2\] but the model's input is \[3\]\n --> .*csvshape\.dnn:2:9/);
  });

  it("reports a missing CSV column and an image of another size at the source, naming the file", () => {
    const a = check(spec("col", "2", `csv("t.csv", label="y")`));
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(
      /error\[E0702\]: the data source is refused: .*t\.csv:1: no column named "y" in the header \(columns: x1, x2, label\)\n --> .*col\.dnn:8:10/,
    );
    const b = check(spec("img", "1, 4, 4", `image_folder("imgs")`));
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`${join(dir, "imgs", "b", "1.png")}: image is 5x4 (width x height), the model expects 4x4`);
    expect(b.stderr).toMatch(/ --> .*img\.dnn:8:10/);
    expect(b.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("warns (exit 0) when the data is not there, at the source; --json carries it", () => {
    const path = spec("gone", "2", `csv("missing-dir/train.csv")`);
    const r = check(path);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning\[E0701\]: cannot read the data: .*missing-dir\/train\.csv: no such file or directory\n --> .*gone\.dnn:8:10/);
    const j = check("--json", path);
    const doc = JSON.parse(j.stdout) as { ok: boolean; warnings: number; files: { diagnostics: { code: string; line: number }[] }[] };
    expect(doc.ok).toBe(true);
    expect(doc.warnings).toBe(1);
    expect(doc.files[0].diagnostics[0]).toMatchObject({ code: "E0701", line: 8 });
  });
});
