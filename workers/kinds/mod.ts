/**
 * A task's rows, by the kind of its body: one module per kind.
 *
 * @module
 */

import type { TaskBody } from "../../lib/wire/task.ts";
import type { CurrentRun } from "../current_run.ts";
import type { RangeReader } from "../range_reader.ts";
import { batchRows } from "./batch.ts";
import { chunkRows } from "./chunk.ts";
import { rangeRows } from "./range.ts";
import type { TaskRows } from "./task_rows.ts";

export type { BadRow, TaskRows } from "./task_rows.ts";

/** What the kinds read with: the worker's open range file (the run has its text decoder). */
export interface KindTools {
  ranges: RangeReader;
}

/** The rows of `body` in `run`. */
export function taskRows(
  body: TaskBody,
  run: CurrentRun,
  tools: KindTools,
): TaskRows | Promise<TaskRows> {
  switch (body.kind) {
    case "chunk":
      return chunkRows(body, run);
    case "range":
      return rangeRows(body, run, tools.ranges);
    case "batch":
      return batchRows(body);
  }
}
