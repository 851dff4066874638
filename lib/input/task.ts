/**
 * What the run's core asks of an input: a source of tasks of one kind (main
 * thread chunks, worker-read byte ranges, batches of rows), each kind in a
 * module of its own behind {@linkcode TaskSource}. The core calls every kind
 * through the same members; what a kind must decide about its own tasks
 * (verifying where a range was cut, what to do with rows a transport cannot
 * carry) it answers with {@linkcode Verdict}s in the core's terms.
 *
 * @module
 */

import type { InputFormat } from "../formats/format.ts";
import type { TaskBody, TaskCount } from "../wire/task.ts";

/** Where a task starts in the input. */
export interface Base {
  /** 0-based index of the task's first record. */
  index: number;
  /** 1-based line where the task starts. */
  line: number;
}

/** One task as the core holds it: what it carries, and the buffers that go with it. */
export interface InputTask {
  body: TaskBody;
  /** Buffers transferred (not copied) with the task; detached once it is sent. */
  transfer: ArrayBuffer[];
}

/** What an input knows once it is open. */
export interface SourceHead {
  /** "rows" for iterables. */
  format: InputFormat | "rows";
  /** Column names, for CSV and TSV. */
  columns?: string[];
  /** 1-based line of the first data record (after the header). */
  firstLine: number;
  /** The field delimiter, when not the format's own. */
  delimiter?: string;
  /** The most tasks the input can make, when known: no more workers than that are useful. */
  tasks?: number;
  /** The encoding of the bytes the workers decode, when not UTF-8. */
  encoding?: string;
  /** The input's size in bytes as stored (compressed, for a compressed input), when known. */
  size?: number;
}

/** What the core does about tasks, as a source finds out about them. */
export type Verdict =
  /** Run task `id` again as `body`: what it sent so far is dropped, its size unknown again. */
  | { kind: "rerun"; id: number; body: TaskBody }
  /** Task `id` holds no record after all: what it sent is dropped. */
  | { kind: "drop"; id: number }
  /** The source has tasks again (after it said it had none); a read begun before this is void. */
  | { kind: "more" }
  /** The run ends with `error`. */
  | { kind: "fail"; error: unknown };

/**
 * The input cannot be read past this point (a record longer than
 * maxRecordBytes): the run ends with the error `at` makes, once the records
 * before it are released.
 */
export class InputStop extends Error {
  /** `at` makes the error from where the records not yet read start. */
  constructor(readonly at: (base: Base) => unknown) {
    super("the input stops here");
  }
}

/** A source of tasks for one run. */
export interface TaskSource {
  /** The file, for error messages. */
  readonly file: string | undefined;
  /** Who reads a byte input now; undefined for rows. */
  readonly reader: "workers" | "main" | undefined;
  /** Input size in bytes, when known. */
  readonly bytesTotal: number | undefined;
  /** Bytes read so far (or, for ranges, of ranges finished). */
  readonly bytesRead: number;
  /**
   * The next task, or null at the end. Throws {@linkcode InputStop} where
   * the input cannot be read on.
   */
  next(): Promise<InputTask | null>;
  /**
   * The run took `task` (the last `next()` gave) as its task `id`. A task
   * read but never taken (a read the run gave up on) is forgotten.
   */
  taken(id: number, task: InputTask): void;
  /**
   * The same task again, to re-run it after its worker died: a chunk's bytes
   * are re-read from the file, or copied from what was kept of a stream.
   */
  again(task: InputTask): Promise<InputTask>;
  /**
   * The backend could not carry `task` (`error`, a DataCloneError): a task
   * it can carry instead, or the error thrown again.
   */
  unsendable(task: InputTask, error: unknown): InputTask;
  /** A worker counted task `id`'s records: what that means for it and the tasks around it. */
  counted(id: number, count: TaskCount): Verdict[];
  /** True while task `id`'s results must wait (a range whose cut is not verified yet). */
  held(id: number): boolean;
  /**
   * Every record of task `id` is reported; returns where the byte after its
   * last record is in the input, when known (for resumable runs).
   */
  completed(id: number, task: InputTask): number | undefined;
  /** Releases the input; safe at any time, more than once. */
  close(): void;
}

/** An input opened: what its head says, and the source of its tasks. */
export interface OpenInput {
  head: SourceHead;
  source: TaskSource;
  /** What the run's warnings should say about how the input is read. */
  warnings?: string[];
}

/** An input checked but not yet opened. */
export interface InputPlan {
  /** The file, for error messages. */
  readonly file: string | undefined;
  /** Opens the input, reads its header, and picks how it is read. */
  open(): Promise<OpenInput>;
  /** Releases the input; safe at any time, more than once (an open under way ends). */
  close(): void;
}
