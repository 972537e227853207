// `dnnc report`: plots of one or more training runs (loss, accuracy, learning rate, confusion
// matrices) as a self-contained report.html plus standalone SVG files.
export { renderReport, slug, type RenderOptions, type Report, type Run, type RunEpoch, type RunPredictions, type RunSample } from "./render";
export { disambiguate, loadRun, parseMetrics, writeReport } from "./load";
export { confusionChart, formatTick, lineChart, logScale, niceScale, PALETTE, type ChartOptions, type Scale, type Series, type VLine } from "./svg";
export { classScores, regressionScores, settingRows, smooth, warmupEnd } from "./sections";
