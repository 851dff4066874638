/**
 * The head of a byte input: the header row of CSV and TSV (or numbered
 * columns without one), blank lines before it skipped, and the mistakes a
 * header shows early (a semicolon-separated file read with commas, lone CR
 * line ends, a column named twice, an unclosed quote).
 *
 * @module
 */

import { ParseError } from "../errors.ts";
import { parseDelimitedRows } from "../formats/csv.ts";
import { delimiterOf, type Format } from "../formats/format.ts";
import { type ChunkReader, RecordTooLong } from "./chunk_reader.ts";
import type { SourceHead } from "./task.ts";

/** The dialect options the head depends on. */
export interface Dialect {
  header: boolean;
  columns?: string[];
  delimiter?: string;
  /** The encoding of the bytes (a TextDecoder's name; UTF-8 when absent). */
  encoding?: string;
}

/**
 * Reads the head of the input `reader` reads (consuming the header row, not
 * a first data record); `file` names it in errors.
 */
export async function readHead(
  reader: ChunkReader,
  format: Format,
  dialect: Dialect,
  file: string | undefined,
): Promise<SourceHead> {
  await notText(reader, format, file);
  const encoding = dialect.encoding;
  if (format === "ndjson") return { format: "ndjson", firstLine: 1, encoding };
  const { header: named, columns: given, delimiter } = dialect;
  let line = 1;
  for (;;) {
    let header;
    try {
      // Without a header row the first record is only looked at: it is data.
      header = await reader.header(false);
    } catch (error) {
      if (!(error instanceof RecordTooLong)) throw error;
      throw new ParseError(
        `the header row is longer than ${error.limit} bytes (maxRecordBytes): is a quote left open, or do the lines end with a lone CR?`,
        { file, line },
      );
    }
    if (header === null) {
      return { format, columns: given ?? [], firstLine: line, delimiter, encoding };
    }
    const text = new TextDecoder(dialect.encoding ?? "utf-8").decode(header.bytes);
    if (text.trim() === "") {
      await reader.header(); // a blank line before the first record: skip it
      line += header.newlines;
      continue;
    }
    if (/\r(?!\n)./s.test(text)) {
      throw new ParseError(
        "the lines end with a lone CR (classic Mac line ends), which crunch does not read as " +
          `line ends: convert them first, e.g. tr '\\r' '\\n' < ${file ?? "in.csv"} > out.csv`,
        { file, line },
      );
    }
    const fields = headerFields(text, delimiterOf(format, delimiter), file, line);
    if (!named) {
      // Numbered columns (c1, c2, ...) as many as the first record has, unless given.
      const columns = given ?? fields.map((_, i) => `c${i + 1}`);
      return { format, columns, firstLine: line, delimiter, encoding };
    }
    await reader.header();
    if (delimiter === undefined && fields.length === 1) wrongDelimiter(text, format, file, line);
    return { format, columns: fields, firstLine: line + header.newlines, delimiter, encoding };
  }
}

/**
 * A ParseError when the input's first record is not text in UTF-8: UTF-16
 * (a byte order mark, as spreadsheets export "Unicode text"), or bytes that
 * look binary (NUL bytes), which would otherwise pass as one odd column.
 */
async function notText(reader: ChunkReader, format: Format, file: string | undefined) {
  let first;
  try {
    first = await reader.header(false);
  } catch (error) {
    if (error instanceof RecordTooLong) return; // the format's own check says what is wrong
    throw error;
  }
  if (first === null) return;
  const bytes = first.bytes.subarray(0, 4096);
  const where = { file, line: 1 };
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    const order = bytes[0] === 0xff ? "UTF-16LE" : "UTF-16BE";
    throw new ParseError(
      `the input is ${order} text (it starts with a UTF-16 byte order mark), not UTF-8: ` +
        `convert it first, e.g. iconv -f UTF-16 -t UTF-8 ${file ?? "in.csv"} > out.csv`,
      where,
    );
  }
  if (bytes.includes(0)) {
    const order = utf16Order(bytes);
    if (order) {
      throw new ParseError(
        `the input looks like UTF-16${order} text without a byte order mark (every other byte ` +
          `is NUL), not UTF-8: pass --encoding utf-16${order.toLowerCase()} (the encoding option)`,
        where,
      );
    }
    throw new ParseError(
      `the input looks binary (it holds NUL bytes), not ${format} text: is it the right file? ` +
        "(gzip and zstd are read as they are; other compressions need decompressing first)",
      where,
    );
  }
}

/** The names in a header row; a ParseError for a malformed row or a name given twice. */
function headerFields(
  text: string,
  delimiter: string,
  file: string | undefined,
  line: number,
): string[] {
  const where = { file, line };
  let rows: string[][];
  try {
    rows = parseDelimitedRows(text, delimiter);
  } catch (error) {
    throw new ParseError(`bad header row: ${(error as Error).message}`, where);
  }
  const columns = rows[0];
  const seen = new Set<string>();
  for (const name of columns) {
    if (seen.has(name)) {
      throw new ParseError(`the header names column ${JSON.stringify(name)} twice`, where);
    }
    seen.add(name);
  }
  return columns;
}

/** A header of one column that holds another delimiter: a ParseError naming the one to pass. */
function wrongDelimiter(text: string, format: Format, file: string | undefined, line: number) {
  const own = delimiterOf(format);
  const [other] = [";", "|", "\t", ","].filter((d) => d !== own && text.includes(d));
  if (other === undefined) return;
  const name = other === "\t" ? "tab" : other;
  const fields = parseDelimitedRows(text, own)[0];
  throw new ParseError(
    `the header has one column, ${JSON.stringify(fields[0])}, holding ${
      JSON.stringify(other)
    }: if the fields are separated by ${name}, pass --delimiter '${
      other === "\t" ? "\\t" : other
    }' (the delimiter option); to read it as one column, pass --delimiter ','`,
    { file, line },
  );
}

/** "LE" or "BE" when every other byte of `bytes` is NUL, as in UTF-16 text of ASCII. */
function utf16Order(bytes: Uint8Array): "LE" | "BE" | undefined {
  let even = 0;
  let odd = 0;
  for (let k = 0; k + 1 < bytes.length; k += 2) {
    if (bytes[k] === 0) even++;
    if (bytes[k + 1] === 0) odd++;
  }
  const pairs = Math.floor(bytes.length / 2);
  if (pairs >= 2 && odd >= pairs * 0.9 && even === 0) return "LE";
  if (pairs >= 2 && even >= pairs * 0.9 && odd === 0) return "BE";
  return undefined;
}
