// The project's own specs under `dnnc test`: every spec in specs/ trains its golden number of steps
// and must reproduce its committed <spec>.golden.json (loss trace and test metrics). A spec
// without a committed golden fails (write it with `node bin/dnnc.mjs test specs/X.dnn --update`).
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { runSpecTest } from "../compiler/test-command";

const specs = readdirSync("specs")
  .filter((f) => f.endsWith(".dnn"))
  .sort();

describe("dnnc test over specs/", () => {
  for (const f of specs) {
    it(f, async () => {
      const path = `specs/${f}`;
      expect(existsSync(path.replace(/\.dnn$/, ".golden.json")), `${path} has no committed golden`).toBe(true);
      const r = await runSpecTest(path, false);
      expect(r.message).toBe(r.ok ? r.message : "ok");
      expect(r.ok).toBe(true);
    });
  }
});
