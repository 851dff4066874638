/**
 * Verifying where the workers cut a file into byte ranges. A worker takes a
 * range's records to start after the first LF at or after its start; for
 * CSV and TSV that LF can lie inside a quoted field, which shows when the
 * range before is parsed (its parse ends inside the quote). So the ranges
 * are verified in order: a range's results wait until every range before it
 * was cut right, and a wrong cut sends the rest of the file to the main
 * thread's exact cutting.
 *
 * @module
 */

import type { CountMessage } from "../protocol.ts";

/** The verification state of a run's ranges (sequence numbers 0 to `ranges` - 1). */
export class Cuts {
  /** Ranges handed out so far: they hold sequence numbers 0 to ranges - 1. */
  #ranges = 0;
  /** Cut reports not yet folded into #verified, by sequence number. */
  #reports = new Map<number, { clean: boolean; end?: number }>();
  /** Every range before this one was cut right. */
  #verified = 0;
  /** Where the first range not yet verified starts. */
  #verifiedEnd = 0;
  #fellBack = false;

  /** Where the verified ranges end: a record boundary. */
  get verifiedEnd(): number {
    return this.#verifiedEnd;
  }

  /** The first range not yet verified. */
  get verified(): number {
    return this.#verified;
  }

  /** Sequence numbers below this are ranges. */
  get ranges(): number {
    return this.#ranges;
  }

  /** A range was handed out as task `seq`; `exact` when it starts at a known record start. */
  added(seq: number, offset: number, exact: boolean): void {
    if (exact) this.#verifiedEnd = offset;
    this.#ranges = seq + 1;
  }

  /** True while task `seq`'s results must wait for the ranges before it. */
  held(seq: number): boolean {
    return !this.#fellBack && seq >= this.#verified && seq < this.#ranges;
  }

  /**
   * A range reported where it was cut. Returns true when the range at
   * {@linkcode Cuts.verified} proved cut wrong: the caller drops it and every
   * range after it and reads on from {@linkcode Cuts.verifiedEnd} itself.
   */
  report(message: CountMessage): boolean {
    if (this.#fellBack || message.seq >= this.#ranges || message.seq < this.#verified) {
      return false;
    }
    // An empty range (no record starts in it) moves no boundary.
    const end = message.end! > message.start! ? message.end : undefined;
    this.#reports.set(message.seq, { clean: message.clean!, end });
    for (
      let r = this.#reports.get(this.#verified);
      r?.clean;
      r = this.#reports.get(this.#verified)
    ) {
      this.#reports.delete(this.#verified++);
      if (r.end !== undefined) this.#verifiedEnd = r.end;
    }
    if (this.#reports.get(this.#verified)?.clean !== false) return false;
    this.#fellBack = true;
    this.#reports.clear();
    return true;
  }
}
