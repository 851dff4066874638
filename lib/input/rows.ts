/**
 * Tasks of ready-made rows: batches from an iterable or async iterable. A
 * batch holding rows a transport cannot carry (a function, a class with a
 * private field) is sent without them: each such row's place is left empty
 * and named in the batch as unsendable, and the worker reports it as a
 * failure of its own record, in its place, so no offset moves.
 *
 * @module
 */

import type { BatchBody, TaskCount, Unsendable } from "../wire/task.ts";
import type { InputTask, SourceHead, TaskSource, Verdict } from "./task.ts";

/** True for an async iterable. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === "function";
}

/** True for an iterable. */
export function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof (value as Iterable<unknown>)?.[Symbol.iterator] === "function";
}

/** Batches of rows from an iterable. */
export class RowSource implements TaskSource {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>;
  readonly #async: boolean;
  readonly #batchSize: number;
  #done = false;
  readonly file = undefined;
  readonly reader = undefined;
  readonly bytesTotal = undefined;
  readonly bytesRead = 0;
  /** The most tasks the input makes, for an array. */
  readonly head: SourceHead;

  /** Batches of `batchSize` rows of `input`. */
  constructor(input: Iterable<unknown> | AsyncIterable<unknown>, batchSize: number) {
    const tasks = Array.isArray(input)
      ? Math.max(1, Math.ceil(input.length / batchSize))
      : undefined;
    this.head = { format: "rows", firstLine: 0, tasks };
    this.#async = isAsyncIterable(input);
    this.#iterator = this.#async
      ? (input as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (input as Iterable<unknown>)[Symbol.iterator]();
    this.#batchSize = batchSize;
  }

  async next(): Promise<InputTask | null> {
    if (this.#done) return null;
    const rows: unknown[] = [];
    const it = this.#iterator;
    while (rows.length < this.#batchSize) {
      const step = this.#async ? await it.next() : (it as Iterator<unknown>).next();
      if (step.done) {
        this.#done = true;
        break;
      }
      rows.push(step.value);
    }
    return rows.length ? { body: { kind: "batch", rows }, transfer: [] } : null;
  }

  taken(_id: number, _task: InputTask): void {}

  again(task: InputTask): Promise<InputTask> {
    return Promise.resolve(task);
  }

  /** The batch without the rows that cannot be cloned, each named as unsendable in its place. */
  unsendable(task: InputTask, error: unknown): InputTask {
    const batch = task.body as BatchBody;
    if (!(error instanceof DOMException && error.name === "DataCloneError") || batch.unsendable) {
      throw error;
    }
    const rows = [...batch.rows];
    const unsendable: Unsendable[] = [];
    rows.forEach((row, offset) => {
      try {
        structuredClone(row);
      } catch (error) {
        rows[offset] = undefined;
        unsendable.push({
          offset,
          record: String(row),
          reason: `the row cannot be sent to a worker: ${(error as Error).message}`,
        });
      }
    });
    if (unsendable.length === 0) throw error;
    return { body: { kind: "batch", rows, unsendable }, transfer: [] };
  }

  counted(_id: number, _count: TaskCount): Verdict[] {
    return [];
  }

  held(_id: number): boolean {
    return false;
  }

  completed(_id: number, _task: InputTask): number | undefined {
    return undefined;
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const result = this.#iterator.return?.();
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // the iterator's own clean-up failed; nothing to add
    }
  }
}
