// Entry point of the bundled CLI (dist/cli.mjs): run main, map errors to exit codes.
import { main } from "./cli";
import { DnncError } from "../runtime/errors";

export async function run(argv: string[]): Promise<void> {
  try {
    const code = await main(argv);
    process.exitCode = code;
  } catch (e) {
    if (e instanceof DnncError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}
