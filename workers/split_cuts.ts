/**
 * Where a worker cuts the records of its task that it has not started, to
 * share them among `parts` workers (its own first): in equal parts, each of
 * at least {@linkcode MIN_PART} records and, at the pace the task has gone
 * so far, {@linkcode MIN_PART_MS} of work, and {@linkcode SETUP_TIMES} what
 * reading and parsing the task took (each part costs its worker that first).
 *
 * @module
 */

import type { Bound } from "./classify.ts";

/** Records each part holds at least. */
export const MIN_PART = 2;
/** Work each part holds at least, ms, at the task's pace so far. */
export const MIN_PART_MS = 100;
/** ...and at least this many times what reading and parsing the task took. */
export const SETUP_TIMES = 4;

/** A task under way: its bound, where and when it began, and what reading and parsing it took. */
export interface Progress extends Bound {
  from: number;
  startedAt: number;
  setupMs?: number;
}

/**
 * The cuts of `task`'s records not started, at `now`, into `parts` at most:
 * the first is where its own part ends, the last where its records end.
 * Empty when too little is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitCuts } from "./split_cuts.ts";
 *
 * // 100 records done in 1,000 ms: 300 left are 3,000 ms of work.
 * const task = { from: 0, at: 100, to: 400, startedAt: 0 };
 * assert.deepEqual(splitCuts(task, 3, 1000), [200, 300, 400]);
 * // 3 left are 30 ms: not worth a read of the task elsewhere.
 * assert.deepEqual(splitCuts({ ...task, at: 397 }, 3, 3970), []);
 * // A task that took 400 ms to read and parse: parts of 1,600 ms at least.
 * assert.deepEqual(splitCuts({ ...task, setupMs: 400 }, 3, 1000), []);
 * ```
 */
export function splitCuts(task: Progress, parts: number, now: number): number[] {
  const { at, to } = task;
  const left = to - at;
  const msEach = msPerRecord(task, now);
  const minMs = Math.max(MIN_PART_MS, SETUP_TIMES * (task.setupMs ?? 0));
  parts = Math.min(parts, Math.floor(left / MIN_PART), Math.floor((left * msEach) / minMs));
  if (!(parts >= 2)) return [];
  const cuts = [];
  for (let k = 1; k <= parts; k++) cuts.push(at + Math.round((left * k) / parts));
  return cuts;
}

/**
 * How long `task` has taken per record so far, ms (Infinity before its
 * first record is done).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { msPerRecord } from "./split_cuts.ts";
 *
 * assert.equal(msPerRecord({ from: 0, at: 100, to: 400, startedAt: 0 }, 1000), 10);
 * ```
 */
export function msPerRecord(task: Progress, now: number): number {
  const { from, at, startedAt } = task;
  return at > from ? (now - startedAt) / (at - from) : Infinity;
}
