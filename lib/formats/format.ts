/**
 * The record formats crunch reads and the output formats it writes, and the
 * field delimiter of each delimited format.
 *
 * @module
 */

/** Record formats crunch reads from text. */
export type Format = "csv" | "tsv" | "ndjson";

/** Every input format: the text formats, and Parquet (typed columns in row groups). */
export type InputFormat = Format | "parquet";

/** The field delimiter of a delimited format: `chosen`, else tab for TSV and comma otherwise. */
export function delimiterOf(format: InputFormat | "rows", chosen?: string): string {
  return chosen ?? (format === "tsv" ? "\t" : ",");
}

/**
 * Formats results are written in: serialized inside the workers (NDJSON,
 * CSV, JSON), or a Parquet document written on the main thread.
 */
export type OutputFormat = "ndjson" | "csv" | "json" | "parquet";
