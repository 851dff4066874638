/**
 * Records sampled from many points of an input, for a forecast: windows of
 * bytes at offsets spread over the file, each read from a record start. An
 * LF after an arbitrary offset may lie inside a quoted CSV field, so where
 * the input can be read cheaply before each point (a file), its quotes are
 * counted up to it and the start is exact; where it cannot (an object behind
 * a URL), a candidate start is read both ways, as a record start and as the
 * inside of a quoted field, and taken only when the first reading is clean
 * and the second is not, and the window says so. Every LF of NDJSON ends a
 * record.
 *
 * @module
 */

import { parseDelimited } from "../formats/csv.ts";
import { delimiterOf, type Format } from "../formats/format.ts";
import { parseNdjson } from "../formats/ndjson.ts";
import type { ParsedChunk } from "../formats/parsed_chunk.ts";
import { type Cutter, cutterFor } from "../formats/cutter.ts";

const LF = 10;
const QUOTE = 34;
/** Candidate starts tried in one window before it is left out. */
const TRIES = 32;

/** What a window gave. */
export interface SampledWindow {
  /** The byte offset of its first record. */
  start: number;
  /** Its bytes from there to the end of its last whole record. */
  bytes: number;
  /** Decoding and parsing its records, ms. */
  parseMs: number;
  /**
   * How its start is known: "exact" (a known start, or every byte before it
   * scanned for quotes; any start in NDJSON), or "both ways" (its first
   * records read as records and not as a quoted field's inside).
   */
  proof: "exact" | "both ways";
  /** Its records, parsed (a malformed one is a `{ malformed }` entry). */
  records: ({ row: unknown } | { malformed: string; byte: number })[];
}

/** How the sampled input reads. */
export interface SampleDialect {
  format: Format;
  delimiter?: string;
  columns?: string[];
  encoding?: string;
}

/** Reads `into.length` bytes from `at` (fewer at the end); resolves with how many. */
export type ReadAt = (at: number, into: Uint8Array) => Promise<number>;

/**
 * The windows of `windowBytes` at `count` offsets spread over bytes
 * `[dataStart, size)` of an input read with `readAt`, as `dialect` reads it.
 * With `exact`, every byte before each window is scanned for quotes (a
 * quote toggles whether an LF ends a record, as the run's own cutter reads
 * it), so each window starts at a true record start; without (an object
 * behind a URL, where that would fetch it whole), a start is taken when its
 * first records read cleanly as records and not as the inside of a quoted
 * field ({@linkcode SampledWindow.proof}).
 */
export async function sampleWindows(
  readAt: ReadAt,
  size: number,
  dataStart: number,
  dialect: SampleDialect,
  count: number,
  windowBytes: number,
  exact = true,
): Promise<SampledWindow[]> {
  const windows: SampledWindow[] = [];
  const span = Math.max(0, size - dataStart);
  const step = count > 1 ? Math.max(windowBytes, Math.floor(span / count)) : span;
  const decoder = new TextDecoder(dialect.encoding ?? "utf-8");
  const starts = dialect.format === "ndjson" || !exact
    ? undefined
    : new StartFinder(readAt, dataStart, dialect);
  for (let at = dataStart; at < size && windows.length < count; at += step) {
    // With the cutter carried here, the window starts at the first record start from `at`.
    const start = at === dataStart ? at : await starts?.startAt(at, at + windowBytes);
    if (starts && start === undefined) continue;
    const from = start ?? at;
    const buffer = new Uint8Array(Math.min(windowBytes, size - from));
    const bytes = buffer.subarray(0, await readAt(from, buffer));
    const window = start === undefined
      ? guessed(bytes, at, dialect, decoder)
      : windowFrom(bytes, 0, from, dialect, decoder, "exact");
    if (window) windows.push(window);
  }
  return windows;
}

/**
 * The first record start at or after each offset asked for (in ascending
 * order), found by the run's own cutter carried through the input from a
 * record start: the quote state at each point is the one the workers' cuts
 * and the parser have (a quote opens a field only at its start).
 */
class StartFinder {
  readonly #readAt: ReadAt;
  readonly #cutter: Cutter;
  /** Where the cutter's state is known: a record start, or where the last scan stopped. */
  readonly #start: number;
  #at: number;
  readonly #buffer = new Uint8Array(1 << 20);

  constructor(readAt: ReadAt, start: number, dialect: SampleDialect) {
    this.#readAt = readAt;
    this.#cutter = cutterFor(dialect.format, dialect.delimiter);
    this.#start = this.#at = start;
  }

  /** The first record start in `[offset, limit)`, if one is there. */
  async startAt(offset: number, limit: number): Promise<number | undefined> {
    await this.#scan(offset, false);
    return await this.#scan(limit, true);
  }

  /**
   * Carries the cutter to `to`; with `first`, stops after the first record
   * end instead and returns the record start after it.
   */
  async #scan(to: number, first: boolean): Promise<number | undefined> {
    while (this.#at < to) {
      // The byte before tells the cutter whether a quote there starts a field.
      const lead = this.#at > this.#start ? 1 : 0;
      const want = Math.min(this.#buffer.length, to - this.#at + lead);
      const got = await this.#readAt(this.#at - lead, this.#buffer.subarray(0, want));
      if (got <= lead) return undefined;
      if (first) {
        const lf = this.#cutter.first(this.#buffer, lead, got);
        if (lf !== -1) return this.#at = this.#at - lead + lf + 1;
      } else this.#cutter.last(this.#buffer, lead, got);
      this.#at += got - lead;
    }
    return undefined;
  }
}

/** The records of `bytes` from `start` (a record start) to its last record end, if any. */
function windowFrom(
  bytes: Uint8Array,
  start: number,
  offset: number,
  dialect: SampleDialect,
  decoder: TextDecoder,
  proof: SampledWindow["proof"],
): SampledWindow | undefined {
  const last = cutterFor(dialect.format, dialect.delimiter).last(bytes, start, bytes.length);
  if (last === -1) return undefined;
  const started = performance.now();
  const text = decoder.decode(bytes.subarray(start, last + 1));
  const parsed = parse(text, dialect);
  return windowOf(parsed, text, offset + start, performance.now() - started, proof);
}

/** Records of a candidate start read both ways. */
const PROOF_RECORDS = 32;

/**
 * The records of `bytes` (read from input offset `offset`) from a start
 * taken by reading both ways: the first records from a candidate start
 * must read cleanly as records and not as the inside of a quoted field.
 * Not a proof (a quoted field can hold text that reads as records), so the
 * window says so. Every LF of NDJSON ends a record.
 */
function guessed(
  bytes: Uint8Array,
  offset: number,
  dialect: SampleDialect,
  decoder: TextDecoder,
): SampledWindow | undefined {
  let start = bytes.indexOf(LF) + 1;
  if (dialect.format === "ndjson") {
    return start > 0 ? windowFrom(bytes, start, offset, dialect, decoder, "exact") : undefined;
  }
  for (let tries = 0; tries < TRIES && start > 0; tries++) {
    const last = cutterFor(dialect.format, dialect.delimiter).last(bytes, start, bytes.length);
    if (last === -1) return undefined;
    if (proved(bytes, start, last, dialect, decoder)) {
      return windowFrom(bytes, start, offset, dialect, decoder, "both ways");
    }
    start = bytes.indexOf(LF, start) + 1;
  }
  return undefined;
}

/**
 * Whether `start` is a record start: the records from it up to
 * {@linkcode PROOF_RECORDS} of them read without a misfit (a malformed
 * record, a quote left open, a quote inside an unquoted field), and the
 * same bytes read as the inside of a quoted field, which an LF can also be,
 * do not.
 */
function proved(
  bytes: Uint8Array,
  start: number,
  last: number,
  dialect: SampleDialect,
  decoder: TextDecoder,
): boolean {
  const cutter = cutterFor(dialect.format, dialect.delimiter);
  let end = start;
  for (let k = 0; k < PROOF_RECORDS; k++) {
    const lf = cutter.first(bytes, end, last + 1);
    if (lf === -1) break;
    end = lf + 1;
  }
  const text = decoder.decode(bytes.subarray(start, end));
  const delimiter = delimiterOf(dialect.format, dialect.delimiter).charCodeAt(0);
  const misfit = (t: string) => {
    const p = parse(t, dialect);
    return p.bad.size + (p.openQuote ? 1 : 0) + bareQuotes(t, delimiter);
  };
  return misfit(text) === 0 && misfit(`"${text}`) > 0;
}

/**
 * The records of `text` as parsed (in `parseMs`), the malformed ones with
 * the byte offset where they start.
 */
function windowOf(
  parsed: ParsedChunk,
  text: string,
  start: number,
  parseMs: number,
  proof: SampledWindow["proof"],
): SampledWindow {
  const encoder = new TextEncoder();
  const records = parsed.rows.map((row, k) => {
    const bad = parsed.bad.get(k);
    if (bad === undefined) return { row };
    const byte = start + encoder.encode(text.slice(0, bad.from)).length;
    return { malformed: bad.reason, byte };
  });
  return { start, bytes: encoder.encode(text).length, records, parseMs, proof };
}

/** `text` parsed as `dialect` says. */
function parse(text: string, dialect: SampleDialect): ParsedChunk {
  if (dialect.format === "ndjson") return parseNdjson(text);
  return parseDelimited(
    text,
    delimiterOf(dialect.format, dialect.delimiter),
    dialect.columns ?? [],
  );
}

/** Quotes inside unquoted fields of `text` (CSV allows a quote only at a field's start). */
function bareQuotes(text: string, delimiter: number): number {
  let quoted = false;
  let fieldStart = true;
  let bare = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === QUOTE) {
        if (text.charCodeAt(i + 1) === QUOTE) i++;
        else quoted = false;
      }
      continue;
    }
    if (c === QUOTE) {
      if (fieldStart) quoted = true;
      else bare++;
      fieldStart = false;
      continue;
    }
    fieldStart = c === delimiter || c === LF || c === 13;
  }
  return bare;
}
