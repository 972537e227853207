// `dnnc test` and its golden files (issue 16, items 6 and 15): a missing golden fails (it used to
// be written and reported as "1 passed", so CI could never fail on it) unless --update is given;
// a golden with a missing or bad field is a failure naming the file and the field (a missing
// `lossTrace` used to be a TypeError: internal error, exit 70).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readGolden } from "../compiler/test-command";

const tmp = mkdtempSync(join(tmpdir(), "dnnc-golden-file-"));
const dnnc = (...args: string[]) => spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8" });

describe("readGolden", () => {
  const file = join(tmp, "x.golden.json");
  const good = { spec: "x.dnn", steps: 2, lossTrace: [2.3, 2.1], test_loss: 1.5, test_acc: null };
  const read = (v: unknown) => {
    writeFileSync(file, typeof v === "string" ? v : JSON.stringify(v));
    return readGolden(file);
  };
  it("accepts a well-formed golden (spec optional, nulls where a value was not finite)", () => {
    expect(read(good)).toEqual(good);
    const { spec: _, ...noSpec } = good;
    expect(read({ ...noSpec, lossTrace: [2.3, null] })).toEqual({ ...noSpec, spec: "", lossTrace: [2.3, null] });
  });
  it("names the file and the missing or bad field", () => {
    const err = (v: unknown) => (read(v) as { error: string }).error;
    const hint = "; rewrite it with dnnc test --update";
    for (const k of ["steps", "lossTrace", "test_loss", "test_acc"]) {
      const g: Record<string, unknown> = { ...good };
      delete g[k];
      expect(err(g)).toBe(`${file}: missing field "${k}"${hint}`);
    }
    expect(err({ ...good, steps: 0 })).toBe(`${file}: "steps" must be an integer >= 1, got 0${hint}`);
    expect(err({ ...good, lossTrace: "2.3" })).toBe(`${file}: "lossTrace" must be a list of numbers, got "2.3"${hint}`);
    expect(err({ ...good, lossTrace: [2.3, "x"] })).toBe(`${file}: "lossTrace"[1] must be a number, got "x"${hint}`);
    expect(err({ ...good, test_acc: "0.9" })).toBe(`${file}: "test_acc" must be a number or null, got "0.9"${hint}`);
    expect(err({ ...good, spec: 3 })).toBe(`${file}: "spec" must be a string, got 3${hint}`);
    expect(err([1, 2])).toBe(`${file}: expected a JSON object${hint}`);
    expect(err("{ not json")).toMatch(new RegExp(`^${file.replace(/[.]/g, "\\.")}: not valid JSON \\(.*\\); rewrite it with dnnc test --update$`));
    expect(readGolden(join(tmp, "none.json"))).toEqual({ error: `${join(tmp, "none.json")}: no such file or directory` });
  });
});

describe("dnnc test", () => {
  const spec = join(tmp, "g.dnn");
  const golden = join(tmp, "g.golden.json");
  writeFileSync(
    spec,
    readFileSync("specs/fashion-mlp.dnn", "utf8")
      .replace('idx("data/fashion-mnist-small")', `idx("${resolve("specs/data/fashion-mnist-small")}")`)
      .replace("  seed 42", "  seed 42\n  golden(steps=3, tolerance=1e-5)"),
  );

  it("a missing golden fails (exit 1, nothing written) until --update writes it; then the test passes", () => {
    const r = dnnc("test", spec);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`✗ ${spec}  no golden ${golden}; run dnnc test --update ${spec} to write it`);
    expect(r.stdout).toContain("0 passed, 1 failed");
    expect(existsSync(golden)).toBe(false);
    const j = dnnc("test", spec, "--json");
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      passed: 0,
      failed: 1,
      results: [{ spec, ok: false, updated: false, message: expect.stringContaining("no golden") }],
    });
    const u = dnnc("test", spec, "--update");
    expect(u.status).toBe(0);
    expect(u.stdout).toContain(`u ${spec}  wrote ${golden}`);
    expect(readGolden(golden)).toMatchObject({ steps: 3, lossTrace: [expect.any(Number), expect.any(Number), expect.any(Number)] });
    const ok = dnnc("test", spec);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("1 passed, 0 failed");
  });

  it("a golden with a missing field fails naming it, and the other specs are still tested", () => {
    const other = join(tmp, "h.dnn");
    writeFileSync(other, readFileSync(spec, "utf8"));
    writeFileSync(join(tmp, "h.golden.json"), JSON.stringify({ spec: "h.dnn", steps: 3, test_loss: 1, test_acc: 0.5 }));
    if (!existsSync(golden)) expect(dnnc("test", spec, "--update").status).toBe(0);
    const r = dnnc("test", other, spec);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`✗ ${other}  ${join(tmp, "h.golden.json")}: missing field "lossTrace"; rewrite it with dnnc test --update`);
    expect(r.stdout).toContain(`✓ ${spec}`);
    expect(r.stdout).toContain("1 passed, 1 failed");
    expect(r.stderr).toBe("");
  });
});
