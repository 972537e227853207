// The dnnc version: written into every trainer, model file and export (one definition; the CLI
// imports it without loading the code generator).
export const DNNC_VERSION = "0.1.0";
