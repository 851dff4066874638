/**
 * A worker reads its own byte range of a file, so the main thread reads
 * nothing but the header and a file is read by every worker at once.
 *
 * The records of a range `[offset, end)` are those that start in it: the
 * first starts after the first LF at or after `offset - 1` (or at `offset`
 * itself for the first range), the last ends at the first LF at or after
 * `end - 1`. So the end of one range is exactly the start of the next, and
 * every LF-separated record belongs to exactly one range. For NDJSON every LF
 * ends a record; for CSV and TSV an LF may lie inside a quoted field, which
 * the parse of the range before shows (it ends inside the quote). The main
 * thread holds a range's results until every range before it parsed cleanly.
 *
 * @module
 */

import { cutterFor } from "../lib/formats/cutter.ts";
import { changeOf, type Fingerprint } from "../lib/wire/fingerprint.ts";
import type { Format } from "../lib/formats/format.ts";
import type { RangeBody } from "../lib/wire/task.ts";

const LF = 10;
/** Bytes read past a range's end to find its last record's end, at first (a file). */
const SLACK = 64 * 1024;

/** The file a range is read from is no longer what the run opened. */
export class FileChanged extends Error {}

/** The bytes of the records of one range. */
export interface RangeBytes {
  /** The records (a view of a buffer that the next read reuses). */
  bytes: Uint8Array;
  /** File offset of `bytes[0]`. */
  start: number;
  /** False when no LF ends the last record within `maxRecordBytes` past the range. */
  found: boolean;
}

/** Where a range's bytes come from: a file, or an object behind a URL. */
export interface RangeInput {
  /** Reads from `at` into `into` (all of it but at the end); the count. */
  readAt(at: number, into: Uint8Array): number | Promise<number>;
  /** Why the input is not what the run opened, if it is not (checked before each range). */
  change(): string | undefined;
  /** Bytes read past a range of `bytes` at first, to find its last record's end. */
  slack?(bytes: number): number;
  close(): void;
}

/** What names a task's input: a file (with its fingerprint) or an object (with its version). */
export type InputName = Pick<RangeBody, "path" | "fingerprint" | "version">;

/** Opens the input of a range body (the run's id keys what stays open). */
export type OpenRangeInput = (body: RangeBody) => RangeInput;

/**
 * Reads ranges of one input for one run, with one open handle and one
 * buffer reused from range to range. File reads are synchronous: a worker
 * has nothing else to do while its range loads, and on Deno 2.9 a read done
 * on the worker's own thread costs less than half of an async one (an async
 * op hands the read to another thread, which then competes for the same
 * cores). Measured over the 89 MB bench file in 512 KiB ranges: open, seek
 * and read per range async 42-59 ms, one handle and sync reads 15-19 ms. An
 * object behind a URL is read by one byte-range request a range.
 */
export class RangeReader {
  #buffer = new Uint8Array(0);
  #input: RangeInput | undefined;
  #key = "";

  /**
   * Reads the records that start in bytes `[offset, end)` of the body's
   * input (see the module notes for where they are cut). The input stays
   * open for the next range of the same `run` and path; a range of another
   * run or input opens that one instead, so a file replaced between runs is
   * read afresh.
   */
  async read(run: number, body: RangeBody, open: OpenRangeInput): Promise<RangeBytes> {
    const { offset, end, exact, maxRecordBytes } = body;
    const input = this.#open(run, body, open);
    const change = input.change();
    if (change) throw new FileChanged(change);
    const from = exact ? offset : offset - 1;
    /** Index of byte `end - 1` in the buffer: the last record ends at the first LF from here. */
    const last = end - 1 - from;
    let want = end - from + (input.slack?.(end - offset) ?? SLACK);
    for (;;) {
      if (this.#buffer.length < want) this.#buffer = new Uint8Array(want);
      const n = await input.readAt(from, this.#buffer.subarray(0, want));
      const view = this.#buffer.subarray(0, n);
      let s = 0;
      if (!exact) {
        const lf = view.indexOf(LF);
        // No record starts in the range: the record that covers it belongs to a range before.
        if (lf === -1 || lf >= last) return { bytes: view.subarray(0, 0), start: end, found: true };
        s = lf + 1;
      }
      const e = view.indexOf(LF, Math.max(last, 0));
      if (e !== -1) return { bytes: view.subarray(s, e + 1), start: from + s, found: true };
      if (n < want) return { bytes: view.subarray(s), start: from + s, found: true }; // the end of the file
      if (want - (end - from) > maxRecordBytes) {
        return { bytes: view.subarray(s), start: from + s, found: false };
      }
      want *= 2;
    }
  }

  /**
   * The bytes from `start` to the true end of the record that the range's
   * last LF (at `known - 1`, found inside a quoted field) cuts in two: the
   * first LF outside quotes at or after it, following the quotes from
   * `start` (a record start) on. Undefined when none comes within `limit`
   * bytes or before the end of the input.
   */
  async stretch(
    run: number,
    body: RangeBody,
    open: OpenRangeInput,
    start: number,
    known: number,
    limit: number,
    format: Format,
    delimiter?: string,
  ): Promise<Uint8Array | undefined> {
    const input = this.#open(run, body, open);
    const cutter = cutterFor(format, delimiter);
    let scanned = known - 1;
    let want = known * 2;
    for (;;) {
      if (this.#buffer.length < want) this.#buffer = new Uint8Array(want);
      const n = await input.readAt(start, this.#buffer.subarray(0, want));
      const view = this.#buffer.subarray(0, n);
      // The quote state up to the LF in question, then the first boundary from it on.
      if (scanned === known - 1) cutter.last(view, 0, scanned);
      const lf = cutter.first(view, scanned, n);
      if (lf !== -1) return view.subarray(0, lf + 1);
      scanned = n;
      if (n < want || n - known > limit) return undefined;
      want *= 2;
    }
  }

  /** Closes the open input, if any (when the worker runs out of work). */
  close(): void {
    this.#input?.close();
    this.#input = undefined;
    this.#key = "";
  }

  #open(run: number, body: RangeBody, open: OpenRangeInput): RangeInput {
    const key = `${run}\0${body.path}`;
    if (this.#input === undefined || this.#key !== key) {
      this.close();
      this.#input = open(body);
      this.#key = key;
    }
    return this.#input;
  }
}

/** A range's file, open for the run. */
export class FileInput implements RangeInput {
  readonly #file: Deno.FsFile;
  readonly #fingerprint?: Fingerprint;

  /** Opens the file `body` names. */
  constructor(body: InputName) {
    this.#file = Deno.openSync(body.path, { read: true });
    this.#fingerprint = body.fingerprint;
  }

  readAt(at: number, into: Uint8Array): number {
    this.#file.seekSync(at, Deno.SeekMode.Start);
    let n = 0;
    while (n < into.length) {
      const got = this.#file.readSync(into.subarray(n));
      if (got === null) break;
      n += got;
    }
    return n;
  }

  change(): string | undefined {
    return this.#fingerprint && changeOf(this.#file, this.#fingerprint);
  }

  close(): void {
    this.#file.close();
  }
}
