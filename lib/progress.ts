/**
 * What a run reports of itself while it runs: the snapshot `onProgress`
 * receives.
 *
 * @module
 */

/** A task whose records stopped finishing: who holds which record, for how long. */
export interface Stall {
  /** What the notice says, whole. */
  message: string;
  /** The worker that holds the record ("worker 2"), when the backend can say. */
  worker?: string;
  /** The record's input file, where known. */
  file?: string;
  /** The record's 0-based index, where known. */
  index?: number;
  /** The line the record starts on, where known. */
  line?: number;
  /** Milliseconds since a record of its task last finished (or the task was sent). */
  ms: number;
}

/** A snapshot of a run's progress, given to `onProgress`. */
export interface Progress {
  /** Records finished (classified, filtered or failed). */
  records: number;
  /** Results yielded so far or ready to be. */
  results: number;
  /** Records that failed (parse or classify), skipped or handed to `onError`. */
  errors: number;
  /** Bytes read from the input (file and stream inputs). */
  bytesRead: number;
  /** The input's size in bytes, when known (file inputs). */
  bytesTotal?: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** Chunks sent again after their worker died. */
  retries: number;
  /** Workers started to replace ones that died. */
  respawns: number;
  /** Records found to kill their worker, reported as errors. */
  isolated: number;
  /** Workers replaced after `maxChunksPerWorker` chunks. */
  recycled: number;
  /**
   * Byte ranges run again from their first record's true start, because
   * the LF they were cut at lay inside a quoted field.
   */
  reruns: number;
  /**
   * Attempts made again after a record's classify failed with a retryable
   * error (a `RetryableError`, or an error with `retryable: true`), when any.
   */
  retriedRecords?: number;
  /**
   * In the final report only: what went wrong without failing the run, such
   * as a worker that died while closing after every record was accounted for.
   */
  warnings?: string[];
  /**
   * What the run is waiting for, while it waits for it: through Redis, a
   * `crunch worker` to take it (none is serving, or every one refused it,
   * and why). Absent when nothing holds the run up.
   */
  waiting?: string;
  /**
   * While a task's records have stopped finishing for longer than the
   * `stall` option: who holds which record (file, index, line), for how
   * long, and what to do (`message` says it whole). Absent otherwise.
   */
  stalled?: Stall;
  /**
   * Who reads the input now: "workers" (byte ranges of a file), or "main"
   * (the main thread cuts chunks; also after a range was cut inside a quoted
   * field). Undefined for iterable inputs.
   */
  reader?: "workers" | "main";
}
