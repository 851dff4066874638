/**
 * A run's counters, and the progress snapshots made from them.
 *
 * @module
 */

import type { Progress } from "../options.ts";
import type { Stall } from "../options.ts";

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
  /** Copies of straggling tasks raced against them, and the races a copy won. */
  speculated = 0;
  speculationsWon = 0;
  /** Straggling tasks split among idle workers while they ran. */
  splits = 0;
  /** What went wrong without failing the run (a worker that died while closing). */
  readonly warnings: string[] = [];
  /** What the run waits for now, if anything (no worker has taken it). */
  waiting: string | undefined;
  /** A task whose records stopped finishing, while it is so. */
  stalled: Stall | undefined;
  /** Bytes of the input its decoder could not read, and where the first was. */
  #invalid: { count: number; line: number; file?: string; encoding: string } | undefined;

  /** `count` undecodable bytes (each read as U+FFFD) of `file`, the first on `line`. */
  invalidText(count: number, line: number, file: string | undefined, encoding: string): void {
    if (this.#invalid === undefined) this.#invalid = { count: 0, line, file, encoding };
    this.#invalid.count += count;
    this.#invalid.line = Math.min(this.#invalid.line, line);
  }

  /** The warnings, the one about undecodable bytes included. */
  #allWarnings(): string[] {
    const bad = this.#invalid;
    if (bad === undefined) return this.warnings;
    const name = bad.encoding === "utf-8" ? "UTF-8" : bad.encoding;
    const hint = bad.encoding === "utf-8"
      ? "if the file is in another encoding, name it with --encoding (the encoding option), " +
        "e.g. windows-1252 or latin1 for what spreadsheets export"
      : "is --encoding right?";
    return [
      ...this.warnings,
      `${bad.file ?? "the input"}: ${bad.count.toLocaleString("en-US")} ` +
      `${bad.count === 1 ? "byte sequence is" : "byte sequences are"} not valid ${name} ` +
      `(the first on line ${bad.line}) and ${bad.count === 1 ? "was" : "were"} read as ` +
      `U+FFFD: ${hint}`,
    ];
  }

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
      ...(this.warnings.length || this.#invalid ? { warnings: [...this.#allWarnings()] } : {}),
      ...(this.waiting !== undefined ? { waiting: this.waiting } : {}),
      ...(this.stalled !== undefined ? { stalled: this.stalled } : {}),
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
