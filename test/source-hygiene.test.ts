// The source type-checks under strict settings (`tsc --noEmit`) and is formatted by prettier
// (.prettierrc.json; generated files and data are in .prettierignore): `npm run format` fixes the
// second, and both run here so that CI fails on either.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const bin = (name: string) => `node_modules/.bin/${name}`;

describe("the source", () => {
  it("type-checks (tsc --noEmit -p .)", () => {
    const r = spawnSync(bin("tsc"), ["--noEmit", "-p", "."], { encoding: "utf8" });
    expect(r.stdout + r.stderr, "tsc --noEmit").toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
  it("is formatted by prettier (run `npm run format`)", () => {
    const r = spawnSync(bin("prettier"), ["--check", "--log-level", "warn", "**/*.{ts,mts,mjs,js}"], { encoding: "utf8" });
    expect(r.stdout + r.stderr, "prettier --check").toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
});
