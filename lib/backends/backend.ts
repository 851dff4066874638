/**
 * The seam between a run's core (scheduling, retries, ordering, the output
 * document) and whatever runs its tasks: Web Workers in this process, worker
 * processes, or `crunch worker`s elsewhere through Redis. It speaks the
 * run's own terms (`lib/wire/task.ts`): the core sends tasks numbered in
 * input order and hears back pieces of results, record counts, lost tasks
 * and readiness under those numbers. How a backend carries them (which run
 * number its workers know, which ids its queue uses) is its own business.
 *
 * @module
 */

import type { SplitAnswer } from "../wire/protocol.ts";
import type { WorkerCrashError } from "../errors.ts";
import type { ResultsPiece, RunSettings, Task, TaskCount } from "../wire/task.ts";

export type { ResultsPiece, RunSettings, Task, TaskCount } from "../wire/task.ts";

/** Limits the backend enforces on the workers of a run. */
export interface RunLimits {
  /** Longest a task may run on a worker, in milliseconds, before the worker is given up on. */
  timeout?: number;
  /** Replace a worker (calling its close()) after it has finished this many tasks. */
  maxChunksPerWorker?: number;
}

/** Settings of a run that become known while it runs. */
export interface RunUpdate {
  /** The CSV output columns, once the first result fixed them. */
  outputColumns?: string[];
}

/** Something about a backend's workers worth counting, that changes nothing in the run. */
export interface WorkerNote {
  /** "recycled": a worker was replaced after `maxChunksPerWorker` tasks or past its heap limit. */
  kind: "recycled";
  /** Which worker. */
  worker: number;
}

/** What the run's core hears from its backend. */
export interface BackendListener {
  /** Results of consecutive records of a task (several pieces per task, the last one `last`). */
  piece(piece: ResultsPiece): void;
  /** A task's record count, sent before its results for ranges and retried tasks. */
  count(count: TaskCount): void;
  /**
   * A worker died or was given up on. `ids` are the tasks it held, the one
   * it was working on first; nothing more of them will arrive.
   */
  lost(ids: number[], error: WorkerCrashError): void;
  /** The worker of a task answered a {@linkcode BackendRun.split}. */
  split?(answer: SplitAnswer): void;
  /** Room may have grown: a replacement worker is ready. */
  ready(): void;
  /** The backend cannot go on with the run (a replacement worker failed to start). */
  failed(error: unknown): void;
  /** Something about the workers worth counting. */
  note(note: WorkerNote): void;
  /**
   * What the run waits for, said while it waits (no worker has taken it
   * yet, or every worker refused it, and why), or `undefined` once it no
   * longer waits.
   */
  waiting(what: string | undefined): void;
}

/** One run on a backend's workers. */
export interface BackendRun {
  /** How many more tasks the workers can take now. */
  room(): number;
  /**
   * True where a task sent may wait before a worker starts it (Redis's
   * stream): a straggler's time then counts from its first sign of life.
   */
  readonly queues?: boolean;
  /**
   * Sends a task to a worker, transferring `transfer` where the transport
   * can. Throws a `DataCloneError` DOMException when the task cannot be
   * carried (a batch holding a function, say).
   */
  send(task: Task, transfer?: ArrayBuffer[]): void;
  /** Settings of the run fixed while it runs; later tasks are run with them. */
  update(change: RunUpdate): void;
  /** The run is over; with `cancel`, the workers drop what they still hold of it. */
  end(cancel: boolean): void;
  /** Who holds task `id` now ("worker 2"), where the backend can say. */
  holder?(id: number): string | undefined;
  /**
   * Drops task `id` (a raced task that lost), where the backend can: its
   * worker stops it at its next record, or never starts it; nothing more
   * of it arrives. Where it cannot, what still comes of it is dropped.
   */
  cancel?(id: number): void;
  /**
   * Asks the worker holding task `id` to share the records it has not
   * started among `parts` workers, where the backend can: it keeps the
   * first part and its answer comes as {@linkcode BackendListener.split}. A
   * backend without it has its stragglers raced, never split.
   */
  split?(id: number, parts: number): void;
  /** Workers that hold no task now, where the backend can say. */
  idle?(): number;
  /**
   * `worker` (as {@linkcode BackendRun.holder} names it) lost a race to a
   * copy of its task: the backend gives it no more tasks while others can
   * take them, where it can.
   */
  slow?(worker: string): void;
}

/** A set of workers with a plug-in loaded and initialised, which runs tasks. */
export interface Backend {
  /** Number of workers. */
  readonly size: number;
  /** Tasks in flight the backend holds at most: the core keeps about twice that open. */
  readonly capacity: number;
  /**
   * Starts a run: waits for workers lost earlier to be replaced, then tells
   * every worker the run's settings. Rejects when a worker cannot be started.
   */
  begin(settings: RunSettings, limits: RunLimits, listener: BackendListener): Promise<BackendRun>;
  /**
   * Calls the plug-in's close() in every worker, then stops them; rejects
   * with the first error, resolves with warnings (a worker that died while
   * closing, a close() that did not finish in time).
   */
  close(): Promise<string[]>;
  /** Stops every worker at once; resolves when they are gone. */
  terminate(): Promise<void>;
  /** How long each worker took to start and to run `init`, where the backend knows. */
  starts?(): WorkerStart[];
}

/** How long a worker took to start. */
export interface WorkerStart {
  /** Its name, as its tasks' stage times name it ("worker 2"). */
  worker: string;
  /** Starting it and loading the plug-in (with prepare() where it ran), ms. */
  startMs?: number;
  /** The plug-in's `init` in it, ms. */
  initMs?: number;
}
