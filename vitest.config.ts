import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: { alias: { "dnnc/runtime": fileURLToPath(new URL("./runtime/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // both cores: vitest's default (cores - 1) runs the suite on one worker on a 2-core machine
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: ".ci/vitest-report.json" },
  },
});
