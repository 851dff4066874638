/**
 * The seam between a run's core (scheduling, retries, ordering, the output
 * document) and whatever runs its tasks: Web Workers in this process, worker
 * processes, or workers elsewhere. The core asks a backend how much room it
 * has, sends it tasks, and hears back pieces of results, record counts,
 * lost tasks and readiness.
 *
 * @module
 */

import type { WorkerCrashError } from "../errors.ts";
import type {
  BatchMessage,
  ChunkMessage,
  CountMessage,
  PieceMessage,
  RangeMessage,
  RunMessage,
} from "../wire/protocol.ts";

/** One unit of work as it goes to a worker. */
export type TaskMessage = ChunkMessage | RangeMessage | BatchMessage;

/** The settings every worker of a run gets once, before its tasks. */
export type RunSettings = Omit<RunMessage, "type">;

/** Limits the backend enforces on the workers of a run. */
export interface RunLimits {
  /** Longest a task may run on a worker, in milliseconds, before the worker is given up on. */
  timeout?: number;
  /** Replace a worker (calling its close()) after it has finished this many tasks. */
  maxChunksPerWorker?: number;
}

/** What the run's core hears from its backend. */
export interface BackendListener {
  /** Results of consecutive records of a task (several pieces per task, the last one "done"). */
  piece(message: PieceMessage): void;
  /** A task's record count, sent before its results for ranges and retried tasks. */
  count(message: CountMessage): void;
  /**
   * A worker died or was given up on. `tasks` are the sequence numbers it
   * held, the one it was working on first; none of their later messages
   * will arrive.
   */
  lost(tasks: number[], error: WorkerCrashError): void;
  /** Room may have grown: a replacement worker is ready. */
  ready(): void;
  /** The backend cannot go on with the run (a replacement worker failed to start). */
  failed(error: unknown): void;
  /** A worker was replaced after `maxChunksPerWorker` tasks. */
  recycled(): void;
}

/** One run on a backend's workers. */
export interface BackendRun {
  /** How many more tasks the workers can take now. */
  room(): number;
  /**
   * Sends a task to a worker, transferring `transfer`. Throws a
   * `DataCloneError` DOMException when the task cannot be sent (a batch
   * holding a function, say).
   */
  send(task: TaskMessage, transfer?: ArrayBuffer[]): void;
  /** The CSV output columns of the run are now fixed. */
  columns(columns: string[]): void;
  /** The run is over; with `cancel`, the workers drop what they still hold of it. */
  end(cancel: boolean): void;
}

/** A set of workers with a plug-in loaded and initialised, which runs tasks. */
export interface Backend {
  /** Number of workers. */
  readonly size: number;
  /**
   * Starts a run: waits for workers lost earlier to be replaced, then sends
   * every worker the run's settings. Rejects when a worker cannot be started.
   */
  begin(settings: RunSettings, limits: RunLimits, listener: BackendListener): Promise<BackendRun>;
  /**
   * Calls the plug-in's close() in every worker, then stops them; rejects
   * with the first error, resolves with warnings (a worker that died while
   * closing, a close() that did not finish in time).
   */
  close(): Promise<string[]>;
  /** Stops every worker at once. */
  terminate(): void;
}
