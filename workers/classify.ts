/**
 * Classifying a task's records, one driver for every way a plug-in is
 * called. Each record ends as exactly one result or one failure, handed to
 * a {@linkcode ClassifySink} in record order, and the sink is ticked every
 * millisecond or so (to send pieces and let the event loop in):
 * - one record at a time (concurrency 1, no classifyBatch, no rate limit):
 *   a tight loop, the common case and the fast one;
 * - several records in classify at once (`concurrency`, for classifiers that
 *   wait on a server), rows handed to `classifyBatch` in batches, or calls
 *   spaced by a rate limit: units of work in a window, their outcomes still
 *   handed on in record order, and a batch that throws retried record by
 *   record to find the failing one.
 *
 * @module
 */

import type { RetryPolicy } from "../lib/wire/task.ts";
import type { Plugin } from "./load_plugin.ts";
import { isRetryable, type RateGate, retrying } from "./retry.ts";

/** Where a task's outcomes go, in record order. */
export interface ClassifySink {
  /** Record `offset` was classified; `value` is not undefined. */
  result(offset: number, value: unknown): void;
  /** Record `offset`'s classify failed with `error`. */
  failure(offset: number, error: unknown): void;
  /** Record `offset` cannot be classified (malformed, or not sent): a failure of its own. */
  bad(offset: number): void;
  /** A record was tried again. */
  retried(): void;
  /** Called every few milliseconds at most: send, yield; false to stop (the run is gone). */
  tick(next: number): Promise<boolean>;
  /**
   * Every record before `offset` is handed over, and the worker now waits
   * for record `offset` (a promise): what is handed over may go out without
   * waiting for it, however long it takes.
   */
  awaiting(offset: number): void;
}

/** How the records of a task are to be classified. */
export interface ClassifySettings {
  plugin: Plugin;
  rows: unknown[];
  /** Records `[from, to)`. */
  from: number;
  to: number;
  /** Where it is and where to stop, lowered while it runs (its later records split off). */
  bound?: Bound;
  /** Offsets that cannot be classified: a failure each, in place. */
  bad?: Map<number, unknown>;
  /** Only these offsets are classified; the others are passed over (a run over selected records). */
  only?: Set<number>;
  concurrency: number;
  /** Rows per classifyBatch call (when the plug-in exports it). */
  batchRecords: number;
  stopOnError: boolean;
  retry: RetryPolicy;
  rate?: RateGate;
}

/**
 * A task's first record not started yet (`at`), and the record to stop
 * before (`to`), which a split lowers while the task runs; never below `at`.
 */
export interface Bound {
  at: number;
  to: number;
}

/** What a unit of work ended as, per record. */
type Outcome =
  | { offset: number; ok: true; value: unknown }
  | { offset: number; ok: false; error: unknown }
  | { offset: number; bad: true };

/** A contiguous span of records classified together (one record, or one batch). */
interface Unit {
  from: number;
  to: number;
  done: Promise<Outcome[]>;
  outcomes?: Outcome[];
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Most records between two looks at the clock: after a run of quick records,
 * a region of slow ones is noticed (to send pieces, take messages) within
 * this many of them.
 */
const MAX_CHECK_EVERY = 64;
/** Shortest time between two ticks of the sink, ms. */
const TICK_MS = 0.5;

/** Classifies tasks' records; keeps how often to look at the clock from task to task. */
export class Classifier {
  /** Records between two looks at the clock; adapts to the classifier's speed. */
  #checkEvery = 16;

  /** Classifies `settings.rows[from, to)`; resolves with the offset it stopped before. */
  run(settings: ClassifySettings, sink: ClassifySink): Promise<number> {
    const { plugin, concurrency, rate } = settings;
    return plugin.classifyBatch || concurrency > 1 || rate
      ? this.#windowed(settings, sink)
      : this.#oneByOne(settings, sink);
  }

  async #oneByOne(settings: ClassifySettings, sink: ClassifySink): Promise<number> {
    const { rows, from, to, bad, only, stopOnError, retry } = settings;
    const bound = settings.bound ?? { at: from, to };
    const classify = settings.plugin.classify!;
    let lastCheck = performance.now();
    let lastTick = lastCheck;
    let countdown = this.#checkEvery;
    let i = from;
    for (; i < to && i < bound.to; i++) {
      bound.at = i + 1;
      if (only !== undefined && !only.has(i)) continue;
      if (bad?.has(i)) {
        sink.bad(i);
        if (stopOnError) return i + 1;
        continue;
      }
      const row = rows[i];
      try {
        let result: unknown;
        try {
          result = classify(row);
          if (isThenable(result)) {
            sink.awaiting(i);
            result = await result;
          }
        } catch (error) {
          if (!isRetryable(error)) throw error;
          // A transient failure (the plug-in says so): again, after a backoff.
          const again = await retrying(() => classify(row), error, retry, () => sink.retried());
          if (!again.ok) throw again.error;
          result = again.value;
        }
        if (result !== undefined) sink.result(i, result);
      } catch (error) {
        sink.failure(i, error);
        if (stopOnError) return i + 1;
      }
      if (--countdown === 0) {
        const now = performance.now();
        // Look at the clock about once a millisecond, whatever classify costs.
        const took = now - lastCheck;
        if (took > 2) this.#checkEvery = 1;
        else if (took < 0.5 && this.#checkEvery < MAX_CHECK_EVERY) this.#checkEvery *= 2;
        countdown = this.#checkEvery;
        lastCheck = now;
        // A tick (a hop through a promise) about every half millisecond, not at every look.
        if (now - lastTick < TICK_MS) continue;
        lastTick = now;
        if (!(await sink.tick(i + 1))) return i + 1;
      }
    }
    return i;
  }

  async #windowed(settings: ClassifySettings, sink: ClassifySink): Promise<number> {
    const { from, concurrency, stopOnError } = settings;
    const bound = settings.bound ?? { at: from, to: settings.to };
    const to = () => Math.min(settings.to, bound.to);
    const size = settings.plugin.classifyBatch ? settings.batchRecords : 1;
    const window: Unit[] = [];
    let next = from;
    let stopped = false;
    const launch = () => {
      const end = Math.min(to(), next + size);
      const unit: Unit = { from: next, to: end, done: runUnit(settings, next, end, sink) };
      bound.at = end;
      unit.done.then((outcomes) => unit.outcomes = outcomes);
      window.push(unit);
      next = end;
    };
    while ((next < to() && !stopped) || window.length) {
      while (!stopped && next < to() && window.length < concurrency) launch();
      const head = window[0];
      if (head.outcomes === undefined) sink.awaiting(head.from);
      const outcomes = head.outcomes ?? await head.done;
      window.shift();
      for (const outcome of outcomes) {
        if (stopped) break;
        if ("bad" in outcome) sink.bad(outcome.offset);
        else if (!outcome.ok) sink.failure(outcome.offset, outcome.error);
        else if (outcome.value !== undefined) sink.result(outcome.offset, outcome.value);
        if (stopOnError && !("ok" in outcome && outcome.ok)) stopped = true;
      }
      if (stopped) {
        // Nothing after the failing record goes out; what is in flight is left to finish alone.
        return outcomes.find((o) => !("ok" in o && o.ok))!.offset + 1;
      }
      if (!(await sink.tick(head.to))) return head.to;
    }
    return next;
  }
}

/** The outcomes of records `[from, to)`, in order. */
async function runUnit(
  settings: ClassifySettings,
  from: number,
  to: number,
  sink: ClassifySink,
): Promise<Outcome[]> {
  const { plugin, rows, bad, only, retry, rate } = settings;
  const good: number[] = [];
  for (let i = from; i < to; i++) if (!bad?.has(i) && only?.has(i) !== false) good.push(i);
  const one = async (offset: number): Promise<Outcome> => {
    const call = async () => {
      await rate?.take();
      return plugin.classifyBatch
        ? batchOf(await plugin.classifyBatch([rows[offset]]), 1)[0]
        : await plugin.classify!(rows[offset]);
    };
    try {
      return { offset, ok: true, value: await call() };
    } catch (error) {
      const again = await retrying(call, error, retry, () => sink.retried());
      return again.ok
        ? { offset, ok: true, value: again.value }
        : { offset, ok: false, error: again.error };
    }
  };
  let results: Outcome[];
  if (plugin.classifyBatch && good.length > 1) {
    try {
      await rate?.take();
      const values = batchOf(await plugin.classifyBatch(good.map((i) => rows[i])), good.length);
      results = good.map((offset, k) => ({ offset, ok: true as const, value: values[k] }));
    } catch {
      // A batch that fails is run record by record: the failing records fail alone.
      results = [];
      for (const offset of good) results.push(await one(offset));
    }
  } else {
    results = [];
    for (const offset of good) results.push(await one(offset));
  }
  // Put the malformed records back in place.
  const merged: Outcome[] = [];
  let k = 0;
  for (let i = from; i < to; i++) {
    if (only?.has(i) === false) continue;
    merged.push(bad?.has(i) ? { offset: i, bad: true } : results[k++]);
  }
  return merged;
}

/** `values` as the results of a batch of `n` rows, or a TypeError saying what is wrong. */
function batchOf(values: unknown, n: number): unknown[] {
  if (!Array.isArray(values)) {
    throw new TypeError(
      `classifyBatch must return an array of ${n} result${
        n === 1 ? "" : "s"
      }, got ${typeof values}`,
    );
  }
  if (values.length !== n) {
    throw new TypeError(
      `classifyBatch returned ${values.length} result${values.length === 1 ? "" : "s"} for ` +
        `${n} row${n === 1 ? "" : "s"}`,
    );
  }
  return values;
}
