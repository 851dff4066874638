/**
 * Chunk tasks in a worker: whole records the main thread cut, as bytes.
 *
 * @module
 */

import type { ChunkBody } from "../../lib/wire/task.ts";
import type { CurrentRun } from "../current_run.ts";
import { rowsOfParsed, type TaskRows } from "./task_rows.ts";

/** The rows of a chunk. */
export function chunkRows(body: ChunkBody, run: CurrentRun, decoder: TextDecoder): TaskRows {
  const text = decoder.decode(new Uint8Array(body.buffer, body.start, body.end - body.start));
  const rows = rowsOfParsed(run.parse(text), text, body.offset);
  if (body.select) rows.select = new Set(body.select);
  return rows;
}
