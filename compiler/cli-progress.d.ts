// Minimal types for the parts of cli-progress the CLI uses (the package ships none).
declare module "cli-progress" {
  interface Options {
    format?: string;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
  }
  class SingleBar {
    constructor(opts: Options, preset?: unknown);
    start(total: number, value: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  const Presets: { shades_classic: unknown };
  const _default: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default _default;
}
