/**
 * Skew, for the run report: each worker's task times (median and slowest),
 * and the tail of the run, how long its last 5% of records took against the
 * first 95%: what one slow worker or one slow region does to a run's end.
 *
 * @module
 */

/** The tail of a run: the time to its first 95% of records, and from there to its end. */
export interface Tail {
  first95Ms: number;
  last5Ms: number;
}

/** Task times and record completions, as tasks end. */
export class Skew {
  readonly #tasks = new Map<string, number[]>();
  /** When each task ended, and its records. */
  readonly #ends: { at: number; records: number }[] = [];

  /** A task of `records` records that took `ms` on `worker` ended now. */
  task(worker: string, ms: number, records: number): void {
    let times = this.#tasks.get(worker);
    if (times === undefined) this.#tasks.set(worker, times = []);
    times.push(ms);
    this.#ends.push({ at: performance.now(), records });
  }

  /** `worker`'s median and slowest task time, ms, if it ran any. */
  taskMs(worker: string): { median: number; max: number } | undefined {
    const times = this.#tasks.get(worker);
    if (!times?.length) return undefined;
    const sorted = [...times].sort((a, b) => a - b);
    return { median: sorted[sorted.length >> 1], max: sorted[sorted.length - 1] };
  }

  /** The tail of a run that started at `started` and has ended now. */
  tail(started: number): Tail | undefined {
    const total = this.#ends.reduce((n, e) => n + e.records, 0);
    if (total === 0) return undefined;
    let done = 0;
    const end = performance.now();
    for (const { at, records } of this.#ends) {
      done += records;
      if (done >= total * 0.95) return { first95Ms: at - started, last5Ms: end - at };
    }
    return undefined;
  }
}
