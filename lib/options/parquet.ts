/**
 * The options of Parquet inputs and outputs: the columns read, and how the
 * pages written are compressed. Parts of the option table (`table.ts`), in
 * its order.
 *
 * @module
 */

import { PARQUET_COMPRESSIONS } from "../formats/parquet_output.ts";
import { choice, names } from "./kinds.ts";
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
] as const satisfies readonly OptionSpec[];
