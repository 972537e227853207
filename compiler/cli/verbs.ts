// The verbs whose work lives in their own modules: each loaded only when its verb runs (startup
// cost of `dnnc check` stays the front end's).
import { join } from "node:path";
import { DnncError } from "../../runtime/errors";
import type { Out } from "./io";

export async function testVerb(specs: string[], o: { update: boolean }, out: Out): Promise<number> {
  let list = specs;
  if (list.length === 0) {
    const { existsSync, readdirSync } = await import("node:fs");
    if (!existsSync("specs")) throw new DnncError("test: name spec files (there is no specs/ directory here)");
    list = readdirSync("specs")
      .filter((f) => f.endsWith(".dnn"))
      .sort()
      .map((f) => join("specs", f));
  }
  out.info(`testing ${list.join(", ")}`);
  const { testCommand } = await import("../test-command");
  return testCommand(list, o.update, out.quiet, { json: out.json });
}

export async function predictVerb(run: string, o: { input: string[]; out?: string }, out: Out): Promise<number> {
  const { predictCommand } = await import("../predict-command");
  out.info(`run ${run}, inputs ${o.input.join(", ")}`);
  return predictCommand(run, o.input, o.out, { json: out.json, quiet: out.quiet });
}

export async function evaluateVerb(run: string, o: { data?: string }, out: Out): Promise<number> {
  const { evaluateCommand } = await import("../evaluate-command");
  out.info(`evaluate ${run}${o.data ? ` on ${o.data}` : ""}`);
  return out.time("evaluate", () => evaluateCommand(run, { data: o.data, json: out.json }));
}

export async function generateVerb(
  run: string,
  o: { prompt: string; length: number; temperature: number; topK: number; seed: number; samples: number; backend: "auto" | "wasm" | "ts" },
  out: Out,
): Promise<number> {
  const { generateFromRun } = await import("../generate-command");
  const r = await out.time("generate", () => generateFromRun(run, o));
  if (r.unknownInPrompt > 0 && !out.quiet)
    process.stderr.write(`warning: ${r.unknownInPrompt} character(s) of the prompt are not in the model's vocabulary (read as unknown, id 0)\n`);
  if (out.json) out.emit({ ok: true, run, prompt: r.prompt, samples: r.samples, unknownInPrompt: r.unknownInPrompt });
  else if (r.samples.length === 1) process.stdout.write(r.prompt + r.samples[0] + "\n");
  else r.samples.forEach((s, i) => process.stdout.write(`--- sample ${i + 1} ---\n${r.prompt}${s}\n`));
  return 0;
}

export async function augmentPreviewVerb(spec: string, o: { out: string; samples: number }, out: Out): Promise<number> {
  const { augmentPreview } = await import("../augment-preview");
  await out.time("augment-preview", () => augmentPreview(spec, o.out, o.samples));
  out.say(`wrote ${o.out}`);
  if (out.json) out.emit({ ok: true, spec, wrote: o.out, samples: o.samples });
  return 0;
}

export async function reportVerb(runs: string[], o: { out?: string }, out: Out): Promise<number> {
  const { writeReport } = await import("../report");
  const dest = o.out ?? (runs.length === 1 ? runs[0] : "report");
  const r = out.time("render report", () => writeReport(runs, dest));
  out.say(`wrote ${r.html}`);
  if (out.json) out.emit({ ok: true, runs, html: r.html, svgs: r.svgs });
  return 0;
}

export async function runsVerb(dir: string, out: Out): Promise<number> {
  const { runsCommand } = await import("../runs-command");
  return runsCommand(dir, { json: out.json });
}

export async function searchVerb(spec: string, o: { out?: string; data?: string; parallel?: number }, out: Out): Promise<number> {
  const { searchCommand } = await import("../search-command");
  return searchCommand(spec, { out: o.out, data: o.data, parallel: o.parallel, quiet: out.quiet, json: out.json });
}

export async function exportVerb(run: string, o: { out?: string; format: "onnx" }, out: Out): Promise<number> {
  const { exportCommand } = await import("../export-command");
  out.info(`export ${run} as ${o.format}${o.out ? ` to ${o.out}` : ""}`);
  return out.time("export", () => exportCommand({ run, out: o.out, format: o.format, json: out.json }));
}

export async function lspVerb(): Promise<number> {
  const { runLanguageServer } = await import("../lsp");
  return runLanguageServer();
}
