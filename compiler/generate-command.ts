// `dnnc generate RUN`: sample text from a trained character language model (runtime/generate.ts
// has the sampling and its conventions). The vocabulary is the one stored with the model
// (model.safetensors metadata), never re-read from the corpus.
import { createBackend } from "../runtime/backend-create";
import { vocabFromMetadata } from "../runtime/data/vocab";
import { DnncError } from "../runtime/errors";
import { generateText, languageModelShape, type GenerateOptions } from "../runtime/generate";
import { bindWeights, openRun } from "./load-run";

export interface GenerateCommandOptions extends GenerateOptions {
  prompt: string;
  backend?: "auto" | "wasm" | "ts";
}

export interface GenerateResult {
  prompt: string;
  samples: string[];
  unknownInPrompt: number;
}

export async function generateFromRun(runDir: string, o: GenerateCommandOptions): Promise<GenerateResult> {
  const run = await openRun(runDir);
  const p = run.program;
  languageModelShape(p); // a clear refusal before the backend starts
  const vocab = vocabFromMetadata(run.metadata, run.weightsFile);
  if (!vocab) throw new DnncError(`${run.weightsFile}: no vocabulary in its metadata (written by a dnnc before sequence sources?)`);
  const be = await createBackend(p.meta.heapFloats, { backend: o.backend ?? "auto" });
  try {
    bindWeights(run, be.H);
    const model = p.create(be, 0);
    const g = generateText(p, model, be.H, vocab, o.prompt, o);
    return { prompt: o.prompt, ...g };
  } finally {
    be.close();
  }
}
