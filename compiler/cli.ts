// The `dnnc` command line on commander: verbs, their flags (documented, defaults shown, one
// example each), and the conventions of docs/cli.md. Exit codes: 0 ok; 1 diagnostics or a user
// error (printed as one message, no stack trace); 2 usage (unknown verb or flag, missing
// argument, a flag value of the wrong type or out of range), printed as one line with the hint
// `run dnnc VERB --help`. Global options: --quiet (only errors), --verbose (timings, paths and
// settings on stderr). The verbs' modules are imported only when their verb runs.
import { Command, CommanderError, Option } from "commander";
import { asUserError } from "../runtime/node/fs-errors";
import { MAX_THREADS } from "../runtime/limits";
import { collect, intIn, numberIn } from "./cli/args";
import { makeOut, usageError, type Out } from "./cli/io";
import { DNNC_VERSION } from "./version";

const example = (lines: string[]) => `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

const EXIT_CODES = `
Exit codes: 0 ok, 1 diagnostics or a user error (bad spec, bad or missing file, unwritable output,
failed or missing golden test, a search whose every trial failed), 2 usage (unknown command or
option, missing argument, bad option value), 130 training interrupted (Ctrl-C; a checkpoint was
written), 70 internal error (a bug: please report it).
Environment: NO_COLOR (set, not empty), TERM=dumb, or output that is not a terminal: no colours, no progress bars.
Run \`dnnc help COMMAND\` or \`dnnc COMMAND --help\` for one command; docs/cli.md has the --json shapes.
`;

function globals(cmd: Command): Out {
  const o = cmd.optsWithGlobals() as { quiet?: boolean; verbose?: boolean; json?: boolean };
  const out = makeOut(o);
  out.info(`startup ${performance.now().toFixed(1)} ms (node, loading dnnc, parsing arguments); node ${process.version}, cwd ${process.cwd()}`);
  return out;
}

/** The program. `act(code)` receives each verb's exit code. */
export function buildProgram(act: (code: number) => void): Command {
  const program = new Command("dnnc")
    .description("compile declarative deep-learning specs (.dnn) to standalone TypeScript trainers")
    .version(DNNC_VERSION, "-V, --version", "print the version")
    .option("-q, --quiet", "print nothing but errors")
    .option("-v, --verbose", "print pass timings, file paths, backend and threads on stderr")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText("after", EXIT_CODES)
    .showSuggestionAfterError(true);

  const verb = (name: string, summary: string) => program.command(name).description(summary).helpOption("-h, --help", "show help");
  const json = (what: string) => new Option("--json", `machine-readable output on stdout, ${what} (docs/cli.md)`);

  verb("check", "report diagnostics only (exit 1 on any error)")
    .argument("<spec...>", "spec files (.dnn)")
    .option("--data <path>", "the data a sequence source's `auto` sizes are read from (default: each spec's data source)")
    .option("--set <path=value>", "check each spec with this override (as dnnc train --set); repeatable", collect)
    .addOption(json("one document: {ok, errors, warnings, files: [{file, ok, diagnostics: [{file, line, col, code, message, ...}]}]}"))
    .addHelpText("after", example(["dnnc check specs/fashion-mlp.dnn", "dnnc check --json specs/*.dnn"]))
    .action(async (files: string[], o: { data?: string; set?: string[] }, cmd: Command) => {
      const [{ checkCommand }, { parseSetFlag }] = await Promise.all([import("./cli/front"), import("./cli/run-spec")]);
      act(
        checkCommand(
          files,
          globals(cmd),
          o.data,
          (o.set ?? []).map((s) => parseSetFlag(s, "check")),
        ),
      );
    });

  verb("compile", "write the trainer: OUT/<name>.trainer.ts and .trainer.mjs (or .trainer.py), and report its memory")
    .argument("<spec>", "spec file (.dnn)")
    .option("-o, --out <dir>", "output directory", "out")
    .option("--data <path>", "the data a sequence source's `auto` sizes and vocabulary are read from (default: the spec's data source)")
    .addOption(
      new Option("--emit <what>", "ts: the trainer; all: and OUT/<name>.ir.txt; ir: print the IR and write nothing")
        .choices(["ts", "ir", "all"])
        .default("all"),
    )
    .addOption(
      new Option("--target <target>", "ts: TypeScript trainer; pytorch: a torchrun-ready trainer.py; browser: one ES module for pages and workers")
        .choices(["ts", "pytorch", "browser"])
        .default("ts"),
    )
    .option("--set <path=value>", "compile with this override (as dnnc train --set); repeatable", collect)
    .addOption(json("one document: {ok, spec, target, files: {ts, mjs, ir} or {py}, memory: {batch, heapFloats, heapBytes, params, report}}"))
    .addHelpText("after", example(["dnnc compile specs/fashion-mlp.dnn -o out", "dnnc compile specs/fashion-cnn.dnn --target pytorch -o out"]))
    .action(
      async (
        spec: string,
        o: { out: string; data?: string; emit: "ts" | "ir" | "all"; target: "ts" | "pytorch" | "browser"; set?: string[] },
        cmd: Command,
      ) => {
        const [{ compileCommand }, { parseSetFlag }] = await Promise.all([import("./cli/front"), import("./cli/run-spec")]);
        act(await compileCommand(spec, { ...o, set: (o.set ?? []).map((s) => parseSetFlag(s, "compile")) }, globals(cmd)));
      },
    );

  verb("train", "compile and train in a run directory (the spec, the trainer, metrics.jsonl, checkpoints, model.safetensors, report.html)")
    .argument("[spec]", "spec file (.dnn); with --resume, may be left out (the run's spec.dnn)")
    .option("-o, --out <dir>", "run directory (default: runs/<spec>-<time>/, or the --resume directory)")
    .option("--data <dir>", "data directory or CSV file (default: the spec's data source)")
    .option("--epochs <n>", "number of epochs (default: the spec's)", intIn(1))
    .option("--seed <n>", "random seed (default: the spec's)", intIn(0))
    .option("--threads <n>", "GEMM threads (1 when no GEMM of the model is large enough to split)", intIn(1, MAX_THREADS), 1)
    .addOption(
      new Option("--backend <kind>", "auto: WebAssembly SIMD when available; wasm; ts: plain TypeScript").choices(["auto", "wasm", "ts"]).default("auto"),
    )
    .option("--fma", "wasm: relaxed SIMD's fused multiply-add in the GEMM where the engine has it (the default)")
    .option("--no-fma", "wasm: plain SIMD multiply and add in the GEMM instead (the same bytes on every machine, ~10% slower on conv models)")
    .option("--max-steps <n>", "stop after N optimizer steps", intIn(1))
    .option(
      "--set <path=value>",
      "override a setting, as a search path (train.optimizer.lr=0.01, model.dense[0].units=64); repeatable; recorded in the run's spec.dnn",
      collect,
    )
    .option("--resume <dir>", "continue the run whose checkpoint is in DIR (DIR/checkpoint.safetensors), with its spec.dnn and overrides")
    .option("--checkpoint-every <n>", "write a checkpoint every N epochs", intIn(1), 1)
    .option("--checkpoint-steps <n>", "also write one every N optimizer steps", intIn(1))
    .option("--no-report", "do not render report.html and the SVG plots")
    .option("--report-live", "rewrite report.html after every epoch; open it in a browser: it reloads itself until the run ends")
    .option("--bench", "print throughput windows as JSON lines (for bench/)")
    .addOption(
      json(
        'JSON lines: one per epoch {event: "epoch", epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds}, then {event: "test", test_loss, test_acc}, then {event: "run", run, files}',
      ),
    )
    .addHelpText(
      "after",
      example([
        "dnnc train specs/fashion-mlp.dnn --epochs 2",
        "dnnc train specs/fashion-mlp.dnn --set train.optimizer.lr=0.01 --set train.batch=64",
        "dnnc train --resume runs/fashion-mlp-20260101-120000",
      ]),
    )
    .action(async (spec: string | undefined, o: import("./cli/train").TrainOptions, cmd: Command) => {
      const { trainCommand } = await import("./cli/train");
      act(await trainCommand(spec, o, globals(cmd)));
    });

  verb("test", "golden-output tests: train each spec for its golden(steps, tolerance) and compare with <spec>.golden.json")
    .argument("[spec...]", "spec files (default: specs/*.dnn)")
    .option("--update", "write the goldens instead of comparing")
    .addOption(json("one document: {ok, passed, failed, results: [{spec, ok, updated, message, seconds, diff?}]}"))
    .addHelpText("after", example(["dnnc test", "dnnc test specs/fashion-mlp.dnn --update"]))
    .action(async (specs: string[], o: { update?: boolean }, cmd: Command) => {
      const { testVerb } = await import("./cli/verbs");
      act(await testVerb(specs, { update: !!o.update }, globals(cmd)));
    });

  verb("generate", "sample text from a character language model trained by dnnc train (a text(...) source)")
    .argument("<run>", "run directory written by dnnc train")
    .option("-p, --prompt <text>", "the text to continue", "")
    .option("-n, --length <n>", "characters to generate", intIn(1, 1_000_000), 200)
    .option("-t, --temperature <x>", "softmax temperature (0: always the most likely character)", numberIn(0, 100), 1)
    .option("-k, --top-k <k>", "sample among the k most likely characters (0: all)", intIn(0), 0)
    .option("--seed <n>", "random seed of the draws", intIn(0), 0)
    .option("--samples <n>", "independent samples (run side by side, the model's batch at a time)", intIn(1), 1)
    .addOption(new Option("--backend <kind>", "auto, wasm or ts").choices(["auto", "wasm", "ts"]).default("auto"))
    .addOption(json("one document: {ok, run, prompt, samples: [text], unknownInPrompt}"))
    .addHelpText("after", example(['dnnc generate runs/char-lstm-20260101-120000 --prompt "The " --length 300 --temperature 0.8']))
    .action(async (run: string, o: Parameters<typeof import("./cli/verbs").generateVerb>[1], cmd: Command) => {
      const { generateVerb } = await import("./cli/verbs");
      act(await generateVerb(run, o, globals(cmd)));
    });

  verb("predict", "predict IDX, CSV or PNG inputs with a trained run's weights (index,class,probability lines)")
    .argument("<run>", "run directory written by dnnc train")
    .requiredOption("-i, --input <file>", "IDX images file, CSV file, or PNG image (repeat for several PNGs)", collect)
    .option("-o, --out <file>", "write the CSV lines to FILE instead of stdout")
    .addOption(json("one document: {ok, run, n, predictions: [{index, class, probability}] or [{index, output}]}"))
    .addHelpText("after", example(["dnnc predict runs/fashion-mlp-20260101-120000 --input specs/data/fashion-mnist-small/t10k-images-idx3-ubyte.gz"]))
    .action(async (run: string, o: { input: string[]; out?: string }, cmd: Command) => {
      const { predictVerb } = await import("./cli/verbs");
      act(await predictVerb(run, o, globals(cmd)));
    });

  verb("evaluate", "score a trained run's model on data (its test split, or every sample) without touching the run")
    .argument("<run>", "run directory written by dnnc train or by the PyTorch target")
    .option("--data <path>", "data directory or file, read as the spec's source reads it (default: the run's own data)")
    .addOption(json("one document: {ok, run, data, split, n, loss, acc} (regression: and mae, rmse, r2)"))
    .addHelpText("after", example(["dnnc evaluate runs/fashion-mlp-20260101-120000", "dnnc evaluate runs/moons --data new-moons.csv --json"]))
    .action(async (run: string, o: { data?: string }, cmd: Command) => {
      const { evaluateVerb } = await import("./cli/verbs");
      act(await evaluateVerb(run, o, globals(cmd)));
    });

  verb("augment-preview", "a PNG grid: originals in the first column, then augmented versions")
    .argument("<spec>", "spec file with an augment { ... } block and an idx source")
    .option("-o, --out <file>", "PNG file", "augment-preview.png")
    .option("--samples <n>", "number of rows (images)", intIn(1, 64), 8)
    .addOption(json("one document: {ok, spec, wrote, samples}"))
    .addHelpText("after", example(["dnnc augment-preview specs/fashion-cnn-aug.dnn -o grid.png --samples 4"]))
    .action(async (spec: string, o: { out: string; samples: number }, cmd: Command) => {
      const { augmentPreviewVerb } = await import("./cli/verbs");
      act(await augmentPreviewVerb(spec, o, globals(cmd)));
    });

  verb("report", "re-render report.html and the SVG plots; several runs are overlaid")
    .argument("<run...>", "run directories, or a directory of runs (each of its runs is overlaid)")
    .option("-o, --out <dir>", "output directory (default: the run directory, or report/ for several runs)")
    .addOption(json("one document: {ok, runs, html, svgs}"))
    .addHelpText("after", example(["dnnc report runs/with-bn runs/without-bn -o compare"]))
    .action(async (runs: string[], o: { out?: string }, cmd: Command) => {
      const { reportVerb } = await import("./cli/verbs");
      act(await reportVerb(runs, o, globals(cmd)));
    });

  verb("runs", "list the runs in a directory with their key figures (spec, status, epochs, best and last validation, test)")
    .argument("[dir]", "a directory of run directories", "runs")
    .addOption(
      json(
        "one document: {ok, dir, runs: [{run, spec, updated, status, epochs, best_val_loss, best_val_acc, last_val_loss, last_val_acc, test_loss, test_acc}]}",
      ),
    )
    .addHelpText("after", example(["dnnc runs", "dnnc runs experiments/ --json"]))
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      const { runsVerb } = await import("./cli/verbs");
      act(await runsVerb(dir, globals(cmd)));
    });

  verb("search", "run the spec's search block (random, grid, successive halving) on worker threads; resumable")
    .argument("<spec>", "spec file with a search { ... } block")
    .option("-o, --out <dir>", "results directory: results.jsonl, leaderboard.txt, best.dnn (default: runs/search-<spec>/)")
    .option("--data <dir>", "data directory (default: the spec's data source)")
    .option("--parallel <n>", "worker threads (default: the search block's parallel)", intIn(1, 256))
    .addOption(json('JSON lines: one per finished trial {event: "trial", ...}, then {event: "summary", best, leaderboard, ...}'))
    .addHelpText("after", example(["dnnc search specs/search-mlp.dnn --parallel 2 -o runs/search"]))
    .action(async (spec: string, o: { out?: string; data?: string; parallel?: number }, cmd: Command) => {
      const { searchVerb } = await import("./cli/verbs");
      act(await searchVerb(spec, o, globals(cmd)));
    });

  verb("export", "export a trained run's model for inference (ONNX: batch norm folded, dropout removed)")
    .argument("<run>", "run directory written by dnnc train")
    .option("-o, --out <file>", "output file (default: RUN/model.onnx)")
    .addOption(new Option("--format <format>", "model format").choices(["onnx"]).default("onnx"))
    .addOption(json("one document (see docs/cli.md)"))
    .addHelpText("after", example(["dnnc export runs/fashion-mlp-20260101-120000 -o model.onnx"]))
    .action(async (run: string, o: { out?: string; format: "onnx" }, cmd: Command) => {
      const { exportVerb } = await import("./cli/verbs");
      act(await exportVerb(run, o, globals(cmd)));
    });

  verb("lsp", "the language server on stdio (diagnostics, hover, completion) for editors")
    .option("--stdio", "talk over stdin/stdout (the only transport; accepted because LSP clients pass it)")
    .allowUnknownOption() // clients add their own flags (--clientProcessId=N): ignored
    .allowExcessArguments()
    .addHelpText("after", example(["dnnc lsp   # started by the editor, see docs/editors.md"]))
    .action(async () => {
      const { lspVerb } = await import("./cli/verbs");
      act(await lspVerb());
    });

  return program;
}

/** commander's error message as one line, without its "error: " prefix. */
function oneLine(e: CommanderError): string {
  return e.message
    .replace(/^error: /, "")
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

function applyExitOverride(cmd: Command, path: string | undefined): void {
  cmd.exitOverride((e) => {
    throw Object.assign(e, { dnncVerb: path });
  });
  // commander's own error line is replaced by ours (same text, one line, with the hint)
  cmd.configureOutput({ outputError: () => {} });
  for (const sub of cmd.commands) applyExitOverride(sub, sub.name() === "help" ? undefined : sub.name());
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  applyExitOverride(program, undefined);
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help") return e.exitCode === 0 ? 0 : 2; // `dnnc` without a command prints help: a usage error
      const verb = (e as CommanderError & { dnncVerb?: string }).dnncVerb;
      let message = oneLine(e).replace(/\.? ?\(Did you mean (.*)\?\)$/, "; did you mean $1?");
      const unknown = /^unknown command '([^']*)'(.*)$/.exec(message);
      if (unknown) message = `unknown command "${unknown[1]}"${unknown[2]}`;
      throw usageError(verb, message);
    }
    // the error boundary: an expected system error (a read-only or full disk, a file where a
    // directory should be, ...) is a user error naming the file, like a DnncError (entry.ts prints it)
    const user = asUserError(e);
    if (json && user && user.exitCode === 1) {
      const diagnostics = (user as typeof user & { diagnostics?: unknown[] }).diagnostics;
      process.stdout.write(JSON.stringify({ ok: false, error: user.message, ...(diagnostics ? { diagnostics } : {}) }) + "\n");
    }
    throw user ?? e;
  }
  return code;
}
