// Types of bench/peers/tfjs-model.mjs.
import type { BenchModel } from "../models.mjs";
export function buildTfjsModel(tfl: unknown, m: BenchModel): { trainableWeights: Array<{ shape: number[] }>; outputs: Array<{ shape: Array<number | null> }> };
export function trainableParams(net: { trainableWeights: Array<{ shape: number[] }> }): number;
