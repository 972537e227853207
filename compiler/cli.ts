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
  compile SPEC [-o DIR] [--emit ts|ir|all] [--target ts|pytorch]
                                write DIR/<name>.trainer.ts and DIR/<name>.trainer.mjs (default DIR: out/),
                                or DIR/<name>.trainer.py for PyTorch (torchrun-ready)
  train SPEC [options]          compile and train in a run directory (default runs/<spec>-<time>/: the spec,
                                the trainer, metrics.jsonl, checkpoints, model.safetensors, report.html);
                                options: --out DIR --data DIR --epochs N --seed N --threads N
                                --backend auto|wasm|ts --max-steps N --resume DIR --json --quiet --no-report
  test [SPEC...] [--update]     golden-output tests: train each spec for its golden(steps=10, tolerance=1e-4) and compare
                                the loss trace and test metrics with <spec>.golden.json (default: specs/*.dnn)
  predict RUN --input FILE [-o FILE]
                                predict IDX, CSV or PNG inputs with a trained run's weights
  augment-preview SPEC [-o grid.png] [--samples N]
                                a PNG grid: originals in the first column, then augmented versions
  report RUN... [-o DIR]        re-render report.html and SVG plots; several runs are overlaid
  search SPEC [-o DIR] [--parallel N] [--data DIR]
                                run the spec's search block (random, grid, successive halving) on worker
                                threads; resumable results in DIR (default runs/search-<spec>/), DIR/best.dnn
  lsp                           the language server (stdio): diagnostics, hover, completion for editors
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

export async function compileSpec(
  specPath: string,
  outDir: string,
  emit: "ts" | "ir" | "all" = "all",
): Promise<{ ts?: string; mjs?: string; ir?: string; program: import("./ir").IR }> {
  const fe = frontEnd(specPath);
  const stem = specStem(specPath);
  mkdirSync(outDir, { recursive: true });
  const files: { ts?: string; mjs?: string; ir?: string; program: import("./ir").IR } = { program: fe.ir };
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

/** A per-epoch progress bar with throughput, ETA and running loss (TTY only). */
async function progressBar() {
  const cp = (await import("cli-progress")).default;
  let bar: InstanceType<typeof cp.SingleBar> | undefined;
  let epoch = 0;
  let t0 = 0;
  let lossAvg = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    hooks: {
      onStep: (e: number, done: number, total: number, loss: number) => {
        if (e !== epoch || !bar) {
          stop();
          epoch = e;
          t0 = performance.now();
          lossAvg = loss;
          bar = new cp.SingleBar(
            { format: `epoch ${e} [{bar}] {percentage}% | {value}/{total} | {speed} samples/s | eta {eta}s | loss {loss}`, hideCursor: true, clearOnComplete: true },
            cp.Presets.shades_classic,
          );
          bar.start(total, 0, { speed: 0, loss: loss.toFixed(4) });
        }
        lossAvg = 0.95 * lossAvg + 0.05 * loss;
        const secs = (performance.now() - t0) / 1000;
        bar.update(done, { speed: secs > 0 ? Math.round(done / secs) : 0, loss: lossAvg.toFixed(4) });
      },
      onEpoch: () => stop(),
    },
  };
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
      const target = takeFlag(args, ["--target"]) ?? "ts";
      if (target !== "ts" && target !== "pytorch") throw new DnncError(`--target: expected ts or pytorch, got "${target}"`, 2);
      if (!["ts", "ir", "all"].includes(emit)) throw new DnncError(`--emit: expected ts, ir or all, got "${emit}"`, 2);
      const unknown = args.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`compile: unknown option "${unknown}"`, 2);
      if (args.length !== 1) throw new DnncError("compile: name exactly one spec file", 2);
      if (emit === "ir") {
        const fe = frontEnd(args[0]);
        process.stdout.write(printIr(fe.ir));
        return 0;
      }
      if (target === "pytorch") {
        const fe = frontEnd(args[0]);
        const { generatePytorchTrainer } = await import("./codegen-pytorch/emit-python");
        let py: string;
        try {
          py = generatePytorchTrainer(fe.ir, { dataPath: dataPathFor(args[0], fe.ir.data.source.path, out) });
        } catch (e) {
          throw new DnncError(`${args[0]}: cannot compile for PyTorch: ${(e as Error).message}`);
        }
        mkdirSync(out, { recursive: true });
        const f = join(out, `${specStem(args[0])}.trainer.py`);
        writeFileSync(f, py);
        process.stdout.write(`wrote ${f}\n`);
        return 0;
      }
      const files = await compileSpec(args[0], out, emit);
      for (const f of [files.ts, files.mjs, files.ir]) if (f) process.stdout.write(`wrote ${f}\n`);
      // the memory the trainer will use (its heap; the data set comes on top)
      const { memoryReport } = await import("./check-resources");
      process.stdout.write(memoryReport(files.program).trimEnd() + "\n");
      return 0;
    }
    case "train": {
      const args = [...rest];
      const spec = args.shift();
      if (!spec || spec.startsWith("-")) throw new DnncError("train: name a spec file first", 2);
      const outFlag = takeFlag(args, ["--out", "-o"]);
      const noReport = args.includes("--no-report");
      const trainerArgs = args.filter((a) => a !== "--no-report");
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const runDir = outFlag ?? join("runs", `${specStem(spec)}-${stamp}`);
      const resumeIdx = trainerArgs.indexOf("--resume");
      const dir = resumeIdx >= 0 && !outFlag ? trainerArgs[resumeIdx + 1] ?? runDir : runDir;
      mkdirSync(dir, { recursive: true });
      const files = await compileSpec(spec, dir, "ts");
      writeFileSync(join(dir, "spec.dnn"), readSpec(spec));
      const { pathToFileURL } = await import("node:url");
      const mod = (await import(pathToFileURL(files.mjs!).href)) as { program: import("../runtime/program").Program };
      const { runTrainer } = await import("../runtime/node/main");
      const quiet = trainerArgs.includes("--quiet") || trainerArgs.includes("--json") || trainerArgs.includes("--bench");
      const bar = !quiet && process.stdout.isTTY && !process.env.NO_COLOR ? await progressBar() : undefined;
      const full = resumeIdx >= 0 ? trainerArgs : [...trainerArgs, "--out", dir];
      try {
        await runTrainer(mod.program, full, pathToFileURL(files.mjs!).href, bar?.hooks);
      } finally {
        bar?.stop();
      }
      if (!noReport) {
        const { writeReport } = await import("./report");
        writeReport([dir], dir);
        if (!quiet) process.stdout.write(`report: ${join(dir, "report.html")}\n`);
      }
      return 0;
    }
    case "report": {
      const args = [...rest];
      const out = takeFlag(args, ["-o", "--out"]);
      const unknown = args.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`report: unknown option "${unknown}"`, 2);
      if (args.length === 0) throw new DnncError("report: name at least one run directory", 2);
      const { writeReport } = await import("./report");
      const dest = out ?? (args.length === 1 ? args[0] : "report");
      writeReport(args, dest);
      process.stdout.write(`wrote ${join(dest, "report.html")}\n`);
      return 0;
    }
    case "test": {
      const args = [...rest];
      const update = args.includes("--update");
      const quiet = args.includes("--quiet");
      const files = args.filter((a) => a !== "--update" && a !== "--quiet");
      const unknown = files.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`test: unknown option "${unknown}"`, 2);
      const { readdirSync } = await import("node:fs");
      const specs = files.length > 0 ? files : readdirSync("specs").filter((f) => f.endsWith(".dnn")).sort().map((f) => join("specs", f));
      const { testCommand } = await import("./test-command");
      return testCommand(specs, update, quiet);
    }
    case "predict": {
      const args = [...rest];
      const out = takeFlag(args, ["-o", "--out"]);
      const inputs: string[] = [];
      for (let v = takeFlag(args, ["--input", "-i"]); v !== undefined; v = takeFlag(args, ["--input", "-i"])) inputs.push(v);
      const unknown = args.find((a) => a.startsWith("-"));
      if (unknown) throw new DnncError(`predict: unknown option "${unknown}"`, 2);
      if (args.length !== 1) throw new DnncError("predict: name one run directory (written by dnnc train)", 2);
      if (inputs.length === 0) throw new DnncError("predict: give --input FILE (IDX, CSV, or PNG; repeat for several PNGs)", 2);
      const { predictCommand } = await import("./predict-command");
      return predictCommand(args[0], inputs, out);
    }
    case "augment-preview": {
      const args = [...rest];
      const out = takeFlag(args, ["-o", "--out"]) ?? "augment-preview.png";
      const count = Number(takeFlag(args, ["--samples"]) ?? "8");
      if (!(Number.isInteger(count) && count >= 1 && count <= 64)) throw new DnncError("--samples: expected an integer in [1, 64]", 2);
      if (args.length !== 1 || args[0].startsWith("-")) throw new DnncError("augment-preview: name one spec file", 2);
      const { augmentPreview } = await import("./augment-preview");
      await augmentPreview(args[0], out, count);
      process.stdout.write(`wrote ${out}\n`);
      return 0;
    }
    case "lsp": {
      const { runLanguageServer } = await import("./lsp");
      return runLanguageServer();
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
