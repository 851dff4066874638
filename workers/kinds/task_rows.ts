/**
 * What a worker makes of one task before classifying it, whatever its kind:
 * the rows, where each starts, and the records that cannot be classified
 * (malformed text, rows the transport could not carry), each kept in its
 * place so that record offsets stay exact.
 *
 * @module
 */

import type { BadRecord, ParsedChunk } from "../../lib/formats/parsed_chunk.ts";
import type { Cut, InvalidText, Unsendable } from "../../lib/wire/task.ts";

/** A record that cannot be classified: malformed text, or a row that could not be sent. */
export type BadRow = BadRecord | Unsendable;

/** The rows of one task. */
export interface TaskRows {
  /** Each record: a row, or undefined where `bad` holds it. */
  rows: unknown[];
  /** 1-based line within the task's text where each record starts (byte inputs). */
  lines?: number[];
  /** Newline characters in the task's text. */
  newlines: number;
  /** Records that cannot be classified, by offset. */
  bad?: Map<number, BadRow>;
  /** The task's text, for the raw text of malformed records. */
  text: string;
  /** The input's byte offset where `text` starts, when known. */
  byte?: number;
  /** Byte ranges: where this worker cut, and whether the cut proved right. */
  cut?: Cut;
  /** Only these records are classified (the others are counted only). */
  select?: Set<number>;
  /** False when the task is to be counted only (a range cut at a wrong place): main redoes it. */
  classify: boolean;
  /** Bytes of the text its decoder could not read. */
  invalid?: InvalidText;
}

/** The rows of a parsed text that starts at input byte `byte`. */
export function rowsOfParsed(parsed: ParsedChunk, text: string, byte?: number): TaskRows {
  return {
    rows: parsed.rows,
    lines: parsed.lines,
    newlines: parsed.newlines,
    bad: parsed.bad.size ? parsed.bad : undefined,
    text,
    byte,
    classify: true,
  };
}
