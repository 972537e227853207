// Soak: train the example MLP for many epochs on the shipped subset and record resident memory and
// throughput per epoch. RSS must stay flat (within 5% between epoch 2 and the last) and speed
// steady. Usage: node scripts/soak.mjs [epochs=50] [--json out.json]. Prints a table.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const epochs = Number(process.argv[2] ?? 50);
const dir = mkdtempSync(join(tmpdir(), "dnnc-soak-"));
execFileSync(process.execPath, ["bin/dnnc.mjs", "compile", "specs/fashion-mlp.dnn", "-o", dir]);
// run the trainer as a child with --json and sample its RSS from /proc at every epoch line
const { spawn } = await import("node:child_process");
const { readFileSync } = await import("node:fs");
const child = spawn(
  process.execPath,
  [join(dir, "fashion-mlp.trainer.mjs"), "--epochs", String(epochs), "--json", "--data", resolve("specs/data/fashion-mnist-small")],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const rows = [];
let buf = "";
child.stdout.on("data", (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line);
    if (m.epoch === undefined) continue;
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
    rows.push({ epoch: m.epoch, rss_mb: rss, seconds: m.seconds, samples_per_s: 5400 / m.seconds, val_acc: m.val_acc });
    console.log(`epoch ${String(m.epoch).padStart(3)}  rss ${rss.toFixed(1)} MB  ${m.seconds.toFixed(2)} s  val_acc ${m.val_acc.toFixed(4)}`);
  }
});
await new Promise((r) => child.on("exit", r));
const e2 = rows.find((r) => r.epoch === 2);
const last = rows[rows.length - 1];
const drift = (last.rss_mb - e2.rss_mb) / e2.rss_mb;
const speeds = rows
  .slice(1)
  .map((r) => r.seconds)
  .sort((a, b) => a - b);
console.log(
  `RSS epoch 2 ${e2.rss_mb.toFixed(1)} MB, epoch ${last.epoch} ${last.rss_mb.toFixed(1)} MB: drift ${(drift * 100).toFixed(2)}%; epoch time median ${speeds[speeds.length >> 1].toFixed(2)} s, max ${speeds[speeds.length - 1].toFixed(2)} s`,
);
const jsonIdx = process.argv.indexOf("--json");
if (jsonIdx > 0) writeFileSync(process.argv[jsonIdx + 1], JSON.stringify({ rows, drift }, null, 1));
process.exit(Math.abs(drift) <= 0.05 ? 0 : 1);
