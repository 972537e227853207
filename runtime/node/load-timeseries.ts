// Loading a time-series CSV from disk (Node only): read whole (gzip detected by magic bytes),
// decoded as strict UTF-8, parsed by column names and cut into windows by
// runtime/data/timeseries.ts (parseSeriesCsv, seriesWindows: splits by time, standardization
// fitted on the training span).
import { parseSeriesCsvBytes, seriesWindows, type SeriesColumns, type SeriesTable, type SeriesWindowOptions, type SeriesWindows } from "../data/timeseries";
import { readMaybeGzip } from "./files";

export type LoadTimeSeriesOptions = SeriesColumns & SeriesWindowOptions;

/** The windows of a time-series CSV, and the parsed table (raw values, times, lines). */
export function loadTimeSeries(path: string, opts: LoadTimeSeriesOptions): SeriesWindows & { table: SeriesTable } {
  const table = parseSeriesCsvBytes(readMaybeGzip(path), path, opts);
  return { ...seriesWindows(table, opts), table };
}
