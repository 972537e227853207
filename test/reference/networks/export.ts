// For make_reference.py: `npx tsx test/reference/networks/export.ts SPEC OUTDIR` writes
// OUTDIR/<stem>.trainer.py (the PyTorch target's trainer for SPEC) and OUTDIR/<stem>.init.safetensors
// (the initial weights OUR TypeScript trainer draws from the spec's seed).
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ourInitialTensors, pythonTrainer, safetensorsOf } from "./harness";

const [spec, out] = process.argv.slice(2);
const stem = basename(spec).replace(/\.dnn$/, "");
writeFileSync(join(out, `${stem}.trainer.py`), pythonTrainer(spec));
const { program, tensors } = await ourInitialTensors(spec);
writeFileSync(join(out, `${stem}.init.safetensors`), safetensorsOf(program, tensors));
process.stdout.write(`wrote ${join(out, `${stem}.trainer.py`)} and ${join(out, `${stem}.init.safetensors`)}\n`);
