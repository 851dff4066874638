/**
 * A run over selected records of an input (the command's `--retry-errors`:
 * the records an errors file lists, by index): the main thread reads and
 * cuts the input, parses each chunk to know which of its records are
 * wanted, and sends it with their offsets; the worker parses it again and
 * classifies only those, so every record keeps its own index and line. The
 * input is read up to the chunk that holds the last wanted record.
 *
 * @module
 */

import { CrunchError } from "../errors.ts";
import { parseDelimited } from "../formats/csv.ts";
import { delimiterOf } from "../formats/format.ts";
import { parseNdjson } from "../formats/ndjson.ts";
import type { ChunkBody, TaskCount } from "../wire/task.ts";
import type { ChunkSource } from "./chunks.ts";
import type { InputTask, SourceHead, TaskSource, Verdict } from "./task.ts";

/** The chunks of a byte input that hold wanted records, and the records' offsets in them. */
export class SelectedSource implements TaskSource {
  readonly #chunks: ChunkSource;
  readonly #head: SourceHead;
  /** The indexes still to be found, in the input's numbering. */
  readonly #wanted: Set<number>;
  /** The index of the next chunk's first record. */
  #index = 0;
  readonly #decoder = new TextDecoder();

  /** The records of `chunks` (opened at its head, `head`) whose index is in `wanted`. */
  constructor(chunks: ChunkSource, head: SourceHead, wanted: ReadonlySet<number>) {
    this.#chunks = chunks;
    this.#head = head;
    this.#wanted = new Set(wanted);
  }

  get file(): string | undefined {
    return this.#chunks.file;
  }

  get reader(): "main" {
    return "main";
  }

  get bytesTotal(): number | undefined {
    return this.#chunks.bytesTotal;
  }

  get bytesRead(): number {
    return this.#chunks.bytesRead;
  }

  async next(): Promise<InputTask | null> {
    if (this.#wanted.size === 0) return null;
    const task = await this.#chunks.next();
    if (task === null) {
      throw new CrunchError(
        `${this.file} has no record ${[...this.#wanted][0]}: the errors file is not this input's`,
      );
    }
    const body = task.body as ChunkBody;
    const records = this.#records(body);
    const select: number[] = [];
    for (let offset = 0; offset < records; offset++) {
      if (this.#wanted.delete(this.#index + offset)) select.push(offset);
    }
    this.#index += records;
    return { body: { ...body, select }, transfer: task.transfer };
  }

  /** How many records a chunk holds, as a worker's parser counts them. */
  #records(body: ChunkBody): number {
    const text = this.#decoder.decode(
      new Uint8Array(body.buffer, body.start, body.end - body.start),
    );
    const { format, columns = [], delimiter } = this.#head;
    if (format === "ndjson") return parseNdjson(text).rows.length;
    return parseDelimited(text, delimiterOf(format, delimiter), columns).rows.length;
  }

  taken(id: number, task: InputTask): void {
    this.#chunks.taken(id, task);
  }

  async again(task: InputTask): Promise<InputTask> {
    const select = (task.body as ChunkBody).select;
    const again = await this.#chunks.again(task);
    return { ...again, body: { ...again.body as ChunkBody, select } };
  }

  unsendable(task: InputTask, error: unknown): InputTask {
    return this.#chunks.unsendable(task, error);
  }

  counted(id: number, count: TaskCount): Verdict[] {
    return this.#chunks.counted(id, count);
  }

  held(id: number): boolean {
    return this.#chunks.held(id);
  }

  completed(id: number, task: InputTask): number | undefined {
    return this.#chunks.completed(id, task);
  }

  close(): void {
    this.#chunks.close();
  }
}
