// planMemory shares heap memory between buffers that are never live at the same moment of a step.
// Two checks:
// 1. no two buffers that are live together overlap, with liveness derived here from the IR and a
//    table of what each op's generated forward and backward touch (not from plan-memory.ts);
// 2. the same bytes: random models trained a few steps (with validation and test evaluation) give
//    bit-identical losses and parameters with the shared layout and with one buffer per tensor
//    (planMemory(ir, { reuse: false })), on the TypeScript and the wasm backends. A buffer
//    overwritten while still needed would change them.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync, readdirSync } from "node:fs";
import { transformSync } from "esbuild";
import { compileToIr } from "../compiler/pipeline";
import { planMemory } from "../compiler/plan-memory";
import type { IR, IRNode } from "../compiler/ir";
import { emitModel } from "../compiler/codegen/emit-model";
import { emitPenalty } from "../compiler/codegen/emit-penalty";
import { planPenaltyMemory } from "../compiler/plan-penalty-memory";
import { programConstants } from "../compiler/codegen/emit-trainer";
import * as runtime from "../runtime/index";
import { createBackend } from "../runtime/backend-create";
import { train } from "../runtime/train-loop";
import type { Backend } from "../runtime/backend";
import type { Model, Program } from "../runtime/program";
import type { Dataset } from "../runtime/data/dataset";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function compile(src: string, file = "t.dnn"): IR {
  const r = compileToIr(src, file);
  if (!r.ir) throw new Error(`${file}: ${r.diagnostics.map((d) => d.message).join("; ")}\n${src}`);
  return r.ir;
}

/** The same IR planned with one buffer per tensor (the reference layout). */
function unshared(ir: IR): IR {
  return planPenaltyMemory(planMemory({ ...ir, layout: undefined }, { reuse: false }));
}

// ---- 1. liveness from the IR --------------------------------------------------------------------
/** Ops whose backward reads its input activation (weight gradient or norm statistics). */
const BACKWARD_READS_INPUT: Record<string, boolean> = {
  identity: false,
  add: false,
  maxpool2d: false,
  avgpool2d: false,
  global_avgpool: false,
  global_maxpool: false,
  maxpool1d: false,
  avgpool1d: false,
  last: false,
  pos_embedding: false, // x + a table: its backward passes dy through
  dense: true,
  conv2d: true,
  bn: true,
  layernorm: true,
  groupnorm: true,
  instancenorm: true,
  iternorm: true,
};

/**
 * name -> moments at which the generated code touches it, and whether its content must survive
 * between them (everything but im2col columns and the gradient scratch). Moments: 0 the batch,
 * 1..N forward, N+1 the loss, then backward N-1..0, then the penalty.
 */
function touches(ir: IR): { at: Map<string, number[]>; need: Map<string, number>; persistent: (name: string) => boolean } {
  const L = ir.layout!;
  const N = ir.nodes.length;
  const fwd = (i: number) => 1 + i;
  const bwd = (i: number) => 2 * N + 1 - i;
  const at = new Map<string, number[]>();
  const need = new Map<string, number>(); // floats scratch:grad must hold
  const scratch = (m: number, floats: number) => {
    touch("scratch:grad", m);
    need.set("scratch:grad", Math.max(need.get("scratch:grad") ?? 0, floats));
  };
  // resolve a tensor name to the buffer name that owns its memory (flatten views, tail-less Z)
  const owner = new Map<string, string>();
  for (const n of ir.nodes) {
    if (n.op === "flatten") {
      owner.set(n.output, owner.get(n.inputs[0]) ?? n.inputs[0]);
      owner.set(`grad:${n.output}`, owner.get(`grad:${n.inputs[0]}`) ?? `grad:${n.inputs[0]}`);
    } else if (n.tail.length === 0) owner.set(n.output, `z:${n.id}`);
  }
  const touch = (name: string, m: number) => {
    const o = owner.get(name) ?? name;
    if (o === "x" || o === "grad:x") return; // fixed (x) or never touched (grad:x)
    if (L.offsets[o] === undefined) throw new Error(`no buffer ${o}`);
    at.set(o, [...(at.get(o) ?? []), m]);
  };
  const own = (n: IRNode) =>
    Object.keys(L.offsets)
      .filter((k) => /^(col|w|wnorm|scratch:wn|idx|mean|invstd|save|tmp):/.test(k) && k.endsWith(`:${n.id}`) && !k.startsWith(`grad:`))
      .concat(n.tail.filter((t) => t.op === "dropout" || t.op === "spatial_dropout").map((t) => `mask:${t.id}`));
  const grads = new Set<string>();
  // a 2x2 max pool that applies its input's ReLU reads the producer's z, and the ReLU's output is
  // never written (the generated code: emit-model's maxPool2dForward(..., true))
  // pools that apply their producer's ReLU in the forward (scheduleKernels): pool id -> producer id
  const reluInPool = new Map(ir.nodes.flatMap((n) => (n.sched?.poolRelu?.forward ? [[n.id, n.sched.poolRelu.of] as const] : [])));
  const reluSkipped = new Set(reluInPool.values());
  ir.nodes.forEach((n, i) => {
    if (n.params.length > 0 || n.inputs.some((x) => grads.has(x))) grads.add(n.output);
    if (n.op === "flatten") return;
    const from = reluInPool.get(n.id);
    for (const x of n.inputs) touch(from ? `z:${from}` : x, fwd(i));
    touch(`z:${n.id}`, fwd(i));
    if (!reluSkipped.has(n.id)) touch(n.output, fwd(i));
    for (const b of own(n)) touch(b, fwd(i));
  });
  const last = ir.nodes[N - 1].output;
  touch(last, N + 1);
  touch(`grad:${last}`, N + 1);
  const written = new Map<string, number>();
  for (let i = N - 1; i >= 0; i--) {
    const n = ir.nodes[i];
    if (n.op === "flatten" || !grads.has(n.output)) continue;
    touch(`grad:${n.output}`, bwd(i));
    if (n.tail.length > 0) touch(`z:${n.id}`, bwd(i));
    for (const b of own(n)) touch(b, bwd(i));
    for (const x of n.inputs) {
      if (BACKWARD_READS_INPUT[n.op] ?? true) touch(x, bwd(i));
      const base = owner.get(x) ?? x;
      if (grads.has(x) && base !== "x") {
        touch(`grad:${x}`, bwd(i));
        const k = (written.get(base) ?? 0) + 1;
        written.set(base, k);
        if (k >= 2) scratch(bwd(i), ir.batch * prod(n.inShape)); // accumulation: written to scratch, then added
      } else if (["bn", "layernorm", "groupnorm", "instancenorm"].includes(n.op) && (n.attrs as { affine?: boolean }).affine)
        scratch(bwd(i), ir.batch * prod(n.inShape)); // dx discarded
    }
  }
  if (ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined)
    for (const [k, v] of at) if (!k.startsWith("grad:") && k !== "scratch:grad") v.push(2 * N + 2);
  // a recurrent or attention layer's tmp is its kernels' transient scratch (runtime/kernels/rnn-layer.ts,
  // attention.ts): what survives from its forward to its backward is in save; norm.ts's tmp (IterNorm) does survive
  const rnnTmp = new Set(ir.nodes.filter((n) => n.op === "lstm" || n.op === "gru" || n.op === "attention").map((n) => `tmp:${n.id}`));
  return {
    at,
    need,
    persistent: (name) =>
      (!/^(col|scratch:wn|scratch:grad)\b/.test(name) && !rnnTmp.has(name)) ||
      ((ir.train.inputGradPenalty ?? ir.train.jacobianPenalty) !== undefined && name.startsWith("col:")),
  };
}

/** Pairs of buffers that are live together (as derived above) yet share memory. */
function conflicts(ir: IR): string[] {
  const L = ir.layout!;
  const { at, need, persistent } = touches(ir);
  const live = new Map<string, [number, number][]>();
  for (const [k, m] of at) live.set(k, persistent(k) ? [[Math.min(...m), Math.max(...m)]] : m.map((x) => [x, x]));
  const fixed = [...ir.params.flatMap((p) => [p.name, `grad:${p.name}`]), ...ir.stats.map((s) => s.name), "x", "labels"];
  const always: [number, number][] = [[-1, 1e9]];
  for (const k of fixed) live.set(k, always);
  const state = L.slots > 0 ? [{ name: "optimizer state", o: L.S, e: L.S + L.slots * L.N }] : [];
  const names = [...live.keys()];
  const out: string[] = [];
  const region = (k: string) => ({ name: k, o: L.offsets[k], e: L.offsets[k] + L.sizes[k] });
  for (let a = 0; a < names.length; a++) {
    const A = region(names[a]);
    if (A.e > L.heapFloats) out.push(`${A.name} ends past the heap`);
    if (at.has(A.name) && !(A.e - A.o >= Math.max(1, need.get(A.name) ?? 0)))
      out.push(`${A.name} holds ${A.e - A.o} floats, needs ${need.get(A.name) ?? "some"}`);
    for (const S of state) if (A.o < S.e && S.o < A.e) out.push(`${A.name} overlaps the ${S.name}`);
    for (let b = a + 1; b < names.length; b++) {
      const B = region(names[b]);
      if (A.o === B.o && A.e === B.e && A.e - A.o === 0) continue;
      const together = live.get(A.name)!.some(([a0, a1]) => live.get(B.name)!.some(([b0, b1]) => a0 <= b1 && b0 <= a1));
      if (together && A.o < B.e && B.o < A.e && A.e > A.o && B.e > B.o) out.push(`${A.name} [${A.o}, ${A.e}) and ${B.name} [${B.o}, ${B.e}) are live together`);
    }
  }
  return out;
}

// ---- random models -------------------------------------------------------------------------------
const act = fc.constantFrom("relu", "tanh", "gelu", "leaky_relu(0.1)", "elu", "sigmoid");
const imageLayer = (C: number) =>
  fc.oneof(
    fc
      .tuple(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom("", " -> bn", " -> groupnorm(1)", " -> instancenorm", " -> iternorm(1, iters=3)"),
        fc.option(act),
        fc.boolean(),
        fc.boolean(),
      )
      .map(([k, norm, a, wn, sd]) => ({
        text: `conv2d(${k}, 3, padding=same${wn ? ", weight_norm=true" : ""})${norm}${a ? ` -> ${a}` : ""}${sd ? " -> spatial_dropout(0.3)" : ""}`,
        C: k,
        pool: 0,
      })),
    fc.constantFrom("maxpool2d(2)", "avgpool2d(2)").map((p) => ({ text: p, C, pool: 1 })),
    fc.tuple(fc.constantFrom("bn", "relu"), fc.boolean()).map(([inner, two]) => ({
      text: `residual {\n    conv2d(${C}, 3, padding=same) -> ${inner}${two ? `\n    conv2d(${C}, 3, padding=same)` : ""}\n  }`,
      C,
      pool: 0,
    })),
  );
const denseLayer = (F: number) =>
  fc.oneof(
    fc
      .tuple(
        fc.constantFrom(2, 4, 6),
        fc.constantFrom("", " -> bn", " -> layernorm", " -> iternorm(2, iters=3)"),
        fc.option(act),
        fc.option(fc.constantFrom(0.2, 0.5)),
        fc.boolean(),
      )
      .map(([u, norm, a, p, wn]) => ({
        text: `dense(${u}${wn ? ", weight_norm=true" : ""})${norm}${a ? ` -> ${a}` : ""}${p !== null ? ` -> dropout(${p})` : ""}`,
        F: u,
      })),
    fc.option(act).map((a) => ({ text: `residual { dense(${F})${a ? ` -> ${a}` : ""} }`, F })),
    act.map((a) => ({ text: a, F })),
  );

/** A random spec text: an image front (conv, pool, residual blocks) or a dense one, then dense layers. */
const specArb = fc
  .record({
    image: fc.boolean(),
    C: fc.integer({ min: 1, max: 2 }),
    convs: fc.array(fc.nat(1000), { minLength: 0, maxLength: 3 }),
    denses: fc.array(fc.nat(1000), { minLength: 0, maxLength: 3 }),
    seeds: fc.array(fc.nat(1000), { minLength: 8, maxLength: 8 }),
    loss: fc.constantFrom("softmax_cross_entropy", "softmax_cross_entropy", "mse"),
    penalty: fc.constantFrom("", "", "", "  input_grad_penalty 0.1\n", "  jacobian_penalty(0.01, projections=1)\n"),
    opt: fc.constantFrom("sgd(lr=0.02, momentum=0.9)", "adam(lr=0.01)"),
  })
  .map((r) => {
    // build the layer list deterministically from the drawn numbers (shapes tracked as we go)
    const lines: string[] = [];
    const pick = <T>(arb: fc.Arbitrary<T>, seed: number): T => fc.sample(arb, { seed, numRuns: 1 })[0];
    let C = r.C;
    let side = 8;
    let F = 0;
    const norms = /bn|norm/;
    let penaltyOk = r.penalty !== "";
    if (r.image) {
      for (const s of r.convs) {
        const l = pick(imageLayer(C), s);
        if (l.pool && side < 4) continue;
        lines.push(l.text);
        C = l.C;
        side = l.pool ? side / 2 : side;
      }
      lines.push("flatten");
      F = C * side * side;
    } else F = 6;
    for (const s of r.denses) {
      const l = pick(denseLayer(F), s);
      lines.push(l.text);
      F = l.F;
    }
    lines.push(`dense(3)`);
    const text = lines.join("\n  ");
    if (norms.test(text) || /weight_norm|dropout|residual|avgpool|gelu|elu|sigmoid/.test(text)) penaltyOk = false;
    const input = r.image ? `[${r.C}, 8, 8]` : "[6]";
    return {
      image: r.image,
      src: `model m {\n  input ${input}\n  ${text}\n  loss ${r.loss}\n}\ndata {\n  source idx("d")\n  validation 0.25\n  scale 1/255\n}\ntrain {\n  seed 3\n  batch 5\n  optimizer ${r.opt}\n${penaltyOk ? r.penalty : ""}}\n`,
    };
  });

// ---- 2. the same bytes ---------------------------------------------------------------------------
/** The generated model as a Program, without prettier or a bundle: emitModel's code, transpiled and bound to the runtime. */
function programOf(ir: IR): Program {
  const em = emitModel(ir);
  const hasPenalty = ir.train.inputGradPenalty !== undefined || ir.train.jacobianPenalty !== undefined;
  const pe = hasPenalty ? emitPenalty(ir) : { code: [], consts: [] };
  const src = `function create(be, seed) { const H = be.H; const gemm = be.gemm; const E = makeDenseEpilogues(be);
    ${em.consts.join("\n")}\n${pe.consts.join("\n")}
    return { init() { ${em.init.join("\n")} }, forward(n: number, train: boolean, step: number) { ${em.forward.join("\n")} },
      backward(n: number, step: number) { ${em.backward.join("\n")} }${hasPenalty ? `, penalty(n: number, step: number) { ${pe.code.join("\n")} }` : ""} }; }`;
  const js = transformSync(src, { loader: "ts" }).code;
  const names = Object.keys(runtime);
  const create = new Function(...names, `${js}\nreturn create;`)(...names.map((k) => (runtime as Record<string, unknown>)[k])) as (
    be: Backend,
    seed: number,
  ) => Model;
  const c = programConstants(ir, ".");
  return { ...c, create } as unknown as Program;
}

function dataset(ir: IR, n: number, seed: number): Dataset {
  const F = ir.input.size;
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  const x = new Uint8Array(n * F).map(() => Math.floor(rnd() * 256));
  const k = Math.min(3, ir.output.size);
  const y = new Uint8Array(n).map(() => Math.floor(rnd() * k));
  return { x, y, n, shape: ir.input.shape, classes: k };
}

async function run(ir: IR, kind: "ts" | "wasm"): Promise<{ trace: number[]; test: number | null; params: Float32Array }> {
  const p = programOf(ir);
  const be = await createBackend(p.meta.heapFloats, { backend: kind, threads: 1 });
  try {
    const model = p.create(be, 3);
    model.init();
    const r = train(p, be, model, { train: dataset(ir, 17, 1), test: dataset(ir, 7, 2) }, { epochs: 2, maxSteps: 5 });
    return { trace: r.lossTrace, test: r.test_loss, params: be.H.slice(p.layout.P, p.layout.P + p.layout.N) };
  } finally {
    be.close();
  }
}

async function sameBytes(ir: IR, kind: "ts" | "wasm") {
  const a = await run(ir, kind);
  const b = await run(unshared(ir), kind);
  expect(a.trace.length).toBeGreaterThan(0);
  expect(a.trace).toEqual(b.trace);
  expect(a.test).toEqual(b.test);
  expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
}

// ---- tests --------------------------------------------------------------------------------------
const specFiles = [
  ...readdirSync("specs")
    .filter((f) => f.endsWith(".dnn"))
    .map((f) => `specs/${f}`),
  ...readdirSync("bench/specs")
    .filter((f) => f.endsWith(".dnn"))
    .map((f) => `bench/specs/${f}`),
].sort();

describe("planMemory: buffers live together never overlap", () => {
  it("on every spec in specs/ and bench/specs/", () => {
    for (const f of specFiles) expect(conflicts(compile(readFileSync(f, "utf8"), f)), f).toEqual([]);
  });

  it("on random models (conv, pool, residual, norms, weight norm, dropout, penalties)", () => {
    fc.assert(
      fc.property(specArb, ({ src }) => {
        expect(conflicts(compile(src))).toEqual([]);
      }),
      { seed: 20261125, numRuns: 150 },
    );
  });

  it("the check itself catches an overlap: two live buffers moved onto each other", () => {
    const ir = compile(readFileSync("bench/specs/m4.dnn", "utf8"));
    const L = ir.layout!;
    const bad = { ...ir, layout: { ...L, offsets: { ...L.offsets, "grad:bn_0": L.offsets["z:conv2d_0"] } } };
    expect(conflicts(bad).join("\n")).toMatch(/grad:bn_0 .* z:conv2d_0|z:conv2d_0 .* grad:bn_0/);
  });

  it("reuse: false gives every buffer its own memory, and sharing makes M4's heap less than half of it", () => {
    const ir = compile(readFileSync("bench/specs/m4.dnn", "utf8"));
    const ref = unshared(ir).layout!;
    const spans = Object.entries(ref.offsets)
      .filter(([k]) => !k.startsWith("grad:") || !ir.params.some((p) => `grad:${p.name}` === k))
      .map(([k, o]) => [o, o + ref.sizes[k], k] as const)
      .filter(([o, e]) => e > o)
      .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const distinct = spans.filter((s, i) => i === 0 || s[0] !== spans[i - 1][0]);
    for (let i = 1; i < distinct.length; i++) expect(distinct[i][0], distinct[i][2]).toBeGreaterThanOrEqual(distinct[i - 1][1]);
    expect(ir.layout!.heapFloats).toBeLessThan(ref.heapFloats / 2);
  });
});

describe("planMemory: the same bytes with and without sharing", () => {
  for (const f of ["specs/trick-resnet-weightnorm.dnn", "specs/trick-cnn-groupnorm.dnn", "specs/trick-smoothness.dnn", "bench/specs/m4.dnn"]) {
    it(`${f} (batch 5, 8x8 images), ts and wasm backends`, async () => {
      // the spec's layers at a small shape (the same code paths, a fraction of the time)
      const src = readFileSync(f, "utf8")
        .replace(/input \[1, 28, 28\]/, "input [1, 8, 8]")
        .replace(/batch \d+/, "batch 5")
        .replace(/source [^\n]*/, 'source idx("d")');
      const ir = compile(src, f);
      await sameBytes(ir, "ts");
      await sameBytes(ir, "wasm");
    });
  }

  it("random models, ts and wasm backends", async () => {
    await fc.assert(
      fc.asyncProperty(specArb, async ({ src }) => {
        const ir = compile(src);
        await sameBytes(ir, "ts");
        await sameBytes(ir, "wasm");
      }),
      { seed: 7, numRuns: 25 },
    );
  });
});
