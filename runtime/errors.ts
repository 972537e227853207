/**
 * An error the user caused and can fix (bad data file, wrong shape, bad flag). The CLI and the
 * generated trainers print `message` alone, with no stack trace, and exit with `exitCode`.
 */
export class DnncError extends Error {
  constructor(
    message: string,
    public readonly exitCode = 1,
  ) {
    super(message);
    this.name = "DnncError";
  }
}
