// `dnnc/runtime/node`: the Node-only part of the runtime (files, the trainer command line).
export { runMain, runTrainer, parseTrainerArgs, loadData, modelTensors, modelMetadata } from "./main";
export { createBackend } from "../backend-create";
