// JSON-schema validators for the compiler (layer and setting arguments, the IR): compiled by ajv
// once, on first use, or looked up among the validators compiled at build time for the bundled CLI
// (generated/standalone.ts registers every schema given to lazyValidator and compiles them all).
import type { ErrorObject, ValidateFunction } from "ajv";
import { compileValidator, type SchemaFlavour } from "./generated/runtime-ajv";

/** Every schema given to lazyValidator, in order: the build compiles them all ahead of time. */
export const SCHEMA_REGISTRY: { schema: object; flavour: SchemaFlavour }[] = [];

/** The identity of a schema for the precompiled table (its JSON text, computed on first use). */
export function schemaKey(schema: object, flavour: SchemaFlavour): string {
  return flavour + ":" + JSON.stringify(schema);
}

/**
 * A validator compiled once, on first use (compiling every schema at start-up cost `dnnc check`
 * ~250 ms; a spec uses a handful of them). In the bundled CLI it is looked up among the validators
 * compiled at build time instead. `flavour`: "args" fills defaults and is strict, "ir" is not.
 */
export function lazyValidator(schema: object, flavour: SchemaFlavour = "args"): ValidateFunction {
  SCHEMA_REGISTRY.push({ schema, flavour });
  let compiled: ValidateFunction | undefined;
  const v = ((data: unknown) => {
    compiled ??= compileValidator(schema, flavour);
    const ok = compiled(data) as boolean;
    v.errors = compiled.errors;
    return ok;
  }) as ValidateFunction;
  return v;
}

/** ajv's `errorsText` with its defaults, without an ajv instance. */
export function errorsText(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "No errors";
  return errors.map((e) => `data${e.instancePath} ${e.message}`).join(", ");
}
