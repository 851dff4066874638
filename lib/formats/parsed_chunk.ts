/**
 * What a worker's parsers produce from one chunk of bytes.
 *
 * @module
 */

/** A record whose text is malformed, kept in place so record offsets stay exact. */
export interface BadRecord {
  /** 1-based line within the chunk where the record starts. */
  line: number;
  /** What is wrong. */
  reason: string;
  /** Where the record's text starts in the chunk's text, and where it ends. */
  from: number;
  to: number;
}

/** The records of one chunk, in order. */
export class ParsedChunk {
  /** Each record: a row, or a {@linkcode BadRecord} in `bad` at the same offset. */
  readonly rows: unknown[] = [];
  /** 1-based line within the chunk where each record starts. */
  readonly lines: number[] = [];
  /** Malformed records by offset. */
  readonly bad = new Map<number, BadRecord>();
  /** Newline characters in the chunk. */
  newlines = 0;
  /** The text ended inside a quoted field (its last record is bad). */
  openQuote = false;

  /** Appends a good record. */
  push(row: unknown, line: number): void {
    this.rows.push(row);
    this.lines.push(line);
  }

  /** Appends a malformed record, whose text is `[from, to)` of the chunk's text. */
  fail(line: number, reason: string, from: number, to: number): void {
    this.bad.set(this.rows.length, { line, reason, from, to });
    this.rows.push(undefined);
    this.lines.push(line);
  }
}
