/**
 * Parquet row-group tasks in a worker: the worker reads the column chunks of
 * its row groups itself (a file by position, an object by byte range) and
 * decodes them with hyparquet into typed rows. A row group that cannot be
 * read or decoded ends the run with an error naming the file, the row group
 * and why, reported as the task's cut.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import type { AsyncBuffer, ColumnData, FileMetaData, SchemaTree } from "npm:hyparquet@1.33.0";
import type { RowGroupsBody } from "../../lib/wire/task.ts";
import type { CurrentRun } from "../current_run.ts";
import { FileChanged, FileInput, type RangeInput } from "../range_reader.ts";
import { RangeUnreadable, RemoteInput } from "../remote_input.ts";
import type { TaskRows } from "./task_rows.ts";
import type { StageClock } from "../stage_clock.ts";
import type { ParquetCodecs } from "../parquet_codecs.ts";
import { columnOf, rowMaker } from "../parquet_values.ts";

/** The rows of the task's row groups. */
export async function rowGroupRows(
  body: RowGroupsBody,
  run: CurrentRun,
  codecs: ParquetCodecs,
  clock: StageClock,
): Promise<TaskRows> {
  const started = performance.now();
  // deno-lint-ignore no-import-prefix
  const { parquetRead, parquetSchema } = await import("npm:hyparquet@1.33.0");
  const compressors = await codecs.get();
  const metadata = body.metadata as FileMetaData;
  let input: RangeInput | undefined;
  let group = body.firstGroup;
  const rows: unknown[] = [];
  let reading = 0;
  try {
    input = body.version ? new RemoteInput(body, run.remote) : new FileInput(body);
    const change = input.change();
    if (change) throw new FileChanged(change);
    const file = asyncBuffer(input, body.size, (ms) => reading += ms);
    const schema = parquetSchema(metadata);
    const names = body.columns ?? schema.children.map((child) => child.element.name);
    const wide = int64Columns(schema, names);
    const make = rowMaker(names);
    const first = body.rowStart ?? 0;
    const last = body.rowEnd ?? Infinity;
    const sliced = first > 0 || last !== Infinity;
    let groupStart = 0;
    for (const rowGroup of metadata.row_groups) {
      const groupEnd = groupStart + Number(rowGroup.num_rows);
      const rowStart = Math.max(first, groupStart);
      const rowEnd = Math.min(last, groupEnd);
      groupStart = groupEnd;
      if (rowStart >= rowEnd) {
        if (rowStart >= last) break;
        group++;
        continue;
      }
      // Column by column (hyparquet's own rows are built key by key: 2.2x slower for 100 columns).
      const chunks = new Map<string, ColumnData[]>();
      await parquetRead({
        file,
        metadata,
        columns: body.columns,
        compressors,
        rowStart,
        rowEnd,
        // A slice reads only the pages of its rows where the file has an offset index.
        useOffsetIndex: sliced,
        onChunk(chunk) {
          const list = chunks.get(chunk.columnName);
          list ? list.push(chunk) : chunks.set(chunk.columnName, [chunk]);
        },
      });
      const columns = names.map((name) =>
        columnOf(chunks.get(name) ?? [], rowStart, rowEnd, wide.includes(name))
      );
      for (let i = 0; i < rowEnd - rowStart; i++) rows.push(make(columns, i));
      group++;
    }
  } catch (error) {
    const why = error instanceof FileChanged
      ? { changed: error.message }
      : { error: `row group ${group}: ${messageOf(error)}` };
    return { rows: [], newlines: 0, text: "", cut: { clean: false, ...why }, classify: false };
  } finally {
    input?.close();
    clock.read += reading;
    clock.parse += performance.now() - started - reading;
  }
  return { rows, newlines: 0, text: "", classify: true };
}

/** The input as hyparquet reads it: slices that must be whole, each read timed. */
function asyncBuffer(input: RangeInput, size: number, took: (ms: number) => void): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const began = performance.now();
      const bytes = new Uint8Array(end - start);
      const got = await input.readAt(start, bytes);
      took(performance.now() - began);
      if (got < bytes.length) {
        throw new Error(
          `the file ends at byte ${start + got}, inside a column chunk (bytes ${start}-${end}): ` +
            "it is cut short",
        );
      }
      return bytes.buffer;
    },
  };
}

/** The top-level columns of `names` with a 64-bit integer anywhere in them. */
function int64Columns(schema: SchemaTree, names: string[]): string[] {
  const has = (node: SchemaTree): boolean =>
    node.children.length === 0 ? node.element.type === "INT64" : node.children.some(has);
  return schema.children
    .filter((child) => names.includes(child.element.name) && has(child))
    .map((child) => child.element.name);
}

function messageOf(error: unknown): string {
  if (error instanceof RangeUnreadable) return error.message;
  return error instanceof Error ? error.message : String(error);
}
