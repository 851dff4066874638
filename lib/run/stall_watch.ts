/**
 * The stall notice: when no record of a task in flight has finished for
 * `stall` ms, the run says so (once for each stall), naming the worker that
 * holds the task, the record it is on (file, index, line) and for how long,
 * and suggesting `timeout`. A promise that never settles or a classify in an
 * endless loop would otherwise hang the run in silence. The notice clears
 * when that task goes on.
 *
 * @module
 */

import type { Base } from "./ledger.ts";
import type { Stall } from "../options.ts";
import type { Flight } from "./flight.ts";
import type { Stats } from "./stats.ts";
import { thousands } from "../numbers.ts";

/** What the watch needs of its run. */
export interface StallRun {
  /** The tasks in flight. */
  flights(): Iterable<Flight>;
  /** Where task `seq`'s first record stands in the input, once every earlier task reported. */
  base(seq: number): Base | undefined;
  /** Who holds task `seq`, when the backend can say ("worker 2"). */
  holder(seq: number): string | undefined;
  /** The input file, for the notice. */
  file: string | undefined;
  stats: Stats;
  /** Reports progress (the notice reaches `onProgress`). */
  report(): void;
}

/** Watches a run's tasks in flight for one whose records stopped finishing. */
export class StallWatch {
  readonly #ms: number;
  readonly #run: StallRun;
  readonly #timer: ReturnType<typeof setInterval>;
  /** The task the current notice is about. */
  #noticed: number | undefined;

  /** Checks `run` every second (or `ms` / 4) for a task without progress for `ms`. */
  constructor(ms: number, run: StallRun) {
    this.#ms = ms;
    this.#run = run;
    this.#timer = setInterval(() => this.#check(), Math.max(10, Math.min(1000, ms / 4)));
  }

  /** Task `seq` sent results: a notice about it is over. */
  progressed(seq: number): void {
    if (this.#noticed !== seq) return;
    this.#noticed = undefined;
    this.#run.stats.stalled = undefined;
    this.#run.report();
  }

  /** The run is over. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    if (this.#noticed !== undefined) return;
    const now = performance.now();
    // A worker works through its tasks in the order they came: the first of each worker's is
    // the one it is on, and those queued behind it are still whether it is stuck or not.
    const current = new Map<string | undefined, Flight>();
    for (const flight of this.#run.flights()) {
      if (flight.state !== "sent") continue;
      const holder = this.#run.holder(flight.seq);
      const first = current.get(holder);
      if (first === undefined || flight.seq < first.seq) current.set(holder, flight);
    }
    let first: Flight | undefined;
    for (const flight of current.values()) {
      if (now - flight.progressAt < this.#ms) continue;
      if (first === undefined || flight.seq < first.seq) first = flight;
    }
    if (first === undefined) return;
    this.#noticed = first.seq;
    this.#run.stats.stalled = this.#stall(first, now - first.progressAt);
    this.#run.report();
  }

  #stall(flight: Flight, ms: number): Stall {
    const { file } = this.#run;
    const worker = this.#run.holder(flight.seq);
    const base = this.#run.base(flight.seq);
    const offset = flight.range.from;
    const index = base && base.index + offset;
    const line = base &&
      (flight.nextLine !== undefined
        ? base.line + flight.nextLine - 1
        : offset === 0
        ? base.line
        : undefined);
    const where = [
      file,
      line === undefined ? undefined : `line ${thousands(line)}`,
    ].filter(Boolean).join(", ");
    const record =
      (index === undefined
        ? `record ${thousands(offset + 1)} of a task`
        : `record ${thousands(index)}`) + (where ? ` (${where})` : "");
    // Known exactly when the worker said it waits for that record (an async classify); a worker
    // stuck in a synchronous loop says nothing, and its last report may lag a little behind.
    const on = flight.onNext
      ? `is on ${record}`
      : `has reported no record from ${record} on: it is on that record or one after it in its ` +
        "task";
    const message = `no record has finished for ${Math.round(ms / 1000)} s: ` +
      `${worker ?? "a worker"} ${on}. A classify that never returns (a promise that never ` +
      `settles, an endless loop) holds the run here: --timeout <ms> (the timeout option) ends a ` +
      `record that takes longer and reports it as an error`;
    return { message, worker, file, index, line, ms: Math.round(ms) };
  }
}
