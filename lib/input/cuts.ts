/**
 * Verifying where the workers cut a file into byte ranges. A worker takes a
 * range's records to start after the first LF at or after its start; for
 * CSV and TSV that LF can lie inside a quoted field. The range before shows
 * it: its own last LF lies inside the quote, so its worker reads on to where
 * its last record really ends, and reports that end. So the ranges are
 * verified in order, each against where the verified ones end:
 * - a range that starts exactly there was cut right;
 * - a range that starts elsewhere is run again from there (its results are
 *   dropped, nothing of them released);
 * - a range that lies wholly before it holds no record of its own.
 * A range's results wait until it is verified. Only a record too long to
 * read on over (a runaway quote) sends the rest of the file to the main
 * thread's exact cutting.
 *
 * @module
 */

import type { Cut } from "../wire/task.ts";

/** What the scheduler does about a range, as verification finds it. */
export type CutAction =
  /** Run range `seq` again, from `offset` (a record start) to its end. */
  | { kind: "redo"; seq: number; offset: number }
  /** Range `seq` holds no record: drop what it sent. */
  | { kind: "empty"; seq: number }
  /** Stop handing out ranges; the main thread reads on from `verifiedEnd`. */
  | { kind: "fallBack" };

/** The verification state of a run's ranges (sequence numbers 0 to `ranges` - 1). */
export class Cuts {
  /** Ranges handed out so far: they hold sequence numbers 0 to ranges - 1. */
  #ranges = 0;
  /** Where each range ends (its byte offset end), by sequence number. */
  #ends = new Map<number, number>();
  /** Cut reports not yet verified, by sequence number. */
  #reports = new Map<number, { start?: number; end?: number; clean: boolean }>();
  /** Every range before this one is verified. */
  #verified = 0;
  /** Where the records of the verified ranges end: a record boundary. */
  #verifiedEnd = 0;
  #fellBack = false;

  /** Where the verified ranges' records end. */
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

  /** Where range `seq` ends. */
  endOf(seq: number): number {
    return this.#ends.get(seq)!;
  }

  /** A range `[offset, end)` was handed out as task `seq`; `exact` when it starts at a record start. */
  added(seq: number, offset: number, end: number, exact: boolean): void {
    if (exact) this.#verifiedEnd = offset;
    this.#ends.set(seq, end);
    this.#ranges = seq + 1;
  }

  /** True while task `seq`'s results must wait for the ranges before it. */
  held(seq: number): boolean {
    return !this.#fellBack && seq >= this.#verified && seq < this.#ranges;
  }

  /** Range `seq` reported where it was cut; returns what to do about the ranges it verifies. */
  report(seq: number, cut: Cut): CutAction[] {
    if (this.#fellBack || seq >= this.#ranges || seq < this.#verified) return [];
    this.#reports.set(seq, { start: cut.start, end: cut.end, clean: cut.clean });
    const actions: CutAction[] = [];
    while (this.#verified < this.#ranges) {
      const seq = this.#verified;
      if (this.#verifiedEnd >= this.#ends.get(seq)!) {
        // The record before it runs past its end: no record starts in it.
        actions.push({ kind: "empty", seq });
        this.#reports.delete(seq);
        this.#ends.delete(seq);
        this.#verified++;
        continue;
      }
      const report = this.#reports.get(seq);
      if (report === undefined) break;
      this.#reports.delete(seq);
      // A worker that could not read the file (a sandbox) reports no cut at all.
      if (report.start !== undefined && report.start !== this.#verifiedEnd) {
        actions.push({ kind: "redo", seq, offset: this.#verifiedEnd });
        break;
      }
      if (!report.clean) {
        this.#fellBack = true;
        this.#reports.clear();
        actions.push({ kind: "fallBack" });
        break;
      }
      this.#verifiedEnd = report.end!;
      this.#ends.delete(seq);
      this.#verified++;
    }
    return actions;
  }
}
