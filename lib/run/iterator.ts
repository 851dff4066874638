/**
 * What {@linkcode classify} and `Pool.classify` return: the async iterator
 * over one run's results, which can also hand them over in arrays.
 *
 * @module
 */

import type { Pump } from "./engine.ts";
import type { Checkpoint } from "./release.ts";
import type { RunReport } from "../report.ts";

/**
 * What `classify()` and `Pool.classify()` return: an async iterator of the
 * results, which can also hand them over in arrays.
 *
 * @example
 * ```ts
 * import { classify } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * let total = 0;
 * const results = classify<{ hits: number }>("examples/hits.ts", "examples/reviews.csv", {
 *   spec: { words: ["good", "great"] },
 * });
 * for await (const batch of results.batches()) {
 *   for (const result of batch) total += result.hits;
 * }
 * assert.equal(total, 3);
 * ```
 */
export interface Results<R> extends AsyncIterableIterator<R> {
  /**
   * The same results in arrays, each holding what is ready when it is
   * taken (up to a chunk's worth): one promise per array instead of one per
   * result, for consumers that handle millions of results a second. Order,
   * errors and stopping early work as with the results one by one; use one
   * or the other for a run, not both.
   */
  batches(): AsyncIterableIterator<R[]>;
  /**
   * Where the run's time went (see {@linkcode RunReport}): complete once
   * the results are all taken, a snapshot before; undefined until the run
   * has started (the first `next()`).
   *
   * @example
   * ```ts
   * import { classify } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   *
   * const results = classify("examples/hits.ts", "examples/reviews.csv", {
   *   spec: { words: ["good"] },
   * });
   * let n = 0;
   * for await (const _ of results) n++;
   * assert.equal(n, 2);
   * const report = results.report()!;
   * assert.equal(report.records, 3);
   * assert.equal(report.workers.reduce((n, w) => n + w.records, 0), 3);
   * assert.match(report.bottleneck.sentence, /-bound: /);
   * ```
   */
  report(): RunReport | undefined;
}

/** The consumer's side of a run: one `next()` at a time, in the order they were asked. */
export class RunIterator<R = unknown> implements Results<R> {
  readonly #engine: Pump;
  #busy: Promise<unknown> | undefined;

  constructor(engine: Pump) {
    this.#engine = engine;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<R> {
    return this;
  }

  next(): Promise<IteratorResult<R>> {
    return this.#next(false) as Promise<IteratorResult<R>>;
  }

  report(): RunReport | undefined {
    return this.#engine.report();
  }

  batches(): AsyncIterableIterator<R[]> {
    const iterator: AsyncIterableIterator<R[]> = {
      next: () => this.#next(true) as Promise<IteratorResult<R[]>>,
      return: (value?: unknown) => this.return(value) as Promise<IteratorResult<R[]>>,
      throw: (error?: unknown) => this.throw(error) as Promise<IteratorResult<R[]>>,
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #next(batch: boolean): Promise<IteratorResult<unknown>> {
    if (this.#busy) {
      const again = () => this.#next(batch);
      return this.#busy.then(again, again);
    }
    // A value that is ready is handed out without a trip through the pump.
    const ready = this.#engine.takeReady(batch);
    if (ready) return Promise.resolve({ done: false, value: ready.value });
    const pulling = this.#engine.next(batch);
    this.#busy = pulling;
    const clear = () => {
      this.#busy = undefined;
    };
    pulling.then(clear, clear);
    return pulling;
  }

  /**
   * Internal (the command's --resume): the last resumable point whose
   * results have all been taken (all but the last `behind`), once.
   */
  checkpoint(behind = 0): Checkpoint | undefined {
    return this.#engine.checkpoint?.(behind);
  }

  /** Stops the run: reading stops and the workers are stopped (or given back, for a pool). */
  async return(value?: unknown): Promise<IteratorResult<R>> {
    await this.#engine.stop();
    return { done: true, value };
  }

  /** Stops the run like `return()`, then rethrows `error`. */
  async throw(error?: unknown): Promise<IteratorResult<R>> {
    await this.return();
    throw error;
  }
}
