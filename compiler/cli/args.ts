// Value parsers for commander options: they reject a wrong type or a value out of range with a
// message commander turns into "option '--epochs <n>' argument '-3' is invalid. expected ...",
// which the CLI prints as one line and exit code 2.
import { InvalidArgumentError } from "commander";

/** An integer in [min, max] (max defaults to 2^31 - 1). */
export function intIn(min: number, max = 2 ** 31 - 1): (v: string) => number {
  return (v: string) => {
    const x = /^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(x) || x < min || x > max)
      throw new InvalidArgumentError(max === 2 ** 31 - 1 ? `expected an integer >= ${min}` : `expected an integer in [${min}, ${max}]`);
    return x;
  };
}

/** A finite decimal number in [min, max]. */
export function numberIn(min: number, max: number): (v: string) => number {
  return (v: string) => {
    const x = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isFinite(x) || x < min || x > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    return x;
  };
}

/** A value that may be given several times: collected into an array. */
export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
