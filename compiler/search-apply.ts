// Hyperparameter paths: `train.optimizer.lr`, `train.weight_decay`, `train.optimizer`,
// `model.dropout[0].p`, `model.dense[1].units`, `model.repeat[0].n`, `data.validation`.
// applyConfig writes concrete values into a copy of the spec's AST, which printSpec turns into a
// concrete .dnn file (the trial's spec, and the best configuration at the end of a search).
import type { Arg, Block, Element, SpecFile, Span, Statement, Value } from "../grammar/ast";
import { OPS } from "./ops";
import { dnnIdentifier } from "./escape";

export type ConfigValue = number | string;

function mkValue(v: ConfigValue, span: Span): Value {
  if (typeof v === "number") {
    const text = Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
    return { kind: "number", value: Number(text), text, span };
  }
  // a name (sgd, relu) stays a bare identifier; any other text is written as a string literal,
  // so that printSpec never writes a search value raw into the spec (choice("a\nmodel x {"))
  return dnnIdentifier(v) ? { kind: "ident", name: v, span } : { kind: "string", value: v, span };
}

function setArg(args: Arg[], key: string, positional: string[], v: ConfigValue, span: Span): void {
  const named = args.find((a) => a.key === key);
  if (named) {
    named.value = mkValue(v, named.value.span);
    return;
  }
  const pos = positional.indexOf(key);
  const posArgs = args.filter((a) => a.key === undefined);
  if (pos >= 0 && pos < posArgs.length) {
    posArgs[pos].value = mkValue(v, posArgs[pos].value.span);
    return;
  }
  args.push({ key, value: mkValue(v, span), span });
}

function walkLayers(body: Statement[], visit: (e: Element) => void): void {
  for (const st of body)
    for (const e of st.elements) {
      visit(e);
      if (e.body) walkLayers(e.body, visit);
    }
}

/** Apply one path = value; returns an error message when the path names nothing. */
export function applyPath(ast: SpecFile, path: string, v: ConfigValue): string | undefined {
  const m = /^(model|data|train)\.(.+)$/.exec(path);
  if (!m) return `a path starts with model., data. or train.: ${path}`;
  const block = ast.blocks.find((b) => b.kind === m[1]);
  if (!block) return `the spec has no ${m[1]} block`;
  const rest = m[2];
  if (m[1] === "model") {
    const lm = /^([a-z_0-9]+)\[(\d+)\]\.([a-z_0-9]+)$/.exec(rest);
    if (!lm) return `model paths look like model.dense[0].units: ${path}`;
    const [, op, idxText, arg] = lm;
    const def = OPS[op];
    if (!def) return `unknown layer ${op} in ${path}`;
    if (!(arg in def.schema.properties)) return `${op} has no argument ${arg}`;
    let k = 0;
    let found: Element | undefined;
    walkLayers(block.body, (e) => {
      if (e.name === op) {
        if (k === Number(idxText)) found = e;
        k++;
      }
    });
    if (!found) return `${path}: the model has ${k} ${op} layer(s)`;
    found.args ??= [];
    setArg(found.args, arg, def.positional, v, found.nameSpan);
    return undefined;
  }
  return applySetting(block, rest, v);
}

function applySetting(block: Block, rest: string, v: ConfigValue): string | undefined {
  const [name, arg] = rest.split(".");
  const st = block.body.find((s) => s.elements.length === 1 && s.elements[0].name === name);
  const span = block.kindSpan;
  if (!st) {
    if (arg !== undefined) return `${block.kind}.${name} is not set in the spec`;
    block.body.push({ elements: [{ name, nameSpan: span, values: [{ value: mkValue(v, span), span }], span }], span });
    return undefined;
  }
  const el = st.elements[0];
  if (arg === undefined) {
    // replace the whole value; for a call (optimizer), keep its learning rate
    const old = el.values[0]?.value;
    if (old && old.kind === "call" && typeof v === "string" && dnnIdentifier(v)) {
      const lr = old.args.find((a) => a.key === "lr" || a.key === undefined);
      el.values = [{ value: { kind: "call", name: v, nameSpan: old.nameSpan, args: lr ? [{ ...lr, key: "lr" }] : [], span: old.span }, span: old.span }];
    } else el.values = [{ value: mkValue(v, el.span), span: el.span }];
    el.args = undefined;
    return undefined;
  }
  const val = el.values[0]?.value;
  if (!val || (val.kind !== "call" && val.kind !== "ident")) return `${block.kind}.${name} has no arguments to set`;
  if (val.kind === "ident") {
    el.values[0].value = { kind: "call", name: val.name, nameSpan: val.span, args: [], span: val.span };
  }
  const call = el.values[0].value as Extract<Value, { kind: "call" }>;
  setArg(call.args, arg, ["lr"], v, call.span);
  return undefined;
}

/** A deep copy of the AST with every path of `config` applied (search block removed). */
export function applyConfig(ast: SpecFile, config: Record<string, ConfigValue>): { ast: SpecFile; errors: string[] } {
  const copy = structuredClone(ast) as SpecFile;
  copy.blocks = copy.blocks.filter((b) => b.kind !== "search");
  const errors: string[] = [];
  for (const [path, v] of Object.entries(config)) {
    const e = applyPath(copy, path, v);
    if (e) errors.push(e);
  }
  return { ast: copy, errors };
}
