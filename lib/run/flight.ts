/**
 * A chunk or batch in flight, and what to do with it when its worker dies.
 *
 * A task is classified as one range of records `[from, to)`, at first the
 * whole task. Progress reported by the worker moves `from` forward, so a
 * retry never repeats a record already reported. When the worker dies:
 * - the whole task is retried once (a crash may be a fluke);
 * - a range that kills its worker again is split in halves, each tried once,
 *   again and again;
 * - a single record that kills its worker twice is the culprit: it becomes a
 *   failure of its own, and the rest of the task goes on.
 *
 * @module
 */

import type { InputTask } from "../input/task.ts";
import type { ResultsPiece } from "../wire/task.ts";

/** Records `[from, to)` of a task, and how often a worker died on them. */
export interface Range {
  from: number;
  /** Exclusive end; Infinity until the task's record count is known. */
  to: number;
  attempts: number;
  /** A later part of a task split in flight (see `splits.ts`). */
  split?: true;
  /** The id another worker runs this part under, while it does. */
  tail?: number;
}

/** What a crash means for the task that was being classified. */
export type Verdict =
  /** Send it again; `narrowed` when the suspect records were split in halves. */
  | { kind: "retry"; narrowed?: boolean }
  | { kind: "poison"; offset: number };

/**
 * Where a flight stands:
 * - "waiting": not held by a worker (new, or waiting to be sent again);
 * - "sent": a worker holds it;
 * - "superseded": a worker holds it, but it is to be run again as `next`
 *   (a range found to start at the wrong place): what that worker sends is
 *   dropped, and `next` is sent once it is done with it (or lost it);
 * - "discarded": a worker holds it, but it holds no records after all: what
 *   that worker sends is dropped, and it is forgotten once the worker is done.
 */
export type FlightState = "waiting" | "sent" | "superseded" | "discarded";

/** One task from dispatch until all its records are reported. */
export class Flight {
  readonly seq: number;
  task: InputTask;
  state: FlightState = "waiting";
  /** Ranges still to classify, in order; the first is the current one. */
  ranges: Range[] = [{ from: 0, to: Infinity, attempts: 0 }];
  /** Records in the task, once a worker has counted them. */
  records: number | undefined;
  /** 1-based line of each record within its task's text, once counted (byte inputs). */
  lines: number[] | undefined;
  /** The one record the current range holds, as its worker counted it (for a poison record's error). */
  alone: unknown;
  /** Newlines in the task's text, once known. */
  newlines: number | undefined;
  /** True once a worker died holding it: it is sent with its record count asked for. */
  crashedBefore = false;
  /** When a record of this task last finished, or it was sent (for the stall notice). */
  progressAt = 0;
  /** When it was last sent (a straggler is raced by a copy after a while). */
  sentAt = 0;
  /** When its first count or piece came since it was sent: its worker had started it. */
  startedAt: number | undefined;

  /** The record its current range was at when it was last sent. */
  sentFrom = 0;

  /** It was sent to a worker at `now`. */
  sent(now: number): void {
    this.state = "sent";
    this.progressAt = this.sentAt = now;
    this.startedAt = undefined;
    this.sentFrom = this.range.from;
    this.nextLine = undefined;
    this.onNext = false;
  }

  /** Its worker sent `piece` at `now`: records from the current range's start on. */
  took(piece: ResultsPiece, now: number): void {
    this.startedAt ??= now;
    if (piece.records > 0) {
      this.progressAt = now;
      this.nextLine = piece.nextLine;
      this.onNext = piece.waiting === true;
    }
    this.advance(piece.records);
    if (piece.last) {
      this.newlines = piece.newlines;
      this.busyMs = piece.stages?.busy;
      this.state = "waiting";
    }
  }
  /** How long its worker took, from the task's arrival there (its last piece says). */
  busyMs: number | undefined;
  /** The 1-based line within the task's text of its next record, when a piece said. */
  nextLine: number | undefined;
  /** The last piece was sent while its worker waited for the next record: it is on that one. */
  onNext = false;
  /** What a superseded flight is run as once its worker lets go of it. */
  next: InputTask | undefined;

  /** A flight for `task`, number `seq` in the run. */
  constructor(seq: number, task: InputTask) {
    this.seq = seq;
    this.task = task;
  }

  /** The range being classified. */
  get range(): Range {
    return this.ranges[0];
  }

  /** The worker reported `records` more records of the current range. */
  advance(records: number): void {
    this.range.from += records;
  }

  /** The current range is finished; true when the whole task is. */
  finishRange(): boolean {
    this.ranges.shift();
    if (this.records !== undefined) {
      this.ranges = this.ranges.filter((r) => r.from < Math.min(r.to, this.records!));
    }
    return this.ranges.length === 0;
  }

  /**
   * The worker died while classifying the current range. A `conclusive`
   * death (out of memory, on a fresh worker) is no fluke: the range is split
   * at once, and a single record that dies so is the culprit the first time.
   */
  crashed(conclusive = false): Verdict {
    const range = this.range;
    range.attempts++;
    const end = Math.min(range.to, this.records ?? Infinity);
    const size = end - range.from;
    const first = range.to === Infinity && this.ranges.length === 1;
    if (size === 1) {
      return range.attempts >= 2 || conclusive
        ? { kind: "poison", offset: range.from }
        : { kind: "retry" };
    }
    if ((first && range.attempts < 2 && !conclusive) || !Number.isFinite(size)) {
      return { kind: "retry" };
    }
    const mid = range.from + Math.floor(size / 2);
    this.ranges.splice(
      0,
      1,
      { from: range.from, to: mid, attempts: 0 },
      { from: mid, to: end, attempts: 0 },
    );
    return { kind: "retry", narrowed: true };
  }

  /** The poison record was reported as a failure: move past it. */
  skipPoison(): boolean {
    this.range.from++;
    return this.finishRange();
  }
}
