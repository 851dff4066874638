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
  #slowest: { offset: number; line?: number; ms: number } | undefined;

  /** Classifying starts. */
  classifying(): void {
    this.#classifyFrom = this.#lastTick = performance.now();
  }

  /** Records up to `next` are done, at `now`: the stretch since the last tick was record `next - 1`'s. */
  tick(next: number, now: number): void {
    const ms = now - this.#lastTick;
    this.#lastTick = now;
    if (this.#slowest === undefined || ms > this.#slowest.ms) {
      this.#slowest = { offset: next - 1, ms };
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
