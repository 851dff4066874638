/**
 * A run over the first records of an input only (`limit`: a try of a
 * classifier on a huge file): the main thread reads and cuts the input and
 * parses each chunk to count its records, up to the chunk that holds the
 * last one wanted, which it cuts short after it. Nothing past it is read or
 * classified, and the run's counts are exactly the records taken.
 *
 * @module
 */

import type { ChunkBody } from "../wire/task.ts";
import type { ChunkSource } from "./chunks.ts";
import { CountedChunks } from "./counted_chunks.ts";
import type { InputTask, SourceHead } from "./task.ts";

const LF = 0x0a;

/** The chunks of a byte input up to its `limit`-th record. */
export class LimitedSource extends CountedChunks {
  readonly #limit: number;
  /** Records in the chunks handed out so far. */
  #taken = 0;
  /** The chunk cut short, and the one it was cut from (for a re-run). */
  #cut: { body: ChunkBody; from: InputTask } | undefined;

  /** The first `limit` records of `chunks` (opened at its head, `head`). */
  constructor(chunks: ChunkSource, head: SourceHead, limit: number) {
    super(chunks, head);
    this.#limit = limit;
  }

  async next(): Promise<InputTask | null> {
    if (this.#taken >= this.#limit) return null;
    const task = await this.chunks.next();
    if (task === null) return null;
    const body = task.body as ChunkBody;
    const lines = this.lines(body);
    const wanted = this.#limit - this.#taken;
    if (lines.length <= wanted) {
      this.#taken += lines.length;
      return task;
    }
    // The last chunk wanted: cut after the last record wanted, at the start of the next one.
    this.#taken = this.#limit;
    const end = body.start + lineStart(body, lines[wanted]);
    const cut = { ...body, end };
    this.#cut = { body: cut, from: task };
    return { body: cut, transfer: task.transfer };
  }

  override async again(task: InputTask): Promise<InputTask> {
    const cut = this.#cut?.body === task.body ? this.#cut : undefined;
    if (cut === undefined) return await this.chunks.again(task);
    const whole = await this.chunks.again(cut.from);
    const body = whole.body as ChunkBody;
    const again = { ...body, end: body.start + (cut.body.end - cut.body.start) };
    this.#cut = { body: again, from: whole };
    return { body: again, transfer: whole.transfer };
  }
}

/** The byte offset within a chunk where its 1-based `line` starts. */
function lineStart(body: ChunkBody, line: number): number {
  const bytes = new Uint8Array(body.buffer, body.start, body.end - body.start);
  let at = 0;
  for (let seen = 1; seen < line; seen++) at = bytes.indexOf(LF, at) + 1;
  return at;
}
