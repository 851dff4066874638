/**
 * A task and what comes back of it, in the run's own terms: what the run's
 * core hands a backend, and what a backend hands back, whatever carries them
 * (a Web Worker's messages, a worker process's frames, Redis Streams). Both
 * ends of every transport share this vocabulary; the local transport wraps
 * it in the messages of `protocol.ts`.
 *
 * A task is numbered by whoever sends it (`id`), and everything that comes
 * back of it names that number: the run's core numbers its tasks in input
 * order, a Redis coordinator by its own task ids.
 *
 * Each kind of task has one body type here; the main side makes bodies in
 * `lib/input/`, one module per kind, and a worker turns them into rows in
 * `workers/kinds/`, one module per kind.
 *
 * @module
 */

import type { Fingerprint } from "./fingerprint.ts";
import type { ObjectVersion } from "./object_version.ts";
import type { Format, OutputFormat } from "../formats/format.ts";
import type { ParquetCompression, ParquetSchema } from "../formats/parquet_output.ts";

/** An error flattened so that it survives structured cloning with its class name and stack. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** Whole records as bytes, `buffer[start, end)`, cut by the main thread; transferred, not copied. */
export interface ChunkBody {
  kind: "chunk";
  buffer: ArrayBuffer;
  start: number;
  end: number;
  /** Byte offset of `buffer[start]` in the input, for the positions of malformed records. */
  offset?: number;
  /** Classify only the records at these offsets (a run over selected records); the rest only count. */
  select?: number[];
}

/**
 * The records that start in bytes `[offset, end)` of the file at `path`
 * (or of the object at the URL `path`, when `version` is set), read by the
 * worker itself. Unless `exact`, the first record is taken to
 * start after the first LF at or after `offset - 1`, and the last to end at
 * the first LF at or after `end - 1`: a guess for CSV and TSV (the LF may sit
 * inside a quoted field), checked against the cut the range before reports.
 */
export interface RangeBody {
  kind: "range";
  path: string;
  offset: number;
  end: number;
  /** A record starts exactly at `offset` (the first range, or a range run again from its true start). */
  exact: boolean;
  /** How far past `end` to look for the last record's end. */
  maxRecordBytes: number;
  /** What the file was when the run opened it; a range of a file that changed is not read. */
  fingerprint?: Fingerprint;
  /** An object behind a URL (http, https, s3): the version the run reads. */
  version?: ObjectVersion;
}

/** A row of a batch that the transport could not carry: it becomes a failure of its own. */
export interface Unsendable {
  offset: number;
  /** The row as text, for the error. */
  record: string;
  /** Why it could not be sent. */
  reason: string;
}

/** Rows from an iterable. */
export interface BatchBody {
  kind: "batch";
  /** The rows; an unsendable row's place holds `undefined`. */
  rows: unknown[];
  /** Rows that could not be sent, by offset: each is a failure, in its place. */
  unsendable?: Unsendable[];
}

/**
 * Rows `[rowStart, rowEnd)` of a Parquet file (or object) at `path`: whole
 * row groups, read by the worker itself from the column chunks `metadata`
 * locates. The main thread read the footer once; `metadata` is its parse
 * with only this task's row groups, so a worker parses no footer.
 */
export interface RowGroupsBody {
  kind: "rowgroups";
  path: string;
  /** The file's size in bytes. */
  size: number;
  /** The file's metadata (hyparquet's FileMetaData), its `row_groups` only this task's. */
  metadata: unknown;
  /** Index in the file of the first of `metadata`'s row groups, for error messages. */
  firstGroup: number;
  /** Read only these top-level columns (all when absent). */
  columns?: string[];
  /** Read rows `[rowStart, rowEnd)` of these row groups only (a slice of a group, or a limit). */
  rowStart?: number;
  rowEnd?: number;
  /** What the file was when the run opened it; a file that changed is not read. */
  fingerprint?: Fingerprint;
  /** An object behind a URL: the version the run reads. */
  version?: ObjectVersion;
}

/** What a task carries, by kind. */
export type TaskBody = ChunkBody | RangeBody | BatchBody | RowGroupsBody;

/** One unit of work: records of one body, `[from, to)` of them. */
export interface Task {
  /** The sender's number for it; what comes back of it names this number. */
  id: number;
  body: TaskBody;
  /** Classify only records `[from, to)` (a retry after a crash). */
  from?: number;
  to?: number;
  /** Report the task's record count and lines first ({@linkcode TaskCount}). */
  count?: boolean;
}

/** How much of a malformed record's raw text its ParseError carries. */
export const RAW_TEXT_CHARS = 1024;

/** One record that produced an error instead of a result. */
export interface Failure {
  /** "record": classify threw; "parse": the record's text is malformed. */
  kind: "record" | "parse";
  /** 0-based offset of the record within its task. */
  offset: number;
  /** 1-based line within the task's text where the record starts (0 for rows). */
  line: number;
  /** The parsed record (classify failures only). */
  record?: unknown;
  /** Parse failures: the record's raw text (at most {@linkcode RAW_TEXT_CHARS} characters). */
  text?: string;
  /** Parse failures: the byte offset in the input where the record starts, when known. */
  byte?: number;
  error: SerializedError;
  /** The run cannot go on past this record, whatever onError says. */
  fatal?: boolean;
}

/** Results serialized in a worker. */
export interface Encoded {
  /** Untagged runs: every result's line, each ended by a newline (JSON: separated by ",\n"). */
  bytes?: Uint8Array;
  /** Tagged runs: each result's text, for main to wrap with its index and line. */
  texts?: string[];
  /** CSV: the columns the worker used. */
  columns?: string[];
  /** Number of results. */
  count: number;
}

/**
 * The outcomes of consecutive records of one task, in record order: zero or
 * more pieces sent while a slow task is still being classified, then its
 * last piece.
 */
export interface ResultsPiece {
  id: number;
  /** The task's last piece. */
  last: boolean;
  /** Results in record order; records whose result was `undefined` leave no entry. */
  results: unknown[];
  /**
   * The results as JSON text instead (and `results` left empty), where that
   * is exact and cheaper than a structured clone: plain objects of strings,
   * finite numbers, booleans and null.
   */
  json?: string;
  /** For tagged runs: each result's record offset within the task. */
  offsets?: number[];
  /** For tagged runs on bytes: each result's 1-based line within the task's text. */
  lines?: number[];
  failures: Failure[];
  /** Records this piece covers (results + filtered + failures). */
  records: number;
  /** Attempts made again after transient (retryable) failures. */
  retried?: number;
  /** For runs with `encode`: the results serialized (and `results` left empty). */
  encoded?: Encoded;
  /** The last piece: newlines in the task's whole text, so main can number the lines of later tasks. */
  newlines?: number;
  /** The last piece: bytes of the worker's V8 heap in use after the task, when the run asked. */
  heapUsed?: number;
  /** The last piece: bytes of the task's text its decoder could not read, if any. */
  invalid?: InvalidText;
  /** Not the last piece: the 1-based line within the task's text of the next record. */
  nextLine?: number;
  /** Sent while the worker waits for the next record's classify (a promise): it is on that one. */
  waiting?: boolean;
  /** The last piece: where the task's time went in its worker. */
  stages?: StageTimes;
  /** The last piece of a run that writes parts: the task's part, written but not yet committed. */
  part?: WrittenPart;
}

/** How a run's workers write their results as part files (`outputDir`), not send them. */
export interface PartSettings {
  /** The folder the parts go in (absolute). */
  dir: string;
  format: OutputFormat;
  /** The parts compressed whole, as `.gz` or `.zst` (not Parquet, which compresses its pages). */
  compression?: "gzip" | "zstd";
  /** A Parquet part's page compression. */
  codec?: ParquetCompression;
  /** A Parquet part's columns, when declared: every part has the same schema. */
  schema?: ParquetSchema;
  /** What the temporary names of this run's parts start with (hidden: a dot first). */
  prefix: string;
}

/** A task's part, written under a temporary name in the run's folder. */
export interface WrittenPart {
  /** Its temporary path, renamed into place when the task's outcome is recorded. */
  temp: string;
  /** Results it holds. */
  results: number;
  /** Its size in bytes. */
  bytes: number;
}

/** Where a task's time went in the worker that ran it, in ms. */
export interface StageTimes {
  /** Reading its bytes (a byte range read by the worker; 0 for a chunk cut by main). */
  read: number;
  /** Decoding its text and parsing its records. */
  parse: number;
  /** In the plug-in's classify (or classifyBatch), its retries' waits included. */
  classify: number;
  /** Serializing its results (runs with `encode`). */
  encode: number;
  /** Handing its pieces to the transport. */
  send: number;
  /** From the task's arrival to its last piece. */
  busy: number;
  /**
   * Its slowest record: offset within the task, 1-based line within its
   * text, and ms; with `records`, a stretch of that many fast records the
   * worker timed together.
   */
  slowest?: { offset: number; line?: number; ms: number; records?: number };
  /** Who ran it: set by the backend ("worker 2"; through Redis, the crunch worker's name first). */
  worker?: string;
}

/** Bytes of a task's text that its decoder could not read (each became U+FFFD). */
export interface InvalidText {
  /** Replacement characters that stand for undecodable bytes. */
  count: number;
  /** 1-based line within the task's text of the first. */
  line: number;
}

/** Where a worker cut a byte range, and whether the cut proved right. */
export interface Cut {
  /** The byte offset of the first record (absent when the worker could not read the file). */
  start?: number;
  /** The byte offset just after the last record. */
  end?: number;
  /**
   * False when the range's last LF turned out to lie inside a quoted field
   * (or no LF was found within maxRecordBytes past its end), or the file
   * could not be read: the guessed cuts after it are wrong.
   */
  clean: boolean;
  /** The file changed under the run (shrank, or its start was rewritten): why. */
  changed?: string;
  /** The range could not be read, for good (a URL that keeps failing): why. The run ends. */
  error?: string;
}

/**
 * How many records a task holds, before any is classified: for a retried
 * task (to bisect it), and for every byte range (with where it was cut).
 */
export interface TaskCount {
  id: number;
  records: number;
  /** 1-based line of each record within the task's text (retries of byte inputs). */
  lines?: number[];
  newlines: number;
  /** When the task was sent for one record alone (bisection): that record. */
  record?: unknown;
  /** Byte ranges: where the worker cut. */
  cut?: Cut;
}

/** How records that fail with a retryable error are tried again. */
export interface RetryPolicy {
  /** Attempts after the first. */
  max: number;
  /** The first backoff's bound; it doubles with each attempt. */
  baseMs: number;
  /** The longest wait, a retryAfter included. */
  maxMs: number;
}

/** The retry policy unless the options say otherwise: three more attempts, 100 ms doubling, 30 s at most. */
export const DEFAULT_RETRY: RetryPolicy = { max: 3, baseMs: 100, maxMs: 30_000 };

/** Rows per classifyBatch call unless `batchRecords` says otherwise. */
export const DEFAULT_BATCH_RECORDS = 64;

/** What every worker of a run is told once, before its tasks. */
export interface RunSettings {
  /** "rows" means batches of ready-made rows, "parquet" row groups; the others bytes to parse. */
  format: Format | "rows" | "parquet";
  /** The field delimiter of CSV and TSV, when not the format's own (`;`, `|`). */
  delimiter?: string;
  /** CSV/TSV column names from the header row. */
  columns?: string[];
  /** Report each result's record offset and line, for tagged output. */
  tagged: boolean;
  /** Stop a task at its first failure (onError "fail"). */
  stopOnError: boolean;
  /** Serialize results in the worker, to this format. */
  encode?: OutputFormat;
  /** For CSV output: the columns, once the main side has fixed them. */
  outputColumns?: string[];
  /** Records one worker may have in classify at once (classifiers that return promises). */
  concurrency?: number;
  /** Rows per classifyBatch call, when the plug-in exports it. */
  batchRecords?: number;
  /** Retries of records whose classify fails with a retryable error. */
  retry?: RetryPolicy;
  /**
   * Calls spaced `intervalUs` apart across the run's workers; a worker that
   * cannot share the run's clock (a process) spaces its own calls
   * `perWorkerUs` apart (its share).
   */
  rate?: { intervalUs: number; perWorkerUs: number };
  /** The text encoding of byte inputs the workers decode (a TextDecoder label; UTF-8 when absent). */
  encoding?: string;
  /** How inputs behind URLs are fetched. */
  http?: HttpSettings;
  /** The run's span (W3C trace context), when OpenTelemetry is on: task spans are its children. */
  traceparent?: string;
  /** Write each task's results as a part file, not send them. */
  parts?: PartSettings;
}

/** How inputs behind URLs (http, https, s3) are fetched. */
export interface HttpSettings {
  /** Headers sent with every request to an http(s) URL (not to S3). Never logged. */
  headers?: [string, string][];
  /** A request that brings no byte for this long (ms) is abandoned and tried again; 0: never. */
  timeoutMs?: number;
}

/** The default of {@linkcode HttpSettings.timeoutMs}. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/** Flattens any thrown value into a {@linkcode SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    const e = error as { name?: unknown; message: unknown; stack?: unknown };
    return {
      name: typeof e.name === "string" ? e.name : "Error",
      message: String(e.message),
      stack: typeof e.stack === "string" ? e.stack : undefined,
    };
  }
  return { name: "Error", message: `thrown value: ${safeString(error)}` };
}

function safeString(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
