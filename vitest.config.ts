import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The slowest files first (15-90 s each on the 2-core machine). On a fresh clone vitest has no
// timings and starts the larger files first, which left two 30 s files for the end of the run.
const SLOW_FIRST = [
  "pytorch-target-specs",
  "spec-goldens",
  "tricks",
  "source-hygiene",
  "run-dir",
  "pytorch-target-tricks",
  "pytorch-target-python",
  "cli",
  "injection-targets",
  "trainer-e2e",
];
class SlowFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((s) => f.moduleId.endsWith(`/test/${s}.test.ts`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted
      .map((f, k) => ({ f, k }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.k - b.k)
      .map((x) => x.f);
  }
}

export default defineConfig({
  resolve: { alias: { "dnnc/runtime": fileURLToPath(new URL("./runtime/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // both cores: vitest's default (cores - 1) runs the suite on one worker on a 2-core machine
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
    reporters: ["default", "json"],
    outputFile: { json: ".ci/vitest-report.json" },
  },
});
