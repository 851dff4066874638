/**
 * crunch runs a classifier over a huge file of small records (CSV, TSV,
 * NDJSON) on every core, with Deno Web Workers.
 *
 * A classifier is a module that exports `init(spec, context)`, called once
 * per worker to build whatever large read-only structure it needs, and
 * `classify(row)`, called once per record. Only the module's URL and the spec
 * cross to a worker; records stream through with bounded memory and the
 * results come back as an async iterator.
 *
 * @example
 * ```ts
 * import { classify } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * // examples/hits.ts exports init(spec) and classify(row); paths are relative to the current directory.
 * const results = classify("examples/hits.ts", "examples/reviews.csv", {
 *   spec: { words: ["good", "great"] },
 *   ordered: true,
 * });
 * const all = [];
 * for await (const result of results) all.push(result);
 * assert.deepEqual(all, [{ id: "1", hits: 1 }, { id: "3", hits: 2 }]);
 * ```
 *
 * @module
 */

export { classify } from "./lib/classify.ts";
export { Pool } from "./lib/pool.ts";
export { Files, files } from "./lib/files.ts";
export { SharedTable, type TableValue } from "./lib/shared_table.ts";
export {
  CrunchError,
  InitError,
  InputError,
  ModuleError,
  ParseError,
  type ParsePosition,
  PrepareError,
  RecordError,
  type RecordPosition,
  RetryableError,
  WorkerCrashError,
} from "./lib/errors.ts";
export type { Input } from "./lib/input/source.ts";
export type { Results } from "./lib/run/iterator.ts";
export type {
  ClassifyOptions,
  Format,
  InputFormat,
  OnError,
  OutputFormat,
  PoolOptions,
  Progress,
  RedisOptions,
  RunOptions,
  Tagged,
} from "./lib/options.ts";
export type { Stall } from "./lib/progress.ts";
export type {
  ParquetCompression,
  ParquetSchema,
  ParquetType,
} from "./lib/formats/parquet_output.ts";
export type { OutputPart } from "./lib/run/parts_pump.ts";
export type {
  Bottleneck,
  MainReport,
  RunReport,
  SlowRecord,
  SlowTask,
  StageSplit,
  WorkerReport,
} from "./lib/report.ts";
export type { WorkerContext } from "./lib/plugin.ts";
export type { Plugin, ResultOf } from "./lib/plugin.ts";
