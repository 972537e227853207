// `dnnc check` looks at the data when it can reach it: the spec's source (or --data) is loaded with
// the trainer's own loaders (runtime/node/main.ts loadData: the same reading settings, splits,
// vocabularies and messages) and fitted against the model (runtime/train-loop.ts checkDataFits),
// so what would stop `train` at its first step is reported by `check`, at the spec's line:col:
//  - E0701, a WARNING: the data path does not exist; nothing else is checked. A spec that needs no
//    data to compile still checks without it (exit 0: a spec may be checked where its data is
//    not, as in CI), but says so at the source's line:col;
//  - E0702 (an error): the data is there but the loader refuses it (a missing CSV column, a bad
//    cell, a metadata line, an empty class folder, an image of another size...), at the source;
//  - E0703 (an error): the samples do not fit the model (their shape against `input`, at `input`;
//    more classes than the model's outputs, at the source).
// Runs after the front end, on a lowered IR (the model's input and output sizes).
import { existsSync } from "node:fs";
import type { Span } from "../grammar/ast";
import { diag, type Diagnostic } from "../grammar/diagnostics";
import type { Program } from "../runtime/program";
import { loadData } from "../runtime/node/main";
import { checkDataFits } from "../runtime/train-loop";
import { lossPositions, type IR } from "./ir";
import type { Spec } from "./spec";

/** What loadData and checkDataFits read of a compiled trainer's Program, from the IR. */
function programOf(ir: IR): Program {
  const positions = lossPositions(ir);
  return {
    meta: {
      name: ir.name,
      file: ir.file,
      inputShape: ir.input.shape,
      inputSize: ir.input.size,
      outputSize: ir.output.size,
      batch: ir.batch,
      ...(positions > 1 ? { positions } : {}),
    },
    loss: ir.loss,
    train: ir.train,
    data: ir.data,
  } as unknown as Program;
}

/** The data checks of a spec whose front end passed; `dataPath`: the source's path (or --data), resolved. */
export function checkData(spec: Spec, ir: IR, dataPath: string): Diagnostic[] {
  const at = spec.data.source.span;
  if (!existsSync(dataPath))
    return [
      {
        ...diag("E0701", at, { detail: `${dataPath}: no such file or directory` }, "the data checks were skipped; `train` needs this data (or --data PATH)"),
        severity: "warning",
      },
    ];
  const p = programOf(ir);
  let data: ReturnType<typeof loadData>;
  try {
    data = loadData(p, dataPath);
  } catch (e) {
    const message = (e as Error).message;
    // a loader that knows the model's input says so (categorical columns: the encoded width)
    if (/ the model's input is /.test(message)) return [diag("E0703", spec.inputSpan ?? at, { detail: message })];
    return [diag("E0702", at, { detail: message })];
  }
  // with a preprocessing that changes the number of features, the size is only known once fitted
  const sized = spec.data.preprocess.length === 0;
  for (const [ds, what] of [
    [data.train, "training data"],
    [data.test, "test data"],
  ] as const) {
    if (!ds) continue;
    try {
      checkDataFits(p, ds, what, sized ? undefined : p.meta.inputSize);
    } catch (e) {
      const message = (e as Error).message;
      const span: Span = / the model's input is /.test(message) ? (spec.inputSpan ?? at) : at;
      return [diag("E0703", span, { detail: message })];
    }
  }
  return [];
}
