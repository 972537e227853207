// Start-up levers (docs/performance.md, "Startup") must not change behaviour:
// - the validators compiled at build time (compiler/generated/standalone.ts, used by the bundled
//   CLI) accept, reject, report and fill defaults exactly as ajv compiling at run time does (the
//   path of vitest and tsx), schema by schema on random objects and through the whole front end on
//   every spec in specs/ and random specs;
// - the grammar passes chevrotain's self-validation (the bundle skips it; this is where it runs);
// - `dnnc check` in the bundle loads neither ajv nor ts-morph, prettier, esbuild or the language
//   server (vscode-languageserver).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Lexer } from "chevrotain";
import type { ErrorObject, ValidateFunction } from "ajv";
import { generateStandaloneModule } from "../compiler/generated/standalone";
import { compileValidator as runtimeCompile } from "../compiler/generated/runtime-ajv";
import { SCHEMA_REGISTRY } from "../compiler/schema";
import { compileToIr } from "../compiler/pipeline";
import { printIr } from "../compiler/ir";
import { DnnParser, skipGrammarValidations } from "../grammar/parser";
import { allTokens, filterNewlines, lexerConfig } from "../grammar/lexer";
// @ts-ignore -- plain JavaScript module without declarations; typed by the cast below
import * as fuzzJs from "../scripts/fuzz.mjs";

const fuzz = fuzzJs as unknown as { specArbitrary(): fc.Arbitrary<string> };
const root = join(import.meta.dirname, "..");

type Compile = (schema: object, flavour: "args" | "ir") => ValidateFunction;
let dir: string;
let code: string;
let precompiled: { compileValidator: Compile; precompiled: boolean };

beforeAll(async () => {
  code = generateStandaloneModule();
  dir = mkdtempSync(join(tmpdir(), "dnnc-startup-"));
  const file = join(dir, "validators.mjs");
  writeFileSync(file, code);
  precompiled = await import(/* @vite-ignore */ pathToFileURL(file).href);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const norm = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => ({ instancePath: e.instancePath, schemaPath: e.schemaPath, keyword: e.keyword, params: e.params, message: e.message }));

/** Validate a copy of `data` with both validators: same verdict, same errors, same defaults filled. */
function same(data: unknown, a: ValidateFunction, b: ValidateFunction): void {
  const da = structuredClone(data);
  const db = structuredClone(data);
  const oka = a(da);
  const okb = b(db);
  expect(okb, JSON.stringify(data)).toBe(oka);
  expect(norm(b.errors)).toEqual(norm(a.errors));
  expect(db).toEqual(da);
}

describe("validators compiled at build time", () => {
  it("the generated module is plain code (no imports, no requires) and covers every schema", () => {
    expect(precompiled.precompiled).toBe(true);
    expect(code).not.toMatch(/\brequire\(|^\s*import\b/m);
    const flavours = new Set(SCHEMA_REGISTRY.map((r) => r.flavour));
    expect([...flavours].sort()).toEqual(["args", "ir"]);
    for (const r of SCHEMA_REGISTRY) expect(() => precompiled.compileValidator(r.schema, r.flavour)).not.toThrow();
    expect(() => precompiled.compileValidator({ type: "object", properties: { nope: { type: "string" } } }, "args")).toThrow(/no precompiled validator/);
  });

  it("the same verdicts, errors and defaults as ajv at run time, on random argument objects", () => {
    const args = SCHEMA_REGISTRY.filter((r) => r.flavour === "args");
    const enumValues = new Set<unknown>();
    const collect = (s: unknown): void => {
      if (Array.isArray(s)) s.forEach(collect);
      else if (s && typeof s === "object") {
        const o = s as Record<string, unknown>;
        if (Array.isArray(o.enum)) o.enum.forEach((v) => enumValues.add(v));
        Object.values(o).forEach(collect);
      }
    };
    collect(args.map((r) => r.schema));
    const scalar = fc.oneof(
      fc.integer({ min: -3, max: 5 }),
      fc.constantFrom(0, 0.5, 0.99, 1, 1.5, -1e-9, 1e-9, 255, 1000, 1001, 4096, 4097, 1e9),
      fc.double({ noNaN: true, min: -10, max: 10 }),
      fc.boolean(),
      fc.constantFrom(...enumValues, "", "x", "same "),
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: scalar },
      fc.array(scalar, { maxLength: 3 }),
      fc.constant(null),
      fc.dictionary(fc.constantFrom("a", "b"), scalar),
    );
    for (const r of args) {
      const a = runtimeCompile(r.schema, "args");
      const b = precompiled.compileValidator(r.schema, "args");
      const keys = [...Object.keys((r.schema as { properties: object }).properties), "not_an_arg"];
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }), (data) => same(data, a, b)),
        { seed: 7, numRuns: 40 },
      );
      same("not an object", a, b);
    }
  });

  it("the same verdicts and errors on IRs of every spec and on broken copies of them", () => {
    const ir = SCHEMA_REGISTRY.find((r) => r.flavour === "ir")!;
    const a = runtimeCompile(ir.schema, "ir");
    const b = precompiled.compileValidator(ir.schema, "ir");
    const irs = specFiles().flatMap((f) => compileToIr(readFileSync(f, "utf8"), f).ir ?? []);
    expect(irs.length).toBeGreaterThan(10);
    const breakers: ((x: Record<string, any>) => void)[] = [
      () => {},
      (x) => delete x.batch,
      (x) => (x.batch = 0),
      (x) => (x.version = 2),
      (x) => (x.nodes = []),
      (x) => (x.nodes[0].id = "Bad-id"),
      (x) => (x.nodes[0].outShape = [-1, 2.5]),
      (x) => delete x.nodes[0].kernel,
      (x) => (x.params[0] = { name: "W", size: 0 }),
      (x) => (x.layout = { heapFloats: 0 }),
      (x) => (x.nodes[0].tail = [{}]),
    ];
    for (const x of irs)
      for (const brk of breakers) {
        const y = structuredClone(x) as Record<string, any>;
        if (y.params.length === 0 && brk === breakers[8]) continue;
        brk(y);
        same(y, a, b);
      }
  });
});

function specFiles(): string[] {
  const out: string[] = [];
  for (const d of ["specs", "specs/errors", "specs/fuzz-regressions"]) {
    const abs = join(root, d);
    for (const f of readdirSync(abs)) if (f.endsWith(".dnn")) out.push(join(abs, f));
  }
  return out;
}

describe("the front end with the precompiled validators", () => {
  type Pipeline = typeof import("../compiler/pipeline");
  let pre: { compileToIr: Pipeline["compileToIr"]; printIr: typeof printIr };
  beforeAll(async () => {
    const file = join(dir, "validators.mjs");
    vi.doMock("../compiler/generated/runtime-ajv", () => import(/* @vite-ignore */ pathToFileURL(file).href));
    vi.resetModules();
    const p = await import("../compiler/pipeline");
    const i = await import("../compiler/ir");
    pre = { compileToIr: p.compileToIr, printIr: i.printIr };
    vi.doUnmock("../compiler/generated/runtime-ajv");
  });

  const result = (c: Pipeline["compileToIr"], print: typeof printIr, src: string, file: string) => {
    const r = c(src, file);
    return { diagnostics: r.diagnostics, spec: r.spec ? JSON.stringify(r.spec) : undefined, ir: r.ir ? print(r.ir) : undefined };
  };

  it("is the mocked module (the test would prove nothing otherwise)", async () => {
    // the validators module of the fresh module graph throws for a schema it does not know
    const ops = await import("../compiler/schema");
    expect(ops.SCHEMA_REGISTRY).not.toBe(SCHEMA_REGISTRY);
    const v = ops.lazyValidator({ type: "object", properties: { zz: { type: "integer" } } });
    expect(() => v({})).toThrow(/no precompiled validator/);
  });

  it("gives the same diagnostics, spec and IR for every spec in specs/", () => {
    const files = specFiles();
    let withErrors = 0;
    for (const f of files) {
      const src = readFileSync(f, "utf8");
      const want = result(compileToIr, printIr, src, f);
      if (want.diagnostics.some((d) => d.severity === "error")) withErrors++;
      expect(result(pre.compileToIr, pre.printIr, src, f), f).toEqual(want);
    }
    expect(withErrors).toBeGreaterThan(5);
  });

  it("gives the same diagnostics, spec and IR for random specs", () => {
    fc.assert(
      fc.property(fuzz.specArbitrary(), (src) => {
        expect(result(pre.compileToIr, pre.printIr, src, "r.dnn")).toEqual(result(compileToIr, printIr, src, "r.dnn"));
      }),
      { seed: 11, numRuns: 200 },
    );
  });
});

describe("the grammar", () => {
  it("passes chevrotain's self-validation (the bundled CLI skips it)", () => {
    expect(skipGrammarValidations).toBe(false);
    expect(() => new DnnParser({ skipValidations: false })).not.toThrow();
    const lexer = new Lexer(allTokens, { ...lexerConfig, skipValidations: false });
    expect(lexer.lexerDefinitionErrors).toEqual([]);
  });

  it("a parser built without validations parses the same", () => {
    const checked = new DnnParser({ skipValidations: false });
    const unchecked = new DnnParser({ skipValidations: true });
    const lexer = new Lexer(allTokens, { ...lexerConfig, skipValidations: true });
    // (specs/fuzz-regressions holds nesting deep enough to overflow the stack: parseSpec guards it)
    for (const f of specFiles().filter((f) => !f.includes("fuzz-regressions"))) {
      const tokens = filterNewlines(lexer.tokenize(readFileSync(f, "utf8")).tokens);
      checked.input = tokens;
      const a = checked.file();
      const ea = checked.errors.map((e) => e.message);
      unchecked.input = tokens;
      const b = unchecked.file();
      expect(
        unchecked.errors.map((e) => e.message),
        f,
      ).toEqual(ea);
      expect(JSON.stringify(b), f).toBe(JSON.stringify(a));
    }
  });
});

describe("the bundled CLI", () => {
  it("`dnnc check` loads neither ajv nor the code generator's packages, and the bundle skips grammar validation", async () => {
    const build = (await import(/* @vite-ignore */ pathToFileURL(join(root, "scripts", "build.mjs")).href)) as {
      cliBundleOptions(validators: string): Record<string, unknown>;
    };
    const { build: esbuild } = await import("esbuild");
    const r = await esbuild({ ...build.cliBundleOptions(code), outdir: join(dir, "dist"), write: false, metafile: true });
    const outputs = r.metafile!.outputs;
    // everything `dnnc check` loads: cli.mjs, the chunk holding front.ts, and their static imports
    const holding = (file: string) => Object.keys(outputs).find((k) => Object.keys(outputs[k].inputs).some((i) => i.endsWith(file)))!;
    const cli = holding("compiler/entry.ts");
    const front = holding("compiler/cli/front.ts");
    expect(cli).toBeTruthy();
    expect(front).toBeTruthy();
    const loaded = new Set<string>();
    const visit = (k: string) => {
      if (loaded.has(k)) return;
      loaded.add(k);
      for (const imp of outputs[k].imports) if (imp.kind === "import-statement" && !imp.external) visit(imp.path);
    };
    visit(cli);
    visit(front);
    const inputs = [...loaded].flatMap((k) => Object.keys(outputs[k].inputs));
    expect(inputs.some((i) => i.includes("compiler/check.ts"))).toBe(true);
    expect(inputs.some((i) => i.includes("chevrotain"))).toBe(true);
    for (const banned of [
      "node_modules/ajv/",
      "generated/runtime-ajv.ts",
      "generated/standalone.ts",
      "ts-morph",
      "prettier",
      "esbuild",
      "typescript",
      "node_modules/vscode-",
      "compiler/lsp/",
    ])
      expect(
        inputs.filter((i) => i.includes(banned)),
        banned,
      ).toEqual([]);
    const externals = [...loaded].flatMap((k) => outputs[k].imports.filter((i) => i.external && i.kind === "import-statement").map((i) => i.path));
    expect(externals.filter((p) => !p.startsWith("node:"))).toEqual([]);
    const text = r
      .outputFiles!.filter((o) => [...loaded].some((k) => o.path.endsWith(k.split("/").pop()!)))
      .map((o) => o.text)
      .join("");
    expect(text).toContain("skipValidations");
    expect(text).not.toContain("__DNNC_BUNDLE__");
  });
});

describe("compileToIr's onPass", () => {
  const src = readFileSync(join(root, "specs", "fashion-mlp.dnn"), "utf8");
  const names = (passes: "all" | "lower", text = src) => {
    const seen: [string, number][] = [];
    const r = compileToIr(text, "m.dnn", { passes, onPass: (name, ms) => seen.push([name, ms]) });
    for (const [, ms] of seen) expect(ms).toBeGreaterThanOrEqual(0);
    // timing changes nothing
    const plain = compileToIr(text, "m.dnn", { passes });
    expect(r.diagnostics).toEqual(plain.diagnostics);
    expect(r.ir && printIr(r.ir)).toEqual(plain.ir && printIr(plain.ir));
    return seen.map(([n]) => n);
  };

  it("names every pass in order, the IR checks last", () => {
    const all = [
      "parse",
      "check",
      "lower",
      "checkResources",
      "fuseElementwise",
      "maskPadding",
      "checkPenalty",
      "scheduleKernels",
      "planMemory",
      "planPenaltyMemory",
      "checkHeap",
      "verifyIr (6x)",
    ];
    expect(names("all")).toEqual(all);
    // `dnnc check` runs the same passes (it keeps the IR as lowering left it)
    expect(names("lower")).toEqual(all);
  });

  it("stops where the front end stops", () => {
    expect(names("all", readFileSync(join(root, "specs", "errors", "typo-layer.dnn"), "utf8"))).toEqual(["parse", "check"]);
    expect(names("all", "model m {")).toEqual(["parse"]);
  });
});
