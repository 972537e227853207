// Every input in specs/fuzz-regressions/ (see its README) through the real pipeline and the fuzz
// harness: no exception, every diagnostic spanned inside the source, every layout inside its heap.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { compileToIr } from "../compiler/pipeline";
import type { Diagnostic } from "../grammar/diagnostics";
import type { IR } from "../compiler/ir";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz.mjs";

export interface Finding {
  kind: string;
  signature: string;
  detail: string;
}
const fuzz = fuzzJs as unknown as {
  checkInput(src: string, o?: { file?: string; codegen?: boolean }): Promise<{ outcome: string; ms: number; finding?: Finding }>;
  diagnosticProblem(d: Diagnostic, source: string, file: string): string | undefined;
  layoutProblem(ir: IR): string | undefined;
};

const dir = "specs/fuzz-regressions";
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".dnn"))
  .sort();

describe("fuzz regressions", () => {
  it("the folder is not empty", () => expect(files.length).toBeGreaterThanOrEqual(10));
  for (const f of files) {
    it(f, async () => {
      const path = `${dir}/${f}`;
      const src = readFileSync(path, "utf8");
      let r: ReturnType<typeof compileToIr> | undefined;
      let thrown: unknown;
      try {
        r = compileToIr(src, path);
      } catch (e) {
        thrown = e;
      }
      expect(thrown === undefined ? undefined : String((thrown as Error).message ?? thrown).split("\n")[0], "compileToIr threw").toBeUndefined();
      for (const d of r!.diagnostics) expect(fuzz.diagnosticProblem(d, src, path), `diagnostic ${d.code}: ${d.message}`).toBeUndefined();
      if (r!.ir) expect(fuzz.layoutProblem(r!.ir)).toBeUndefined();
      else
        expect(
          r!.diagnostics.some((d) => d.severity === "error"),
          "no IR and no error",
        ).toBe(true);
      const h = await fuzz.checkInput(src, { file: path });
      expect(h.finding?.signature).toBeUndefined();
    });
  }
});
