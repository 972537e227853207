// The tables of docs/language.md that the compiler determines are what scripts/build-docs.ts
// generates from the op registry (run `npx tsx scripts/build-docs.ts` after changing an op), and
// every layer of the language has its row.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { LANGUAGE_DOC, languageDoc, layerTable } from "../scripts/build-docs";
import { OPS } from "../compiler/ops";

describe("docs/language.md", () => {
  it("holds the generated layer table (run `npx tsx scripts/build-docs.ts`)", () => {
    const doc = readFileSync(LANGUAGE_DOC, "utf8");
    expect(doc).toBe(languageDoc(doc));
  });
  it("has a row per layer of the language", () => {
    const table = layerTable();
    for (const name of Object.keys(OPS)) expect(table, name).toMatch(new RegExp(`^\\| \`${name}[(\` ]`, "m"));
  });
});
