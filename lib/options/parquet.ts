/**
 * The options of Parquet inputs and outputs (the columns read, how the
 * pages written are compressed), and of output written by the workers as
 * part files. Parts of the option table (`table.ts`), in its order.
 *
 * @module
 */

import { PARQUET_COMPRESSIONS, PARQUET_TYPES } from "../formats/parquet_output.ts";
import { choice, names, path, typedColumns } from "./kinds.ts";
import type { OptionSpec } from "./spec.ts";

/** What a Parquet input reads of its columns. */
export const PARQUET_INPUT = [
  {
    key: "fields",
    scope: "run",
    kind: names(),
    flag: {
      name: "fields",
      arg: "<a,b,...>",
      help: "read only these columns of a Parquet input (the rows hold only these fields)",
    },
  },
] as const satisfies readonly OptionSpec[];

/** How a Parquet output is written. */
export const PARQUET_OUTPUT = [
  {
    key: "parquetCompression",
    scope: "run",
    kind: choice(PARQUET_COMPRESSIONS),
    default: "zstd",
    flag: {
      name: "parquet-compression",
      arg: "<c>",
      help: "with -t parquet: zstd (default), snappy, gzip, brotli or none",
    },
  },
  {
    key: "parquetSchema",
    scope: "run",
    kind: typedColumns(PARQUET_TYPES),
    flag: {
      name: "parquet-schema",
      arg: "<n:t,...>",
      help: "with -t parquet: the declared columns, e.g. id:int64,text:string",
    },
  },
] as const satisfies readonly OptionSpec[];

/** Output written by the workers themselves, a part file a task. */
export const OUTPUT_PARTS = [
  {
    key: "outputDir",
    scope: "run",
    kind: path(),
    flag: {
      name: "output-dir",
      arg: "<dir>",
      help: "the workers write the results (in the -t format) as part files in <dir>, one a " +
        "task, each committed once, with a _SUCCESS manifest at the end",
    },
  },
  {
    key: "partCompression",
    scope: "run",
    kind: choice(["gzip", "zstd"] as const),
    flag: {
      name: "part-compression",
      arg: "<c>",
      help: "with --output-dir: NDJSON, CSV and JSON parts compressed whole (.gz, .zst)",
    },
  },
] as const satisfies readonly OptionSpec[];
