// What every verb writes, and where. Conventions (docs/cli.md):
//   stdout  results only: human lines, or with --json exactly one JSON document (JSONL for the
//           streaming verbs, train and search);
//   stderr  diagnostics, errors, and with --verbose the timings, paths and settings;
//   --quiet prints nothing but errors. Colours and progress bars only on a terminal, never under
//   NO_COLOR (set and not empty, as no-color.org says) or TERM=dumb.
import { DnncError } from "../../runtime/errors";

export interface Out {
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  /** Colours on stderr (diagnostics). */
  color: boolean;
  /** Progress bars on stdout (training). */
  bars: boolean;
  /** A result line on stdout (not under --quiet or --json). */
  say(line: string): void;
  /** A --verbose line on stderr. */
  info(line: string): void;
  /** The --json document (or one JSONL record) on stdout. */
  emit(doc: unknown): void;
  /** Run `f`, and under --verbose report how long it took as `label`. */
  time<T>(label: string, f: () => T): T;
}

export function colorAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.NO_COLOR && env.TERM !== "dumb";
}

export function makeOut(flags: { quiet?: boolean; verbose?: boolean; json?: boolean }): Out {
  const quiet = !!flags.quiet;
  const json = !!flags.json;
  const verbose = !!flags.verbose && !quiet;
  const info = (line: string) => {
    if (verbose) process.stderr.write(`dnnc: ${line}\n`);
  };
  return {
    quiet,
    verbose,
    json,
    color: colorAllowed(process.stderr),
    bars: !quiet && !json && colorAllowed(process.stdout),
    say: (line) => {
      if (!quiet && !json) process.stdout.write(line + "\n");
    },
    info,
    emit: (doc) => {
      process.stdout.write(JSON.stringify(doc) + "\n");
    },
    time: <T>(label: string, f: () => T): T => {
      if (!verbose) return f();
      const t0 = performance.now();
      const r = f();
      if (r instanceof Promise)
        return r.then((v: unknown) => {
          info(`${label}: ${(performance.now() - t0).toFixed(1)} ms`);
          return v;
        }) as T;
      info(`${label}: ${(performance.now() - t0).toFixed(1)} ms`);
      return r;
    },
  };
}

/** A usage error: exit 2, one line naming the value, and the hint to read the verb's help. */
export function usageError(verb: string | undefined, message: string): DnncError {
  return new DnncError(`${message} (run dnnc ${verb ? verb + " " : ""}--help)`, 2);
}
