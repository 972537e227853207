// createBackend (runtime/backend-create.ts): backend choice, options, and that a trainer bundled
// into one .mjs by esbuild runs the 2-thread wasm GEMM with no file read at run time and exits.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { createBackend, wasmSimdSupported } from "../runtime/backend-create";
import { DnncError } from "../runtime/errors";
import { gemmNaive } from "../runtime/kernels/gemm";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("createBackend", () => {
  it("auto picks the wasm backend when SIMD validates (Node 20 has it)", async () => {
    expect(wasmSimdSupported()).toBe(true);
    const be = await createBackend(1000);
    expect(be.name).toBe("wasm-simd128");
    expect(be.threads).toBe(1);
    expect(be.H.length).toBe(1000);
    be.close();
  });

  it("ts gives gemmBlocked on a plain Float32Array; both agree with the oracle", async () => {
    for (const opts of [{ backend: "ts" as const }, { backend: "wasm" as const, threads: 2 }]) {
      const be = await createBackend(5000, opts);
      expect(be.name).toBe(opts.backend === "ts" ? "ts-blocked" : "wasm-simd128 x2");
      for (let i = 0; i < 5000; i++) be.H[i] = Math.sin(i);
      const R = be.H.slice();
      be.gemm(1, 0, 20, 30, 40, 0, 1000, 3000, 1);
      gemmNaive(R, 1, 0, 20, 30, 40, 0, 1000, 3000, 1);
      for (let i = 0; i < 5000; i++) expect(Math.abs(be.H[i] - R[i])).toBeLessThan(1e-4);
      be.close();
      be.close(); // idempotent
    }
  });

  it("rejects bad options with a DnncError", async () => {
    await expect(createBackend(10, { threads: 0 })).rejects.toBeInstanceOf(DnncError);
    await expect(createBackend(10, { threads: 1.5 })).rejects.toBeInstanceOf(DnncError);
    await expect(createBackend(10, { backend: "gpu" as never })).rejects.toBeInstanceOf(DnncError);
  });

  it("the committed gemm-module.ts is the build of gemm.wat", () => {
    execFileSync(process.execPath, [join(root, "scripts/build-wasm.mjs"), "--check"], { stdio: "pipe" });
  });

  it("works bundled into one .mjs with 2 threads, deterministic, and the process exits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dnnc-wasm-"));
    const entry = join(dir, "entry.ts");
    writeFileSync(
      entry,
      `import { createBackend } from ${JSON.stringify(join(root, "runtime/backend-create"))};
const be = await createBackend(3 << 16, { backend: "wasm", threads: 2 });
let s = 7;
for (let i = 0; i < be.H.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; be.H[i] = s / 2 ** 32 - 0.5; }
be.gemm(0, 1, 64, 200, 300, 0, 1 << 16, 2 << 16, 0); // 3.8M multiply-adds: split over both threads
let h = 0;
for (let i = 2 << 16; i < (2 << 16) + 64 * 200; i++) h = (Math.imul(h, 31) + new Int32Array(be.H.buffer, i * 4, 1)[0]) | 0;
console.log(be.name, h);
`,
    );
    const out = join(dir, "trainer.mjs");
    await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "node", outfile: out, logLevel: "error" });
    const run = () => execFileSync(process.execPath, [out], { encoding: "utf8", timeout: 20_000 }).trim();
    const first = run(); // no close(): the unref'ed worker must not keep the process alive
    expect(first).toMatch(/^wasm-simd128 x2 -?\d+$/);
    expect(run()).toBe(first);
  });
});
