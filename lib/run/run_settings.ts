/**
 * What every worker of a run is told once, before its tasks: the run's
 * settings as the workers need them, made from the input's head and the
 * run's options.
 *
 * @module
 */

import type { SourceHead } from "../input/task.ts";
import type { ResolvedRunOptions } from "../options.ts";
import { DEFAULT_RETRY, type RunSettings } from "../wire/task.ts";

/**
 * The settings of a run over `head` with `options`, on `workers` workers;
 * `outputColumns` are the CSV columns a document begun earlier has already;
 * `traceparent` is the run's span, when telemetry is on.
 */
export function runSettings(
  head: SourceHead,
  options: ResolvedRunOptions,
  workers: number,
  outputColumns: string[] | undefined,
  traceparent?: string,
): RunSettings {
  return {
    format: head.format,
    delimiter: head.delimiter,
    columns: head.columns,
    encoding: head.encoding,
    tagged: options.tagged,
    stopOnError: options.onError === "fail",
    // A run that writes parts serializes its text formats in the workers, for the parts.
    encode: options.parts
      ? options.parts.format === "parquet" ? undefined : options.parts.format
      : options.encode,
    parts: options.parts,
    outputColumns,
    concurrency: options.concurrency,
    batchRecords: options.batchRecords,
    retry: { ...DEFAULT_RETRY, max: options.retries },
    http: { headers: options.headers, timeoutMs: options.httpTimeout },
    traceparent,
    rate: options.rateLimit && {
      intervalUs: 1e6 / options.rateLimit.perSecond,
      perWorkerUs: 1e6 * workers / options.rateLimit.perSecond,
    },
  };
}
