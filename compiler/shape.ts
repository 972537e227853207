// Small shape helpers shared by the passes (one definition each).
import type { Json } from "./spec";

/** The number of elements of a shape. */
export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** A kernel/stride/padding argument given as one number or a pair, as [h, w] (d when absent). */
export const pair = (v: Json | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number];

/** `[1, 28, 28]` */
export const shapeText = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** 64-byte alignment of every planned buffer (16 floats), for the SIMD kernels. */
export const align16 = (x: number): number => (x + 15) & ~15;
