// `dnnc evaluate RUN [--data PATH]`: score a trained run's model on data without touching the run
// (nothing is written, no lock is taken): the loss and accuracy, and for a regression model the
// mean absolute error, the root mean squared error and R². The data are read as the spec's source
// reads them (IDX directory, CSV file or directory, a text source), from --data or from the run's
// own source; the test split is scored when the data have one (an IDX directory's t10k files, a
// CSV directory's test.csv, a text source's `test`), otherwise every sample they hold. Works on
// runs written by dnnc train and by the PyTorch target (compiler/load-run.ts).
import { existsSync } from "node:fs";
import { createBackend } from "../runtime/backend-create";
import { DnncError } from "../runtime/errors";
import { loadDataStreaming } from "../runtime/node/main";
import { preprocessFromStored } from "../runtime/preprocess";
import { scoreDataset, type Score } from "../runtime/score";
import { checkDataFits } from "../runtime/train-loop";
import { bindWeights, openRun } from "./load-run";

export interface Evaluation extends Score {
  run: string;
  data: string;
  /** Which part of the data was scored. */
  split: "test" | "all";
}

export async function evaluateRun(runDir: string, data?: string): Promise<Evaluation> {
  const run = await openRun(runDir);
  const p = run.program;
  if (p.data.source.kind === "timeseries")
    throw new DnncError(
      `evaluate: a model trained on a timeseries(...) source is not supported (its standardization is fitted on the training span); its test figures are in ${runDir}/metrics.jsonl`,
    );
  const path = data ?? run.dataPath;
  if (!existsSync(path))
    throw new DnncError(`${path}: no such file or directory${data === undefined ? ` (the data of the run's spec; give --data PATH)` : ""}`);
  const loaded = await loadDataStreaming(p, path);
  const ds = loaded.test ?? loaded.train;
  const split = loaded.test ? "test" : "all";
  const pre = preprocessFromStored(run.metadata, run.tensors) ?? undefined;
  checkDataFits(p, ds, `${path}${loaded.test ? " (test split)" : ""}`, pre?.outDim);
  if (ds.n === 0) throw new DnncError(`${path}: no samples to score`);
  const be = await createBackend(p.meta.heapFloats, { backend: "auto" });
  try {
    bindWeights(run, be.H);
    const model = p.create(be, 0);
    return { run: runDir, data: path, split, ...scoreDataset(p, be, model, ds, pre) };
  } finally {
    be.close();
  }
}

const f4 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(4));

/** The human line: `RUN on PATH (test split, N samples): loss L acc A` (regression: mae, rmse, r2). */
export function evaluationLine(e: Evaluation): string {
  const figures = e.mae !== undefined ? `loss ${f4(e.loss)} mae ${f4(e.mae)} rmse ${f4(e.rmse)} r2 ${f4(e.r2)}` : `loss ${f4(e.loss)} acc ${f4(e.acc)}`;
  return `${e.run} on ${e.data} (${e.split === "test" ? "test split" : "every sample"}, ${e.n} samples): ${figures}`;
}

export async function evaluateCommand(runDir: string, o: { data?: string; json?: boolean }): Promise<number> {
  const e = await evaluateRun(runDir, o.data);
  if (o.json) {
    const num = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : x);
    process.stdout.write(
      JSON.stringify({
        ok: true,
        run: e.run,
        data: e.data,
        split: e.split,
        n: e.n,
        loss: num(e.loss),
        acc: num(e.acc),
        ...(e.mae !== undefined ? { mae: num(e.mae), rmse: num(e.rmse), r2: num(e.r2) } : {}),
      }) + "\n",
    );
  } else process.stdout.write(evaluationLine(e) + "\n"); // the result: printed under --quiet too, as predict's lines
  return 0;
}
