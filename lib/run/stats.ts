/**
 * A run's counters, and the progress snapshots made from them.
 *
 * @module
 */

import type { Progress } from "../options.ts";

/** What a run has counted so far. */
export class Stats {
  records = 0;
  results = 0;
  errors = 0;
  retries = 0;
  respawns = 0;
  isolated = 0;
  recycled = 0;
  reruns = 0;
  retriedRecords = 0;
  /** What went wrong without failing the run (a worker that died while closing). */
  readonly warnings: string[] = [];
  /** What the run waits for now, if anything (no worker has taken it). */
  waiting: string | undefined;

  /** Sets what the run waits for; true when that changed. */
  wait(what: string | undefined): boolean {
    const changed = this.waiting !== what;
    this.waiting = what;
    return changed;
  }

  /** Adds `warning`, unless it is there already. */
  warnOnce(warning: string): void {
    if (!this.warnings.includes(warning)) this.warnings.push(warning);
  }
  readonly #started = performance.now();

  /** A progress snapshot, with the input's bytes as the source reports them. */
  snapshot(input: Pick<Progress, "bytesRead" | "bytesTotal" | "reader">): Progress {
    return {
      records: this.records,
      results: this.results,
      errors: this.errors,
      retries: this.retries,
      respawns: this.respawns,
      isolated: this.isolated,
      recycled: this.recycled,
      reruns: this.reruns,
      ...(this.retriedRecords ? { retriedRecords: this.retriedRecords } : {}),
      ...(this.warnings.length ? { warnings: [...this.warnings] } : {}),
      ...(this.waiting !== undefined ? { waiting: this.waiting } : {}),
      bytesRead: input.bytesRead,
      bytesTotal: input.bytesTotal,
      reader: input.reader,
      elapsedMs: performance.now() - this.#started,
    };
  }
}

/** A progress report of nothing done yet. */
export function emptyProgress(): Progress {
  return {
    records: 0,
    results: 0,
    errors: 0,
    bytesRead: 0,
    elapsedMs: 0,
    retries: 0,
    respawns: 0,
    isolated: 0,
    recycled: 0,
    reruns: 0,
  };
}
