/**
 * RFC 4180 parsing of delimited text (CSV, TSV) in a worker.
 *
 * The rules, shared with the main thread's chunk cutter (`lib/cutter.ts`):
 * - a `"` opens a quoted field only at the start of a field; elsewhere it is a
 *   literal character, as Python's `csv` module reads it;
 * - inside a quoted field `""` is one quote, and delimiters, LF, CR and CRLF
 *   are data;
 * - a closing quote must be followed by a delimiter, a line end or the end of
 *   input, otherwise the record is malformed;
 * - records end at LF or CRLF; empty lines are skipped.
 *
 * Records without quotes take a fast path (`slice` + `split`); only records
 * with a quote are walked character by character.
 *
 * @module
 */

import { ParsedChunk } from "./parsed_chunk.ts";

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** A record's fields with the position after it, or why it is malformed. */
interface Fields {
  fields: string[];
  /** Index just after the record's line end (or the text's length). */
  next: number;
  /** Newlines consumed, including the one that ends the record. */
  newlines: number;
  /** Set when the record is malformed. */
  error?: string;
  /** Set when the text ended inside a quoted field. */
  open?: boolean;
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) {
    count++;
  }
  return count;
}

/** Walks one record that contains a quote, starting at `start`. */
function parseQuotedRecord(text: string, start: number, delimiter: number): Fields {
  const n = text.length;
  const fields: string[] = [];
  let newlines = 0;
  let error: string | undefined;
  let i = start;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      const open = i;
      let value = "";
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) {
          newlines += countNewlines(text, open, n);
          return {
            fields,
            next: n,
            newlines,
            error: "unclosed quote: the quoted field never ends",
            open: true,
          };
        }
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      newlines += countNewlines(text, open, i);
      fields.push(value);
      if (i >= n) return { fields, next: n, newlines, error };
      const c = text.charCodeAt(i);
      if (c === delimiter) {
        i++;
        if (i >= n) {
          fields.push("");
          return { fields, next: n, newlines, error };
        }
        continue;
      }
      if (c === LF) return { fields, next: i + 1, newlines: newlines + 1, error };
      if (c === CR && text.charCodeAt(i + 1) === LF) {
        return { fields, next: i + 2, newlines: newlines + 1, error };
      }
      error ??= `unexpected ${JSON.stringify(text[i])} after a closing quote`;
      // Read the rest of this field as unquoted text, as the cutter does.
    }
    let j = i;
    let c = 0;
    while (j < n) {
      c = text.charCodeAt(j);
      if (c === delimiter || c === LF) break;
      j++;
    }
    const end = j < n && c === LF && j > i && text.charCodeAt(j - 1) === CR ? j - 1 : j;
    fields.push(text.slice(i, end));
    if (j >= n) return { fields, next: n, newlines, error };
    if (c === LF) return { fields, next: j + 1, newlines: newlines + 1, error };
    i = j + 1;
    if (i >= n) {
      fields.push("");
      return { fields, next: n, newlines, error };
    }
  }
}

/**
 * Splits delimited text into records of string fields, calling `emit` for each
 * good record and `out.fail` for each malformed one.
 *
 * Each line is sliced first and searched for a quote on its own, so the
 * per-record work depends only on that record. An earlier version kept the
 * position of the chunk's next quote, found once before the loop: in a
 * chunk with no quote at all that value never changed, TurboFan saw it as a
 * loop-invariant pure `StringIndexOf` whose uses all lay inside the loop,
 * and its scheduler placed the search inside the loop body (it hoists a pure
 * node only out of blocks that dominate every loop exit). Each record then
 * scanned the whole rest of the chunk (512 KiB) for a quote that was not
 * there: 10x slower on quote-free files than on files with a few quotes.
 */
function parseRecords(
  text: string,
  delimiter: string,
  out: ParsedChunk,
  emit: (fields: string[], line: number) => void,
): void {
  const d = delimiter.charCodeAt(0);
  const n = text.length;
  let pos = 0;
  let line = 1;
  while (pos < n) {
    let nl = text.indexOf("\n", pos);
    if (nl === -1) nl = n;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    const record = text.slice(pos, end);
    if (record.indexOf('"') === -1) {
      if (end > pos) emit(record.split(delimiter), line);
      if (nl < n) out.newlines++;
      pos = nl + 1;
      line++;
      continue;
    }
    const quoted = parseQuotedRecord(text, pos, d);
    if (quoted.open) out.openQuote = true;
    if (quoted.error !== undefined) out.fail(line, quoted.error);
    else emit(quoted.fields, line);
    out.newlines += quoted.newlines;
    pos = quoted.next;
    line += quoted.newlines;
  }
}

/** Builds a function that turns a field array into an object keyed by `columns`. */
export function rowBuilder(
  columns: readonly string[],
): (fields: string[]) => Record<string, string> {
  // A generated object literal gives every row the same hidden class, which is
  // several times faster to build and read than assigning keys in a loop.
  const body = columns.map((name, i) => {
    const key = JSON.stringify(name);
    return name === "__proto__" ? `[${key}]: f[${i}]` : `${key}: f[${i}]`;
  });
  return new Function("f", `return { ${body.join(", ")} };`) as (
    fields: string[],
  ) => Record<string, string>;
}

/**
 * Parses a chunk of whole delimited records into objects keyed by `columns`.
 * A record whose field count differs from the header's is a bad record.
 */
export function parseDelimited(
  text: string,
  delimiter: string,
  columns: readonly string[],
  build: (fields: string[]) => Record<string, string> = rowBuilder(columns),
): ParsedChunk {
  const out = new ParsedChunk();
  const width = columns.length;
  parseRecords(text, delimiter, out, (fields, line) => {
    if (fields.length === width) out.push(build(fields), line);
    else {
      out.fail(line, `expected ${width} fields (as in the header), found ${fields.length}`);
    }
  });
  return out;
}

/**
 * Parses delimited text into arrays of fields, with no header. Used for the
 * header row itself and by tests as a reference.
 *
 * @throws {Error} with the line, when a record is malformed.
 */
export function parseDelimitedRows(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  const out = new ParsedChunk();
  parseRecords(text, delimiter, out, (fields) => rows.push(fields));
  const first = out.bad.values().next();
  if (!first.done) throw new Error(`line ${first.value.line}: ${first.value.reason}`);
  return rows;
}
