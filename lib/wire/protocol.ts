/**
 * Every message that crosses between the main thread and a crunch worker.
 *
 * Both sides import this module and nothing else to talk to each other, so this
 * file is the whole protocol. A run goes:
 *
 * ```text
 * main                                   worker
 *  | -- LoadMessage ----------------------> |  import the plug-in
 *  | <------------- Loaded | LoadFailed --- |  its exports (main runs prepare() if there)
 *  | -- InitMessage ----------------------> |  call init(spec, context)
 *  | <-------------- Ready | InitFailed --- |
 *  | -- RunMessage -----------------------> |  per input: format, header, policy
 *  | -- ChunkMessage | RangeMessage ------> |  many, a few in flight per worker
 *  |    | BatchMessage                      |  (a range: the worker reads the file itself)
 *  | <--------------------- CountMessage - |  first, for a range or a retried chunk
 *  | <------------------- PartialMessage - |  for slow chunks, every 50 ms
 *  | <----------------------- DoneMessage - |  one per chunk or batch
 *  | -- CancelMessage --------------------> |  drop queued work of a run
 *  | -- CloseMessage ---------------------> |  call close(), then
 *  | <--------------------- ClosedMessage - |
 *  | <--------------- ExitMessage | Fatal - |  at any time: the worker is dying
 * ```
 *
 * @module
 */

import type { Fingerprint } from "./fingerprint.ts";
import type { WorkerContext } from "../plugin.ts";
import type { Format, OutputFormat } from "../formats/format.ts";

/** An error flattened so that it survives structured cloning with its class name and stack. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** How much of a malformed record's raw text its ParseError carries. */
export const RAW_TEXT_CHARS = 1024;

/** main → worker: import the plug-in module and report its exports. */
export interface LoadMessage {
  type: "load";
  module: string;
}

/** main → worker: call the loaded plug-in's `init`. */
export interface InitMessage {
  type: "init";
  spec: unknown;
  context: WorkerContext;
}

/** main → worker: the settings of one input run; sent once per run before its chunks. */
export interface RunMessage {
  type: "run";
  run: number;
  /** "rows" means batches of ready-made rows; the others mean bytes to parse. */
  format: Format | "rows";
  /** The field delimiter of CSV and TSV, when not the format's own (`;`, `|`). */
  delimiter?: string;
  /** CSV/TSV column names from the header row. */
  columns?: string[];
  /** Report each result's record offset and line, for tagged output. */
  tagged: boolean;
  /** Stop a chunk at its first failure (onError "fail"). */
  stopOnError: boolean;
  /** Serialize results in the worker, to this format. */
  encode?: OutputFormat;
  /** For CSV output: the columns, once the main thread has fixed them. */
  outputColumns?: string[];
  /** Report the worker's heap in use with each task's done message (maxWorkerMemory). */
  reportHeap?: boolean;
  /** Records one worker may have in classify at once (classifiers that return promises). */
  concurrency?: number;
  /** Rows per classifyBatch call, when the plug-in exports it. */
  batchRecords?: number;
  /** Retries of records whose classify fails with a retryable error. */
  retry?: RetryPolicy;
  /**
   * Calls spaced `intervalUs` apart across the run's workers: the next free
   * time is kept in `buffer`, shared by threads; a process, which cannot
   * share it, spaces its own calls `perWorkerUs` apart (its share).
   */
  rate?: { buffer?: SharedArrayBuffer; intervalUs: number; perWorkerUs: number };
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

/** main → worker: the CSV output columns of a run are now fixed (from its first result). */
export interface ColumnsMessage {
  type: "columns";
  run: number;
  columns: string[];
}

/** main → worker: whole records as bytes, `buffer[start, end)`, transferred, not copied. */
export interface ChunkMessage {
  type: "chunk";
  run: number;
  seq: number;
  buffer: ArrayBuffer;
  start: number;
  end: number;
  /** Byte offset of `buffer[start]` in the input, for the positions of malformed records. */
  offset?: number;
  /** Classify only records `[from, to)` of the chunk (a retry after a crash). */
  from?: number;
  to?: number;
  /** Report the chunk's record count and lines first ({@linkcode CountMessage}). */
  count?: boolean;
}

/**
 * main → worker: the records that start in bytes `[offset, end)` of the file
 * at `path`, read by the worker itself. Unless `exact`, the first record is
 * taken to start after the first LF at or after `offset - 1`, and the last to
 * end at the first LF at or after `end - 1`: a guess for CSV and TSV (the LF
 * may sit inside a quoted field), checked by the {@linkcode CountMessage}
 * of the range before it.
 */
export interface RangeMessage {
  type: "range";
  run: number;
  seq: number;
  path: string;
  offset: number;
  end: number;
  /** A record starts exactly at `offset` (the first range). */
  exact: boolean;
  /** How far past `end` to look for the last record's end. */
  maxRecordBytes: number;
  /** What the file was when the run opened it; a range of a file that changed is not read. */
  fingerprint?: Fingerprint;
  /** As in {@linkcode ChunkMessage}. */
  from?: number;
  to?: number;
  count?: boolean;
}

/** main → worker: rows from an iterable input. */
export interface BatchMessage {
  type: "batch";
  run: number;
  seq: number;
  rows: unknown[];
  /** As in {@linkcode ChunkMessage}. */
  from?: number;
  to?: number;
  count?: boolean;
}

/** main → worker: forget the queued chunks of a run that ended early. */
export interface CancelMessage {
  type: "cancel";
  run: number;
}

/** main → worker: call the plug-in's `close()` and report back. */
export interface CloseMessage {
  type: "close";
}

/** Everything the main thread sends. */
export type ToWorker =
  | LoadMessage
  | InitMessage
  | RunMessage
  | ColumnsMessage
  | ChunkMessage
  | RangeMessage
  | BatchMessage
  | CancelMessage
  | CloseMessage;

/** worker → main: the plug-in is imported and has `classify`; these are its exports. */
export interface LoadedMessage {
  type: "loaded";
  exports: string[];
}

/** worker → main: the plug-in is initialised. */
export interface ReadyMessage {
  type: "ready";
}

/** worker → main: the plug-in could not be imported, or has no `classify`. */
export interface LoadFailedMessage {
  type: "load-failed";
  /** "load": the import failed; "contract": it loaded but lacks what crunch calls. */
  stage: "load" | "contract";
  error: SerializedError;
  /** Names the module does export (empty when it failed to load at all). */
  exports: string[];
}

/** worker → main: `init` threw or rejected. */
export interface InitFailedMessage {
  type: "init-failed";
  error: SerializedError;
}

/** One record that produced an error instead of a result. */
export interface Failure {
  /** "record": classify threw; "parse": the record's text is malformed. */
  kind: "record" | "parse";
  /** 0-based offset of the record within its chunk or batch. */
  offset: number;
  /** 1-based line within the chunk where the record starts (0 for batches). */
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

/**
 * worker → main: results of consecutive records of one chunk or batch. A
 * chunk's pieces arrive in record order: zero or more "partial" pieces (sent
 * while a slow chunk is still being classified) and then one "done" piece.
 */
export interface PartialMessage {
  type: "partial";
  run: number;
  seq: number;
  /** Results in record order; records whose result was `undefined` leave no entry. */
  results: unknown[];
  /**
   * The results as JSON text instead (and `results` left empty), where that
   * is exact and cheaper than a structured clone: plain objects of strings,
   * finite numbers, booleans and null.
   */
  json?: string;
  /** For tagged runs: each result's record offset within the chunk. */
  offsets?: number[];
  /** For tagged runs on bytes: each result's 1-based line within the chunk. */
  lines?: number[];
  failures: Failure[];
  /** Records this piece covers (results + filtered + failures). */
  records: number;
  /** Attempts made again after transient (retryable) failures. */
  retried?: number;
  /** For runs with `encode`: the results serialized (and `results` left empty). */
  encoded?: Encoded;
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

/** worker → main: the last piece of a chunk or batch. */
export interface DoneMessage extends Omit<PartialMessage, "type"> {
  type: "done";
  /** Newlines in the whole chunk, so main can number the lines of later chunks. */
  newlines: number;
  /** Bytes of the worker's V8 heap in use after the task, when the run asked for it. */
  heapUsed?: number;
}

/** Either piece of a chunk's results. */
export type PieceMessage = PartialMessage | DoneMessage;

/**
 * worker → main: how many records a chunk holds, before classifying any: for
 * a retried chunk, and for every range (with where it was cut).
 */
export interface CountMessage {
  type: "count";
  run: number;
  seq: number;
  records: number;
  /** 1-based line of each record within the chunk (retries of byte inputs). */
  lines?: number[];
  newlines: number;
  /** When the task was sent for one record alone (bisection): that record. */
  record?: unknown;
  /** Ranges: the byte offset of the first record. */
  start?: number;
  /** Ranges: the byte offset just after the last record. */
  end?: number;
  /** Ranges: the file changed under the run (shrank, or its start was rewritten): why. */
  changed?: string;
  /**
   * Ranges: false when the range's last LF turned out to lie inside a quoted
   * field (or no LF was found within maxRecordBytes past its end), so the
   * guessed cuts after it are wrong.
   */
  clean?: boolean;
}

/** worker → main: the plug-in's `close()` has run (error set if it threw). */
export interface ClosedMessage {
  type: "closed";
  error?: SerializedError;
}

/** worker → main: the plug-in called `Deno.exit()` or `self.close()`; the worker is gone. */
export interface ExitMessage {
  type: "exit";
  via: "Deno.exit" | "self.close";
  code?: number;
}

/** worker → main: an error escaped outside classify (a timer, a stray promise); the worker is gone. */
export interface FatalMessage {
  type: "fatal";
  error: SerializedError;
}

/** Everything a worker sends. */
export type FromWorker =
  | LoadedMessage
  | ReadyMessage
  | LoadFailedMessage
  | InitFailedMessage
  | PartialMessage
  | DoneMessage
  | CountMessage
  | ClosedMessage
  | ExitMessage
  | FatalMessage;

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
