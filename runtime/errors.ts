const BRAND = Symbol.for("dnnc.DnncError");

/**
 * An error the user caused and can fix (bad data file, wrong shape, bad flag). The CLI and the
 * generated trainers print `message` alone, with no stack trace, and exit with `exitCode`.
 *
 * A compiled trainer bundles its own copy of the runtime, so a kernel of a trainer that `dnnc train`
 * loads (a bad token id found by the embedding) throws the trainer's DnncError, not the CLI's: the
 * instances carry a brand from the global symbol registry, and `instanceof DnncError` accepts any
 * copy's (subclasses keep the ordinary check).
 */
export class DnncError extends Error {
  readonly [BRAND] = true;
  constructor(
    message: string,
    public readonly exitCode = 1,
  ) {
    super(message);
    this.name = "DnncError";
  }

  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this !== DnncError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === "object" && x !== null && (x as { [BRAND]?: unknown })[BRAND] === true;
  }
}
