// Schema validators compiled with ajv at run time: the path of the TypeScript sources (vitest, tsx,
// the playground). The bundled CLI never loads this module: scripts/build.mjs replaces it with the
// same validators compiled to plain functions at build time (standalone.ts), because compiling
// the schemas (and ajv's meta-schema) was most of `dnnc check`'s start-up time.
// Both paths must give the same diagnostics (test/startup.test.ts).
import AjvModule, { type Options, type ValidateFunction } from "ajv";

export type SchemaFlavour = "args" | "ir";

/** One option set per flavour: layer and setting arguments (defaults filled), the IR schema. */
export const AJV_OPTIONS: Record<SchemaFlavour, Options> = {
  args: { allErrors: true, strict: true, useDefaults: true },
  ir: { allErrors: true, strict: false },
};

// ajv is CommonJS; its default export arrives wrapped under some loaders.
export const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as typeof AjvModule;

const instances: Partial<Record<SchemaFlavour, InstanceType<typeof Ajv>>> = {};

/** Compile `schema` (called once per schema, on its first use). */
export function compileValidator(schema: object, flavour: SchemaFlavour): ValidateFunction {
  const ajv = (instances[flavour] ??= new Ajv(AJV_OPTIONS[flavour]));
  return ajv.compile(schema);
}

export const precompiled = false;
