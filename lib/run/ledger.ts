/**
 * Numbers the records of a run across chunks that finish out of order.
 *
 * The main thread never counts records or lines itself (that would mean
 * scanning every byte); each worker reports how many records and newlines its
 * chunk held. A chunk's first record index and first line are known once
 * every earlier chunk has reported, and this ledger hands them out then.
 *
 * @module
 */

import type { Base } from "../input/task.ts";

export type { Base };

/** Running prefix sums of records and lines over chunk sequence numbers. */
export class Ledger {
  #counts = new Map<number, { records: number; newlines: number }>();
  #bases = new Map<number, Base>();
  #known = 0;
  #index = 0;
  #line: number;
  /** Told each task's start as it becomes known. */
  onBase: ((seq: number, base: Base) => void) | undefined;

  /**
   * `firstLine` is the line of the first data record (after any header),
   * `firstIndex` its index (not 0 for a resumed run).
   */
  constructor(firstLine: number, firstIndex = 0) {
    this.#line = firstLine;
    this.#index = firstIndex;
  }

  /** Records the size of chunk `seq`, making the bases of the chunks after it known where possible. */
  report(seq: number, records: number, newlines: number): void {
    this.#counts.set(seq, { records, newlines });
    for (let c = this.#counts.get(this.#known); c; c = this.#counts.get(this.#known)) {
      this.#counts.delete(this.#known);
      const base = { index: this.#index, line: this.#line };
      this.#bases.set(this.#known, base);
      this.onBase?.(this.#known, base);
      this.#index += c.records;
      this.#line += c.newlines;
      this.#known++;
    }
  }

  /** Takes back chunk `seq`'s size, reported but not yet folded in: it will be reported again. */
  retract(seq: number): void {
    if (seq < this.#known) throw new Error(`chunk ${seq} is already numbered`);
    this.#counts.delete(seq);
  }

  /** The base of chunk `seq` once every earlier chunk has reported, else undefined. */
  base(seq: number): Base | undefined {
    return this.#bases.get(seq);
  }

  /**
   * Where chunk `seq` starts (its first record's index and line) once every
   * earlier chunk has reported, whether or not it has itself; else undefined.
   */
  start(seq: number): Base | undefined {
    if (seq === this.#known) return { index: this.#index, line: this.#line };
    return this.#bases.get(seq);
  }

  /** Forgets chunk `seq` once it is released. */
  forget(seq: number): void {
    this.#bases.delete(seq);
  }
}
