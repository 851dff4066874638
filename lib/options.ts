/**
 * The options of {@linkcode classify} and {@linkcode Pool}, their defaults and their checks.
 * @module
 */

import type { DecoderPool } from "./input/decoders.ts";
import { checkKeys, describe, parseRedisUrl } from "./checks.ts";
import { checkSpec } from "./spec_check.ts";
import type { ParseError, RecordError } from "./errors.ts";
import { integer } from "./options/kinds.ts";
import { OPTIONS, type OptionSpec } from "./options/table.ts";
import { keysOf } from "./options/keys.ts";
import type { InputFormat, OutputFormat } from "./formats/format.ts";
import type { ParquetCompression, ParquetSchema } from "./formats/parquet_output.ts";
import type { PartSettings } from "./wire/task.ts";
import type { PartsLog } from "./run/parts_pump.ts";

export type { Format, InputFormat, OutputFormat } from "./formats/format.ts";
export type { Progress, Stall } from "./progress.ts";
import type { Progress } from "./progress.ts";

/** What to do when a record fails to parse or to classify. */
export type OnError = "fail" | "skip" | ((error: RecordError | ParseError) => void);

/** A result tagged with the input record it came from (option `tagged`). */
export interface Tagged<T = unknown> {
  /** 0-based index of the record in the input. */
  index: number;
  /** 1-based line where the record starts, for file and stream inputs. */
  line?: number;
  /** What classify returned. */
  result: T;
  /** The file the record came from, for an input of many files (`files()`). */
  file?: string;
}

/** Settings of a run through Redis. */
export interface RedisOptions {
  /** `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Most tasks on the run's task stream at once (default 64): bounds Redis's memory. */
  highWater?: number;
  /**
   * Fail the run when no live `crunch worker` has accepted it for this long,
   * in ms (default 60 s): none is serving, or every one refused it (the
   * error lists each reason). Meanwhile `Progress.waiting` says so.
   */
  waitForWorkers?: number;
  /** How long to try connecting again after the connection to Redis drops, in ms (default 60 s). */
  reconnectTimeout?: number;
  /**
   * The shared key that signs this run and its tasks (HMAC-SHA256), for
   * `crunch worker`s that run only signed runs; default: the environment's
   * `CRUNCH_REDIS_KEY` (or the file `CRUNCH_REDIS_KEY_FILE` names), if set.
   */
  key?: string;
}

/** Options of a {@linkcode Pool}: how many workers, and what `init` receives. */
export interface PoolOptions {
  /** Passed to every worker's `init(spec, context)`; must be structured-cloneable. */
  spec?: unknown;
  /** Number of workers; defaults to `navigator.hardwareConcurrency`. */
  workers?: number;
  /**
   * Deno permissions of the workers, to sandbox a classifier from elsewhere:
   * for example `{ read: ["./models"], net: false, write: false, run: false }`.
   * By default workers inherit the permissions of the main thread. Needs
   * Deno's worker-options feature (`--unstable-worker-options`).
   */
  permissions?: Deno.PermissionOptions;
  /**
   * Where each worker runs: "thread" (default), a Web Worker in this process,
   * cheap to start and to talk to; or "process", a `deno` process of its
   * own, so that a plug-in that runs out of memory or hangs in a synchronous
   * loop takes down only its own worker (the record is isolated and the run
   * goes on). Processes need permission to run `deno` (`--allow-run`).
   */
  isolation?: "thread" | "process";
  /**
   * Heap limit of each worker, in MB. With processes it is V8's heap limit
   * of each process (an out-of-memory ends that process alone, and the
   * record is isolated). With threads it is a soft limit: a worker whose heap
   * in use has grown past it is replaced between tasks (its close() called),
   * which contains leaks; a single record that allocates without bound still
   * ends the whole process, as any Web Worker's out-of-memory does.
   */
  maxWorkerMemory?: number;
  /**
   * Run the tasks on `crunch worker` processes, on this machine or others,
   * through Redis Streams: a `redis://[user[:password]@]host[:port][/db]`
   * (or `rediss://`) URL, or {@linkcode RedisOptions} with it. The workers
   * import the module by its URL (so it must be at the same path, or an
   * http(s) URL) and check its hash; `workers` is then how finely the input
   * is cut, not how many workers run. Files are read by the workers as byte
   * ranges (the same path must hold the same file on every machine) unless
   * `reader: "main"` sends the records through Redis.
   */
  redis?: string | RedisOptions;
}

/** Options of one run over an input. */
export interface RunOptions {
  /** Yield results in input order (default false: as they complete). */
  ordered?: boolean;
  /** Input format; by default taken from the file extension (`.parquet` for Parquet). */
  format?: InputFormat;
  /** Read only these top-level columns of a Parquet input (no other column's bytes are read). */
  fields?: string[];
  /** Target bytes per task (default 512 KiB: 10-15 % faster than 1 MiB on 2 workers). */
  chunkBytes?: number;
  /** Rows per message for iterable inputs (default 1000). */
  batchSize?: number;
  /** Longest single record accepted, in bytes (default 64 MiB); guards against unclosed quotes. */
  maxRecordBytes?: number;
  /** "fail" (default): the first error ends the run. "skip": drop failed records. Or a function called with each error. */
  onError?: OnError;
  /** Stops the run when aborted. */
  signal?: AbortSignal;
  /** Called as chunks finish, and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** Yield {@linkcode Tagged} objects `{ index, line, result }` instead of bare results. */
  tagged?: boolean;
  /**
   * Yield `Uint8Array` pieces of one document in this format, ready to write:
   * NDJSON lines, CSV with a header from the first result's keys, one JSON
   * array (serialized in the workers), or Parquet (row groups written here,
   * the schema from the first's results). With `tagged`, each result carries
   * `index` and `line`. A result the format cannot hold is a `RecordError`.
   */
  encode?: OutputFormat;
  /** How a Parquet output's pages are compressed (default zstd). */
  parquetCompression?: ParquetCompression;
  /** A Parquet output's columns and types, declared (default: from the first row group's results). */
  parquetSchema?: ParquetSchema;
  /**
   * Write the results as part files in this folder, one a task, from the workers themselves,
   * committed once each, with a `_SUCCESS` manifest; the run yields each part committed.
   */
  outputDir?: string;
  /** With `outputDir`: NDJSON, CSV and JSON parts compressed whole (`.gz`, `.zst`). */
  partCompression?: "gzip" | "zstd";
  /**
   * Longest a worker may go without finishing a record, in ms (default: no
   * limit). Past it the worker is replaced and its task re-run; a record that
   * keeps running past it is isolated as a `RecordError`. Stretched by
   * workers / cores when workers outnumber cores. A thread in a synchronous
   * loop runs on until it returns (Deno cannot stop it); processes are killed.
   */
  timeout?: number;
  /** Classify only the first `limit` records (of all the files, for `files()`); no more is read. */
  limit?: number;
  /**
   * When no record of a task in flight has finished for this many ms
   * (default 30,000; 0 turns it off), `Progress.stalled` says which worker
   * holds which record (file, index, line) and for how long, until the task
   * goes on (the command prints it). A classify that never returns would
   * otherwise hold the run in silence; `timeout` ends such a record.
   */
  stall?: number;
  /**
   * How many times in a row workers may die without a record being
   * classified in between before the run gives up with a `WorkerCrashError`
   * (default 16). Isolating one record that kills its worker takes about
   * log2(records per chunk) + 3 deaths, with records classified in between.
   */
  maxRespawns?: number;
  /** Replace a worker (calling its close()) after it has finished this many chunks. */
  maxChunksPerWorker?: number;
  /**
   * Who reads a file given by path or URL: "workers" (the default with more than one), each
   * its own byte ranges; or "main", which cuts chunks (with one worker; streams, FIFOs).
   */
  reader?: "workers" | "main";
  /**
   * Once no task waits, a task running 3x the median task (and 1 s) is split among idle
   * workers, or raced by a copy (default true; false for a plug-in with side effects).
   */
  speculate?: boolean;
  /**
   * The field delimiter of CSV (and TSV), when it is not the format's own:
   * `";"`, `"|"`, any single ASCII character but a quote or a line end.
   * A CSV header of one column that holds `;`, `|` or a tab is a ParseError
   * unless the delimiter is given, so a semicolon-separated file never
   * becomes one silent column.
   */
  delimiter?: string;
  /**
   * The text encoding of a byte input (default UTF-8): any `TextDecoder`
   * label (`"windows-1252"`, `"utf-16le"`, `"shift_jis"`...). Invalid bytes
   * are read as U+FFFD and counted in the run's `warnings`. A byte order mark
   * means UTF-16; UTF-16 and ISO-2022-JP are decoded by the main thread.
   */
  encoding?: string;
  /**
   * HTTP headers for every request of an http(s) input (`{ Authorization:
   * "Bearer ..." }`); never logged, never sent to S3 or through Redis
   * (`crunch worker`s take their own `--header`).
   */
  headers?: Record<string, string> | [string, string][];
  /**
   * An http(s) or s3 request that brings no byte for this many ms is tried
   * again, as a 5xx or a reset is (default 30,000; 0: never); one that
   * keeps failing is an `InputError` naming the URL and the byte range.
   */
  httpTimeout?: number;
  /**
   * Whether the first record of a CSV or TSV input is a header row (default
   * true). With false, the records are keyed by `columns`, or by `c1`, `c2`,
   * ... as many as the first record has fields.
   */
  header?: boolean;
  /** Column names for an input without a header row (`header: false`). */
  columns?: string[];
  /**
   * Many files (`files()`): allow CSV and TSV files whose headers differ
   * (default false: a file whose header differs from the first file's is a
   * ParseError).
   */
  mixedHeaders?: boolean;
  /**
   * How many records one worker may have in classify at once (default 1),
   * for classifiers that return promises and wait (a model server, a
   * database, an HTTP API): throughput is then about workers × concurrency
   * divided by the wait. Results, errors, order and tags are as with 1.
   */
  concurrency?: number;
  /** Rows per `classifyBatch` call, for plug-ins that export it (default 64). */
  batchRecords?: number;
  /**
   * How many more times a record is tried when its classify fails with a
   * retryable error (a `RetryableError`, or any error with `retryable:
   * true`), after an exponential backoff with jitter (from 100 ms, doubling,
   * at most 30 s) or the error's `retryAfter` (ms). Default 3; 0 turns
   * retrying off. `Progress.retriedRecords` counts the attempts.
   */
  retries?: number;
  /**
   * At most this many classify (or classifyBatch) calls a second, over all
   * workers together: calls are spaced evenly, through a clock shared by
   * the threads (worker processes each keep their share).
   */
  rateLimit?: { perSecond: number };
}

/** Options of {@linkcode classify}: those of the pool and those of the run. */
export interface ClassifyOptions extends PoolOptions, RunOptions {}

/** Run options that always have a value once resolved (their defaults). */
type Defaulted =
  | "ordered"
  | "chunkBytes"
  | "batchSize"
  | "maxRecordBytes"
  | "onError"
  | "tagged"
  | "maxRespawns"
  | "header"
  | "mixedHeaders"
  | "concurrency"
  | "batchRecords"
  | "retries"
  | "stall"
  | "httpTimeout";

/** Run options with defaults applied, and the command's internal ones. */
export type ResolvedRunOptions =
  & Omit<RunOptions, Defaulted | "headers">
  & { headers?: [string, string][] }
  & Required<Pick<RunOptions, Defaulted>>
  & {
    /** Internal (the command's --resume): the records start here, not after the header. */
    startAt?: { byte: number; index: number; line: number };
    /** Internal: mark resumable points in the outbox (ordered runs). */
    checkpoints?: boolean;
    /** Internal: the output document goes on from this state. */
    documentState?: { started: boolean; columns?: string[] };
    /** Internal: called at each checkpoint; its value is kept in it. */
    onMark?: () => unknown;
    /** Internal (the command's --retry-errors): classify only the records with these indexes. */
    select?: ReadonlySet<number>;
    /** Internal (a run over many files): decoding workers kept from one file to the next. */
    decoders?: DecoderPool;
    /** Internal (outputDir): the workers write each task's results as a part file. */
    parts?: PartSettings;
    /** Internal (the command's --resume with --output-dir): the parts committed, kept. */
    partsLog?: PartsLog;
  };

export { DEFAULT_CHUNK_BYTES } from "./options/defaults.ts";

/** Every key of {@linkcode PoolOptions}. */
export const POOL_KEYS: readonly (keyof PoolOptions)[] = keysOf("pool") as (keyof PoolOptions)[];

/** Every key of {@linkcode RunOptions}. */
export const RUN_KEYS: readonly (keyof RunOptions)[] = keysOf("run") as (keyof RunOptions)[];

const SPECS: readonly OptionSpec[] = OPTIONS;

/** The options of `scope` that `options` gives, checked, with defaults where not given. */
function resolve(scope: "pool" | "run", options: object): Record<string, unknown> {
  const given = options as Record<string, unknown>;
  const resolved: Record<string, unknown> = {};
  for (const spec of SPECS) {
    if (spec.scope !== scope || spec.key === undefined) continue;
    const value = given[spec.key];
    resolved[spec.key] = value === undefined
      ? spec.default
      : spec.kind
      ? spec.kind.check(spec.key, value)
      : value;
  }
  return resolved;
}

/** Checks the `redis` option: a URL, or an object with `url` and limits. */
function checkRedis(redis: unknown): void {
  if (redis === undefined) return;
  const options = typeof redis === "string" ? { url: redis } : redis;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`option redis must be a redis:// URL or { url }, got ${describe(redis)}`);
  }
  checkKeys("the redis option", options, [
    "url",
    "highWater",
    "waitForWorkers",
    "reconnectTimeout",
    "key",
  ]);
  const key = (options as RedisOptions).key;
  if (key !== undefined && (typeof key !== "string" || key.trim().length < 16)) {
    throw new TypeError("option redis.key must be a string of at least 16 characters");
  }
  const { url, highWater, waitForWorkers, reconnectTimeout } = options as RedisOptions;
  if (typeof url !== "string") {
    throw new TypeError(`option redis.url must be a redis:// URL, got ${describe(url)}`);
  }
  parseRedisUrl(url);
  const limit = integer();
  for (const [name, value] of Object.entries({ highWater, waitForWorkers, reconnectTimeout })) {
    if (value !== undefined) limit.check(`redis.${name}`, value);
  }
}

/** Returns the worker count to use, checking the option. */
export function resolveWorkers(workers: unknown): number {
  return workers === undefined
    ? navigator.hardwareConcurrency || 1
    : integer().check("workers", workers);
}

/**
 * Checks the options of a pool (keys, values and that the spec can be sent);
 * `keys: false` when the caller checked the keys already.
 */
export function checkPoolOptions(options: PoolOptions, keys = true): void {
  if (keys) {
    checkKeys(
      "Pool.start() options",
      options,
      POOL_KEYS,
      Object.fromEntries(
        RUN_KEYS.map((
          key,
        ) => [key, `is an option of a run: pass it to pool.classify(input, { ${key} })`]),
      ),
    );
  }
  resolve("pool", options);
  checkRedis(options.redis);
  checkSpec(options.spec);
}

/** Checks the keys of {@linkcode classify}'s options, which are a pool's and a run's. */
export function checkClassifyKeys(options: ClassifyOptions): void {
  checkKeys("classify() options", options, [...POOL_KEYS, ...RUN_KEYS]);
}

/** Applies defaults to run options and checks them, throwing a TypeError or RangeError. */
export function resolveRunOptions(options: RunOptions = {}, keys = true): ResolvedRunOptions {
  if (keys) {
    checkKeys(
      "pool.classify() options",
      options,
      RUN_KEYS,
      Object.fromEntries(
        POOL_KEYS.map((key) => [key, "is an option of the pool: pass it to Pool.start()"]),
      ),
    );
  }
  const resolved = resolve("run", options) as ResolvedRunOptions;
  if (resolved.columns !== undefined && resolved.header) {
    throw new TypeError(
      "option columns names the columns of a file without a header row: add header: false",
    );
  }
  return resolved;
}
