// Types of bench/harness.mjs.
export interface Window {
  samples: number;
  seconds: number;
  partial?: boolean;
}
export function median(xs: number[]): number;
export function parseEvents(text: string): { events: Array<{ event: string } & Record<string, unknown>>; other: string[] };
export function steadyRates(windows: Window[], skip?: number): number[];
export function peakReader(j: unknown): (threads: number) => number | null;
export function parsePeakArg(s: string): (threads: number) => number | null;
export function formatTable(rows: Array<Record<string, unknown>>): string;
export function steadyGc(text: string, batch: number, skip?: number): { gcs: number; mbFreed: number; steps: number } | null;
