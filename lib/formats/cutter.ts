/**
 * Finds record boundaries in raw bytes without parsing them, so the main
 * thread can cut a file into chunks of whole records.
 *
 * For CSV and TSV a boundary is an LF outside quotes. The quote rules are the
 * parser's (`workers/csv.ts`): a `"` opens a quoted field only at the start of
 * a field (after a delimiter or a line end); inside, `""` is an escaped quote.
 * The cutter decodes the bytes and jumps from quote to quote with the
 * string's `indexOf`, so unquoted data costs almost nothing to scan. Every
 * ASCII byte it looks for is also an ASCII character in UTF-8, so a
 * multi-byte character is never cut.
 *
 * @module
 */

import { delimiterOf, type Format } from "./format.ts";

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
  /** The last character scanned was a quote inside a quoted field: escape or close depends on the next. */
  #pendingQuote = false;
  /** Outside-quote regions of the latest scan, as [start, end) pairs of text indices. */
  #regions: number[] = [];
  #decoder = new TextDecoder();

  constructor(delimiter: number) {
    this.#delimiter = delimiter;
  }

  /**
   * Advances the quote state over `text`, which follows the byte `before`,
   * recording the outside regions (or returning the first LF outside quotes).
   */
  #scan(text: string, before: number, stopAtFirst: boolean): number {
    const regions = this.#regions;
    regions.length = 0;
    const to = text.length;
    let i = 0;
    while (i < to) {
      if (this.#inQuote) {
        if (this.#pendingQuote) {
          this.#pendingQuote = false;
          if (text.charCodeAt(i) === QUOTE) {
            i++;
            continue;
          }
          this.#inQuote = false;
          continue;
        }
        const q = text.indexOf('"', i);
        if (q === -1) return -1;
        if (q + 1 >= to) {
          this.#pendingQuote = true;
          return -1;
        }
        if (text.charCodeAt(q + 1) === QUOTE) {
          i = q + 2;
          continue;
        }
        this.#inQuote = false;
        i = q + 1;
        continue;
      }
      const q = text.indexOf('"', i);
      const end = q === -1 ? to : q;
      if (stopAtFirst) {
        const lf = text.indexOf("\n", i);
        if (lf !== -1 && lf < end) return lf;
      } else {
        regions.push(i, end);
      }
      if (q === -1) break;
      const previous = q === 0 ? before : text.charCodeAt(q - 1);
      if (previous === LF || previous === this.#delimiter) this.#inQuote = true;
      i = q + 1;
    }
    return -1;
  }

  /**
   * The bytes as text: quote and LF search on a string runs at memory speed,
   * where a typed array's `indexOf` pays a runtime call per quote. ASCII bytes
   * keep their places in UTF-8 decoding (an invalid sequence never swallows
   * one), so quotes, delimiters and LFs come out one to one.
   */
  #text(buf: Uint8Array, from: number, to: number): string {
    return this.#decoder.decode(buf.subarray(from, to));
  }

  /**
   * Byte index in `buf[from, to)` of the LF at text index `at` of `text` (its
   * decoding): the byte LF with as many LFs before it (or after it) as the
   * text's, counted on the side nearer to `at`.
   */
  #byteOf(buf: Uint8Array, from: number, to: number, text: string, at: number): number {
    if (text.length === to - from) return from + at; // all ASCII: indices match
    if (at < text.length / 2) {
      let before = 0;
      for (let i = text.indexOf("\n"); i < at; i = text.indexOf("\n", i + 1)) before++;
      let pos = from - 1;
      for (let k = 0; k <= before; k++) pos = buf.indexOf(LF, pos + 1);
      return pos;
    }
    let after = 0;
    for (let i = text.indexOf("\n", at + 1); i !== -1; i = text.indexOf("\n", i + 1)) after++;
    let pos = to;
    for (let k = 0; k <= after; k++) pos = buf.lastIndexOf(LF, pos - 1);
    return pos;
  }

  last(buf: Uint8Array, from: number, to: number): number {
    if (to <= from) return -1;
    const text = this.#text(buf, from, to);
    this.#scan(text, from > 0 ? buf[from - 1] : LF, false);
    const regions = this.#regions;
    let r = regions.length / 2 - 1;
    let pos = text.length - 1;
    while (r >= 0) {
      const start = regions[2 * r];
      const end = regions[2 * r + 1];
      if (end <= start || start > pos) {
        r--;
        continue;
      }
      const lf = text.lastIndexOf("\n", Math.min(pos, end - 1));
      if (lf < 0) return -1;
      if (lf >= start) return this.#byteOf(buf, from, to, text, lf);
      pos = lf;
      r--;
    }
    return -1;
  }

  first(buf: Uint8Array, from: number, to: number): number {
    if (to <= from) return -1;
    const text = this.#text(buf, from, to);
    const lf = this.#scan(text, from > 0 ? buf[from - 1] : LF, true);
    return lf === -1 ? -1 : this.#byteOf(buf, from, to, text, lf);
  }
}

/** Returns the cutter for `format` (with `delimiter` instead of the format's own, if given). */
export function cutterFor(format: Format, delimiter?: string): Cutter {
  return format === "ndjson"
    ? new LineCutter()
    : new DelimitedCutter(delimiterOf(format, delimiter).charCodeAt(0));
}
