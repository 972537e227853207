// Hyperparameter search engine: spaces and samplers, strategies (random, grid, successive
// halving), a resumable runner that records every trial, a worker pool, and the summary.
export * from "./space";
export * from "./strategies";
export * from "./results";
export * from "./summary";
export * from "./runner";
export * from "./pool";
