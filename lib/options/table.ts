/**
 * Every option, declared once: its library key (an option of a pool, of a
 * run, or the command's alone), how its value is checked and read
 * ({@linkcode Kind}), its default, and its command-line flag with the help
 * line. The library's key lists and checks, the command's parser, its help
 * and the mapping from flags to options are all made from this table.
 *
 * @module
 */

import type { OnError } from "../options.ts";
import { DEFAULT_CHUNK_BYTES, DEFAULT_STALL_MS } from "./defaults.ts";
import { DEFAULT_BATCH_RECORDS, DEFAULT_RETRY } from "../wire/task.ts";
import {
  boolean,
  choice,
  custom,
  delimiter,
  encoding,
  FORMATS,
  integer,
  isFunction,
  names,
  OUTPUTS,
  positiveNumber,
  secondsAsMs,
  size,
} from "./kinds.ts";
import type { OptionSpec } from "./spec.ts";
import { WHERE_WORKERS_RUN } from "./where_workers_run.ts";
import { REMOTE_INPUTS } from "./remote_inputs.ts";
import { OUTPUT_PARTS, PARQUET_INPUT, PARQUET_OUTPUT } from "./parquet.ts";
import { WHERE_TIME_GOES } from "./where_time_goes.ts";

export type { Flag, OptionSpec } from "./spec.ts";

/** Every option, in the order the command's help lists them. */
export const OPTIONS = [
  {
    key: "spec",
    scope: "pool",
    flag: {
      name: "spec",
      short: "s",
      arg: "<json|@file>",
      help: "the spec passed to init(spec), as JSON text or @path to a JSON file",
    },
  },
  {
    key: "workers",
    scope: "pool",
    kind: integer(),
    flag: {
      name: "workers",
      short: "w",
      arg: "<n>",
      help: `number of workers (default: ${navigator.hardwareConcurrency}, the cores)`,
    },
  },
  {
    key: "ordered",
    scope: "run",
    kind: boolean(),
    default: false,
    flag: { name: "ordered", help: "write results in input order (default: as they complete)" },
  },
  {
    key: "format",
    scope: "run",
    kind: choice(FORMATS),
    flag: {
      name: "format",
      arg: "<f>",
      help: "input format: csv, tsv, ndjson or parquet (default: from the extension; csv for " +
        "standard input)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "files-from",
      arg: "<file>",
      help: "read the inputs' paths from <file>, one a line (- for standard input)",
    },
  },
  {
    key: "mixedHeaders",
    scope: "run",
    kind: boolean(),
    default: false,
    flag: {
      name: "mixed-headers",
      help: "allow CSV or TSV files whose headers differ (default: an error)",
    },
  },
  {
    key: "delimiter",
    scope: "run",
    kind: delimiter(),
    flag: {
      name: "delimiter",
      short: "d",
      arg: "<c>",
      help: "the field delimiter of CSV or TSV: ; | or any one character (\\t: tab)",
    },
  },
  {
    key: "encoding",
    scope: "run",
    kind: encoding(),
    flag: {
      name: "encoding",
      arg: "<name>",
      help: "the text encoding of the input: utf-8 (default), windows-1252 (latin1), utf-16le, " +
        "shift_jis... (a UTF-16 file with a byte order mark is read as UTF-16 anyway)",
    },
  },
  ...REMOTE_INPUTS,
  {
    key: "header",
    scope: "run",
    kind: boolean(),
    default: true,
    flag: {
      name: "no-header",
      negates: true,
      help: "the first record is data: fields are named c1, c2, ... (or --columns)",
    },
  },
  {
    key: "columns",
    scope: "run",
    kind: names(),
    flag: {
      name: "columns",
      arg: "<a,b,...>",
      help: "names of the columns of a file without a header row (with --no-header)",
    },
  },
  ...PARQUET_INPUT,
  {
    key: "chunkBytes",
    scope: "run",
    kind: size(),
    default: DEFAULT_CHUNK_BYTES,
    flag: {
      name: "chunk-bytes",
      arg: "<n>",
      help: "bytes per chunk sent to a worker, e.g. 262144 or 4M (default 512K)",
    },
  },
  {
    key: "reader",
    scope: "run",
    kind: choice(["workers", "main"] as const),
    flag: {
      name: "reader",
      arg: "<who>",
      help: "workers (default for files: each reads byte ranges itself) or main (the main " +
        "thread reads and cuts; always so for stdin, FIFOs and --sandbox)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "output",
      short: "o",
      arg: "<file>",
      help: "write results to <file> (default: standard output); a regular file is written " +
        "whole or not at all (through a temporary file, then renamed)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "resume",
      help: "with -o: journal the run beside the output, and go on from where an earlier run " +
        "of the same command stopped (killed, Ctrl-C, a reboot)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "retry-errors",
      arg: "<file>",
      help: "classify again only the records an errors file lists (after a fix), writing " +
        "their results tagged with their own index and line",
    },
  },
  {
    scope: "command",
    flag: {
      name: "merge",
      arg: "<file>",
      help: "with --retry-errors: write the first run's results (<file>, from --tagged " +
        "--ordered) with the retried ones in their places",
    },
  },
  {
    key: "encode",
    scope: "run",
    kind: choice(OUTPUTS),
    flag: {
      name: "to",
      short: "t",
      arg: "<f>",
      help: "output format: ndjson (default), csv (columns from the first result), json, or " +
        "parquet (the schema from the first row group's results)",
    },
  },
  ...PARQUET_OUTPUT,
  ...OUTPUT_PARTS,
  {
    key: "tagged",
    scope: "run",
    kind: boolean(),
    default: false,
    flag: { name: "tagged", help: "add each record's index and line to its result" },
  },
  {
    key: "onError",
    scope: "run",
    kind: {
      ...custom<OnError>(
        '"fail", "skip" or a function',
        (v) => v === "fail" || v === "skip" || isFunction(v),
      ),
      read: choice(["fail", "skip"] as const).read,
    },
    default: "fail",
    flag: {
      name: "on-error",
      arg: "<mode>",
      help: "fail (default) or skip records whose parsing or classify fails",
    },
  },
  {
    scope: "command",
    flag: {
      name: "errors",
      arg: "<file>",
      help: "write each failed record to <file> as an NDJSON line (implies skipping them; " +
        "contradicts --on-error fail)",
    },
  },
  ...WHERE_TIME_GOES,
  {
    key: "timeout",
    scope: "run",
    kind: integer(),
    flag: {
      name: "timeout",
      arg: "<ms>",
      help: "longest a worker may go without finishing a record; past it the worker is " +
        "replaced, its chunk re-run, and a record that hangs alone isolated",
    },
  },
  {
    key: "limit",
    scope: "run",
    kind: integer(),
    flag: {
      name: "limit",
      arg: "<n>",
      help: "classify only the first n records (a try on a big input: nothing past them is read)",
    },
  },
  {
    key: "stall",
    scope: "run",
    kind: secondsAsMs(),
    default: DEFAULT_STALL_MS,
    flag: {
      name: "stall",
      arg: "<s>",
      help: "say so on standard error when no record of a task has finished for this many " +
        "seconds, naming the worker and the record (default 30; 0: never)",
    },
  },
  {
    key: "speculate",
    scope: "run",
    kind: boolean(),
    default: true,
    flag: {
      name: "no-speculate",
      negates: true,
      help:
        "never split a straggling task among idle workers, nor race a copy of it (side effects)",
    },
  },
  {
    key: "maxRespawns",
    scope: "run",
    kind: integer(0),
    default: 16,
    flag: {
      name: "max-respawns",
      arg: "<n>",
      help: "worker deaths in a row (no record finished between) before giving up (default 16)",
    },
  },
  {
    key: "maxChunksPerWorker",
    scope: "run",
    kind: integer(),
    flag: {
      name: "max-chunks-per-worker",
      arg: "<n>",
      help: "replace each worker after n chunks (classifiers that leak memory)",
    },
  },
  {
    key: "concurrency",
    scope: "run",
    kind: integer(),
    default: 1,
    flag: {
      name: "concurrency",
      short: "c",
      arg: "<n>",
      help: "records one worker may have in classify at once (async classifiers that wait " +
        "on a server; default 1)",
    },
  },
  {
    key: "batchRecords",
    scope: "run",
    kind: integer(),
    default: DEFAULT_BATCH_RECORDS,
    flag: {
      name: "batch-records",
      arg: "<n>",
      help: "rows per classifyBatch call, for plug-ins that export it (default 64)",
    },
  },
  {
    key: "retries",
    scope: "run",
    kind: integer(0),
    default: DEFAULT_RETRY.max,
    flag: {
      name: "retries",
      arg: "<n>",
      help: "more attempts for records failing with a retryable error (default 3)",
    },
  },
  {
    key: "rateLimit",
    scope: "run",
    kind: {
      ...custom<{ perSecond: number }>(
        "{ perSecond: n } with n a positive number",
        (v) => {
          const n = (v as { perSecond?: unknown })?.perSecond;
          return typeof n === "number" && n > 0 && Number.isFinite(n);
        },
      ),
      read: (flag, text) => ({ perSecond: positiveNumber().read(flag, text) }),
    },
    flag: {
      name: "rate-limit",
      arg: "<n>",
      help: "at most n classify calls a second over all workers",
    },
  },
  ...WHERE_WORKERS_RUN,
  {
    scope: "command",
    flag: {
      name: "progress",
      help: "show a progress bar on standard error (default when it is a terminal and the " +
        "results go to a file)",
    },
  },
  { scope: "command", flag: { name: "no-progress", help: "never show it" } },
  { scope: "command", flag: { name: "debug", help: "print stack traces of errors" } },
  { scope: "command", flag: { name: "help", short: "h", help: "this help" } },
  { scope: "command", flag: { name: "version", help: "print the version" } },
  // Library options without a flag.
  { key: "batchSize", scope: "run", kind: integer(), default: 1000 },
  { key: "maxRecordBytes", scope: "run", kind: integer(), default: 64 << 20 },
  {
    key: "signal",
    scope: "run",
    kind: custom("an AbortSignal", (v) => v instanceof AbortSignal),
  },
  { key: "onProgress", scope: "run", kind: custom("a function", isFunction) },
] as const satisfies readonly OptionSpec[];
