/**
 * Parquet inputs as tasks of whole row groups: the main thread reads the
 * footer once (`parquet_footer.ts`) and hands out runs of consecutive row
 * groups of about `chunkBytes` of compressed column chunks each; every
 * worker reads and decodes its own (`workers/kinds/row_groups.ts`), so no
 * column chunk passes through the main thread. A row group that cannot be
 * read ends the run with an InputError naming the file and the row group.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import type { FileMetaData } from "npm:hyparquet@1.33.0";
import { InputError } from "../errors.ts";
import { RemoteClient } from "../remote/client.ts";
import { isRemote, remoteObject, shown } from "../remote/location.ts";
import type { RowGroupsBody, TaskCount } from "../wire/task.ts";
import { type ParquetFile, parquetFile, parquetObject } from "./parquet_footer.ts";
import { type InputOptions, openError, spreadChunk } from "./source.ts";
import { resolve } from "node:path";
import type { InputPlan, InputTask, OpenInput, SourceHead, TaskSource, Verdict } from "./task.ts";

/** One task's row groups, `[first, end)`, and which of their rows it reads. */
interface Run {
  first: number;
  end: number;
  /** The first row it reads, counted from the start of its first group (a slice of a group). */
  from: number;
  /** Rows it reads (fewer than the groups hold for a slice, or a run cut by a limit). */
  rows: number;
  /** Compressed bytes of the columns read. */
  bytes: number;
}

/** The row groups of one Parquet file or object, in runs. */
export class RowGroupSource implements TaskSource {
  readonly #file: ParquetFile;
  readonly #runs: Run[];
  readonly #columns: string[] | undefined;
  readonly file: string;
  #next = 0;
  #bytesRead: number;
  /** The run each body handed out reads. */
  readonly #bodies = new WeakMap<object, Run>();
  /** Bytes of each task taken, until it is done. */
  readonly #taken = new Map<number, number>();

  /**
   * Tasks of `file`'s row groups of about `chunkBytes` each (at least
   * `spread` of them where the groups can be sliced), of `columns` (all when
   * undefined).
   */
  constructor(
    file: ParquetFile,
    name: string,
    columns: string[] | undefined,
    chunkBytes: number,
    spread: number,
    limit?: number,
  ) {
    this.#file = file;
    this.file = name;
    this.#columns = columns;
    this.#runs = runsOf(file.metadata, columns, chunkBytes, spread, limit);
    // The footer and whatever is not read (other columns, rows past a limit) count as read.
    this.#bytesRead = file.size - this.#runs.reduce((sum, run) => sum + run.bytes, 0);
  }

  get reader(): "workers" {
    return "workers";
  }

  get bytesTotal(): number {
    return this.#file.size;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** How many tasks the file makes. */
  get tasks(): number {
    return this.#runs.length;
  }

  next(): Promise<InputTask | null> {
    const run = this.#runs[this.#next];
    if (run === undefined) return Promise.resolve(null);
    this.#next++;
    const { metadata, path, size, fingerprint, version } = this.#file;
    const groups = metadata.row_groups.slice(run.first, run.end);
    const held = groups.reduce((sum, group) => sum + Number(group.num_rows), 0);
    const body: RowGroupsBody = {
      kind: "rowgroups",
      path,
      size,
      // Only this task's row groups, and none of the key-value metadata (schemas of other tools).
      metadata: { ...metadata, row_groups: groups, key_value_metadata: undefined },
      firstGroup: run.first,
      columns: this.#columns,
      rowStart: run.from || undefined,
      rowEnd: run.from + run.rows < held ? run.from + run.rows : undefined,
      fingerprint,
      version,
    };
    this.#bodies.set(body, run);
    return Promise.resolve({ body, transfer: [] });
  }

  taken(id: number, task: InputTask): void {
    const run = this.#bodies.get(task.body);
    if (run !== undefined) this.#taken.set(id, run.bytes);
  }

  again(task: InputTask): Promise<InputTask> {
    return Promise.resolve(task); // read again by a worker
  }

  unsendable(_task: InputTask, error: unknown): InputTask {
    throw error;
  }

  counted(_id: number, count: TaskCount): Verdict[] {
    const failed = count.cut?.changed ?? count.cut?.error;
    if (failed === undefined) return [];
    return [{ kind: "fail", error: new InputError(this.file, failed) }];
  }

  held(_id: number): boolean {
    return false;
  }

  completed(id: number): number | undefined {
    this.#bytesRead += this.#taken.get(id) ?? 0;
    this.#taken.delete(id);
    return undefined;
  }

  close(): void {}
}

/** Slices of a row group have at least this many rows: each reads its column chunks whole. */
const MIN_SLICE_ROWS = 1024;

/**
 * The tasks of a file's row groups, up to `limit` rows: consecutive groups
 * in runs of about `chunkBytes` (a larger group alone); or, when the file
 * has fewer groups than `spread` (two tasks a worker), each group cut into
 * slices of rows by its share of the bytes, so that every worker gets work.
 * A slice reads its group's column chunks (only the pages it needs, where
 * the file has an offset index) and decodes only the pages of its rows.
 */
function runsOf(
  metadata: FileMetaData,
  columns: string[] | undefined,
  chunkBytes: number,
  spread: number,
  limit = Infinity,
): Run[] {
  const groups: Run[] = [];
  let left = limit;
  for (const [k, group] of metadata.row_groups.entries()) {
    if (left <= 0) break;
    const rows = Math.min(left, Number(group.num_rows));
    left -= rows;
    const bytes = group.columns
      .filter((chunk) =>
        columns === undefined || columns.includes(chunk.meta_data!.path_in_schema[0])
      )
      .reduce((sum, chunk) => sum + Number(chunk.meta_data?.total_compressed_size ?? 0), 0);
    if (rows > 0) groups.push({ first: k, end: k + 1, from: 0, rows, bytes });
  }
  if (groups.length < spread) return slices(groups, spread);
  const runs: Run[] = [];
  for (const group of groups) {
    const run = runs.at(-1);
    if (run === undefined || run.bytes >= chunkBytes || run.end !== group.first) runs.push(group);
    else {
      run.end = group.end;
      run.rows += group.rows;
      run.bytes += group.bytes;
    }
  }
  return runs;
}

/** `groups` cut into about `spread` slices in all, each group by its share of the bytes. */
function slices(groups: Run[], spread: number): Run[] {
  const total = groups.reduce((sum, g) => sum + g.bytes, 0) || 1;
  return groups.flatMap((group) => {
    const count = Math.max(
      1,
      Math.min(Math.floor(group.rows / MIN_SLICE_ROWS), Math.ceil(spread * group.bytes / total)),
    );
    const size = Math.ceil(group.rows / count);
    const out: Run[] = [];
    for (let from = 0; from < group.rows; from += size) {
      const rows = Math.min(size, group.rows - from);
      out.push({ ...group, from, rows, bytes: Math.round(group.bytes * rows / group.rows) });
    }
    return out;
  });
}

/** A Parquet file or object, checked; its footer is read when the run opens it. */
export class ParquetPlan implements InputPlan {
  readonly #input: string;
  readonly #options: InputOptions;
  readonly file: string;
  #source: RowGroupSource | undefined;

  /** The Parquet input at `input` (a path or URL), read with `options`. */
  constructor(input: string, options: InputOptions) {
    this.#input = input;
    this.#options = options;
    this.file = isRemote(input) ? shown(input) : input;
    refuseUnsupported(this.file, options);
  }

  async open(): Promise<OpenInput> {
    const options = this.#options;
    const file = isRemote(this.#input)
      ? await parquetObject(
        new RemoteClient({ headers: options.headers, timeoutMs: options.httpTimeout }),
        remoteObject(this.#input),
        this.file,
      )
      : await parquetFile(resolve(this.#input), this.file).catch((error) => {
        throw openError(this.file, error);
      });
    const names = topColumns(file.metadata);
    const columns = options.fields && checkedFields(options.fields, names, this.file);
    const chosen = columns ?? names;
    const data = file.metadata.row_groups.reduce(
      (sum, g) =>
        sum + g.columns.reduce((s, c) => s + Number(c.meta_data?.total_compressed_size ?? 0), 0),
      0,
    );
    const chunkBytes = options.workers
      ? spreadChunk(data, options.chunkBytes, options.workers)
      : options.chunkBytes;
    const spread = (options.workers ?? 1) * 2;
    const source = new RowGroupSource(file, this.file, columns, chunkBytes, spread, options.limit);
    this.#source = source;
    const head: SourceHead = {
      format: "parquet",
      columns: chosen,
      firstLine: 0,
      tasks: Math.max(1, source.tasks),
      size: file.size,
    };
    return { head, source };
  }

  close(): void {
    this.#source?.close();
  }
}

/** The names of the file's top-level columns. */
function topColumns(metadata: FileMetaData): string[] {
  const names: string[] = [];
  const [root, ...elements] = metadata.schema;
  let k = 0;
  const skip = (): void => {
    const element = elements[k++];
    for (let c = 0; c < (element.num_children ?? 0); c++) skip();
  };
  for (let c = 0; c < (root.num_children ?? 0); c++) {
    names.push(elements[k].name);
    skip();
  }
  return names;
}

/** `fields`, each a top-level column of the file, or an InputError naming those it lacks. */
function checkedFields(fields: string[], names: string[], file: string): string[] {
  const missing = fields.filter((field) => !names.includes(field));
  if (missing.length) {
    throw new InputError(
      file,
      `it has no column ${missing.map((m) => JSON.stringify(m)).join(", ")} ` +
        `(--fields): its columns are ${names.join(", ")}`,
    );
  }
  return fields;
}

/** What a Parquet input cannot do yet, refused before anything runs. */
function refuseUnsupported(file: string, options: InputOptions): void {
  const no = (what: string) => {
    throw new TypeError(`${file}: ${what} is not supported for a Parquet input`);
  };
  if (options.startAt !== undefined) no("resuming (--resume)");
  if (options.select !== undefined) no("running selected records again (--retry-errors)");
}
