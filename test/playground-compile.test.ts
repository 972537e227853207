// The playground's "Train" path, in Node: the trainer text the worker generates with prettier's
// standalone build is the one `dnnc compile` generates; once transpiled and linked against a
// runtime bundle (playground/src/compile-trainer.ts) it reproduces the spec's golden loss trace
// and test metrics on data loaded the playground's way (playground/src/datasets.ts: fetched,
// gunzipped with DecompressionStream, parsed by the runtime's parsers).
import { afterAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileToIr } from "../compiler/pipeline";
import { generateTrainer } from "../compiler/codegen/emit-trainer";
import { transpileAndLink } from "../playground/src/compile-trainer";
import { bundledName, loadBundled } from "../playground/src/datasets";
import { createBackend } from "../runtime/backend-create";
import { train } from "../runtime/train-loop";
import type { Program } from "../runtime/program";

const repo = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "dnnc-playground-compile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A runtime bundle and a no-op "dnnc/runtime/node" to link against, as files (Node cannot import blob: URLs). */
async function linkTargets(): Promise<{ runtime: string; node: string }> {
  const esbuild = await import("esbuild");
  const rt = join(work, "runtime.mjs");
  // node:* stays external: the wasm backend's Node adapter (imported only under Node) asks for it, and
  // the runtime's library face (runtime/api.ts) creates backends
  await esbuild.build({
    entryPoints: [join(repo, "runtime/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["node:*"],
    outfile: rt,
    logLevel: "silent",
  });
  const node = join(work, "node.mjs");
  writeFileSync(node, "export function runMain() {}\n");
  return { runtime: pathToFileURL(rt).href, node: pathToFileURL(node).href };
}

/** fetch for http://playground.test/<dataset>/<file> from specs/data/ (the playground's public folder). */
function stubFetch(): void {
  vi.stubGlobal("fetch", async (u: URL | string) => {
    const url = new URL(String(u));
    if (url.host !== "playground.test") return new Response("", { status: 404 });
    try {
      return new Response(readFileSync(join(repo, "specs/data", decodeURIComponent(url.pathname))));
    } catch {
      return new Response("", { status: 404 });
    }
  });
}

describe("playground compile path", () => {
  it("prettier's standalone build (the browser shim) formats the trainer exactly as Node's prettier", async () => {
    const src = readFileSync(join(repo, "specs/fashion-cnn.dnn"), "utf8");
    const ir = compileToIr(src, "fashion-cnn.dnn").ir!;
    const node = (await generateTrainer(ir, { dataPath: "data/fashion-mnist-small" })).text;
    vi.resetModules();
    let calls = 0;
    vi.doMock("prettier", async () => {
      const shim = await import("../playground/src/shims/prettier");
      const format: typeof shim.format = (...a) => (calls++, shim.format(...a));
      return { format, default: { format } };
    });
    try {
      const shimmed = (await import("../compiler/codegen/emit-trainer")) as typeof import("../compiler/codegen/emit-trainer");
      expect(shimmed.generateTrainer).not.toBe(generateTrainer);
      expect((await shimmed.generateTrainer(ir, { dataPath: "data/fashion-mnist-small" })).text).toBe(node);
      expect(calls).toBe(1);
    } finally {
      vi.doUnmock("prettier");
      vi.resetModules();
    }
  }, 30_000);

  it("links the generated trainer's imports, leaving no TypeScript and no other import", async () => {
    const src = readFileSync(join(repo, "specs/fashion-mlp.dnn"), "utf8");
    const ir = compileToIr(src, "x.dnn").ir!;
    const { text } = await generateTrainer(ir, { dataPath: "data/fashion-mnist-small" });
    const js = await transpileAndLink(text, "x.trainer.ts", { runtime: "blob:RUNTIME", node: "blob:NODE" });
    expect(js).toContain('from "blob:RUNTIME"');
    expect(js).toContain('from "blob:NODE"');
    expect(js).not.toContain("dnnc/runtime");
    expect(js).not.toMatch(/\btype Backend\b|: Program\b|: Model\b/);
    expect(js).toContain("export const program = {");
    const bad = text.replace('from "dnnc/runtime/node"', 'from "node:fs"');
    await expect(transpileAndLink(bad, "x.trainer.ts", { runtime: "a", node: "b" })).rejects.toThrow(/imports "node:fs"/);
  }, 30_000);

  it("maps a spec's data source to the bundled datasets only", () => {
    expect(bundledName("data/fashion-mnist-small")).toBe("fashion-mnist-small");
    expect(bundledName("../specs/data/two-moons/")).toBe("two-moons");
    expect(() => bundledName("/home/me/mnist")).toThrow(/only has the bundled datasets/);
  });

  for (const spec of ["specs/trick-regularize.dnn", "specs/fashion-mlp.dnn"]) {
    it(`the linked trainer reproduces ${spec}'s golden trace on data loaded the playground's way`, async () => {
      stubFetch();
      try {
        const src = readFileSync(join(repo, spec), "utf8");
        const ir = compileToIr(src, spec).ir!;
        const { text } = await generateTrainer(ir, { dataPath: ir.data.source.path });
        const js = await transpileAndLink(text, `${ir.name}.trainer.ts`, await linkTargets());
        const file = join(work, `${ir.name}.trainer.mjs`);
        writeFileSync(file, js);
        const { program } = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { program: Program };
        const data = await loadBundled(program, "http://playground.test/");
        const golden = JSON.parse(readFileSync(join(repo, spec.replace(/\.dnn$/, ".golden.json")), "utf8")) as {
          steps: number;
          lossTrace: number[];
          test_loss: number;
          test_acc: number;
        };
        const tol = ir.train.golden?.tolerance ?? 1e-4;
        const be = await createBackend(program.meta.heapFloats, { backend: "auto", threads: 1 });
        try {
          const model = program.create(be, program.train.seed);
          model.init();
          const r = train(program, be, model, data, { maxSteps: golden.steps, epochs: 1_000_000 });
          expect(r.lossTrace).toHaveLength(golden.steps);
          const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-8, Math.abs(b));
          r.lossTrace.forEach((l, i) => expect(rel(l, golden.lossTrace[i]), `step ${i + 1}: ${l} vs ${golden.lossTrace[i]}`).toBeLessThanOrEqual(tol));
          expect(rel(r.test_loss!, golden.test_loss)).toBeLessThanOrEqual(tol);
          expect(rel(r.test_acc!, golden.test_acc)).toBeLessThanOrEqual(tol);
        } finally {
          be.close();
        }
      } finally {
        vi.unstubAllGlobals();
      }
    }, 30_000);
  }
});
