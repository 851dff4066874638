/**
 * Finds record boundaries in raw bytes without parsing them, so the main
 * thread can cut a file into chunks of whole records.
 *
 * For CSV and TSV a boundary is an LF outside quotes. The quote rules are the
 * parser's (`workers/csv.ts`): a `"` opens a quoted field only at the start of
 * a field (after a delimiter or a line end); inside, `""` is an escaped quote.
 * The cutter jumps from quote to quote with `indexOf`, so unquoted data costs
 * almost nothing to scan. Every ASCII byte it looks for is also an ASCII
 * character in UTF-8, so a multi-byte character is never cut.
 *
 * @module
 */

import { delimiterOf, type Format } from "./protocol.ts";

const LF = 10;
const QUOTE = 34;

/** Finds record boundaries in successive buffers, keeping quote state between calls. */
export interface Cutter {
  /**
   * Scans `buf[from, to)`, which continues the bytes scanned before, and
   * returns the index of the last record-ending LF in it, or -1.
   * The bytes before `from` must hold no boundary not yet returned.
   */
  last(buf: Uint8Array, from: number, to: number): number;
  /** Like {@linkcode Cutter.last} but returns the first boundary, leaving state just after it. */
  first(buf: Uint8Array, from: number, to: number): number;
}

/** A cutter for lines: every LF ends a record. */
class LineCutter implements Cutter {
  last(buf: Uint8Array, from: number, to: number): number {
    if (to <= from) return -1;
    const i = buf.lastIndexOf(LF, to - 1);
    return i >= from ? i : -1;
  }

  first(buf: Uint8Array, from: number, to: number): number {
    const i = buf.indexOf(LF, from);
    return i !== -1 && i < to ? i : -1;
  }
}

/** A quote-aware cutter for delimited text. */
class DelimitedCutter implements Cutter {
  #delimiter: number;
  #inQuote = false;
  /** The last byte scanned was a quote inside a quoted field: escape or close depends on the next. */
  #pendingQuote = false;
  /** Outside-quote regions of the latest scan, as [start, end) pairs. */
  #regions: number[] = [];

  constructor(delimiter: number) {
    this.#delimiter = delimiter;
  }

  /** Advances the quote state over `view[from, to)`, recording the outside regions. */
  #scan(view: Uint8Array, from: number, to: number, stopAtFirst: boolean): number {
    const regions = this.#regions;
    regions.length = 0;
    let i = from;
    while (i < to) {
      if (this.#inQuote) {
        if (this.#pendingQuote) {
          this.#pendingQuote = false;
          if (view[i] === QUOTE) {
            i++;
            continue;
          }
          this.#inQuote = false;
          continue;
        }
        const q = view.indexOf(QUOTE, i);
        if (q === -1) return -1;
        if (q + 1 >= to) {
          this.#pendingQuote = true;
          return -1;
        }
        if (view[q + 1] === QUOTE) {
          i = q + 2;
          continue;
        }
        this.#inQuote = false;
        i = q + 1;
        continue;
      }
      const q = view.indexOf(QUOTE, i);
      const end = q === -1 ? to : q;
      if (stopAtFirst) {
        const lf = view.indexOf(LF, i);
        if (lf !== -1 && lf < end) return lf;
      } else {
        regions.push(i, end);
      }
      if (q === -1) break;
      // Index 0 of a buffer always follows a boundary (or is the start of input).
      const before = q === 0 ? LF : view[q - 1];
      if (before === LF || before === this.#delimiter) this.#inQuote = true;
      i = q + 1;
    }
    return -1;
  }

  last(buf: Uint8Array, from: number, to: number): number {
    const view = buf.subarray(0, to);
    this.#scan(view, from, to, false);
    const regions = this.#regions;
    let r = regions.length / 2 - 1;
    let pos = to - 1;
    while (r >= 0) {
      const start = regions[2 * r];
      const end = regions[2 * r + 1];
      if (end <= start || start > pos) {
        r--;
        continue;
      }
      const lf = view.lastIndexOf(LF, Math.min(pos, end - 1));
      if (lf < from) return -1;
      if (lf >= start) return lf;
      pos = lf;
      r--;
    }
    return -1;
  }

  first(buf: Uint8Array, from: number, to: number): number {
    const lf = this.#scan(buf.subarray(0, to), from, to, true);
    return lf;
  }
}

/** Returns the cutter for `format`. */
export function cutterFor(format: Format): Cutter {
  return format === "ndjson"
    ? new LineCutter()
    : new DelimitedCutter(delimiterOf(format).charCodeAt(0));
}
