// The `dnnc` command line: check, compile, train. Exit codes: 0 ok, 1 diagnostics or a user error,
// 2 bad usage. User errors print a message (file:line:col where there is one) and no stack trace.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { compileToIr } from "./pipeline";
import { printIr } from "./ir";
import { renderDiagnostics } from "./diagnostics";
import { DnncError } from "../runtime/errors";

const HELP = `dnnc: compile declarative deep-learning specs (.dnn) to standalone TypeScript trainers

usage: dnnc <command> [options]

commands:
  check SPEC...                 report diagnostics only (exit 1 on any error)
  compile SPEC [-o DIR] [--emit ts|ir|all]
                                write DIR/<name>.trainer.ts and DIR/<name>.trainer.mjs (default DIR: out/)
  train SPEC [trainer options]  compile into a temporary directory and train; trainer options:
                                --data DIR --epochs N --seed N --out DIR --threads N --backend auto|wasm|ts --max-steps N --json --quiet
  search SPEC [-o DIR] [--parallel N] [--data DIR]
                                run the spec's search block (random, grid, successive halving) on worker
                                threads; resumable results in DIR (default runs/search-<spec>/), DIR/best.dnn
  help                          this text

Run \`dnnc <command> --help\` for one command.`;

const useColor = () => process.stderr.isTTY && !process.env.NO_COLOR;

function readSpec(path: string): string {
  if (!existsSync(path)) throw new DnncError(`${path}: no such file`, 1);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new DnncError(`${path}: cannot read (${(e as Error).message})`, 1);
  }
}

function frontEnd(path: string) {
  const source = readSpec(path);
  const r = compileToIr(source, path);
  if (r.diagnostics.length > 0) process.stderr.write(renderDiagnostics(r.diagnostics, source, useColor()) + "\n");
  if (!r.ir) throw new DnncError(`${path}: compilation failed`, 1);
  return { ...r, ir: r.ir, source };
}

function specStem(path: string): string {
  return basename(path).replace(/\.dnn$/, "");
}

/** The trainer's default data path, relative to the output directory. */
function dataPathFor(specPath: string, sourcePath: string, outDir: string): string {
  if (isAbsolute(sourcePath)) return sourcePath;
  const abs = resolve(dirname(specPath), sourcePath);
  return relative(resolve(outDir), abs) || ".";
}

export async function compileSpec(specPath: string, outDir: string, emit: "ts" | "ir" | "all" = "all"): Promise<{ ts?: string; mjs?: string; ir?: string }> {
  const fe = frontEnd(specPath);
  const stem = specStem(specPath);
  mkdirSync(outDir, { recursive: true });
  const files: { ts?: string; mjs?: string; ir?: string } = {};
  if (emit === "ir") {
    files.ir = join(outDir, `${stem}.ir.txt`);
    writeFileSync(files.ir, printIr(fe.ir));
    return files;
  }
  const { generateTrainer } = await import("./codegen/emit-trainer");
  const { bundleTrainer } = await import("./codegen/bundle");
  const src = await generateTrainer(fe.ir, { dataPath: dataPathFor(specPath, fe.ir.data.source.path, outDir) });
  files.ts = join(outDir, `${stem}.trainer.ts`);
  writeFileSync(files.ts, src.text);
  files.mjs = join(outDir, `${stem}.trainer.mjs`);
  writeFileSync(files.mjs, await bundleTrainer(src.text, `${stem}.trainer.ts`));
  if (emit === "all") {
    files.ir = join(outDir, `${stem}.ir.txt`);
    writeFileSync(files.ir, printIr(fe.ir));
  }
  return files;
}

function takeFlag(args: string[], names: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (names.includes(args[i])) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith("-")) throw new DnncError(`${args[i]} needs a value`, 2);
      args.splice(i, 2);
      return v;
    }
    for (const n of names) {
      if (n.startsWith("--") && args[i].startsWith(n + "=")) {
        const v = args[i].slice(n.length + 1);
        args.splice(i, 1);
        return v;
      }
    }
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(HELP + "\n");
    return cmd ? 0 : 2;
  }
  if (cmd === "--version" || cmd === "-V") {
    const { DNNC_VERSION } = await import("./codegen/emit-trainer");
    process.stdout.write(DNNC_VERSION + "\n");
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  switch (cmd) {
    case "check": {
      if (rest.length === 0) throw new DnncError("check: name at least one spec file", 2);
      let failed = 0;
      for (const f of rest) {
        if (f.startsWith("-")) throw new DnncError(`check: unknown option "${f}"`, 2);
        const source = readSpec(f);
        const r = compileToIr(source, f, { passes: "lower" });
        if (r.diagnostics.length > 0) process.stderr.write(renderDiagnostics(r.diagnostics, source, useColor()) + "\n");
        if (!r.ir) failed++;
        else if (r.diagnostics.length === 0) process.stdout.write(`${f}: ok\n`);
      }
      return failed > 0 ? 1 : 0;
    }
    case "compile": {
      const args = [...rest];
      const out = takeFlag(args, ["-o", "--out"]) ?? "out";
      const emit = (takeFlag(args, ["--emit"]) ?? "all") as "ts" | "ir" | "all";
      if (!["ts", "ir", "all"].includes(emit)) throw new DnncError(`--emit: expected ts, ir or all, got "${emit}"`, 2);
      const unknown = args.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`compile: unknown option "${unknown}"`, 2);
      if (args.length !== 1) throw new DnncError("compile: name exactly one spec file", 2);
      if (emit === "ir") {
        const fe = frontEnd(args[0]);
        process.stdout.write(printIr(fe.ir));
        return 0;
      }
      const files = await compileSpec(args[0], out, emit);
      for (const f of [files.ts, files.mjs, files.ir]) if (f) process.stdout.write(`wrote ${f}\n`);
      return 0;
    }
    case "train": {
      const args = [...rest];
      const spec = args.shift();
      if (!spec || spec.startsWith("-")) throw new DnncError("train: name a spec file first", 2);
      const { mkdtempSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const dir = mkdtempSync(join(tmpdir(), "dnnc-"));
      const files = await compileSpec(spec, dir, "ts");
      const { pathToFileURL } = await import("node:url");
      const mod = (await import(pathToFileURL(files.mjs!).href)) as { program: import("../runtime/program").Program };
      const { runTrainer } = await import("../runtime/node/main");
      // resolve the spec's data path against the spec (the trainer in the temp dir knows it relative to itself)
      await runTrainer(mod.program, args, pathToFileURL(files.mjs!).href);
      return 0;
    }
    case "search": {
      const args = [...rest];
      const out = takeFlag(args, ["-o", "--out"]);
      const data = takeFlag(args, ["--data"]);
      const par = takeFlag(args, ["--parallel"]);
      const quiet = args.includes("--quiet");
      const files = args.filter((a) => a !== "--quiet");
      const unknown = files.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`search: unknown option "${unknown}"`, 2);
      if (files.length !== 1) throw new DnncError("search: name exactly one spec file", 2);
      const parallel = par === undefined ? undefined : Number(par);
      if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1)) throw new DnncError(`--parallel: expected a positive integer, got "${par}"`, 2);
      const { searchCommand } = await import("./search-command");
      return searchCommand(files[0], { out, data, quiet, parallel });
    }
    default:
      throw new DnncError(`unknown command "${cmd}"\n\n${HELP}`, 2);
  }
}
