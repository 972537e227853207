// Code generation, part 2: the whole trainer file. Assembled ONCE from ts-morph structures
// (imports, constants, the program object, the entry point) and formatted by prettier; never
// edited afterwards. ts-morph and prettier are loaded lazily so that `dnnc check` does not pay
// for them.
import { lossPositions, type IR } from "../ir";
import { emitModel } from "./emit-model";
import { emitPenalty } from "./emit-penalty";
import { hasPenalty } from "../check-targets";
import { asProducer, firstAcausalNode, nodeOp } from "../ops";
import { WINO_SCRATCH_MAX } from "../../runtime/kernels/winograd";
import { DNNC_VERSION } from "../version";
import { assertNoRawUnsafe, tsComment, tsJson } from "../escape";
import type { ImportDeclarationStructure } from "ts-morph";

export interface TrainerSource {
  /** Formatted TypeScript. */
  text: string;
}

/** The program's constant part, as plain JSON. */
function causality(ir: IR): { causal: boolean; acausal?: string } {
  const n = firstAcausalNode(ir.nodes);
  return n ? { causal: false, acausal: `${n.op} at spec line ${n.line}` } : { causal: true };
}

export function programConstants(ir: IR, dataPath: string, initFrom?: string) {
  const L = ir.layout!;
  const tensors = [
    ...ir.params.map((p) => ({ name: p.name, shape: p.shape, offset: L.offsets[p.name], size: p.size, kind: "param" as const })),
    ...ir.stats.map((s) => ({ name: s.name, shape: s.shape, offset: L.offsets[s.name], size: s.size, kind: "stat" as const })),
  ];
  // a frozen tensor (fine-tuning) is no segment: the optimizer, decay, clipping and the divergence checks never see it
  const segments = ir.params
    .filter((p) => !p.frozen)
    .map((p) => ({
      name: p.name,
      offset: L.offsets[p.name] - L.P,
      size: p.size,
      rows: p.shape[0],
      cols: p.size / p.shape[0],
      weightDecay: p.weightDecay,
      decoupledDecay: p.decoupledDecay,
      l1: p.l1,
      lrScale: p.lrScale ?? 1,
      maxNorm: p.maxNorm,
    }));
  const last = ir.nodes[ir.nodes.length - 1];
  // the largest splittable work of a step (multiply-adds): dense layers over the batch; convolutions
  // with groups = 1 over the batch too (the wasm backend splits them across threads by samples or
  // input channels, runtime/wasm conv_chunk), grouped ones per sample and group; the trainer stays
  // on one thread when none is large enough to split
  let maxGemmMacs = 0;
  // the worker areas the Winograd convs need beyond the backend's default (scheduleKernels)
  let convColFloats = 0;
  for (const n of ir.nodes) {
    const p = asProducer(n);
    maxGemmMacs = Math.max(maxGemmMacs, nodeOp(p).gemmMacs?.(p, ir.batch) ?? 0);
    convColFloats = Math.max(convColFloats, n.sched?.conv?.winoFloats ?? 0);
  }
  const meta = {
    name: ir.name,
    file: ir.file,
    specHash: ir.specHash,
    dnncVersion: DNNC_VERSION,
    batch: ir.batch,
    inputShape: ir.input.shape,
    inputSize: ir.input.size,
    outputShape: ir.output.shape,
    outputSize: ir.output.size,
    // a class at every position of a sequence output [T, classes]
    ...(lossPositions(ir) > 1 ? { positions: lossPositions(ir) } : {}),
    // a language model's: whether dnnc generate may run it one growing window at a time
    ...(ir.data.source.kind === "text" ? causality(ir) : {}),
    heapFloats: L.heapFloats,
    dataPath,
    // the weights to start from (the train block's init_from), relative to the trainer's directory (or absolute)
    ...(initFrom !== undefined ? { initFrom } : {}),
    maxGemmMacs,
    ...(convColFloats > WINO_SCRATCH_MAX ? { convColFloats } : {}),
  };
  const layout = {
    P: L.P,
    G: L.G,
    S: L.S,
    N: L.N,
    slots: L.slots,
    x: L.offsets.x,
    labels: L.offsets.labels,
    ...(L.offsets.lengths !== undefined ? { lengths: L.offsets.lengths } : {}),
    out: L.offsets[last.output],
    gradOut: L.offsets[`grad:${last.output}`],
    scratch: L.offsets["scratch:grad"],
  };
  const { golden, ...trainRest } = ir.train;
  void golden;
  return { meta, layout, tensors, segments, loss: ir.loss, train: trainRest, data: ir.data };
}

/**
 * Generate the trainer's TypeScript source (unformatted assembly, then prettier). `entry`: "node"
 * (default) runs the trainer's command line when the file is the process's entry point; "none"
 * leaves the Node entry point out (the library's compile, the playground): the module then imports
 * nothing but the platform-neutral runtime; "browser" (`--target browser`): fit trains in a Web
 * Worker of the module itself (runtime/browser/index.ts), and the browser data helpers are exported.
 */
export async function generateTrainer(ir: IR, opts: { dataPath: string; initFrom?: string; entry?: "node" | "none" | "browser" }): Promise<TrainerSource> {
  const node = (opts.entry ?? "node") === "node";
  const browser = opts.entry === "browser";
  const em = emitModel(ir);
  const penalty = hasPenalty(ir);
  const pe = penalty ? emitPenalty(ir) : { code: [], uses: new Set<string>(), consts: [] };
  const c = programConstants(ir, opts.dataPath, opts.initFrom);
  const runtimeImports = [...new Set([...em.uses, ...pe.uses])].sort();
  const { Project, StructureKind, VariableDeclarationKind } = await import("ts-morph");
  const project = new Project({ useInMemoryFileSystem: true });
  const indent = (xs: string[]) => xs.join("\n");
  const nodeImport: ImportDeclarationStructure = { kind: StructureKind.ImportDeclaration, moduleSpecifier: "dnnc/runtime/node", namedImports: ["runMain"] };
  const sf = project.createSourceFile(`${ir.name}.trainer.ts`, {
    statements: [
      `// Generated by dnnc ${DNNC_VERSION} from ${tsComment(ir.file)} (spec sha256 ${ir.specHash.slice(0, 16)}). Do not edit: edit the spec and recompile.`,
      {
        kind: StructureKind.ImportDeclaration,
        moduleSpecifier: "dnnc/runtime",
        namedImports: ["type Backend", "type Model", "type Program", ...runtimeImports],
      },
      // the library face (fit, load, predict, evaluate, save: runtime/api.ts), on a line of its own
      browser
        ? { kind: StructureKind.ImportDeclaration, moduleSpecifier: "dnnc/runtime/browser", namedImports: ["browserTrainer", "serveTraining"] }
        : { kind: StructureKind.ImportDeclaration, moduleSpecifier: "dnnc/runtime", namedImports: ["trainerApi"] },
      ...(node ? [nodeImport] : []),
      ...em.consts,
      ...pe.consts,
      {
        kind: StructureKind.VariableStatement,
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        declarations: [
          {
            name: "program",
            type: "Program",
            initializer: `{
  meta: ${tsJson(c.meta)},
  loss: ${tsJson(c.loss)},
  train: ${tsJson(c.train)},
  data: ${tsJson(c.data)},
  layout: ${tsJson(c.layout)},
  tensors: ${tsJson(c.tensors)},
  segments: ${tsJson(c.segments)},
  create(be: Backend, seed: number): Model {
    const H = be.H;
    const gemm = be.gemm;${em.uses.has("makeDenseEpilogues") ? "\n    const E = makeDenseEpilogues(be);" : ""}${em.reset.length > 0 ? "\n    let carry = false;" : ""}
    return {
      init(): void {
${indent(em.init)}
      },
      forward(n: number, train: boolean, step: number): void {
${indent(em.forward)}
      },
      backward(n: number, step: number): void {
        void step;
${indent(em.backward)}
      },${
        em.reset.length > 0
          ? `
      resetState(): void {
${indent(em.reset)}
      },
      carryState(on: boolean): void {
        carry = on;
      },`
          : ""
      }${
        penalty
          ? `
      penalty(n: number, step: number): number {
${indent(pe.code)}
      },`
          : ""
      }
    };
  },
}`,
          },
        ],
      },
      // a library when imported (docs/library.md), a command line when run
      ...(browser
        ? [
            `export const { fit, load, predict, evaluate, save } = browserTrainer(program, import.meta.url);`,
            `export { fromCsv, fromImages, fetchCsv } from "dnnc/runtime/browser";`,
            `serveTraining(program, import.meta.url);`,
          ]
        : [`export const { fit, load, predict, evaluate, save } = trainerApi(program);`]),
      ...(node ? [`runMain(program, import.meta.url);`] : []),
    ],
  });
  const raw = sf.getFullText();
  const prettier = await import("prettier");
  const text = await prettier.format(raw, { parser: "typescript", printWidth: 120 });
  assertNoRawUnsafe(text, `the trainer of ${ir.name}`);
  return { text };
}
