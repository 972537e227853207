// docs/library.md's examples, run as written: every ```js block is a module of its own, run by a
// child node in a folder that holds the page's ```dnn block as moons.dnn, compiled there first
// (`dnnc compile moons.dnn -o out`), and that resolves "dnnc" to this package (node_modules/dnnc,
// a link to the repository: its package.json exports, its built dist/). A block fails the test by
// throwing or by a non-zero exit.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const doc = readFileSync(join(repo, "docs", "library.md"), "utf8");
const blocks = (lang: string) => [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);
const work = mkdtempSync(join(tmpdir(), "dnnc-library-docs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("docs/library.md", () => {
  const js = blocks("js");
  it("has its examples", () => {
    expect(js.length).toBeGreaterThanOrEqual(3);
    expect(blocks("dnn").length).toBe(1);
  });

  it("runs every js block as written", () => {
    mkdirSync(join(work, "node_modules"));
    symlinkSync(repo, join(work, "node_modules", "dnnc"), "dir");
    writeFileSync(join(work, "package.json"), JSON.stringify({ private: true, type: "module" }));
    writeFileSync(join(work, "moons.dnn"), blocks("dnn")[0]);
    execFileSync(process.execPath, [join(repo, "bin", "dnnc.mjs"), "compile", "moons.dnn", "-o", "out"], { cwd: work, stdio: "pipe" });
    js.forEach((code, i) => {
      const f = join(work, `example-${i + 1}.mjs`);
      writeFileSync(f, code);
      try {
        execFileSync(process.execPath, [f], { cwd: work, encoding: "utf8", stdio: "pipe" });
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        throw new Error(`docs/library.md, js block ${i + 1} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
      }
    });
  }, 120_000);
});
