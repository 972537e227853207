// Fuzzing the front end: random and mutated specs through lex, parse, check, lower, the resource
// check, fuse, plan and (sampled) code generation. Usage:
//
//   npx tsx scripts/fuzz.mjs --n 100000 [--seed 1] [--codegen-every 500] [--write] [--out DIR]
//                            [--from K] [--hang-ms 10000]
//
// --from K replays the campaign of that seed checking only inputs K.. (the inputs depend on the
// seed and the corpus alone). A watchdog thread ends the run if one input takes over --hang-ms
// and writes that input to DIR/hang-seed<seed>.dnn.
//
// Inputs: a fast-check grammar of .dnn specs (valid-looking models with random layers, arguments,
// settings and formatting, with extreme numbers now and then), and a mutation fuzzer seeded with
// every specs/**/*.dnn (character flips, token deletion, duplication, swap, number and identifier
// replacement with extremes, hostile text, unicode, deep nesting, splices, truncation, CRLF).
// Oracle, per input: no exception escapes (anything that is not a returned diagnostic is a
// crash), no input takes over 1 s, every diagnostic has a span inside the source (file, line and
// column >= 1, line within the file, offsets within the text) and a message with no unfilled
// `{placeholder}`, every planned layout is sane (finite, in-bounds offsets), and generated code
// parses as TypeScript. Findings are deduplicated by signature, minimized, printed, and with
// --write saved to specs/fuzz-regressions/ (test/fuzz-regressions.test.ts replays them).
// The module also exports its parts: test/fuzz.test.ts runs a fixed-seed slice.
// Hostile strings through the emitters (TypeScript, PyTorch, HTML/SVG, ONNX, spec text written
// back), each checked by a parser of its target: scripts/fuzz-emitters.mjs.
import fc from "fast-check";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileToIr } from "../compiler/pipeline";
import { ACTIVATIONS, OPS } from "../compiler/ops";

export const SLOW_MS = 1000;

// ---- corpus -----------------------------------------------------------------------------------

/** Every .dnn file under `root`, sorted by path (deterministic). */
export function loadCorpus(root = "specs") {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".dnn")) out.push({ path: p, text: readFileSync(p, "utf8") });
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

// ---- a small seeded PRNG for the mutation fuzzer ------------------------------------------------

export function makeRng(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)], chance: (p) => next() < p };
}

// ---- vocabulary ---------------------------------------------------------------------------------

export const EXTREME_NUMBERS = [
  "0",
  "-1",
  "1",
  "2",
  "0.0",
  "-0",
  ".5",
  "1e308",
  "1e309",
  "1e999",
  "-1e308",
  "1e-308",
  "5e-324",
  "1e-400",
  "4294967295",
  "4294967296",
  "2147483648",
  "65536",
  "65537",
  "100000",
  "9007199254740993",
  "99999999999999999999999999",
  "1_000_000",
  "1__0",
  "0.99",
  "0.999999999",
  "3",
  "1/0",
  "0/0",
  "1e308*10",
  "-1e999/1e999",
  "NaN",
  "Infinity",
  "-Infinity",
  "1e",
  "0x10",
  "1.2.3",
  "00",
  "12345678901234567890e300",
];

export const HOSTILE_NAMES = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "then",
  "eval",
  "process",
  "require",
  "import",
  "globalThis",
  "x",
  "H",
  "gemm",
  "n",
  "train",
  "step",
  "seed",
  "true",
  "false",
  "null",
  "undefined",
  "NaN",
  "on",
  "auto",
  "same",
  "valid",
  "epoch",
  "a".repeat(300),
  "_",
  "__",
  "Dense",
  "DENSE",
  "dense_0",
  "z",
  "grad",
  "model",
  "data",
  "search",
];

export const HOSTILE_TEXT = [
  '"',
  "'",
  "`",
  "${",
  "}",
  "*/",
  "/*",
  "//",
  "#",
  "\\",
  "\n",
  "\r",
  "\r\n",
  "\t",
  "\0",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\u00e9",
  "\u{1F600}",
  "\ud800",
  "é",
  "ü",
  "ℕ",
  "\u200b",
  "<!--",
  "-->",
  "</script>",
  "\x1b[31m",
  '")\nprocess.exit(1)\n("',
  "'+1+'",
  "`${process.exit(1)}`",
  "*/ process.exit(1) /*",
];

const KEYWORDS = [
  "model",
  "data",
  "train",
  "search",
  "input",
  "loss",
  // every layer of the language, from the op registry
  ...Object.keys(OPS),
  "source",
  "idx",
  "csv",
  "validation",
  "scale",
  "shift",
  "preprocess",
  "augment",
  "seed",
  "batch",
  "epochs",
  "optimizer",
  "sgd",
  "adam",
  "adamw",
  "adagrad",
  "rmsprop",
  "weight_decay",
  "l1",
  "decay_bias",
  "decay_norm",
  "clip_norm",
  "clip_value",
  "schedule",
  "schedule_per",
  "warmup",
  "early_stopping",
  "softmax_cross_entropy",
  "mse",
  "bce_with_logits",
  "huber",
  "units",
  "bias",
  "init",
  "kernel",
  "stride",
  "padding",
  "dilation",
  "groups",
  "filters",
  "p",
  "momentum",
  "eps",
  "affine",
  "proj",
  "lr",
  "nesterov",
  "beta1",
  "beta2",
  "amsgrad",
  "label",
  "patience",
  "monitor",
  "val_loss",
  "val_acc",
  "every",
  "step",
  "cosine",
  "constant",
  "plateau",
  "multistep",
  "kaiming_normal",
  "xavier_uniform",
  "orthogonal",
  "weight_norm",
  "max_norm",
  "label_smoothing",
  "delta",
];

const SNIPPETS = [
  "->",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  "\n",
  ";",
  "=",
  ",",
  ":",
  ".",
  "-",
  "*",
  "/",
  "+",
  "residual {",
  "dense(",
  "input [",
  "[0]",
  ".x",
  " -> relu",
  "loss mse\n",
  "model m { }\n",
  "train { }",
  "data { }",
  "# comment\n",
  "// comment\n",
  "\n->",
  "()",
  "[]",
  "{}",
  "= =",
  ",,",
  "((",
  "))",
  "[[",
  "]]",
];

// ---- mutations ------------------------------------------------------------------------------------

const TOKEN_RE = /[A-Za-z_][A-Za-z0-9_]*|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|\.\d+|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|->|\s+|[^]/gu;

function tokens(text) {
  return text.match(TOKEN_RE) ?? [];
}

function nest(rng) {
  const depth = rng.pick([2, 8, 40, 200, 1000, 5000]);
  switch (rng.int(5)) {
    case 0:
      return "(".repeat(depth) + "1" + ")".repeat(depth);
    case 1:
      return "[".repeat(depth) + "]".repeat(depth);
    case 2:
      return "residual { ".repeat(depth) + "dense(4)" + " }".repeat(depth);
    case 3:
      return "f(".repeat(depth) + ")".repeat(depth);
    default:
      return "{".repeat(depth) + "}".repeat(depth);
  }
}

/** One random edit of `text`. */
function mutateOnce(text, rng, corpus) {
  const toks = tokens(text);
  const at = () => rng.int(Math.max(1, text.length + 1));
  const tokAt = () => rng.int(Math.max(1, toks.length));
  switch (rng.int(14)) {
    case 0: {
      // character flip: printable ASCII, or something hostile
      const i = at();
      const ch = rng.chance(0.7) ? String.fromCharCode(32 + rng.int(95)) : rng.pick(HOSTILE_TEXT);
      return text.slice(0, i) + ch + text.slice(i + 1);
    }
    case 1: {
      const i = tokAt();
      return [...toks.slice(0, i), ...toks.slice(i + 1)].join("");
    }
    case 2: {
      const i = tokAt();
      return [...toks.slice(0, i + 1), toks[i] ?? "", ...toks.slice(i + 1)].join("");
    }
    case 3: {
      const i = tokAt();
      const j = tokAt();
      const t = [...toks];
      [t[i], t[j]] = [t[j], t[i]];
      return t.join("");
    }
    case 4: {
      // number replacement
      const idx = toks.map((t, i) => (/^[\d.]/.test(t) ? i : -1)).filter((i) => i >= 0);
      if (idx.length === 0) return text + rng.pick(EXTREME_NUMBERS);
      const t = [...toks];
      t[rng.pick(idx)] = rng.pick(EXTREME_NUMBERS);
      return t.join("");
    }
    case 5: {
      // identifier replacement: keywords, hostile names
      const idx = toks.map((t, i) => (/^[A-Za-z_]/.test(t) ? i : -1)).filter((i) => i >= 0);
      if (idx.length === 0) return text;
      const t = [...toks];
      t[rng.pick(idx)] = rng.chance(0.5) ? rng.pick(KEYWORDS) : rng.pick(HOSTILE_NAMES);
      return t.join("");
    }
    case 6: {
      const i = at();
      return text.slice(0, i) + rng.pick(SNIPPETS) + text.slice(i);
    }
    case 7: {
      const i = at();
      return text.slice(0, i) + rng.pick(HOSTILE_TEXT) + text.slice(i);
    }
    case 8: {
      const i = at();
      return text.slice(0, i) + nest(rng) + text.slice(i);
    }
    case 9: {
      // splice a chunk of another corpus file
      const other = rng.pick(corpus).text;
      const a = rng.int(other.length + 1);
      const b = Math.min(other.length, a + rng.int(80));
      const i = at();
      return text.slice(0, i) + other.slice(a, b) + text.slice(i);
    }
    case 10:
      return text.slice(0, at());
    case 11:
      return rng.chance(0.5) ? text.replace(/\n/g, "\r\n") : text.replace(/\n/g, rng.pick(["\r", "\u2028", " ", ";"]));
    case 12: {
      // duplicate or delete a line
      const lines = text.split("\n");
      const i = rng.int(lines.length);
      if (rng.chance(0.5)) lines.splice(i, 0, lines[i]);
      else lines.splice(i, 1);
      return lines.join("\n");
    }
    default: {
      // string literal contents
      const idx = toks.map((t, i) => (/^["']/.test(t) ? i : -1)).filter((i) => i >= 0);
      const t = [...toks];
      const s = JSON.stringify(rng.pick(HOSTILE_TEXT) + rng.pick(HOSTILE_NAMES));
      if (idx.length === 0) return text + s;
      t[rng.pick(idx)] = s;
      return t.join("");
    }
  }
}

/** 1 to 4 random edits. */
export function mutate(text, rng, corpus) {
  let t = text;
  const k = 1 + rng.int(4);
  for (let i = 0; i < k; i++) t = mutateOnce(t, rng, corpus);
  return t;
}

// ---- the grammar arbitrary ------------------------------------------------------------------------

const small = (lo, hi) => fc.integer({ min: lo, max: hi }).map(String);
const extreme = fc.constantFrom(...EXTREME_NUMBERS);
/** Mostly a small integer in [lo, hi], sometimes an extreme. */
const numArb = (lo, hi) => fc.oneof({ weight: 39, arbitrary: small(lo, hi) }, { weight: 1, arbitrary: extreme });
const probArb = fc.oneof({ weight: 19, arbitrary: fc.constantFrom("0", "0.1", "0.25", "0.5", "0.9", "0.99") }, { weight: 1, arbitrary: extreme });
const realArb = fc.oneof({ weight: 19, arbitrary: fc.constantFrom("0.1", "1e-3", "5e-4", "0.01", "1", "1e-5", "1/255") }, { weight: 1, arbitrary: extreme });

/** `name(a, k=v, ...)` with the given positional and named argument arbitraries (each optional). */
function call(name, positional, named, required = 0) {
  return fc
    .tuple(
      fc.tuple(...positional.map((a, i) => (i < required ? a : fc.option(a, { freq: 4 })))),
      fc.tuple(
        ...Object.entries(named).map(([k, a]) =>
          fc.option(
            a.map((v) => `${k}=${v}`),
            { freq: 1 },
          ),
        ),
      ),
      fc.boolean(),
    )
    .map(([pos, nam, parens]) => {
      const ps = [];
      for (const p of pos) {
        if (p === null) break;
        ps.push(p);
      }
      const args = [...ps, ...nam.filter((x) => x !== null)];
      return args.length === 0 && parens ? name : `${name}(${args.join(", ")})`;
    });
}

const boolArb = fc.constantFrom("true", "false");
const initArb = fc.constantFrom(
  "torch_default",
  "xavier_normal",
  "xavier_uniform",
  "kaiming_normal",
  "kaiming_uniform",
  "orthogonal",
  "zeros",
  "ones",
  "normal",
  "uniform",
  "bogus",
);
const pairArb = (lo, hi) =>
  fc.oneof(
    numArb(lo, hi),
    fc.tuple(numArb(lo, hi), numArb(lo, hi)).map(([a, b]) => `[${a}, ${b}]`),
  );

const activation = fc.oneof(
  // the activations without arguments, from the op registry
  fc.constantFrom(...ACTIVATIONS.filter((a) => OPS[a].positional.length === 0)),
  call("leaky_relu", [realArb], {}),
  call("elu", [realArb], {}),
  call("dropout", [probArb], {}),
);
const denseArb = call(
  "dense",
  [numArb(1, 24)],
  { bias: boolArb, init: initArb, weight_decay: realArb, l1: realArb, max_norm: realArb, weight_norm: boolArb },
  1,
);
const flatLayer = fc.oneof(
  { weight: 4, arbitrary: denseArb },
  { weight: 3, arbitrary: activation },
  { weight: 1, arbitrary: call("bn", [], { momentum: probArb, eps: realArb, affine: boolArb }) },
  { weight: 1, arbitrary: call("layernorm", [], { eps: realArb, affine: boolArb }) },
);
const imageLayer = fc.oneof(
  {
    weight: 4,
    arbitrary: call(
      "conv2d",
      [numArb(1, 6), pairArb(1, 3)],
      {
        stride: pairArb(1, 2),
        padding: fc.oneof(pairArb(0, 1), fc.constantFrom("same", "valid")),
        dilation: pairArb(1, 2),
        groups: numArb(1, 2),
        bias: boolArb,
        weight_norm: boolArb,
        init: initArb,
      },
      2,
    ),
  },
  { weight: 2, arbitrary: call("maxpool2d", [pairArb(1, 3), pairArb(1, 2)], { padding: pairArb(0, 1) }, 1) },
  { weight: 1, arbitrary: call("avgpool2d", [pairArb(1, 3), pairArb(1, 2)], { padding: pairArb(0, 1) }, 1) },
  { weight: 3, arbitrary: activation },
  { weight: 1, arbitrary: call("bn", [], { momentum: probArb }) },
  { weight: 1, arbitrary: call("groupnorm", [numArb(1, 4)], { eps: realArb }, 1) },
  { weight: 1, arbitrary: fc.constantFrom("instancenorm", "layernorm") },
  { weight: 1, arbitrary: call("spatial_dropout", [probArb], {}) },
);
const residualOf = (layer) =>
  fc
    .tuple(fc.array(layer, { minLength: 1, maxLength: 3 }), fc.option(fc.constantFrom("auto", "none", "dense", "conv"), { freq: 2 }))
    .map(([body, proj]) => `residual${proj ? `(proj=${proj})` : ""} { ${body.join(" -> ")} }`);

const lossArb = fc.oneof(call("softmax_cross_entropy", [probArb], {}), fc.constantFrom("mse", "bce_with_logits", "l1"), call("huber", [realArb], {}));

const optimizerArb = fc.oneof(
  call("sgd", [realArb], { momentum: probArb, dampening: probArb, nesterov: boolArb }, 1),
  call("adam", [realArb], { beta1: probArb, beta2: probArb, eps: realArb, amsgrad: boolArb }),
  call("adamw", [realArb], { weight_decay: realArb }),
  call("adagrad", [realArb], { eps: realArb }),
  call("rmsprop", [realArb], { alpha: probArb, momentum: probArb, centered: boolArb }),
);
const scheduleArb = fc.oneof(
  fc.constantFrom("constant", "cosine"),
  call("step", [numArb(1, 10), probArb], {}, 1),
  call("exponential", [probArb], {}, 1),
  call("multistep", [fc.array(numArb(1, 20), { minLength: 0, maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`)], {}, 1),
  call("cosine_restarts", [numArb(1, 5)], { t_mult: numArb(1, 3) }, 1),
  call("plateau", [probArb, numArb(0, 5)], { monitor: fc.constantFrom("val_loss", "val_acc") }),
  call("inverse_time", [realArb], {}, 1),
);

const trainSettings = fc
  .tuple(
    ...[
      ["seed", numArb(0, 100)],
      ["batch", numArb(1, 64)],
      ["epochs", numArb(1, 5)],
      ["optimizer", optimizerArb],
      ["weight_decay", realArb],
      ["l1", realArb],
      ["decay_bias", boolArb],
      ["decay_norm", boolArb],
      ["clip_norm", realArb],
      ["clip_value", realArb],
      ["schedule", scheduleArb],
      ["schedule_per", fc.constantFrom("epoch", "step", "epoch", "step", "batch")],
      ["warmup", numArb(0, 5)],
      ["early_stopping", call("", [numArb(1, 5)], { monitor: fc.constantFrom("val_loss", "val_acc"), min_delta: realArb, every: numArb(1, 3) })],
    ].map(([k, a]) =>
      fc.option(
        a.map((v) => [k, v]),
        { freq: 2 },
      ),
    ),
  )
  .map((xs) => xs.filter((x) => x !== null));

const dataSettings = fc.tuple(
  fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => `source idx(${JSON.stringify("data/" + s)})`),
    fc
      .tuple(
        fc.string({ maxLength: 8 }),
        fc.oneof(
          fc.string({ maxLength: 4 }).map((s) => JSON.stringify(s)),
          small(0, 3),
        ),
      )
      .map(([p, l]) => `source csv(${JSON.stringify(p + ".csv")}, label=${l})`),
  ),
  fc.option(fc.oneof({ weight: 9, arbitrary: fc.constantFrom("0", "0.1", "0.25", "0.5") }, { weight: 1, arbitrary: probArb }).map((p) => `validation ${p}`)),
  fc.option(realArb.map((s) => `scale ${s}`)),
  fc.option(realArb.map((s) => `shift -${s}`)),
);

/** A whole spec as text, laid out with random separators, comments and line breaks. */
export function specArbitrary() {
  const image = fc.tuple(numArb(1, 3), numArb(3, 14), numArb(3, 14)).map(([c, h, w]) => ({ input: `[${c}, ${h}, ${w}]`, image: true }));
  const flat = numArb(1, 40).map((f) => ({ input: `[${f}]`, image: false }));
  const model = fc
    .tuple(
      fc.oneof(image, flat),
      fc.array(fc.oneof({ weight: 5, arbitrary: imageLayer }, { weight: 1, arbitrary: residualOf(imageLayer) }), { maxLength: 4 }),
      fc.constantFrom("flatten", "global_avgpool", "flatten", ""),
      fc.array(fc.oneof({ weight: 6, arbitrary: flatLayer }, { weight: 1, arbitrary: residualOf(flatLayer) }), { maxLength: 4 }),
      numArb(1, 10).map((k) => `dense(${k})`),
      lossArb,
      fc.oneof({ weight: 9, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.tuple(fc.oneof(flatLayer, imageLayer)) }), // a stray layer, rarely valid
    )
    .map(([inp, img, bridge, flatLs, head, loss, stray]) => {
      const chain = inp.image ? [...img, ...(bridge ? [bridge] : []), ...flatLs] : flatLs;
      return { input: inp.input, layers: [...chain, ...stray, head], loss };
    });
  return fc
    .tuple(
      fc.option(fc.constantFrom("m", "mnist_mlp", "__proto__", "constructor", "A".repeat(200)), { freq: 3 }),
      model,
      dataSettings,
      trainSettings,
      fc.array(fc.nat(), { minLength: 24, maxLength: 24 }),
      fc.constantFrom("\n", "\r\n"),
    )
    .map(([name, m, data, train, coin, eol]) => {
      let c = 0;
      const flip = (k) => coin[c++ % coin.length] % k === 0;
      const sep = () => (flip(5) ? "; " : flip(7) ? "\n\n" : "\n");
      const ind = () => (flip(3) ? "" : "  ");
      const arrow = () => (flip(6) ? "\n    -> " : " -> ");
      // group the chain into statements of 1-3 layers joined by ->
      const stmts = [];
      for (let i = 0; i < m.layers.length;) {
        const k = 1 + (coin[i % coin.length] % 3);
        stmts.push(m.layers.slice(i, i + k).join(arrow()));
        i += k;
      }
      const body = [`input ${m.input}`, ...stmts, `loss ${m.loss}`];
      const out = [];
      if (flip(4)) out.push("# generated by scripts/fuzz.mjs");
      out.push(`model${name ? " " + name : ""} {`);
      let text = "";
      body.forEach((s, i) => {
        const end = i === body.length - 1 ? "" : sep();
        text += ind() + s + (end !== "; " && flip(9) ? "  // note" : "") + end; // a comment runs to the end of its line
      });
      out.push(text);
      out.push("}");
      const dataLines = [data[0], ...data.slice(1).filter((x) => x !== null)];
      // early stopping needs a validation split: usually give it one
      if (train.some(([k]) => k === "early_stopping") && !data[1] && !flip(10)) dataLines.push("validation 0.2");
      out.push(flip(3) ? `data { ${dataLines.join("; ")} }` : `data {\n${dataLines.map((s) => "  " + s).join("\n")}\n}`);
      const trainLines = train.map(([k, v]) => (k === "early_stopping" ? `early_stopping${v.startsWith("(") ? v : `(${v})`}` : `${k} ${v}`));
      out.push(`train {${trainLines.length ? "\n" + trainLines.map((s) => "  " + s).join("\n") + "\n" : " "}}`);
      return out.join("\n").replace(/\n/g, eol) + eol;
    });
}

// ---- the oracle -------------------------------------------------------------------------------------

/** A planned layout is sane: safe-integer, in-bounds buffers; params inside the arena. */
export function layoutProblem(ir) {
  const L = ir.layout;
  if (!L) return "no layout after planMemory";
  if (!Number.isSafeInteger(L.heapFloats) || L.heapFloats <= 0) return `heapFloats ${L.heapFloats}`;
  for (const [k, o] of Object.entries(L.offsets)) {
    const s = L.sizes[k];
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(s) || o < 0 || s < 0 || o + s > L.heapFloats)
      return `buffer ${k} at ${o} (+${s}) outside the heap of ${L.heapFloats}`;
  }
  for (const p of ir.params) if (!(L.offsets[p.name] >= L.P && L.offsets[p.name] + p.size <= L.P + L.N)) return `param ${p.name} outside the arena`;
  return undefined;
}

/** What is wrong with one diagnostic's span and message, if anything. */
export function diagnosticProblem(d, source, file) {
  const s = d.span;
  const lines = source.split("\n");
  if (!s) return `${d.code} has no span`;
  if (s.file !== file) return `${d.code} span names file ${JSON.stringify(s.file)}`;
  for (const k of ["line", "col", "endLine", "endCol", "offset", "endOffset"]) if (!Number.isInteger(s[k])) return `${d.code} span.${k} = ${s[k]}`;
  if (s.line < 1 || s.col < 1) return `${d.code} span at ${s.line}:${s.col}`;
  if (s.line > lines.length) return `${d.code} span line ${s.line} past the end (${lines.length} lines)`;
  if (s.col > lines[s.line - 1].length + 1) return `${d.code} span col ${s.col} past the end of line ${s.line} (${lines[s.line - 1].length} chars)`;
  if (s.endLine < s.line || s.endLine > lines.length) return `${d.code} span ends at line ${s.endLine}`;
  if (s.offset < 0 || s.offset > source.length || s.endOffset < s.offset || s.endOffset > source.length)
    return `${d.code} span offsets ${s.offset}..${s.endOffset} (source has ${source.length})`;
  if (typeof d.message !== "string" || d.message.length === 0) return `${d.code} has no message`;
  if (/\{\w+\}/.test(d.message)) return `${d.code} message has an unfilled placeholder: ${d.message}`;
  if (d.severity !== "error" && d.severity !== "warning") return `${d.code} severity ${d.severity}`;
  return undefined;
}

let ts; // typescript, loaded on first code generation
let generateTrainer;

/**
 * Run one input through the front end (and code generation when `codegen`). Returns the outcome,
 * and `finding` when the oracle objects: { kind: crash|slow|span|layout|codegen, signature, detail }.
 */
export async function checkInput(source, { file = "fuzz.dnn", codegen = false } = {}) {
  const t0 = performance.now();
  let outcome = "diagnostics";
  let finding;
  const crash = (stage, e) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const frame = (err.stack ?? "").split("\n").find((l) => l.includes("/work/") || l.includes("at ")) ?? "";
    // a stack overflow surfaces wherever the stack ran out: one signature for all of them
    const where = /Maximum call stack/.test(err.message)
      ? ""
      : frame
          .replace(/\(.*\/(?=[^/]*\/[^/]*:\d+)/, "(")
          .replace(/:\d+\)?$/, "")
          .trim();
    return {
      kind: "crash",
      signature: `crash in ${stage}: ${err.name}: ${err.message.split("\n")[0].slice(0, 120).replace(/\d+/g, "N")} ${where}`,
      detail: err.stack ?? String(err),
    };
  };
  let diags = [];
  let ir;
  try {
    // the real pipeline (it runs checkResources between lowering and the later passes)
    const r = compileToIr(source, file);
    diags = r.diagnostics;
    ir = r.ir;
  } catch (e) {
    finding = crash("front end", e);
  }
  if (!finding) {
    for (const d of diags) {
      const p = diagnosticProblem(d, source, file);
      if (p) {
        finding = { kind: "span", signature: `bad diagnostic: ${p.replace(/\d+/g, "N").slice(0, 100)}`, detail: p };
        break;
      }
    }
  }
  if (!finding && ir) {
    outcome = "ir";
    const p = layoutProblem(ir);
    if (p) finding = { kind: "layout", signature: `bad layout: ${p.replace(/\d+/g, "N")}`, detail: p };
  }
  if (!finding && ir && codegen) {
    outcome = "codegen";
    try {
      generateTrainer ??= (await import("../compiler/codegen/emit-trainer")).generateTrainer;
      ts ??= (await import("typescript")).default;
      const text = (await generateTrainer(ir, { dataPath: "." })).text;
      const sf = ts.createSourceFile("t.ts", text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
      const errs = sf.parseDiagnostics ?? [];
      if (errs.length > 0)
        finding = { kind: "codegen", signature: `generated code does not parse: ${ts.flattenDiagnosticMessageText(errs[0].messageText, " ")}`, detail: text };
    } catch (e) {
      finding = crash("codegen", e);
    }
  }
  const ms = performance.now() - t0;
  if (!finding && ms > SLOW_MS && !codegen) finding = { kind: "slow", signature: `slow: over ${SLOW_MS} ms`, detail: `${ms.toFixed(0)} ms` };
  return { outcome, ms, finding };
}

// ---- the campaign -------------------------------------------------------------------------------------

/**
 * The campaign's inputs, in order, from `seed`: 40% from the grammar, 60% mutations (of corpus
 * files, or of grammar outputs). Deterministic: input k depends only on the seed and the corpus.
 */
export function* campaignInputs(seed, corpus) {
  const rng = makeRng(seed);
  const chunk = 500;
  let grammarPool = [];
  let chunkNo = 0;
  for (;;) {
    if (grammarPool.length === 0) grammarPool = fc.sample(specArbitrary(), { seed: seed * 7919 + chunkNo++, numRuns: chunk });
    if (rng.chance(0.4)) yield { src: grammarPool.pop(), grammar: true };
    else {
      const base = rng.chance(0.7) ? rng.pick(corpus).text : grammarPool.pop();
      yield { src: mutate(base, rng, corpus), grammar: false };
    }
  }
}

/**
 * A watchdog on another thread: if one input runs longer than `ms`, it writes the input to
 * `file`, says so on stderr and ends the process (a synchronous hang cannot be interrupted from
 * the thread that hangs). `set(index, src)` publishes the input about to run.
 */
async function startWatchdog(ms, file) {
  const { Worker } = await import("node:worker_threads");
  const cap = 1 << 20;
  const shared = new SharedArrayBuffer(16 + 2 * cap);
  const meta = new Int32Array(shared, 0, 4); // [sequence, index, length]
  const text = new Uint16Array(shared, 16, cap);
  const code = `
    const { workerData: { shared, ms, file, cap } } = require("node:worker_threads");
    const fs = require("node:fs");
    const meta = new Int32Array(shared, 0, 4), text = new Uint16Array(shared, 16, cap);
    let last = -1, since = Date.now();
    setInterval(() => {
      const seq = Atomics.load(meta, 0);
      if (seq !== last) { last = seq; since = Date.now(); return; }
      if (seq === 0 || Date.now() - since < ms) return;
      const n = Atomics.load(meta, 2);
      let s = ""; for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...text.subarray(i, Math.min(n, i + 8192)));
      fs.writeFileSync(file, s);
      fs.writeSync(2, "fuzz: input #" + Atomics.load(meta, 1) + " has run for over " + ms + " ms: written to " + file + "\\n");
      process.kill(process.pid, "SIGKILL");
    }, Math.min(250, ms / 4));`;
  const w = new Worker(code, { eval: true, workerData: { shared, ms, file, cap } });
  w.unref();
  let seq = 0;
  return {
    set(index, src) {
      const n = Math.min(src.length, cap);
      for (let i = 0; i < n; i++) text[i] = src.charCodeAt(i);
      Atomics.store(meta, 2, n);
      Atomics.store(meta, 1, index);
      Atomics.store(meta, 0, ++seq);
    },
    stop: () => w.terminate(),
  };
}

/**
 * `n` inputs of `campaignInputs(seed)`, checked from input `from` on (the earlier ones are only
 * generated: to replay a stretch). Every `codegenEvery`-th input that reaches IR also goes through
 * code generation. `hangMs` > 0 starts the watchdog (writing the hanging input to `hangFile`).
 */
export async function runCampaign({
  n,
  seed = 1,
  codegenEvery = 500,
  corpus = loadCorpus(),
  from = 0,
  hangMs = 0,
  hangFile = "fuzz-hang.dnn",
  onProgress,
  onFinding,
} = {}) {
  const stats = { inputs: 0, grammar: 0, mutated: 0, reachedIr: 0, codegens: 0, diagnosticsOnly: 0, slowest: 0, ms: 0 };
  const findings = new Map();
  const watchdog = hangMs > 0 ? await startWatchdog(hangMs, hangFile) : undefined;
  const t0 = performance.now();
  let irSeen = 0;
  let index = -1;
  for (const { src, grammar } of campaignInputs(seed, corpus)) {
    index++;
    if (index >= n) break;
    if (index < from) continue;
    if (grammar) stats.grammar++;
    else stats.mutated++;
    watchdog?.set(index, src);
    const r0 = await checkInput(src);
    let r = r0;
    if (r0.outcome === "ir") {
      stats.reachedIr++;
      if (irSeen++ % codegenEvery === 0) {
        r = await checkInput(src, { codegen: true });
        stats.codegens++;
      }
    } else stats.diagnosticsOnly++;
    stats.slowest = Math.max(stats.slowest, r0.ms);
    stats.inputs++;
    if (r.finding) {
      const f = findings.get(r.finding.signature);
      if (f) f.count++;
      else {
        const rec = { ...r.finding, input: src, count: 1, index };
        findings.set(r.finding.signature, rec);
        onFinding?.(rec);
      }
    }
    if (onProgress && stats.inputs % 5000 === 0) onProgress({ ...stats, ms: performance.now() - t0, findings: findings.size });
  }
  await watchdog?.stop();
  stats.ms = performance.now() - t0;
  return { stats, findings: [...findings.values()] };
}

/** Shrink `src` while `same(candidate)` holds: drop lines, then ever smaller chunks of characters. */
export async function minimize(src, same, budget = 400) {
  let cur = src;
  let tries = 0;
  const attempt = async (cand) => {
    if (tries++ >= budget || cand === cur) return false;
    if (await same(cand)) {
      cur = cand;
      return true;
    }
    return false;
  };
  let lines = cur.split("\n");
  for (let i = lines.length - 1; i >= 0 && tries < budget; i--) {
    const cand = [...lines.slice(0, i), ...lines.slice(i + 1)].join("\n");
    if (await attempt(cand)) lines = cur.split("\n");
  }
  for (let size = Math.max(1, cur.length >> 2); size >= 1 && tries < budget; size >>= 1) {
    for (let i = 0; i + size <= cur.length && tries < budget;) {
      if (!(await attempt(cur.slice(0, i) + cur.slice(i + size)))) i += size;
    }
  }
  return cur;
}

// ---- command line ----------------------------------------------------------------------------------------

async function main(argv) {
  const arg = (name, d) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : d;
  };
  const n = Number(arg("--n", "10000"));
  const seed = Number(arg("--seed", "1"));
  const codegenEvery = Number(arg("--codegen-every", "500"));
  const write = argv.includes("--write");
  const outDir = arg("--out", "specs/fuzz-regressions");
  const from = Number(arg("--from", "0"));
  const hangMs = Number(arg("--hang-ms", "10000"));
  console.log(`fuzz: ${n} inputs, seed ${seed}, code generation for 1 in ${codegenEvery} inputs that reach IR${from ? `, checking from input ${from}` : ""}`);
  mkdirSync(outDir, { recursive: true });
  const { stats, findings } = await runCampaign({
    n,
    seed,
    codegenEvery,
    from,
    hangMs,
    hangFile: join(outDir, `hang-seed${seed}.dnn`),
    onProgress: (s) => console.log(`  ${s.inputs} inputs, ${(s.ms / 1000).toFixed(1)} s, ${s.reachedIr} reached IR, ${s.findings} distinct findings`),
    onFinding: (f) => console.log(`  FINDING #${f.index} [${f.kind}] ${f.signature}`),
  });
  const known = new Set();
  for (const k of loadCorpus(outDir)) {
    const r = await checkInput(k.text);
    if (r.finding) known.add(r.finding.signature);
  }
  const report = [];
  for (const f of findings) {
    if (known.has(f.signature)) {
      report.push({ file: "(already in " + outDir + ")", kind: f.kind, signature: f.signature, count: f.count, input: f.input });
      continue;
    }
    const sameBug = async (cand) => {
      const r = await checkInput(cand, { codegen: f.kind === "codegen" || f.signature.startsWith("crash in codegen") });
      return r.finding?.signature === f.signature;
    };
    const small = f.kind === "slow" ? f.input : await minimize(f.input, sameBug);
    const name = `${f.kind}-${createHash("sha256").update(f.signature).digest("hex").slice(0, 10)}.dnn`;
    report.push({ file: name, kind: f.kind, signature: f.signature, count: f.count, input: small });
    if (write) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, name), small);
    }
  }
  console.log(
    JSON.stringify(
      {
        ...stats,
        seconds: +(stats.ms / 1000).toFixed(1),
        inputsPerSecond: Math.round(stats.inputs / (stats.ms / 1000)),
        slowestMs: +stats.slowest.toFixed(1),
        findings: report.map(({ input, ...r }) => ({ ...r, input: input.length > 400 ? input.slice(0, 400) + "…" : input })),
      },
      null,
      2,
    ),
  );
  return findings.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
