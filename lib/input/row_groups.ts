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
import { type InputOptions, openError } from "./source.ts";
import { resolve } from "node:path";
import type { InputPlan, InputTask, OpenInput, SourceHead, TaskSource, Verdict } from "./task.ts";

/** One task's row groups, `[first, end)`, and what they hold. */
interface Run {
  first: number;
  end: number;
  /** Rows to read of them (fewer than they hold for the last run under a limit). */
  rows: number;
  /** Compressed bytes of the columns read. */
  bytes: number;
}

/** The row groups of one Parquet file or object, in runs. */
export class RowGroupSource implements TaskSource {
  readonly #file: ParquetFile;
  readonly #runs: Run[];
  readonly #columns: string[] | undefined;
  readonly #bytesTotal: number;
  readonly file: string;
  #next = 0;
  #bytesRead: number;
  /** Compressed bytes of each run, by its first row group. */
  readonly #bytes = new Map<number, number>();
  /** Bytes of each task taken, until it is done. */
  readonly #taken = new Map<number, number>();

  /** Runs of `file`'s row groups of about `chunkBytes` each, of `columns` (all when undefined). */
  constructor(
    file: ParquetFile,
    name: string,
    columns: string[] | undefined,
    chunkBytes: number,
    limit?: number,
  ) {
    this.#file = file;
    this.file = name;
    this.#columns = columns;
    this.#runs = runsOf(file.metadata, columns, chunkBytes, limit);
    for (const run of this.#runs) this.#bytes.set(run.first, run.bytes);
    this.#bytesTotal = file.size;
    // The footer and whatever is not read (other columns, rows past a limit) count as read.
    this.#bytesRead = file.size - this.#runs.reduce((sum, run) => sum + run.bytes, 0);
  }

  get reader(): "workers" {
    return "workers";
  }

  get bytesTotal(): number {
    return this.#bytesTotal;
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
      rowEnd: run.rows < held ? run.rows : undefined,
      fingerprint,
      version,
    };
    return Promise.resolve({ body, transfer: [] });
  }

  taken(id: number, task: InputTask): void {
    if (task.body.kind === "rowgroups") {
      this.#taken.set(id, this.#bytes.get(task.body.firstGroup) ?? 0);
    }
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

/** Consecutive row groups in runs of about `chunkBytes` (a larger group alone), up to `limit` rows. */
function runsOf(
  metadata: FileMetaData,
  columns: string[] | undefined,
  chunkBytes: number,
  limit = Infinity,
): Run[] {
  const runs: Run[] = [];
  let left = limit;
  let run: Run | undefined;
  for (const [k, group] of metadata.row_groups.entries()) {
    if (left <= 0) break;
    const rows = Math.min(left, Number(group.num_rows));
    left -= rows;
    const bytes = group.columns
      .filter((chunk) =>
        columns === undefined || columns.includes(chunk.meta_data!.path_in_schema[0])
      )
      .reduce((sum, chunk) => sum + Number(chunk.meta_data?.total_compressed_size ?? 0), 0);
    if (run === undefined || run.bytes >= chunkBytes) {
      runs.push(run = { first: k, end: k + 1, rows, bytes });
    } else {
      run.end = k + 1;
      run.rows += rows;
      run.bytes += bytes;
    }
  }
  return runs.filter((r) => r.rows > 0);
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
      ? Math.min(options.chunkBytes, Math.max(1, Math.ceil(data / (options.workers * 2))))
      : options.chunkBytes;
    const source = new RowGroupSource(file, this.file, columns, chunkBytes, options.limit);
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
