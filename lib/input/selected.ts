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
import type { ChunkBody } from "../wire/task.ts";
import type { ChunkSource } from "./chunks.ts";
import { CountedChunks } from "./counted_chunks.ts";
import type { InputTask, SourceHead } from "./task.ts";

/** The chunks of a byte input that hold wanted records, and the records' offsets in them. */
export class SelectedSource extends CountedChunks {
  /** The indexes still to be found, in the input's numbering. */
  readonly #wanted: Set<number>;
  /** The index of the next chunk's first record. */
  #index = 0;

  /** The records of `chunks` (opened at its head, `head`) whose index is in `wanted`. */
  constructor(chunks: ChunkSource, head: SourceHead, wanted: ReadonlySet<number>) {
    super(chunks, head);
    this.#wanted = new Set(wanted);
  }

  async next(): Promise<InputTask | null> {
    if (this.#wanted.size === 0) return null;
    const task = await this.chunks.next();
    if (task === null) {
      throw new CrunchError(
        `${this.file} has no record ${[...this.#wanted][0]}: the errors file is not this input's`,
      );
    }
    const body = task.body as ChunkBody;
    const records = this.lines(body).length;
    const select: number[] = [];
    for (let offset = 0; offset < records; offset++) {
      if (this.#wanted.delete(this.#index + offset)) select.push(offset);
    }
    this.#index += records;
    return { body: { ...body, select }, transfer: task.transfer };
  }

  override async again(task: InputTask): Promise<InputTask> {
    const select = (task.body as ChunkBody).select;
    const again = await this.chunks.again(task);
    return { ...again, body: { ...again.body as ChunkBody, select } };
  }
}
