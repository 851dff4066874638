/**
 * Batch tasks in a worker: ready-made rows; those the transport could not
 * carry are failures in their places.
 *
 * @module
 */

import type { BatchBody } from "../../lib/wire/task.ts";
import type { BadRow, TaskRows } from "./task_rows.ts";

/** The rows of a batch. */
export function batchRows(body: BatchBody): TaskRows {
  const bad = body.unsendable?.length
    ? new Map<number, BadRow>(body.unsendable.map((u) => [u.offset, u]))
    : undefined;
  return { rows: body.rows, newlines: 0, bad, text: "", classify: true };
}
