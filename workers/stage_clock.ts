/**
 * Where one task's time goes in a worker: reading, parsing, classifying,
 * encoding and sending, and its slowest record. The classify loop already
 * reads the clock after every record (to hand results over and to yield), so
 * timing costs it one subtraction a record.
 *
 * @module
 */

import type { StageTimes } from "../lib/wire/task.ts";

/** The stage times of one task. */
export class StageClock {
  /** When the task arrived. */
  readonly started = performance.now();
  read = 0;
  parse = 0;
  encode = 0;
  send = 0;
  #classifyFrom = 0;
  #classify = 0;
  #lastTick = 0;
  /** The record after the last tick's. */
  #lastNext = 0;
  #slowest: NonNullable<StageTimes["slowest"]> | undefined;

  /** Classifying starts, at record `from`. */
  classifying(from: number): void {
    this.#classifyFrom = this.#lastTick = performance.now();
    this.#lastNext = from;
  }

  /**
   * Records before `next` are done, at `now`. The classify loop looks at the
   * clock once a record when records are slow (over 2 ms), else once in a
   * stretch of up to 1,024: the time since the last tick is that stretch's.
   */
  tick(next: number, now: number): void {
    const ms = now - this.#lastTick;
    const records = next - this.#lastNext;
    this.#lastTick = now;
    this.#lastNext = next;
    if (records > 0 && (this.#slowest === undefined || ms > this.#slowest.ms)) {
      this.#slowest = { offset: next - records, ms };
      if (records > 1) this.#slowest.records = records;
    }
  }

  /** Classifying ended: its time is what the classify loop took, less what it spent sending. */
  classified(): void {
    if (this.#classifyFrom === 0) return;
    this.#classify = performance.now() - this.#classifyFrom - this.encode - this.send;
  }

  /** The times so far; `lines` are the task's records' lines, when it has them. */
  times(lines?: number[]): StageTimes {
    const times: StageTimes = {
      read: this.read,
      parse: this.parse,
      classify: Math.max(0, this.#classify),
      encode: this.encode,
      send: this.send,
      busy: performance.now() - this.started,
    };
    if (this.#slowest) {
      const line = lines?.[this.#slowest.offset];
      times.slowest = line === undefined ? this.#slowest : { ...this.#slowest, line };
    }
    return times;
  }
}
