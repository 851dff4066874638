/**
 * What a run over part of a byte input shares, whichever part (records
 * listed by index, the first n): the main thread reads and cuts the input
 * as a {@linkcode ChunkSource}, and parses each chunk as a worker would, to
 * know its records before sending it. The rest of a task's life (re-runs,
 * counts, release) is the chunk source's.
 *
 * @module
 */

import { parseDelimited } from "../formats/csv.ts";
import { delimiterOf } from "../formats/format.ts";
import { parseNdjson } from "../formats/ndjson.ts";
import type { ChunkBody, TaskCount } from "../wire/task.ts";
import type { ChunkSource } from "./chunks.ts";
import type { InputTask, SourceHead, TaskSource, Verdict } from "./task.ts";

/** Chunks of a byte input, each parsed on the main thread to count its records. */
export abstract class CountedChunks implements TaskSource {
  protected readonly chunks: ChunkSource;
  readonly #head: SourceHead;
  readonly #decoder: TextDecoder;

  /** The chunks of `chunks`, opened at its head, `head`. */
  constructor(chunks: ChunkSource, head: SourceHead) {
    this.chunks = chunks;
    this.#head = head;
    this.#decoder = new TextDecoder(head.encoding ?? "utf-8");
  }

  get file(): string | undefined {
    return this.chunks.file;
  }

  get reader(): "main" {
    return "main";
  }

  get bytesTotal(): number | undefined {
    return this.chunks.bytesTotal;
  }

  get bytesRead(): number {
    return this.chunks.bytesRead;
  }

  abstract next(): Promise<InputTask | null>;

  /** The 1-based line within a chunk where each of its records starts, as a worker parses it. */
  protected lines(body: ChunkBody): number[] {
    const text = this.#decoder.decode(
      new Uint8Array(body.buffer, body.start, body.end - body.start),
    );
    const { format, columns = [], delimiter } = this.#head;
    if (format === "ndjson") return parseNdjson(text).lines;
    return parseDelimited(text, delimiterOf(format, delimiter), columns).lines;
  }

  taken(id: number, task: InputTask): void {
    this.chunks.taken(id, task);
  }

  again(task: InputTask): Promise<InputTask> {
    return this.chunks.again(task);
  }

  unsendable(task: InputTask, error: unknown): InputTask {
    return this.chunks.unsendable(task, error);
  }

  counted(id: number, count: TaskCount): Verdict[] {
    return this.chunks.counted(id, count);
  }

  held(id: number): boolean {
    return this.chunks.held(id);
  }

  completed(id: number, task: InputTask): number | undefined {
    return this.chunks.completed(id, task);
  }

  close(): void {
    this.chunks.close();
  }
}
