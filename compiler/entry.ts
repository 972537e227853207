// Entry point of the bundled CLI (dist/cli.mjs): run main, map errors to exit codes. This is the
// error boundary (docs/cli.md, "Conventions"): a user error (DnncError, or an expected system
// error such as ENOENT, EACCES, EROFS, ENOSPC, EISDIR, mapped by asUserError) is one line,
// "error: PATH: reason", and its exit code (1, or 2 for usage); an interrupt (exit 130) is a plain
// line, not an error; anything else is a bug: "internal error", the stack, exit 70.
import { main } from "./cli";
import { asUserError } from "../runtime/node/fs-errors";

export async function run(argv: string[]): Promise<void> {
  try {
    const code = await main(argv);
    process.exitCode = code;
  } catch (e) {
    const user = asUserError(e);
    if (user) {
      process.stderr.write(user.exitCode === 130 ? `${user.message}\n` : `error: ${user.message}\n`);
      process.exitCode = user.exitCode;
      return;
    }
    process.stderr.write(`internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}
