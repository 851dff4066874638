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

const LF = 10;
/** Bytes read past a range's end to find its last record's end, at first. */
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

/**
 * Reads ranges of one file for one run, with one open handle and one buffer
 * reused from range to range. Reads are synchronous: a worker has nothing
 * else to do while its range loads, and on Deno 2.9 a read done on the
 * worker's own thread costs less than half of an async one (an async op hands
 * the read to another thread, which then competes for the same cores).
 * Measured over the 89 MB bench file in 512 KiB ranges: open, seek and read
 * per range async 42-59 ms, one handle and sync reads 15-19 ms.
 */
export class RangeReader {
  #buffer = new Uint8Array(0);
  #file: Deno.FsFile | undefined;
  #key = "";

  /**
   * Reads the records that start in bytes `[offset, end)` of the file at
   * `path` (see the module notes for where they are cut). The file stays open
   * for the next range of the same `run` and `path`; a range of another run
   * or file opens that one instead, so a file replaced between runs is read
   * afresh.
   */
  read(
    run: number,
    path: string,
    offset: number,
    end: number,
    exact: boolean,
    maxRecordBytes: number,
    fingerprint?: Fingerprint,
  ): RangeBytes {
    const file = this.#open(run, path);
    const change = fingerprint && changeOf(file, fingerprint);
    if (change) throw new FileChanged(change);
    const from = exact ? offset : offset - 1;
    /** Index of byte `end - 1` in the buffer: the last record ends at the first LF from here. */
    const last = end - 1 - from;
    let want = end - from + SLACK;
    for (;;) {
      if (this.#buffer.length < want) this.#buffer = new Uint8Array(want);
      const n = readAt(file, from, this.#buffer.subarray(0, want));
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
   * bytes or before the end of the file.
   */
  stretch(
    run: number,
    path: string,
    start: number,
    known: number,
    limit: number,
    format: Format,
    delimiter?: string,
  ): Uint8Array | undefined {
    const file = this.#open(run, path);
    const cutter = cutterFor(format, delimiter);
    let scanned = known - 1;
    let want = known * 2;
    for (;;) {
      if (this.#buffer.length < want) this.#buffer = new Uint8Array(want);
      const n = readAt(file, start, this.#buffer.subarray(0, want));
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

  /** Closes the open file, if any (when the worker runs out of work). */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
    this.#key = "";
  }

  #open(run: number, path: string): Deno.FsFile {
    const key = `${run}\0${path}`;
    if (this.#file === undefined || this.#key !== key) {
      this.close();
      this.#file = Deno.openSync(path, { read: true });
      this.#key = key;
    }
    return this.#file;
  }
}

function readAt(file: Deno.FsFile, at: number, into: Uint8Array): number {
  file.seekSync(at, Deno.SeekMode.Start);
  let n = 0;
  while (n < into.length) {
    const got = file.readSync(into.subarray(n));
    if (got === null) break;
    n += got;
  }
  return n;
}
