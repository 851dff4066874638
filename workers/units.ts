/**
 * Classifying a task's records when a plain one-at-a-time loop will not do:
 * several records in classify at once (`concurrency`, for classifiers that
 * wait on a server), rows handed to `classifyBatch` in batches, or calls
 * spaced by a rate limit. Outcomes still go out in record order, each record
 * ends as exactly one result or one failure, and a batch that throws is
 * retried record by record to find the failing one.
 *
 * @module
 */

import type { RetryPolicy } from "../lib/wire/protocol.ts";
import type { Plugin } from "./load_plugin.ts";
import { type RateGate, retrying } from "./retry.ts";

/** What a unit of work ended as, per record. */
export type Outcome =
  | { offset: number; ok: true; value: unknown }
  | { offset: number; ok: false; error: unknown }
  | { offset: number; bad: true };

/** Where the outcomes go, and how the task is doing. */
export interface UnitSink {
  /** One record's outcome, in record order. */
  emit(outcome: Outcome): void;
  /** Called now and then (every few milliseconds at most): flush, yield, and false to stop. */
  tick(nextOffset: number): Promise<boolean>;
  /** A record was tried again. */
  retried(): void;
}

/** How the records of a task are to be classified. */
export interface UnitSettings {
  plugin: Plugin;
  rows: unknown[];
  /** Records `[from, to)`. */
  from: number;
  to: number;
  /** Offsets whose text did not parse: a failure each, never classified. */
  bad?: Map<number, unknown>;
  concurrency: number;
  /** Rows per classifyBatch call (when the plug-in exports it). */
  batchRecords: number;
  stopOnError: boolean;
  retry: RetryPolicy;
  rate?: RateGate;
}

/** A contiguous span of records classified together (one record, or one batch). */
interface Unit {
  from: number;
  to: number;
  done: Promise<Outcome[]>;
  outcomes?: Outcome[];
}

/** Classifies `settings.rows[from, to)`; resolves with the offset it stopped before. */
export async function classifyUnits(settings: UnitSettings, sink: UnitSink): Promise<number> {
  const { from, to, concurrency, stopOnError } = settings;
  const size = settings.plugin.classifyBatch ? settings.batchRecords : 1;
  const window: Unit[] = [];
  let next = from;
  let stopped = false;
  const launch = () => {
    const end = Math.min(to, next + size);
    const unit: Unit = { from: next, to: end, done: runUnit(settings, next, end, sink) };
    unit.done.then((outcomes) => unit.outcomes = outcomes);
    window.push(unit);
    next = end;
  };
  while ((next < to && !stopped) || window.length) {
    while (!stopped && next < to && window.length < concurrency) launch();
    const head = window[0];
    const outcomes = head.outcomes ?? await head.done;
    window.shift();
    for (const outcome of outcomes) {
      if (stopped) break;
      sink.emit(outcome);
      if (stopOnError && !("ok" in outcome && outcome.ok)) stopped = true;
    }
    if (stopped) {
      // Nothing after the failing record goes out; what is in flight is left to finish alone.
      return outcomes.find((o) => !("ok" in o && o.ok))!.offset + 1;
    }
    if (!(await sink.tick(head.to))) return head.to;
  }
  return to;
}

/** The outcomes of records `[from, to)`, in order. */
async function runUnit(
  settings: UnitSettings,
  from: number,
  to: number,
  sink: UnitSink,
): Promise<Outcome[]> {
  const { plugin, rows, bad, retry, rate } = settings;
  const good: number[] = [];
  for (let i = from; i < to; i++) if (!bad?.has(i)) good.push(i);
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
  // Put the parse failures back in place.
  const merged: Outcome[] = [];
  let k = 0;
  for (let i = from; i < to; i++) {
    merged.push(bad?.has(i) ? { offset: i, bad: true } : results[k++]);
  }
  return merged;
}

/** `values` as the results of a batch of `n` rows, or a TypeError saying what is wrong. */
function batchOf(values: unknown, n: number): unknown[] {
  if (!Array.isArray(values)) {
    throw new TypeError(`classifyBatch must return an array of ${n} results, got ${typeof values}`);
  }
  if (values.length !== n) {
    throw new TypeError(`classifyBatch returned ${values.length} results for ${n} rows`);
  }
  return values;
}
