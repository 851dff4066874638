/**
 * Byte-range tasks in a worker: the worker reads the records that start in
 * its range of the file itself (`range_reader.ts` says where they are cut),
 * and reports where it cut. A range whose last LF turns out to lie inside a
 * quoted field reads on to where that record really ends; a cut that cannot
 * be mended (or a file this worker cannot read) is reported unclean, and the
 * range is counted only: the main thread reads on from the last good cut.
 *
 * @module
 */

import type { Cut, RangeBody } from "../../lib/wire/task.ts";
import type { CurrentRun } from "../current_run.ts";
import { FileChanged, FileInput, type RangeReader } from "../range_reader.ts";
import { RangeUnreadable, RemoteInput } from "../remote_input.ts";
import { rowsOfParsed, type TaskRows } from "./task_rows.ts";
import { invalidText } from "./invalid_text.ts";
import type { StageClock } from "../stage_clock.ts";

/**
 * How far past its end, in range sizes, a range reads on for the end of a
 * record that a quoted field carries over its last LF. A range that started
 * at a wrong place (inside a quoted field) sees the quotes inverted and may
 * search far; its results are dropped anyway, so the search is bounded.
 */
const STRETCH_RANGES = 4;

/** The rows of a range, read by `ranges` (which keeps the input open between ranges). */
export async function rangeRows(
  body: RangeBody,
  run: CurrentRun,
  ranges: RangeReader,
  clock: StageClock,
): Promise<TaskRows> {
  const decoder = run.decoder;
  const { offset, end, maxRecordBytes } = body;
  const open = (body: RangeBody) =>
    body.version ? new RemoteInput(body, run.remote) : new FileInput(body);
  let read;
  let started = performance.now();
  try {
    read = await ranges.read(run.id, body, open);
  } catch (error) {
    ranges.close();
    // The file changed under the run, or a URL keeps failing (the run ends); or this worker
    // cannot read it (a sandbox, say: main reads it instead).
    const cut = error instanceof FileChanged
      ? { clean: false, changed: error.message }
      : error instanceof RangeUnreadable
      ? { clean: false, error: error.message }
      : { clean: false };
    return { rows: [], newlines: 0, text: "", cut, classify: false };
  }
  clock.read += performance.now() - started;
  started = performance.now();
  let bytes = read.bytes;
  let text = decoder.decode(bytes);
  let parsed = run.parse(text);
  const start = read.start;
  const cut: Cut = { start, end: start + read.bytes.length, clean: read.found };
  if (cut.clean && parsed.openQuote && run.settings.format !== "rows") {
    // The range's last LF lies inside a quoted field: read on to where that record really
    // ends. (The next range's guessed start is then wrong, and main re-runs it from here.)
    let stretched;
    const reading = performance.now();
    try {
      stretched = await ranges.stretch(
        run.id,
        body,
        open,
        start,
        cut.end! - start,
        Math.min(maxRecordBytes, STRETCH_RANGES * (end - offset)),
        run.settings.format,
        run.settings.delimiter,
      );
    } catch (error) {
      if (error instanceof RangeUnreadable) cut.error = error.message;
      else if (error instanceof FileChanged) cut.changed = error.message;
      else throw error;
    }
    // The read for the stretch is reading, not parsing.
    const took = performance.now() - reading;
    clock.read += took;
    started += took;
    if (stretched === undefined) cut.clean = false;
    else {
      bytes = stretched;
      text = decoder.decode(stretched);
      parsed = run.parse(text);
      cut.end = start + stretched.length;
    }
  }
  if (parsed.openQuote) cut.clean = false;
  const invalid = cut.clean ? invalidText(text, bytes, decoder.encoding) : undefined;
  const rows = { ...rowsOfParsed(parsed, text, start), cut, classify: cut.clean, invalid };
  clock.parse += performance.now() - started;
  return rows;
}
