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
 * Each line is first handed to a record parser generated for the header's
 * columns ({@linkcode recordParsers}): it cuts the fields with `indexOf` and
 * `slice` straight into an object literal, and gives up (for the general
 * walker) on a field that starts with a quote or a field count that is not
 * the header's. Only such records are walked field by field.
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
  /** Set when the record is malformed. */
  error?: string;
  /** Set when the text ended inside a quoted field. */
  open?: boolean;
}

/** LFs in `text[from, to)`. */
function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) {
    count++;
  }
  return count;
}

/** Walks one record field by field, starting at `start` (used where a field is quoted). */
function parseQuotedRecord(text: string, start: number, delimiter: number): Fields {
  const n = text.length;
  const fields: string[] = [];
  let error: string | undefined;
  let i = start;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = "";
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) {
          return {
            fields,
            next: n,
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
      fields.push(value);
      if (i >= n) return { fields, next: n, error };
      const c = text.charCodeAt(i);
      if (c === delimiter) {
        i++;
        if (i >= n) {
          fields.push("");
          return { fields, next: n, error };
        }
        continue;
      }
      if (c === LF) return { fields, next: i + 1, error };
      if (c === CR && i + 1 >= n) return { fields, next: n, error }; // CR ends the input
      if (c === CR && text.charCodeAt(i + 1) === LF) return { fields, next: i + 2, error };
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
    // A CR before the LF, or before the end of the input, ends the line with it.
    const end = (j >= n || c === LF) && j > i && text.charCodeAt(j - 1) === CR ? j - 1 : j;
    fields.push(text.slice(i, end));
    if (j >= n) return { fields, next: n, error };
    if (c === LF) return { fields, next: j + 1, error };
    i = j + 1;
    if (i >= n) {
      fields.push("");
      return { fields, next: n, error };
    }
  }
}

/**
 * Splits delimited text into records. Each line (without its line end) goes
 * to `unquoted`, which returns the record or undefined; a line it gives up
 * on is walked by {@linkcode parseQuotedRecord} and handed to `quoted`.
 *
 * Everything the loop searches for depends on the record at hand. An earlier
 * version kept the position of the chunk's next quote, found once before the
 * loop: in a chunk with no quote that value never changed, TurboFan saw a
 * loop-invariant pure `StringIndexOf` whose uses all lay inside the loop,
 * and its scheduler placed the search inside the loop body (it hoists a pure
 * node only from blocks that dominate every loop exit), so every record
 * rescanned the rest of the 512 KiB chunk: 10x slower on quote-free files.
 */
function parseRecords(
  text: string,
  delimiter: number,
  out: ParsedChunk,
  unquoted: (line: string) => unknown | undefined,
  quoted: (fields: string[], line: number, from: number, to: number) => void,
): void {
  const n = text.length;
  let pos = 0;
  let line = 1;
  while (pos < n) {
    let nl = text.indexOf("\n", pos);
    if (nl === -1) nl = n;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    if (end > pos) {
      const row = unquoted(text.slice(pos, end));
      if (row === undefined) {
        const record = parseQuotedRecord(text, pos, delimiter);
        if (record.open) out.openQuote = true;
        if (record.error !== undefined) out.fail(line, record.error, pos, record.next);
        else quoted(record.fields, line, pos, record.next);
        // Most records end at the first LF; one with a quoted line break ends later.
        const newlines = record.next <= nl + 1
          ? (nl < n ? 1 : 0)
          : countNewlines(text, pos, record.next);
        out.newlines += newlines;
        line += newlines;
        pos = record.next;
        continue;
      }
      out.push(row, line);
    }
    if (nl < n) out.newlines++;
    pos = nl + 1;
    line++;
  }
}

/** The two ways a record becomes a row object keyed by the header's columns. */
export interface RecordParsers {
  /** From a line's text to its row, or undefined when a field starts with a quote or the field count is off. */
  line: (line: string) => Record<string, string> | undefined;
  /** From a record's fields (as many as the columns) to its row. */
  fields: (fields: string[]) => Record<string, string>;
}

/** Above this many columns the line parser is a loop over `split`, not generated code. */
const MAX_GENERATED_COLUMNS = 256;

/**
 * Builds the record parsers for `columns` and `delimiter`. The code is
 * generated for the columns: every row is one object literal with the same
 * hidden class (several times faster to build and read than assigning keys in
 * a loop), and the fields are cut from the line with `indexOf` and `slice`,
 * without an intermediate array.
 */
export function recordParsers(columns: readonly string[], delimiter: string): RecordParsers {
  const props = (value: (i: number) => string) =>
    columns.map((name, i) => {
      const key = JSON.stringify(name);
      return name === "__proto__" ? `[${key}]: ${value(i)}` : `${key}: ${value(i)}`;
    }).join(", ");
  const fields = new Function("f", `return { ${props((i) => `f[${i}]`)} };`) as (
    fields: string[],
  ) => Record<string, string>;
  const d = JSON.stringify(delimiter);
  const width = columns.length;
  if (width > MAX_GENERATED_COLUMNS || width === 0) {
    const line = (text: string) => {
      if (text.indexOf('"') !== -1) return undefined;
      const f = text.split(delimiter);
      return f.length === width ? fields(f) : undefined;
    };
    return { line, fields };
  }
  let body = "let p = 0; let e = 0;\n";
  for (let i = 0; i < width - 1; i++) {
    body += `if (s.charCodeAt(p) === ${QUOTE}) return undefined;\n` +
      `e = s.indexOf(${d}, p); if (e === -1) return undefined;\n` +
      `const f${i} = s.slice(p, e); p = e + 1;\n`;
  }
  const last = `f${width - 1}`;
  body += `if (s.charCodeAt(p) === ${QUOTE}) return undefined;\n` +
    `const ${last} = p === 0 ? s : s.slice(p);\n` +
    `if (${last}.indexOf(${d}) !== -1) return undefined;\n` +
    `return { ${props((i) => `f${i}`)} };`;
  const line = new Function("s", body) as RecordParsers["line"];
  return { line, fields };
}

/**
 * Parses a chunk of whole delimited records into objects keyed by `columns`.
 * A record whose field count differs from the header's is a bad record.
 */
export function parseDelimited(
  text: string,
  delimiter: string,
  columns: readonly string[],
  parsers: RecordParsers = recordParsers(columns, delimiter),
): ParsedChunk {
  const out = new ParsedChunk();
  const width = columns.length;
  const { line, fields } = parsers;
  parseRecords(text, delimiter.charCodeAt(0), out, line, (values, at, from, to) => {
    if (values.length === width) out.push(fields(values), at);
    else {
      const expected = `${width} field${width === 1 ? "" : "s"}`;
      out.fail(at, `expected ${expected} (as in the header), found ${values.length}`, from, to);
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
  const out = new ParsedChunk();
  const unquoted = (line: string) => line.indexOf('"') === -1 ? line.split(delimiter) : undefined;
  parseRecords(text, delimiter.charCodeAt(0), out, unquoted, (f, at) => out.push(f, at));
  const first = out.bad.values().next();
  if (!first.done) throw new Error(`line ${first.value.line}: ${first.value.reason}`);
  return out.rows as string[][];
}
