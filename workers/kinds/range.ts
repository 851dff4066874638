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
  const reading = performance.now();
  try {
    read = await ranges.read(run.id, body, open);
  } catch (error) {
    ranges.close();
    // The file changed under the run, or a URL keeps failing (the run ends); or this worker
    // cannot read it (a sandbox, say: main reads it instead).
    const cut = { clean: false, ...failure(error) };
    return { rows: [], newlines: 0, text: "", cut, classify: false };
  }
  clock.read += performance.now() - reading;
  /** The range's text and records, the time taken counted as parsing. */
  const parse = (bytes: Uint8Array) => {
    const started = performance.now();
    const text = decoder.decode(bytes);
    const parsed = run.parse(text);
    clock.parse += performance.now() - started;
    return { bytes, text, parsed };
  };
  let { bytes, text, parsed } = parse(read.bytes);
  const start = read.start;
  const cut: Cut = { start, end: start + read.bytes.length, clean: read.found };
  const format = run.settings.format;
  if (cut.clean && parsed.openQuote && format !== "rows" && format !== "parquet") {
    // The range's last LF lies inside a quoted field: read on to where that record really
    // ends. (The next range's guessed start is then wrong, and main re-runs it from here.)
    let stretched;
    const stretching = performance.now();
    try {
      stretched = await ranges.stretch(
        run.id,
        body,
        open,
        start,
        cut.end! - start,
        Math.min(maxRecordBytes, STRETCH_RANGES * (end - offset)),
        format,
        run.settings.delimiter,
      );
    } catch (error) {
      const why = failure(error);
      if (why === undefined) throw error;
      Object.assign(cut, why);
    }
    clock.read += performance.now() - stretching;
    if (stretched === undefined) cut.clean = false;
    else {
      ({ bytes, text, parsed } = parse(stretched));
      cut.end = start + stretched.length;
    }
  }
  if (parsed.openQuote) cut.clean = false;
  const started = performance.now();
  const invalid = cut.clean ? invalidText(text, bytes, decoder.encoding) : undefined;
  const rows = { ...rowsOfParsed(parsed, text, start), cut, classify: cut.clean, invalid };
  clock.parse += performance.now() - started;
  return rows;
}

/** What a failed read means for the range's cut, when it ends the run: the file changed, or a URL keeps failing. */
function failure(error: unknown): { changed: string } | { error: string } | undefined {
  if (error instanceof FileChanged) return { changed: error.message };
  if (error instanceof RangeUnreadable) return { error: error.message };
  return undefined;
}
