// Where an IR node came from: the span of its layer in the spec (searched through repeat and
// residual bodies), for diagnostics that passes after lowering report.
import type { Span } from "../grammar/ast";
import type { IR, IRNode } from "./ir";
import type { LayerSpec, Spec } from "./spec";

/** The spec layer at a source position, searched through bodies. */
function findLayer(layers: LayerSpec[], line: number, col: number): LayerSpec | undefined {
  for (const l of layers) {
    if (l.span.line === line && l.span.col === col) return l;
    const inner = l.body ? findLayer(l.body, line, col) : undefined;
    if (inner) return inner;
  }
  return undefined;
}

/** The span of node n's layer (its whole extent when the spec is given, else its first character). */
export function nodeSpan(ir: IR, n: IRNode, spec?: Spec): Span {
  const l = spec ? findLayer(spec.layers, n.line, n.col) : undefined;
  if (l) return l.span;
  return {
    file: ir.file,
    line: Math.max(1, n.line),
    col: Math.max(1, n.col),
    endLine: Math.max(1, n.line),
    endCol: Math.max(1, n.col),
    offset: 0,
    endOffset: 0,
  };
}
