// What sequences share: the padding mask. A spec whose data are padded sequences (ir.data.lengths)
// carries each sample's valid length in the heap (`lengths`, B floats); every producer whose output
// is a sequence [T, F] then ends its tail with `seqmask` (the maskPadding pass), which zeroes the
// positions t >= length in the forward sweep and their gradient in the backward one. So a padded
// position changes nothing: a convolution sees zeros there as it would past the end of a shorter
// sequence, pooling over time and recurrent layers read the lengths themselves, and the loss skips
// targets of -1.
import type { TailOf } from "../ir";
import { unsupported, type TailOp } from "./op";

export type SeqMaskTail = TailOf<"seqmask">;

/** The condition "element i (flat, over the batch's (n, T, F) output) is a padded position". */
function padded(n: { outShape: number[] }, L: number, i: string): string {
  const [T, F] = n.outShape;
  return `((${i} / ${F}) | 0) % ${T} >= H[${L} + ((${i} / ${T * F}) | 0)]`;
}

export const seqMaskTail: TailOp = {
  forward: (_t, n, c, i) => [`if (${padded(n, c.off("lengths"), i)}) v = 0;`],
  backward: (_t, n, c) => [`if (${padded(n, c.off("lengths"), "i")}) d = 0;`],
  second: unsupported("padded sequences are not supported by the smoothness penalties"),
  pytorch: unsupported("padded sequences (a spec whose data source pads) are not supported by the PyTorch target yet"),
  onnx: unsupported("padded sequences are not exported to ONNX yet (the graph would need each sample's length as an input)"),
};
