// One search trial, run inside a worker thread (dist/trial-worker.mjs): compile the concrete spec,
// train it for the trial's budget of epochs with the trial's seed, and return its metrics.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { initFromFile, loadInitFromFile } from "../runtime/node/init-from-file";
import { pathToFileURL } from "node:url";
import { readDataFacts } from "./data-facts";
import { compileToIr } from "./pipeline";
import { renderDiagnostics } from "../grammar/diagnostics";
import { generateTrainer } from "./codegen/emit-trainer";
import { bundleTrainer } from "./codegen/bundle";
import { createBackend, type BackendKind } from "../runtime/backend-create";
import { loadData } from "../runtime/node/main";
import { train } from "../runtime/train-loop";
import { DnncError } from "../runtime/errors";
import { asUserError } from "../runtime/node/fs-errors";
import type { Program } from "../runtime/program";

export interface TrialJob {
  specText: string;
  specPath: string;
  seed: number;
  epochs?: number;
  dataDir: string;
  backend?: BackendKind;
}

/** One trial; a file-system failure (a missing data file, ENOSPC in the temporary directory) is recorded as "PATH: reason". */
export async function runTrial(job: TrialJob): Promise<{ metrics: Record<string, number | null> }> {
  try {
    return await trial(job);
  } catch (e) {
    throw asUserError(e) ?? e;
  }
}

async function trial(job: TrialJob): Promise<{ metrics: Record<string, number | null> }> {
  const r = compileToIr(job.specText, job.specPath, { facts: (spec) => readDataFacts(spec, job.dataDir) });
  if (!r.ir) throw new DnncError(renderDiagnostics(r.diagnostics, job.specText));
  // fine-tuning: the trial starts from the spec's init_from like a run (an absolute path: the trainer runs from a temporary directory)
  const initFrom = r.ir.initFrom !== undefined ? initFromFile(resolve(dirname(job.specPath), r.ir.initFrom)) : undefined;
  const ts = (await generateTrainer(r.ir, { dataPath: job.dataDir, ...(initFrom ? { initFrom } : {}) })).text;
  const dir = mkdtempSync(join(tmpdir(), "dnnc-trial-"));
  try {
    const file = join(dir, "trial.trainer.mjs");
    writeFileSync(file, await bundleTrainer(ts, "trial.trainer.ts"));
    const { program } = (await import(pathToFileURL(file).href)) as { program: Program };
    const data = loadData(program, job.dataDir);
    const be = await createBackend(program.meta.heapFloats, { backend: job.backend ?? "auto", threads: 1 });
    try {
      const model = program.create(be, job.seed);
      model.init();
      if (program.meta.initFrom !== undefined) loadInitFromFile(program, be.H, program.meta.initFrom);
      const res = train(program, be, model, data, { epochs: job.epochs, seed: job.seed });
      const last = res.epochs[res.epochs.length - 1];
      return {
        metrics: {
          val_loss: last?.val_loss ?? null,
          val_acc: last?.val_acc ?? null,
          train_loss: last?.train_loss ?? null,
          test_loss: res.test_loss,
          test_acc: res.test_acc,
          epochs: res.epochs.length,
        },
      };
    } finally {
      be.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
