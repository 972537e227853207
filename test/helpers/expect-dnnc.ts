// The assertion every data-loader test makes about a bad input: the call throws a DnncError (the
// brand the CLI prints as one line, exit 1, no stack trace) whose message names each given part.
import { expect } from "vitest";
import { DnncError } from "../../runtime/errors";

export function expectDnnc(f: () => unknown, ...parts: (string | RegExp)[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DnncError);
  for (const p of parts) expect((err as Error).message).toMatch(p);
}
