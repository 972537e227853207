// `dnnc export RUN [-o FILE] [--format onnx]`: write a run directory's trained model as ONNX.
// (Stub: the signature is fixed; the implementation follows in compiler/export/onnx.ts.)
import { DnncError } from "../runtime/errors";

export interface ExportOptions {
  run: string;
  out?: string;
  format?: "onnx";
  json?: boolean;
}

/** Returns the process exit code (0 written, 1 user error). */
export async function exportCommand(opts: ExportOptions): Promise<number> {
  throw new DnncError(`${opts.run}: dnnc export is not implemented yet`);
}
