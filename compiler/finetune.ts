// Part of lowering — the train block's fine-tuning statements on the lowered chain: `freeze` and
// `lr_scale` name layers by node id (the prefix of their tensors in the state dict: conv2d_0,
// bn_1, dense_0), one by one or as inclusive ranges `a to b` of the chain in order. In: the nodes
// and params lowering built, the spec's FinetuneSpec, the init_from file's shapes (DataFacts, read by
// the CLI). Out: `frozen` on the nodes and params named, `lrScale` on params, diagnostics (E0801
// the file, E0802 an unknown name, E0803 what fine-tuning cannot do here). lower.ts calls it last.
import { diag, didYouMean, type Diagnostic } from "../grammar/diagnostics";
import type { IRNode, IRParam } from "./ir";
import type { DataFacts, LayerSelection, Spec } from "./spec";

/** The node ids a selection names, in chain order; undefined after a diagnostic. */
function select(sel: LayerSelection, setting: string, index: Map<string, number>, ids: string[], diags: Diagnostic[]): number[] | undefined {
  const out: number[] = [];
  const at = (r: { name: string; span: LayerSelection["span"] }): number | undefined => {
    const i = index.get(r.name);
    if (i === undefined) {
      // a layer's name is its op and its rank among layers of that op (`dense_1`), as in the state dict
      const hint = didYouMean(r.name, ids);
      diags.push(diag("E0802", r.span, { name: r.name, setting }, hint ?? "names are node ids as in the state dict and `dnnc compile --emit ir`"));
    }
    return i;
  };
  for (const it of sel.items) {
    if ("one" in it) {
      const i = at(it.one);
      if (i === undefined) return undefined;
      out.push(i);
      continue;
    }
    const a = at(it.from);
    const b = at(it.to);
    if (a === undefined || b === undefined) return undefined;
    if (b < a) {
      diags.push(
        diag(
          "E0803",
          it.to.span,
          { detail: `\`${it.from.name} to ${it.to.name}\`: ${it.to.name} comes before ${it.from.name} in the chain` },
          `write \`${it.to.name} to ${it.from.name}\``,
        ),
      );
      return undefined;
    }
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

/** Apply `freeze` and `lr_scale` to the lowered nodes and params (in place); false after a diagnostic. */
export function applyFinetune(spec: Spec, nodes: IRNode[], params: IRParam[], facts: DataFacts | undefined, diags: Diagnostic[]): boolean {
  const ft = spec.finetune;
  if (!ft) return true;
  const n0 = diags.length;
  const ids = nodes.map((n) => n.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const byName = new Map(params.map((p) => [p.name, p]));
  for (const sel of ft.freeze) {
    const picked = select(sel, "freeze", index, ids, diags);
    if (!picked) continue;
    for (const i of picked) {
      nodes[i].frozen = true;
      for (const p of nodes[i].params) byName.get(p)!.frozen = true;
    }
  }
  for (const { scale, sel } of ft.lrScale) {
    const picked = select(sel, "lr_scale", index, ids, diags);
    if (!picked) continue;
    for (const i of picked) for (const p of nodes[i].params) byName.get(p)!.lrScale = scale;
  }
  if (diags.length > n0) return false;

  if (ft.freeze.length > 0) {
    const span = ft.freeze[0].span;
    if (params.length > 0 && params.every((p) => p.frozen))
      diags.push(diag("E0803", span, { detail: "every parameter is frozen: nothing would be trained" }, "leave the head (at least) out of `freeze`"));
    if (spec.train.inputGradPenalty || spec.train.jacobianPenalty)
      diags.push(diag("E0803", span, { detail: "the smoothness penalties differentiate through every layer; they are not combined with `freeze`" }));
    // a frozen iternorm runs in evaluation mode; its backward in that mode is not written, so a
    // gradient must not reach it: every parameter before it must be frozen too (a frozen body).
    // (A frozen bn has one: compiler/ops/norm.ts bnEvalBackward.)
    const trained = new Set<string>();
    for (const n of nodes) {
      const reached = n.params.some((p) => !byName.get(p)!.frozen) || n.inputs.some((i) => trained.has(i));
      if (n.frozen && n.op === "iternorm" && n.inputs.some((i) => trained.has(i))) {
        const first = nodes.find((m) => m.params.some((p) => !byName.get(p)!.frozen));
        diags.push(
          diag(
            "E0803",
            span,
            {
              detail: `\`${n.id}\` (line ${n.line}) is frozen, so it normalizes with its running statistics, but the trained layer \`${first?.id}\` comes before it: the backward of an evaluation-mode iternorm is not implemented`,
            },
            `freeze the layers before ${n.id} too, or leave ${n.id} trainable`,
          ),
        );
        break;
      }
      if (reached) trained.add(n.output);
    }
  }

  const init = ft.initFrom;
  const file = facts?.initFrom;
  if (init && file) {
    if (file.error)
      diags.push(
        diag(
          "E0801",
          init.span,
          { detail: file.error },
          "give a .safetensors file written by dnnc (either target), or a run directory holding model.safetensors",
        ),
      );
    else if (file.shapes && !params.some((p) => file.shapes![p.name] !== undefined))
      diags.push(
        diag(
          "E0801",
          init.span,
          { detail: `${file.file} has no tensor named as a parameter of this model (it holds ${Object.keys(file.shapes).slice(0, 6).join(", ") || "none"})` },
          "parameters are matched by name: the layers must be named as in the model that wrote the file",
        ),
      );
  }
  return diags.length === n0;
}
