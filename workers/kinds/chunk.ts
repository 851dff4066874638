/**
 * Chunk tasks in a worker: whole records the main thread cut, as bytes.
 *
 * @module
 */

import type { ChunkBody } from "../../lib/wire/task.ts";
import type { CurrentRun } from "../current_run.ts";
import { rowsOfParsed, type TaskRows } from "./task_rows.ts";
import { invalidText } from "./invalid_text.ts";
import type { StageClock } from "../stage_clock.ts";

/** The rows of a chunk. */
export function chunkRows(body: ChunkBody, run: CurrentRun, clock: StageClock): TaskRows {
  const started = performance.now();
  const bytes = new Uint8Array(body.buffer, body.start, body.end - body.start);
  const text = run.decoder.decode(bytes);
  const rows = rowsOfParsed(run.parse(text), text, body.offset);
  rows.invalid = invalidText(text, bytes, run.decoder.encoding);
  if (body.select) rows.select = new Set(body.select);
  clock.parse += performance.now() - started;
  return rows;
}
