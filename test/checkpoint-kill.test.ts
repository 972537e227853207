// SIGKILL while a checkpoint is being written leaves the previous checkpoint loadable: writes go
// to a temporary file that is fsynced and renamed over the old one (runtime/node/atomic.ts). A
// child process writes large checkpoints in a loop and is killed at random moments; after every
// kill the checkpoint on disk must decode and hold one complete generation.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeSafetensors } from "../runtime/safetensors";

const dir = mkdtempSync(join(tmpdir(), "dnnc-kill-"));
const writer = join(dir, "writer.mts");
writeFileSync(
  writer,
  `import { writeFileAtomicSync } from ${JSON.stringify(resolve("runtime/node/atomic.ts"))};
import { encodeSafetensors } from ${JSON.stringify(resolve("runtime/safetensors.ts"))};
const path = process.argv[2];
const data = new Float32Array(4_000_000);
for (let gen = 1; ; gen++) {
  data.fill(gen);
  writeFileAtomicSync(path, encodeSafetensors([{ name: "params", shape: [data.length], data }], { generation: String(gen) }));
  if (gen === 1) process.stdout.write("first\\n");
}
`,
);

describe("checkpoint writes survive SIGKILL", () => {
  it("after kills at random moments the file always decodes to one whole generation", async () => {
    const path = join(dir, "checkpoint.safetensors");
    for (let k = 0; k < 5; k++) {
      const child = spawn(process.execPath, ["--import", "tsx", writer, path], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((res) => child.stdout.once("data", () => res()));
      await new Promise((r) => setTimeout(r, 50 + k * 37));
      child.kill("SIGKILL");
      await new Promise((r) => child.on("exit", r));
      expect(existsSync(path)).toBe(true);
      const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
      const gen = Number(metadata.generation);
      expect(gen).toBeGreaterThan(0);
      const d = tensors[0].data;
      expect(d.length).toBe(4_000_000);
      expect(d[0]).toBe(gen);
      expect(d[d.length - 1]).toBe(gen);
    }
  });
});
