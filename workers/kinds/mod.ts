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
import { rowGroupRows } from "./row_groups.ts";
import type { TaskRows } from "./task_rows.ts";
import type { StageClock } from "../stage_clock.ts";
import type { ParquetCodecs } from "../parquet_codecs.ts";

export type { BadRow, TaskRows } from "./task_rows.ts";

/** What the kinds read with: the worker's open range file (the run has its text decoder). */
export interface KindTools {
  ranges: RangeReader;
  /** Parquet's decompressors, loaded on the first Parquet task. */
  codecs: ParquetCodecs;
}

/** The rows of `body` in `run`; `clock` takes the time spent reading and parsing them. */
export function taskRows(
  body: TaskBody,
  run: CurrentRun,
  tools: KindTools,
  clock: StageClock,
): TaskRows | Promise<TaskRows> {
  switch (body.kind) {
    case "chunk":
      return chunkRows(body, run, clock);
    case "range":
      return rangeRows(body, run, tools.ranges, clock);
    case "batch":
      return batchRows(body);
    case "rowgroups":
      return rowGroupRows(body, run, tools.codecs, clock);
  }
}
