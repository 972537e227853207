// Types of bench/idx.mjs.
export const DATA_DIR: string;
export const DATA_FILES: Record<"trainImages" | "trainLabels" | "testImages" | "testLabels", string>;
export function missingDataFiles(dir?: string): string[];
export function parseIdx(buf: Uint8Array, name?: string): { dims: number[]; data: Uint8Array };
