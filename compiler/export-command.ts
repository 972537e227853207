// `dnnc export RUN [-o FILE] [--format onnx]`: write a run directory's trained model as ONNX
// (compiler/export/onnx.ts; conventions in docs/export.md). The run directory is what
// `dnnc train` writes: the spec (spec.dnn, or the one *.dnn file) and model.safetensors with the
// trained parameters, running statistics and fitted preprocessing; or one the PyTorch target wrote
// (model.safetensors, whose metadata names the spec: compiler/load-run.ts findRunSpec).
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DnncError } from "../runtime/errors";
import { readBytes } from "../runtime/node/files";
import { decodeSafetensors } from "../runtime/safetensors";
import { factsFromMetadata } from "./data-facts";
import { compileToIr } from "./pipeline";
import { exportOnnx, ONNX_OPSET, type OnnxExport, type OnnxExportOptions } from "./export/onnx";
import { DNNC_VERSION } from "./version";
import { checkTarget } from "./check-targets";
import { findRunSpec } from "./load-run";

export interface ExportOptions {
  run: string;
  out?: string;
  format?: "onnx";
  json?: boolean;
}

/** Read a run directory and build its ONNX model (throws DnncError on a bad run directory). */
export function exportRun(run: string, opts: OnnxExportOptions = {}): OnnxExport {
  if (!existsSync(run) || !statSync(run).isDirectory()) throw new DnncError(`${run}: no such run directory`);
  const weights = join(run, "model.safetensors");
  if (!existsSync(weights)) {
    if (!readdirSync(run).some((f) => f.endsWith(".dnn"))) throw new DnncError(`${run}: no spec.dnn (is this a directory written by dnnc train?)`);
    throw new DnncError(`${run}: no model.safetensors (has the run finished training?)`);
  }
  const { tensors, metadata } = decodeSafetensors(readBytes(weights), weights);
  // RUN/spec.dnn, the one *.dnn in RUN, or (a run of the PyTorch target) the spec the weights name
  const specPath = findRunSpec(run, metadata);
  // as readFileSync(path, "utf8") (a byte order mark stays: it is part of the spec's hash), but a
  // directory or a missing file is an error naming it
  const facts = factsFromMetadata(metadata, weights);
  const r = compileToIr(new TextDecoder("utf-8", { ignoreBOM: true }).decode(readBytes(specPath)), specPath, {
    passes: "lower",
    facts: () => facts,
  });
  if (!r.ir) throw new DnncError(`${specPath}: does not compile (${r.diagnostics[0]?.message ?? "unknown error"})`);
  // an op the exporter cannot map: the uniform diagnostic (E0405), at its layer
  const refused = checkTarget(r.ir, "onnx", r.spec)[0];
  if (refused) throw new DnncError(`${specPath}:${refused.span.line}:${refused.span.col}: ${refused.message}`);
  if (metadata.spec_sha256 !== undefined && metadata.spec_sha256 !== r.ir.specHash) throw new DnncError(`${weights}: written by another spec than ${specPath}`);
  return exportOnnx(r.ir, tensors, metadata, {
    producerVersion: DNNC_VERSION,
    ...opts,
  });
}

/** Returns 0 when written; a user error (bad run directory, unwritable output, unknown format) is
 * thrown as DnncError, which the CLI reports (and, under --json, as its {ok:false} document). */
export async function exportCommand(opts: ExportOptions): Promise<number> {
  const format = opts.format ?? "onnx";
  {
    if (format !== "onnx") throw new DnncError(`export: unknown format "${format as string}" (expected onnx)`);
    const out = opts.out ?? join(opts.run, "model.onnx");
    const e = exportRun(opts.run);
    try {
      writeFileSync(out, e.bytes);
    } catch (err) {
      throw new DnncError(`${out}: cannot write (${(err as Error).message})`);
    }
    if (opts.json)
      process.stdout.write(
        JSON.stringify({
          ok: true,
          file: out,
          format,
          opset: ONNX_OPSET,
          nodes: e.nodes,
          parameters: e.parameters,
          bytes: e.bytes.length,
          input: e.inputShape,
          outputs: e.outputs,
        }) + "\n",
      );
    else process.stdout.write(`wrote ${out} (${e.nodes} nodes, ${e.parameters} parameters)\n`);
    return 0;
  }
}
