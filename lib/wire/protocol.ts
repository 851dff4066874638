/**
 * Every message that crosses between the local backend and one of its
 * workers (a Web Worker, or a worker process through `frames.ts`). Tasks and
 * what comes back of them are the run's own types (`task.ts`); this module
 * wraps them with the local run number and adds the worker's life cycle. A
 * run goes:
 *
 * ```text
 * main                                   worker
 *  | -- LoadMessage ----------------------> |  import the plug-in
 *  | <------------- Loaded | LoadFailed --- |  its exports
 *  | -- PrepareMessage -------------------> |  one worker, if the plug-in exports prepare()
 *  | <---------- Prepared | PrepareFailed - |  what it returned, for every worker's init
 *  | -- InitMessage ----------------------> |  call init(spec, context)
 *  | <-------------- Ready | InitFailed --- |
 *  | -- RunMessage -----------------------> |  per input: format, header, policy
 *  | -- TaskMessage ----------------------> |  many, a few in flight per worker
 *  | <--------------------- CountMessage - |  first, for a range or a retried task
 *  | <--------------------- PieceMessage - |  for slow tasks every 50 ms, and the last
 *  | -- UpdateMessage --------------------> |  settings fixed during the run (CSV columns)
 *  | -- CancelMessage --------------------> |  drop queued work of a run, or one task
 *  | -- SplitMessage ---------------------> |  split a running task's rest, then
 *  | <--------------------- SplitReply --- |  where it cut (it keeps the first part)
 *  | -- CloseMessage ---------------------> |  call close(), then
 *  | <--------------------- ClosedMessage - |
 *  | <--------------- ExitMessage | Fatal - |  at any time: the worker is dying
 * ```
 *
 * @module
 */

import type { WorkerContext } from "../plugin.ts";
import type { ResultsPiece, RunSettings, SerializedError, Task, TaskCount } from "./task.ts";

export {
  DEFAULT_BATCH_RECORDS,
  DEFAULT_RETRY,
  RAW_TEXT_CHARS,
  type RetryPolicy,
  type SerializedError,
  serializeError,
} from "./task.ts";

/** main → worker: import the plug-in module and report its exports. */
export interface LoadMessage {
  type: "load";
  module: string;
}

/**
 * main → worker: call the loaded plug-in's `prepare(spec)` and send back
 * what it returns (one worker does, under the workers' own permissions).
 * With `keep`, the worker keeps it for its own `init` and sends back
 * nothing: a transport that cannot share memory (worker processes) gives
 * each worker a copy of its own, built where it is used rather than shipped.
 */
export interface PrepareMessage {
  type: "prepare";
  spec: unknown;
  keep?: boolean;
}

/** main → worker: call the loaded plug-in's `init`. */
export interface InitMessage {
  type: "init";
  spec: unknown;
  context: WorkerContext;
}

/** main → worker: the settings of one run, numbered by the backend; sent once before its tasks. */
export interface RunMessage extends Omit<RunSettings, "rate"> {
  type: "run";
  run: number;
  /** Report the worker's heap in use with each task's last piece (maxWorkerMemory). */
  reportHeap?: boolean;
  /**
   * The rate limit: the next free time is kept in `buffer` where the
   * transport shares memory (threads); without it a worker keeps its own
   * share (`perWorkerUs`).
   */
  rate?: { buffer?: SharedArrayBuffer; intervalUs: number; perWorkerUs: number };
}

/** main → worker: settings of a run fixed while it runs. */
export interface UpdateMessage {
  type: "update";
  run: number;
  /** The CSV output columns, once the first result fixed them. */
  outputColumns?: string[];
}

/** main → worker: one task of a run. */
export interface TaskMessage {
  type: "task";
  run: number;
  task: Task;
}

/**
 * main → worker: forget the queued tasks of a run that ended early; with
 * `task`, that task alone (a raced task that lost): not started, or stopped
 * at its next record, and nothing more of it is sent.
 */
export interface CancelMessage {
  type: "cancel";
  run: number;
  task?: number;
}

/**
 * main → worker: split the records task `task` has not started among
 * `parts` workers (its own and idle ones): it keeps the first part, stops
 * before the next, and answers with a {@linkcode SplitReply}.
 */
export interface SplitMessage {
  type: "split";
  run: number;
  task: number;
  parts: number;
}

/** main → worker: call the plug-in's `close()` and report back. */
export interface CloseMessage {
  type: "close";
}

/** Everything the main side sends. */
export type ToWorker =
  | LoadMessage
  | PrepareMessage
  | InitMessage
  | RunMessage
  | UpdateMessage
  | TaskMessage
  | CancelMessage
  | SplitMessage
  | CloseMessage;

/**
 * thread → main, outside the protocol's turns: a line the plug-in wrote to
 * its console, for the command's standard error (the thread link writes it
 * and passes nothing on).
 */
export interface ConsoleLine {
  type: "console";
  text: string;
}

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

/** worker → main: what `prepare(spec)` returned. */
export interface PreparedMessage {
  type: "prepared";
  shared: unknown;
}

/** worker → main: `prepare(spec)` threw ("threw"), or returned what cannot be sent ("send"). */
export interface PrepareFailedMessage {
  type: "prepare-failed";
  stage: "threw" | "send";
  error: SerializedError;
}

/** worker → main: `init` threw or rejected. */
export interface InitFailedMessage {
  type: "init-failed";
  error: SerializedError;
}

/** worker → main: results of consecutive records of one task. */
export interface PieceMessage {
  type: "piece";
  run: number;
  piece: ResultsPiece;
}

/** worker → main: how many records a task holds, before classifying any. */
export interface CountMessage {
  type: "count";
  run: number;
  count: TaskCount;
}

/**
 * Where task `task` was cut, in answer to a {@linkcode SplitMessage}: it
 * stops before `cuts[0]`; the records `[cuts[k], cuts[k + 1])` are for
 * others, the last cut being the end of its records (`records` in all). No
 * cuts: too little was left, and `leftMs` says how long it will yet take.
 */
export interface SplitAnswer {
  task: number;
  cuts: number[];
  records: number;
  leftMs?: number;
}

/** worker → main: a {@linkcode SplitAnswer}. */
export interface SplitReply extends SplitAnswer {
  type: "split";
  run: number;
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
  | PreparedMessage
  | PrepareFailedMessage
  | InitFailedMessage
  | PieceMessage
  | CountMessage
  | SplitReply
  | ClosedMessage
  | ExitMessage
  | FatalMessage;
